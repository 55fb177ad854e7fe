"""The PostgreSQL ledger keeps the SQLite ledger's promises: append-only history, per-company chains that `audit
verify` checks, the same amounts, and writers that serialise per company only (docs/deploy.md)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from paybonus import Paybonus
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir
from paybonus.store import Ledger

APPEND_ONLY = ("audit_log", "events", "payments", "parameter_sets", "company_configs", "payroll_parts")


@pytest.fixture
def app(pg_url):
    with Paybonus.create(pg_url) as a:
        a.load_company(sample_dir())
        a.publish(sample_dir() / "events.jsonl")
        yield a


def problems(app):
    return [str(p) for p in app.verify().problems]


def test_the_sample_gives_the_same_cents_as_on_sqlite_and_verifies(app, tmp_path):
    with Paybonus.create(tmp_path / "l.db") as lite:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        assert app.summary() == lite.summary()
        rows = lambda a: sorted(  # noqa: E731
            (e.id, e.employee, e.amount_cents, e.period.key) for e in a.entitlements()
        )
        assert rows(app) == rows(lite)
    rep = app.verify()
    assert rep.ok, rep.problems
    assert all(type(total) is int for *_, total, _ in app.summary())  # SUM(bigint): an int, never a Decimal


def test_history_refuses_update_delete_and_truncate(app):
    conn = app.ledger.conn
    for table in APPEND_ONLY:
        for statement in (f"UPDATE {table} SET at = at", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
            if table != "audit_log" and "SET at" in statement:
                statement = f"UPDATE {table} SET recorded_at = recorded_at"
            if table == "events" and "SET" in statement:
                statement = "UPDATE events SET digest = digest"
            if table == "payroll_loads" and "SET" in statement:
                statement = "UPDATE payroll_loads SET at = at"
            if (
                conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
                and "TRUNCATE" not in statement
            ):
                continue
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
    with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
        conn.execute("UPDATE entitlements SET amount_cents = amount_cents + 1")
    with pytest.raises(psycopg.errors.RaiseException, match="never deleted"):
        conn.execute("DELETE FROM entitlements")
    conn.execute("UPDATE entitlements SET status = 'paid' WHERE seq = 1")  # only the status moves


def test_an_amount_changed_behind_the_triggers_is_named(app):
    assert problems(app) == []
    conn = app.ledger.conn
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")  # what a superuser can do: triggers off
        conn.execute("UPDATE entitlements SET amount_cents = amount_cents + 100 WHERE seq = 3")
    found = problems(app)
    assert found and any("entitlement" in p for p in found), found


def test_a_disabled_or_dropped_trigger_is_named(app):
    app.ledger.conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
    app.ledger.conn.execute("DROP TRIGGER payments_no_delete ON payments")
    found = problems(app)
    assert any("events_no_update is altered" in p for p in found), found
    assert any("payments_no_delete is missing" in p for p in found), found


def test_a_dropped_or_altered_index_is_named(app):
    conn = app.ledger.conn
    conn.execute("DROP INDEX idx_payments_entitlement")
    conn.execute("DROP INDEX idx_entitlements_company_seq")
    conn.execute("CREATE INDEX idx_entitlements_company_seq ON entitlements (company)")  # without seq
    # the unique constraint on ids, its index with it (and the foreign keys that needed it)
    conn.execute("ALTER TABLE entitlements DROP CONSTRAINT entitlements_id_key CASCADE")
    assert sorted(problems(app)) == [
        "schema: index entitlements_id_key is missing: duplicates are no longer refused",
        "schema: index idx_entitlements_company_seq is altered",
        "schema: index idx_payments_entitlement is missing",
    ]


def test_a_ledger_in_a_schema_whose_name_is_quoted_verifies(pg_database):
    # pg_get_indexdef names the table `"Paie 2026".companies`: the schema is removed as it quotes it (a pattern of
    # non-blanks left it there, and every index of a valid ledger was "altered")
    with psycopg.connect(pg_database, autocommit=True) as c:
        c.execute('CREATE SCHEMA "Paie 2026"')
    try:
        with Paybonus.create(f"{pg_database}?options=-csearch_path%3D%22Paie%5C%202026%22") as app:
            assert app.ledger.conn.execute("SELECT current_schema()").fetchone()[0] == "Paie 2026"
            app.load_company(sample_dir())
            assert problems(app) == []
    finally:
        with psycopg.connect(pg_database, autocommit=True) as c:
            c.execute('DROP SCHEMA "Paie 2026" CASCADE')


def test_writers_of_two_companies_run_together_and_of_one_company_wait(pg_url):
    first, second = Ledger.create(pg_url), Ledger.open(pg_url)
    entered = threading.Event()
    release = threading.Event()

    def hold(company: str) -> None:
        with first.write(company):
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold, args=("ACME",))
    t.start()
    assert entered.wait(10)
    start = time.monotonic()
    with second.write("OTHER"):  # another company: no wait
        pass
    other_took = time.monotonic() - start
    waited = threading.Event()

    def same() -> None:
        with second.write("ACME"):
            waited.set()

    u = threading.Thread(target=same)
    u.start()
    assert not waited.wait(0.5)  # ACME is held: its second writer waits
    release.set()
    assert waited.wait(10)
    t.join()
    u.join()
    assert other_took < 5
    first.close()
    second.close()


def test_opening_a_database_that_is_not_a_ledger_is_one_line(pg_url):
    with pytest.raises(UserError, match="not a paybonus ledger"):
        Ledger.open(pg_url)
    with pytest.raises(UserError, match="cannot connect to PostgreSQL"):
        Ledger.open("postgresql://nobody:secret@127.0.0.1:1/none")


def test_a_second_create_applies_nothing_and_keeps_the_chains(app, pg_url):
    heads = app.heads()
    again = Ledger.create(pg_url)
    assert again.migrated == [] and again.pending_migrations() == [] and again.audit.heads() == heads
    again.close()


def test_init_says_created_once_then_up_to_date(pg_url, tmp_path):
    from helpers.cli import run

    assert run("--db", pg_url, "init", cwd=tmp_path).stdout.strip() == f"ledger created: {pg_url}"
    assert run("--db", pg_url, "init", cwd=tmp_path).stdout.strip() == f"ledger already up to date: {pg_url}"
    secret = pg_url.replace("postgres@", "postgres:hunter2@")
    r = run("--db", secret, "init", cwd=tmp_path)
    assert "hunter2" not in r.stdout + r.stderr and r.stdout.startswith("ledger already up to date: ")


def test_the_views_for_humans_say_the_same_on_postgresql(app, tmp_path):
    conn = app.ledger.conn
    total = conn.execute("SELECT SUM(amount_cents) FROM entitlements").fetchone()[0]
    assert conn.execute("SELECT SUM(total_cents) FROM totals_by_scheme").fetchone()[0] == total
    row = conn.execute(
        "SELECT amount_euros, amount_cents FROM entitlements_in_euros ORDER BY id LIMIT 1"
    ).fetchone()
    assert row[0] == f"{row[1] // 100}.{row[1] % 100:02d}"
    one = conn.execute("SELECT id FROM entitlements WHERE scheme = 'interessement' LIMIT 1").fetchone()[0]
    sections = {
        r[0] for r in conn.execute("SELECT section FROM explanation_lines WHERE entitlement = ?", (one,))
    }
    assert {"rule", "input"} <= sections
    views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = current_schema()")}
    with Ledger.create(tmp_path / "l.db") as lite:
        assert views == {
            r[0] for r in lite.conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
        }


def test_overdue_counts_days_in_utc_whatever_the_sessions_time_zone(app, tmp_path):
    # +14 h and -12 h: at any hour their dates differ, and one of them differs from the UTC date
    seen = set()
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "UTC"):
        app.ledger.conn.execute(f"SET TIME ZONE '{zone}'")
        seen.add(
            tuple(app.ledger.conn.execute("SELECT entitlement, days_late FROM overdue ORDER BY 1").fetchall())
        )
    app.ledger.conn.execute("RESET TIME ZONE")
    [rows] = seen
    assert rows  # the sample's sums are long overdue by now (2026-12-01 and after)
    with Paybonus.create(tmp_path / "l.db") as lite:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        assert [
            tuple(r)
            for r in lite.ledger.conn.execute("SELECT entitlement, days_late FROM overdue ORDER BY 1")
        ] == [tuple(r) for r in rows]


def test_choice_windows_open_has_the_same_columns_and_rows_as_on_sqlite(app, tmp_path):
    """Statements issued 16, 15, 3 and 0 days ago and tomorrow, one answered: the windows open today (in UTC)."""
    today = datetime.now(UTC).date()
    ids = [e.id for e in app.entitlements(scheme="interessement")][:6]
    events = [
        {
            "id": f"st-{i}",
            "type": "statement_issued",
            "company": "DURAND",
            "occurred_at": f"{today}T09:00:00+00:00",
            "payload": {"entitlement": e, "issued_on": (today - timedelta(days=days)).isoformat()},
        }
        for i, (e, days) in enumerate(zip(ids, (16, 15, 3, 0, -1, 3), strict=True))
    ]
    events.append(
        {
            "id": "choice-5",
            "type": "option_chosen",
            "company": "DURAND",
            "occurred_at": f"{today}T09:00:00+00:00",
            "payload": {"entitlement": ids[5], "chosen_on": today.isoformat(), "choice": "paid"},
        }
    )
    f = tmp_path / "st.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in events))
    assert not app.publish(f).failed

    def rows(conn):
        cur = conn.execute("SELECT * FROM choice_windows_open ORDER BY entitlement")
        return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]

    with Paybonus.create(tmp_path / "l.db") as lite:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        assert not lite.publish(f).failed
        assert rows(app.ledger.conn) == rows(lite.ledger.conn)
    names, got = rows(app.ledger.conn)
    left = {r[0]: (r[names.index("window_closes_on")], r[names.index("days_left")]) for r in got}
    closes = lambda days: (today + timedelta(days=15 - days)).isoformat()  # noqa: E731
    assert left == {
        ids[1]: (closes(15), 0),  # its last day: whole days left, as SQLite counts them
        ids[2]: (closes(3), 11),
        ids[3]: (closes(0), 14),
    }


def test_deferred_commits_are_on_disk_once_make_durable_returns(pg_url):
    """A worker commits without waiting for the disk and flushes once before it acknowledges (docs/deploy.md)."""
    ledger = Ledger.create(pg_url)
    ledger.defer_durability()
    assert ledger.conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    for i in range(3):
        with ledger.write("ACME"):
            ledger.conn.execute(
                "INSERT INTO parameter_sets (digest, document, recorded_at) VALUES (?, ?, ?)",
                (f"test-{i}", "{}", "2026-12-01T00:00:00+00:00"),
            )
    written = ledger.conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
    ledger.make_durable()
    flushed = ledger.conn.execute("SELECT pg_current_wal_flush_lsn() >= ?::pg_lsn", (written,))
    assert flushed.fetchone()[0] is True
    after = ledger.conn.execute("SELECT pg_current_wal_insert_lsn() > ?::pg_lsn", (written,))
    assert (
        after.fetchone()[0] is True
    )  # make_durable wrote a record of its own: its commit waits for the flush
    ledger.close()


def test_a_ledger_made_before_the_view_gets_it_when_opened(pg_url):
    """PostgreSQL ledgers made before m006_views_for_humans_choice_windows_open gain the view on their next open."""
    Ledger.create(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("DROP VIEW choice_windows_open")
        c.execute("DELETE FROM paybonus_migrations WHERE name = 'm006_views_for_humans_choice_windows_open'")
    ledger = Ledger.open(pg_url)
    assert ledger.migrated == ["m006_views_for_humans_choice_windows_open"]
    assert ledger.conn.execute("SELECT COUNT(*) FROM choice_windows_open").fetchone()[0] == 0
    ledger.close()


def test_large_reads_come_from_a_server_side_cursor_a_few_thousand_rows_at_a_time(app, monkeypatch):
    """psycopg's ordinary cursor fetches a whole result when the query runs: an export or a verify of a ledger of
    millions of entitlements held every row in the client. The streamed reads use a server-side cursor, fetched
    STREAM_ROWS at a time, closed when read to their end or dropped."""
    from paybonus.store import pg

    monkeypatch.setattr(pg, "STREAM_ROWS", 7)
    ledger = app.ledger
    conn = ledger.conn
    open_cursors = lambda: [  # noqa: E731
        r[0]
        for r in conn.execute("SELECT name FROM pg_cursors WHERE name LIKE 'paybonus_stream_%'").fetchall()
    ]
    every = [r["id"] for r in ledger.entitlements.all()]
    assert len(every) == 106 and open_cursors() == []  # read to its end: closed
    rows = ledger.entitlements.each_row("DURAND")
    first = next(rows)
    assert first["id"] == every[0] and len(open_cursors()) == 1  # the rest are still on the server
    assert [r["id"] for r in rows] == every[1:] and open_cursors() == []
    tuples = iter(ledger.entitlements.tuples())
    next(tuples)
    assert len(open_cursors()) == 1
    del tuples  # dropped half-read: the generator's end closes it
    assert open_cursors() == []
    assert sum(1 for _ in ledger.audit.actions_in_order()) == ledger.audit.count()
    assert [r[0] for r in ledger.events.kinds()] == [r["id"] for r in ledger.events.stream()]
