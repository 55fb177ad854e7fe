"""The ledger in datasette (`paybonus browse`, the optional extra `pip install 'paybonus[browse]'`).

`metadata(db_name)` is datasette's metadata (titles, descriptions, units, canned queries), built from
data/ledger.toml and store/queries.py. `serve(...)` runs datasette on a ledger with that metadata and a small
plugin (`paybonus.datasette_plugin`): amounts in euros shown the French way and right-aligned, entitlement ids
linked to their explanation. The plugin is registered in this process only, so another datasette is unaffected.
"""

from __future__ import annotations

import functools
import json
import socket
import tempfile
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UserError
from .store import Ledger
from .store.queries import CANNED_QUERIES
from .store.sql import is_url, redacted

EXTRA = "pip install 'paybonus[browse]'"


@functools.cache
def description() -> dict[str, Any]:
    """data/ledger.toml: what every table, view and column means."""
    text = resources.files("paybonus").joinpath("data", "ledger.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def column_description(table: str, column: str) -> str | None:
    d = description()
    own = {**d.get("tables", {}), **d.get("views", {})}.get(table, {}).get("columns", {})
    return own.get(column) or d["columns"].get(column)


def metadata(db_name: str, columns: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """datasette metadata for a ledger opened under `db_name` (its file name without .db). `columns`: the
    columns of each table and view (to describe them all); default: the described ones."""
    d = description()
    tables: dict[str, Any] = {}
    for name, t in {**d["tables"], **d["views"]}.items():
        cols = columns.get(name, []) if columns is not None else list(t.get("columns", {}))
        entry: dict[str, Any] = {
            "title": name.replace("_", " "),
            "description": t["description"],
            "columns": {c: desc for c in cols if (desc := column_description(name, c))},
        }
        for key in ("units", "sort", "hidden"):
            if key in t:
                entry[key] = t[key]
        tables[name] = entry
    queries = {
        name: {"sql": sql, **d["queries"][name]}
        for name, sql in CANNED_QUERIES.items()
        if name in d["queries"]
    }
    return {
        "title": d["title"],
        "description": d["description"],
        "source": d["source"],
        "source_url": d["source_url"],
        "databases": {db_name: {"tables": tables, "queries": queries}},
    }


def check_sqlite(path: str | Path) -> None:
    """datasette reads SQLite files: a PostgreSQL ledger is read with the database's own tools."""
    if is_url(path):
        raise UserError(
            redacted(str(path)),
            "browse reads a SQLite ledger; query PostgreSQL with your own tools as the reader role, docs/deploy.md",
        )


def check_address(host: str, port: int) -> None:
    """Where datasette would serve: a port number, a host that resolves, and a port free there (tried by binding,
    as the web server would), so that a mistake is one line before the server starts."""
    if not 1 <= port <= 65535:
        raise UserError("--port", f"{port}: a port number, 1..65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError("--host", f"{host!r:.80}: no such address ({exc})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserError(
                f"--host {host} --port {port}", f"cannot serve there ({exc.strerror or exc})"
            ) from None


def ledger_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata for this ledger, upgraded first so that its views exist (UserError if it is not one)."""
    check_sqlite(path)
    with Ledger.open(path) as ledger:
        names = ledger.db.table_names() + ledger.db.view_names()
        columns = {n: list(ledger.db[n].columns_dict) for n in names}
    return metadata(Path(path).stem, columns)


def serve(path: str, host: str, port: int, open_browser: bool) -> None:
    """Run datasette on the ledger until interrupted."""
    try:
        from datasette import cli as datasette_cli
        from datasette.plugins import pm
    except ImportError:
        raise UserError("browse", f"needs datasette: {EXTRA}") from None
    from . import datasette_plugin

    check_sqlite(path)
    check_address(host, port)
    meta = ledger_metadata(path)
    if pm.get_plugin("paybonus") is None:
        pm.register(datasette_plugin, name="paybonus")
    with tempfile.TemporaryDirectory(prefix="paybonus-browse-") as tmp:
        meta_file = Path(tmp) / "metadata.json"
        meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        args = ["serve", path, "--metadata", str(meta_file), "--host", host, "--port", str(port)]
        # 200: an explanation's list of rule ids (with the documented defaults, docs/rules.md) shows whole
        args += ["--setting", "default_page_size", "50", "--setting", "truncate_cells_html", "200"]
        if open_browser:
            args.append("--open")
        datasette_cli.cli.main(args=args, prog_name="paybonus browse", standalone_mode=False)
