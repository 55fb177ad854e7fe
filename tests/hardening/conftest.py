"""Hostile-input tests: a ledger with the sample company loaded (and its events published), copied per test."""

from __future__ import annotations

import faulthandler
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import paybonus.cli as cli_module
import paybonus.cli.base as cli_base
import pytest
from helpers.hostile import ACCEPTED, OTHER, TALLY, cli
from helpers.hostile_plugin import MODE, TOML, HostilePlugin
from paybonus.fixtures import sample_dir
from paybonus.host import load_plugins


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    shutil.copytree(sample_dir(), d / "company")
    db = d / "loaded.db"
    assert cli("--db", str(db), "init")[0] == 0
    assert cli("--db", str(db), "load", str(d / "company"))[0] == 0
    shutil.copy(db, d / "fresh.db")  # loaded, no event
    assert cli("--db", str(db), "publish", str(d / "company" / "events.jsonl"))[0] == 0
    return d


class Work:
    """A test's own copies: `db` (loaded, events published), `fresh` (loaded only), `company` (the directory)."""

    def __init__(self, pristine: Path, tmp: Path) -> None:
        self.dir = tmp
        self.db = tmp / "ledger.db"
        self.fresh = tmp / "fresh.db"
        shutil.copy(pristine / "loaded.db", self.db)
        shutil.copy(pristine / "fresh.db", self.fresh)
        self.company = tmp / "company"
        shutil.copytree(pristine / "company", self.company)

    def toml(self, old: str, new: str) -> Path:
        """Edit company.toml (the text `old` must be there) and return the company directory."""
        p = self.company / "company.toml"
        text = p.read_text(encoding="utf-8")
        assert old in text, old
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
        return self.company

    def file(self, name: str, content: str | bytes) -> Path:
        p = self.dir / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p


@pytest.fixture
def work(pristine: Path, tmp_path: Path) -> Work:
    return Work(pristine, tmp_path)


CLOSE = {
    "id": "hostile-close",
    "type": "period_closed",
    "company": "DURAND",
    "occurred_at": "2025-02-05T18:00:00+01:00",
    "payload": {"period": "2025-01"},
}


@pytest.fixture
def guest(work: Work, monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    """The sample company also running the hostile scheme, on a loaded ledger without events; 1 s time limit."""
    real = load_plugins

    def with_hostile(strict: bool = False, **_kw):
        return real(strict=strict, extra=[HostilePlugin()], entry_points=False)

    monkeypatch.setattr(cli_module, "load_plugins", with_hostile)
    monkeypatch.setattr(cli_base, "load_plugins", with_hostile)
    monkeypatch.setenv("PAYBONUS_DISPATCH_TIMEOUT", "1")
    MODE.update({"compute": "ok", "notify": "ok", "recompute": "ok", "register": "ok"})
    (work.company / "company.toml").write_text((work.company / "company.toml").read_text() + TOML)
    (work.company / "events.jsonl").write_text(json.dumps(CLOSE) + "\n")
    assert cli("--db", str(work.fresh), "load", str(work.company))[0] == 0
    faulthandler.dump_traceback_later(120, exit=True)  # a hang the guard missed ends the run, loudly
    yield work
    faulthandler.cancel_dump_traceback_later()
    MODE.update({"compute": "ok", "notify": "ok", "recompute": "ok", "register": "ok"})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    names = {
        "input": "hostile inputs",
        "plugin": "misbehaving plugins",
        "fault": "faults",
        "fuzz": "fuzzed inputs",
    }
    for kind, (tried, other) in TALLY.items():
        if tried:
            accepted = (
                f" ({ACCEPTED['fuzz']} valid after all: accepted, nothing failed later)"
                if kind == "fuzz"
                else ""
            )
            terminalreporter.write_line(
                f"{names[kind]}: {tried} tried, {other} ended otherwise than expected{accepted}"
            )
    for line in OTHER[:20]:
        terminalreporter.write_line(f"  {line[:200]}")
