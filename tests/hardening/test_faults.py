"""Issue 13, "Partial writes and faults": a batch that stops part-way never claims "nothing written"; a full disk,
a read-only or a locked ledger gives one line and a state that `publish` and `retry` recover; one text path for
BOM, CRLF and the Unicode separators; size limits."""

from __future__ import annotations

import json
import sqlite3

import paybonus.payments
import paybonus.store.ledger as store_ledger
import pytest
from helpers.hostile import attempt, cli, count, ledger_digest, one_line


def ev(id_, type_, payload, company="DURAND", at="2026-02-05T18:00:00+01:00"):
    return {"id": id_, "type": type_, "company": company, "occurred_at": at, "payload": payload}


def lines(*events):
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def an_entitlement(db):
    code, out, err = cli("--db", str(db), "entitlements", "--company", "DURAND", "--format", "json")
    assert code == 0, err
    return next(e for e in json.loads(out) if e["amount_cents"] > 100 and e["scheme"] == "prime_nao")


def test_a_payment_lost_to_another_publisher_part_way_never_says_nothing_was_written(work, monkeypatch):
    ent = an_entitlement(work.db)
    left = ev("DURAND-left-E0001", "employee_left", {"employee": "E0001", "left_on": "2026-01-31"})
    pay = ev(
        "DURAND-pay-1",
        "payment_recorded",
        {"entitlement": ent["id"], "amount_cents": ent["amount_cents"] + 1, "paid_on": "2026-02-01"},
    )
    f = work.file("race.jsonl", lines(left, pay))
    monkeypatch.setattr(paybonus.payments, "check", lambda *a, **k: None)  # admission saw enough due (a race)
    code, _out, err = cli("--db", str(work.db), "publish", str(f))
    count("payment race part-way", code == 1 and one_line(err), kind="fault")
    assert code == 1 and one_line(err), err  # 1, not 2: the first event was recorded
    assert "DURAND-pay-1" in err and "publish the file again" in err
    monkeypatch.undo()
    f.write_text(lines(left))
    code, out, err = cli("--db", str(work.db), "publish", str(f))
    assert code == 0 and "1 already known" in out, err


def test_a_payment_lost_to_another_publisher_first_writes_nothing(work, monkeypatch):
    ent = an_entitlement(work.db)
    pay = ev(
        "DURAND-pay-1",
        "payment_recorded",
        {"entitlement": ent["id"], "amount_cents": ent["amount_cents"] + 1, "paid_on": "2026-02-01"},
    )
    monkeypatch.setattr(paybonus.payments, "check", lambda *a, **k: None)
    attempt("payment race first", work.db, "publish", str(work.file("race.jsonl", lines(pay))))


def full_disk(real, after):
    calls = {"n": 0}

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] > after:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *a, **k)

    return failing


@pytest.mark.parametrize("after", [0, 3])
def test_a_full_disk_during_a_publish_is_one_line_and_publish_again_recovers(work, monkeypatch, after):
    events = work.company / "events.jsonl"
    # `_record_dispatch`: what one dispatch and several computed from one read (`record_dispatches`) both write
    for name in ("_record_dispatch", "record_failure"):
        monkeypatch.setattr(store_ledger.Ledger, name, full_disk(getattr(store_ledger.Ledger, name), after))
    code, _out, err = cli("--db", str(work.fresh), "publish", str(events))
    count(f"full disk after {after} dispatches", code == 1 and one_line(err), kind="fault")
    assert code == 1 and one_line(err) and "disk is full" in err and "Traceback" not in err, err
    monkeypatch.undo()
    code, _out, err = cli("--db", str(work.fresh), "publish", str(events))
    assert code == 0 or (code == 1 and "paybonus retry" in err), err  # what failed on the full disk: retry
    code, _out, err = cli("--db", str(work.fresh), "retry")
    assert code == 0, err
    code, out, err = cli("--db", str(work.fresh), "failures", "--check")
    assert code == 0, out + err
    code, out, err = cli("--db", str(work.fresh), "audit", "verify")
    assert code == 0, out + err


