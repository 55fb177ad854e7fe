"""The log events the code emits: (name, level, fields), found by reading the source (`log.<level>("name", ...)`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
LEVELS = {"debug", "info", "warning", "error"}


def _names(node: ast.AST, assigned: dict[str, list[str]]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _names(node.body, assigned) + _names(node.orelse, assigned)
    if isinstance(node, ast.Name):
        return assigned.get(node.id, [])
    return []


def log_events(
    roots: tuple[str, ...] = ("core", "plugins", "hooks", "fixtures"),
) -> dict[str, dict[str, set[str]]]:
    """{event name: {"levels": {...}, "fields": {...}, "where": {...}}} over the product's source."""
    found: dict[str, dict[str, set[str]]] = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assigned: dict[str, list[str]] = {}
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                ):
                    assigned.setdefault(node.targets[0].id, []).extend(_names(node.value, {}))
            for node in ast.walk(tree):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LEVELS
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "log"
                    and node.args
                ):
                    continue
                names = _names(node.args[0], assigned)
                assert names, f"{path}:{node.lineno}: a log event whose name is not a string constant"
                fields = {k.arg for k in node.keywords if k.arg}
                if any(k.arg is None for k in node.keywords):  # log.info("x", **counts)
                    fields.add("**")
                for name in names:
                    e = found.setdefault(name, {"levels": set(), "fields": set(), "where": set()})
                    e["levels"].add(node.func.attr)
                    e["fields"] |= fields
                    e["where"].add(str(path.relative_to(ROOT)))
    return found
