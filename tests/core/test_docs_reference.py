"""The reference docs stay true: generated pages are current (cog), every log event is catalogued, every rule id
cited resolves in docs/rules.md, every environment variable is documented, every link and path resolves, and the
library quick start runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.log_events import log_events

ROOT = Path(__file__).parent.parent.parent
DOCS = ROOT / "docs"
GENERATED = ("cli.md", "reference.md", "ledger.md")


def docs_text() -> dict[Path, str]:
    files = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return {f: f.read_text(encoding="utf-8") for f in files}


# -- generated pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", GENERATED)
def test_the_generated_page_is_current(page):
    r = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--verbosity=0", str(DOCS / page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, f"docs/{page} is out of date: run `make docs`\n{r.stdout}{r.stderr}"


def test_the_cli_page_has_every_command():
    from paybonus.cli import cli

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"\n## `paybonus {name}" in text, name


# -- logs -----------------------------------------------------------------------------------------------------


def catalogue() -> dict[str, set[str]]:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    table = text.split("### Catalogue of log events", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in table.splitlines():
        m = re.match(r"^\| `([a-z_.]+)` \| [a-z, ]+ \| (.*?) \| .* \|$", line)
        if m:
            found[m.group(1)] = set(re.findall(r"`([a-z_]+)`", m.group(2)))
    return found


def test_every_log_event_in_the_code_is_in_the_catalogue_with_its_fields():
    code, docs = log_events(), catalogue()
    assert len(code) >= 20 and len(docs) >= 20
    missing = sorted(set(code) - set(docs))
    assert not missing, f"add these to the catalogue in docs/operations.md: {missing}"
    stale = sorted(set(docs) - set(code))
    assert not stale, f"the catalogue lists events the code no longer emits: {stale}"
    for name, e in code.items():
        fields = e["fields"] - {"**"}
        assert fields <= docs[name], f"{name}: fields {sorted(fields - docs[name])} are not documented"


def test_the_catalogue_check_finds_an_event_the_code_adds(tmp_path, monkeypatch):
    import helpers.log_events as le

    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "x.py").write_text('log.info("ledger.exploded", seq=1)\n')
    monkeypatch.setattr(le, "ROOT", tmp_path)
    assert set(le.log_events(("core",))) == {"ledger.exploded"}
    assert "ledger.exploded" not in catalogue()


# -- rules ----------------------------------------------------------------------------------------------------

RULE_ID = re.compile(r"\b([IPRONDV]-\d+)\b")  # D-n, V-n: the defaults and rules paybonus adds
LAW_SECTION = re.compile(r"\bLAW (\d+(?:\.\d+)?)\b")


def rules_page() -> set[str]:
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| ([IPRONDV]-\d+|\d+(?:\.\d+)?|[A-Z][A-Za-z ]+) \|", text, re.M)) - {"id"}


def cited_in_text(text: str) -> set[str]:
    ids = set(RULE_ID.findall(text)) | set(LAW_SECTION.findall(text))
    for m in re.finditer(
        r"LAW ((?:[IPRON]-\d+|\d+(?:\.\d+)?)(?:(?:, | and | to |/)(?:[IPRON]-\d+|\d+(?:\.\d+)?))*)", text
    ):
        ids |= set(re.findall(r"[IPRON]-\d+|\d+(?:\.\d+)?", m.group(1)))
    return ids


def cited_in_code() -> dict[str, str]:
    found: dict[str, str] = {}
    for root in ("core", "hooks", "plugins", "fixtures"):
        for path in sorted((ROOT / root).rglob("*")):
            if path.suffix not in (".py", ".toml", ".j2") or "__pycache__" in path.parts:
                continue
            for rule in cited_in_text(path.read_text(encoding="utf-8")):
                found.setdefault(rule, str(path.relative_to(ROOT)))
    return found


def cited_in_explanations() -> set[str]:
    """Rule ids in what the schemes record: the sample company's year and the project example."""
    import tempfile

    from paybonus.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "demo.db")
        assert main(["demo", "--db", db]) == 0
        assert main(["project", "demo", "--demo-db", str(Path(tmp) / "project.db")]) == 0
        from paybonus import Paybonus

        rules = set()
        for path in (db, str(Path(tmp) / "project.db")):
            with Paybonus.open(path) as app:
                for e in app.entitlements():
                    rules |= set(e.explanation.rules)
        return rules


def test_every_rule_id_the_code_cites_resolves_in_rules_md():
    known = rules_page()
    assert {"I-1", "I-39", "O-5", "P-3", "0.3", "8"} <= known
    missing = {r: where for r, where in cited_in_code().items() if r not in known}
    assert not missing, f"rule ids cited but not in docs/rules.md: {missing}"


def test_every_rule_id_in_a_recorded_explanation_resolves_in_rules_md(capsys):
    missing = cited_in_explanations() - rules_page()
    capsys.readouterr()
    assert not missing, f"rule ids recorded in explanations but not in docs/rules.md: {sorted(missing)}"


def test_every_rule_id_the_docs_cite_resolves_in_rules_md():
    known = rules_page()
    missing = {
        f"{path.relative_to(ROOT)}: {r}"
        for path, text in docs_text().items()
        for r in cited_in_text(text)
        if r not in known
    }
    assert not missing, sorted(missing)


def test_the_rule_check_finds_an_unknown_id():
    assert cited_in_text("cap (LAW I-99) and LAW 0.3, I-98 and (O-77)") == {"I-99", "0.3", "I-98", "O-77"}
    assert "I-99" not in rules_page()


# -- environment, paths and links ---------------------------------------------------------------------------


def test_every_environment_variable_is_documented_in_the_reference():
    used = set()
    for root in ("core", "hooks", "plugins", "fixtures"):
        for path in (ROOT / root).rglob("*.py"):
            used |= set(re.findall(r"\b(PAYBONUS_[A-Z_]+)\b", path.read_text(encoding="utf-8")))
    assert {"PAYBONUS_DB", "PAYBONUS_PLUGINS", "PAYBONUS_SYNCHRONOUS", "PAYBONUS_DISPATCH_TIMEOUT"} <= used
    text = (DOCS / "reference.md").read_text(encoding="utf-8")
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    missing = sorted(v for v in used if f"`{v}`" not in section)
    assert not missing, missing


def test_every_link_and_repository_path_in_the_docs_resolves():
    bad = []
    for path, text in docs_text().items():
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            if not (path.parent / target.split("#", 1)[0]).exists():
                bad.append(f"{path.relative_to(ROOT)}: link {target}")
        for p in re.findall(r"`((?:core|hooks|plugins|fixtures|docs|tests)/[A-Za-z0-9_./-]*)`", text):
            if not (ROOT / p).exists():
                bad.append(f"{path.relative_to(ROOT)}: path {p}")
    assert not bad, bad


# -- the library quick start ----------------------------------------------------------------------------------


def test_the_library_quick_start_runs(tmp_path):
    text = (DOCS / "library.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 4
    script = tmp_path / "quickstart.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    r = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "QUICKSTART OK" in r.stdout, r.stdout[-2000:]