def test_a_full_disk_while_recording_an_event_writes_nothing(work, monkeypatch):
    monkeypatch.setattr(store_ledger.Ledger, "record_event", full_disk(store_ledger.Ledger.record_event, 0))
    before = ledger_digest(work.fresh)
    code, _out, err = cli("--db", str(work.fresh), "publish", str(work.company / "events.jsonl"))
    count(
        "full disk recording an event",
        code == 1 and one_line(err) and ledger_digest(work.fresh) == before,
        kind="fault",
    )
    assert code == 1 and one_line(err) and ledger_digest(work.fresh) == before, err


def test_a_read_only_ledger_is_one_line(work, monkeypatch):
    real = store_ledger._connect
    monkeypatch.setattr(
        store_ledger,
        "_connect",
        lambda path: sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=0.2),
    )
    before = ledger_digest(work.fresh)
    code, _out, err = cli("--db", str(work.fresh), "publish", str(work.company / "events.jsonl"))
    count(
        "read-only ledger",
        code in (1, 2) and one_line(err) and ledger_digest(work.fresh) == before,
        kind="fault",
    )
    assert code in (1, 2) and one_line(err) and "Traceback" not in err, err
    assert ledger_digest(work.fresh) == before
    assert real is not None


def test_a_locked_ledger_is_one_line(work, monkeypatch):
    monkeypatch.setattr(store_ledger, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(work.fresh, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        before_code = cli("--db", str(work.fresh), "publish", str(work.company / "events.jsonl"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    code, _out, err = before_code
    count("locked ledger", code == 1 and one_line(err), kind="fault")
    assert code == 1 and one_line(err) and "locked" in err, err
    code, _out, err = cli("--db", str(work.fresh), "publish", str(work.company / "events.jsonl"))
    assert code == 0, err


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\u0085"])
def test_a_unicode_separator_inside_a_json_string_does_not_split_the_line(work, sep):
    e = ev(
        "DURAND-left-E0001",
        "employee_left",
        {"employee": "E0001", "left_on": "2026-01-31", "forwarding_address": f"3 rue X{sep}69003 Lyon"},
    )
    f = work.file("sep.jsonl", lines(e))
    assert sep in f.read_text(encoding="utf-8")
    code, out, err = cli("--db", str(work.db), "publish", str(f))
    assert code == 0 and "1 recorded" in out, err


def test_bom_and_crlf_are_read_the_same_in_events_csv_and_toml(work):
    text = (work.company / "events.jsonl").read_text(encoding="utf-8")
    f = work.file("bom.jsonl", ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))
    code, _out, err = cli("--db", str(work.fresh), "publish", str(f))
    assert code == 0, err
    for name in ("company.toml", "employees.csv", "absences.csv"):
        p = work.company / name
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    code, _out, err = cli("--db", str(work.fresh), "load", str(work.company))
    assert code == 0, err


def test_an_event_line_over_the_size_limit(work):
    e = ev("DURAND-left-E0001", "employee_left", {"employee": "E0001", "left_on": "2026-01-31"})
    e["payload"]["forwarding_address"] = "x" * 2_000_000
    attempt("event line of 2 MB", work.db, "publish", str(work.file("big.jsonl", lines(e))))


def test_a_string_over_the_size_limit_in_an_event(work):
    e = ev("DURAND-left-E0001", "employee_left", {"employee": "E0001", "left_on": "2026-01-31"})
    e["payload"]["forwarding_address"] = "x" * 20_000
    attempt("event string of 20 000 characters", work.db, "publish", str(work.file("big.jsonl", lines(e))))


@pytest.mark.parametrize("form", ["bom", "crlf", "u2028-in-a-value"])
def test_dsn_files_are_read_like_every_other_file(work, tmp_path, form):
    from conftest import shared

    text = shared("data", "dsn", "sample_dsn_P25V01.dsn").read_bytes().decode("cp1252")
    if form == "bom":
        raw = b"\xef\xbb\xbf" + text.encode("utf-8")
    elif form == "crlf":
        raw = text.replace("\n", "\r\n").encode("utf-8")
    else:  # a job title holding a Unicode line separator stays one line
        raw = text.replace("S21.G00.40.006,'", "S21.G00.40.006,'\u2028", 1).encode("utf-8")
    f = tmp_path / "d.dsn"
    f.write_bytes(raw)
    code, _out, err = cli(
        "--db", str(work.db), "dsn", str(f), "--company", "DURAND", "--events", str(tmp_path / "e.jsonl")
    )
    assert code == 0, err
