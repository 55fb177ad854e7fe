"""Hostile-input tests: a ledger with the sample company loaded (and its events published), copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.hostile import OTHER, TALLY, cli
from paybonus.fixtures import sample_dir


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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    names = {"input": "hostile inputs", "plugin": "misbehaving plugins", "fault": "faults"}
    for kind, (tried, other) in TALLY.items():
        if tried:
            terminalreporter.write_line(
                f"{names[kind]}: {tried} tried, {other} ended otherwise than expected"
            )
    for line in OTHER[:20]:
        terminalreporter.write_line(f"  {line[:200]}")
