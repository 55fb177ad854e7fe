"""`paybonus deadlines` in a machine format is written as it is read (a large employer's 676 000 items were held
whole: 641 MiB for the CSV of 200 000 employees): the open rows streamed, their choice windows read for each chunk
of them. Whatever the chunk, the same items in the same order as the list `Paybonus.deadlines` gives, on both
backends; the command's CSV is that list."""

import csv
import io
import json
import shutil
from datetime import date

import pytest
from helpers.cli import run_here
from paybonus import Paybonus, deadlines
from paybonus.fixtures import sample_dir
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate, write_company_dir

# the statements were issued on 1 April 2026 (choice windows close on the 16th), the year's intéressement falls
# due on 31 May 2026 (I-39), E0014 left on 30 November 2025 (his sums go to the Caisse des dépôts a year after)
DAYS = (date(2026, 4, 10), date(2026, 5, 20), date(2027, 6, 10))


def _issue(app, ids):
    events = [
        {
            "id": f"st-{i}",
            "type": "statement_issued",
            "company": "DURAND",
            "occurred_at": "2026-04-01T10:00:00+02:00",
            "payload": {"entitlement": e, "issued_on": "2026-04-01"},
        }
        for i, e in enumerate(ids)
    ]
    app.publish([(e["id"], app.host.event_types.from_dict(e)) for e in events])


def _two_companies(tmp_path, target):
    company = tmp_path / "co"
    shutil.copytree(sample_dir(), company)
    other = tmp_path / "other"
    write_company_dir(generate("OTHER", 40, schemes_toml=SAMPLE_SCHEMES, salary_schemes=True), other)
    app = Paybonus.create(target)
    for folder in (company, other):
        app.load_company(folder)
        app.publish(folder / "events.jsonl")
    savings = [e.id for e in app.entitlements(company="DURAND", scheme="interessement")]
    _issue(app, savings[::2])  # some have a window, some not: the chunks' windows must be their own rows'
    return app


@pytest.fixture
def two_companies(tmp_path, ledger_target):
    app = _two_companies(tmp_path, ledger_target)
    yield app
    app.close()


def test_the_items_are_the_same_whatever_the_chunk_on_both_backends(two_companies, monkeypatch):
    app = two_companies
    kinds = set()
    for day in DAYS:
        listed = app.deadlines(day, 30)
        kinds |= {i.kind for i in listed}
        for size in (1, 2, 7):
            monkeypatch.setattr(deadlines, "CHUNK_ROWS", size)
            assert list(app.deadline_items(day, 30)) == listed, (day, size)
            assert list(app.deadline_items(day, 30, "DURAND")) == [i for i in listed if i.company == "DURAND"]
        monkeypatch.undo()
    assert kinds == {"overdue", "due", "option_window", "cdc_transfer"}


def test_the_command_writes_them_as_read_in_every_machine_format(tmp_path, monkeypatch):
    db = str(tmp_path / "ledger.db")
    day = DAYS[0]
    with _two_companies(tmp_path, db) as app:
        listed = app.deadlines(day, 30)

    def held(*args, **kwargs):
        raise AssertionError("the machine formats are written as read, not from a list")

    monkeypatch.setattr(deadlines, "scan", held)
    monkeypatch.setattr(deadlines, "CHUNK_ROWS", 3)
    r = run_here("--db", db, "deadlines", "--as-of", day.isoformat(), "--format", "csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [
        (x["kind"], x["entitlement"], x["date"], int(x["days"]), int(x["outstanding_cents"])) for x in rows
    ] == [(i.kind, i.entitlement, i.date.isoformat(), i.days, i.outstanding_cents) for i in listed]
    r = run_here("--db", db, "deadlines", "--as-of", day.isoformat(), "--format", "json", cwd=tmp_path)
    assert [x["entitlement"] for x in json.loads(r.stdout)] == [i.entitlement for i in listed]
    r = run_here("--db", db, "deadlines", "--as-of", "2026-13-01", "--format", "csv", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    monkeypatch.undo()
    r = run_here("--db", db, "deadlines", "--as-of", day.isoformat(), cwd=tmp_path)  # the table: listed
    assert r.returncode == 0 and f"{sum(i.kind == 'option_window' for i in listed)} option_window" in r.stdout
