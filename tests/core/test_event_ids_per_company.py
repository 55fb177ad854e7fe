"""An event is known by its company and its id (issue 13): two companies may both publish `close-2025-01`, and each
gets exactly what it gets alone; a duplicate is idempotent and a conflict refused per company; a command given an
id several companies use asks for the company; migration m012 upgrades an existing ledger in place, every digest
unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import sqlite_utils
from helpers.cli import run_here
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus import Paybonus, load_plugins
from paybonus.bench import synthetic_companies
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.sources import store_company
from paybonus.store import Ledger
from paybonus.store.schema import migrations

M012 = "m012_event_ids_per_company"
KINDS = (
    "close",
    "results",
    "objectives",
    "pmt",
    "left",
)  # the generated events' ids: C0001-close-2025-01, ...


def companies(n: int, employees: int = 6, seed: int = 1) -> list:
    """`n` generated companies (every built-in scheme), ids C0000, C0001, ..."""
    return list(synthetic_companies(employees * n, n, seed))


def events_of(made: list, shared: set[str]) -> list[dict]:
    """Every company's year of events in time order; an id whose kind is in `shared` loses its company prefix, so
    that every company publishes the same id (`close-2025-01`)."""
    out = []
    for c in made:
        for e in c.events:
            rest = e["id"].split("-", 1)[1]
            out.append({**e, "id": rest} if rest.split("-", 1)[0] in shared else e)
    return sorted(out, key=lambda e: e["occurred_at"])


def publish(target: str | Path, made: list, events: list[dict]) -> Paybonus:
    app = Paybonus.create(target, host=load_plugins(entry_points=False))
    for c in made:
        store_company(app.ledger, c.data)
    summary = app.publish([(f"event {i}", app.host.event_types.from_dict(e)) for i, e in enumerate(events)])
    assert summary.counts["recorded"] == len(events) and summary.counts["failed"] == 0
    return app


def computed(app: Paybonus, company: str | None = None) -> list[tuple]:
    """What was computed, whatever the events' ids: (company, scheme, employee, period, kind, cents), sorted."""
    return sorted(
        (e.company, e.scheme, e.employee, e.period.key, str(e.kind), e.amount_cents)
        for e in app.entitlements(company=company)
    )


def recorded(app: Paybonus, company: str) -> list[tuple]:
    """A company's entitlements as stored: ids (derived from the event ids) and digests."""
    return sorted(
        (r["id"], r["event_id"], r["amount_cents"], r["digest"])
        for r in app.ledger.entitlements.rows(company=company)
    )


def test_two_companies_publish_the_same_ids_and_each_gets_what_it_gets_alone(tmp_path):
    made = companies(2)
    shared = set(KINDS)
    both = publish(tmp_path / "both.db", made, events_of(made, shared))
    distinct = publish(tmp_path / "distinct.db", made, events_of(made, set()))
    try:
        assert both.ledger.events.companies_of("close-2025-01") == ["C0000", "C0001"]
        assert both.ledger.conn.execute("SELECT COUNT(DISTINCT id) FROM events").fetchone()[0] < len(
            events_of(made, shared)
        )
        assert computed(both) == computed(distinct) and computed(both)  # the same cents as with distinct ids
        for c in made:  # and each company's rows are exactly those of the company alone, with the same ids
            company = c.data.config.info.id
            with publish(tmp_path / f"{company}.db", [c], events_of([c], shared)) as alone:
                assert recorded(both, company) == recorded(alone, company)
        dispatched = {r["company"] for r in both.ledger.dispatches.all() if r["event_id"] == "close-2025-12"}
        assert dispatched == {"C0000", "C0001"}
        rep = both.verify()
        assert rep.ok, rep.problems
        assert rep.events == len(events_of(made, shared))
        replayed = both.replay()
        assert replayed.problems == [] and replayed.dispatches == rep.dispatches
    finally:
        both.close()
        distinct.close()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(2, 3),
    shared=st.sets(st.sampled_from(KINDS), min_size=1),
    seed=st.integers(1, 1000),
)
def test_sharing_ids_between_companies_never_changes_an_amount(tmp_path_factory, n, shared, seed):
    made = companies(n, employees=4, seed=seed)
    tmp = tmp_path_factory.mktemp("shared")
    with (
        publish(tmp / "shared.db", made, events_of(made, shared)) as app,
        publish(tmp / "distinct.db", made, events_of(made, set())) as ref,
    ):
        assert computed(app) == computed(ref)
        assert (
            app.ledger.events.count() == ref.ledger.events.count()
        )  # no company's event taken for another's
        assert len(app.ledger.dispatches.all()) == len(ref.ledger.dispatches.all())
        assert app.verify().ok


def state(ledger: Ledger) -> tuple:
    """Everything recorded, without wall-clock times."""
    q = lambda sql: ledger.conn.execute(sql).fetchall()  # noqa: E731
    return (
        q("SELECT company, id, digest FROM events ORDER BY seq"),
        q("SELECT id, company, event_id, amount_cents, digest, status FROM entitlements ORDER BY seq"),
        q("SELECT company, event_id, scheme, status FROM dispatches ORDER BY 1, 2, 3"),
        q("SELECT company, n, hash FROM audit_log ORDER BY seq"),
    )


def close(events: EventFactory, month: str, id: str | None = None, company: str | None = None):
    """The close of a month, its id `close-2025-01` unless given."""
    return events.period_closed(month, id=id or f"close-{month}", company=company)


@pytest.fixture
def pair(ledger_target):
    """Two generated companies on each backend, each with `close-2025-01` recorded under the same id."""
    made = companies(2)
    app = Paybonus.create(ledger_target, host=load_plugins(entry_points=False))
    for c in made:
        store_company(app.ledger, c.data)
    events = EventFactory("C0000")
    app.publish([close(events, "2025-01"), close(events, "2025-01", company="C0001")])
    yield app, events
    app.close()


def test_a_duplicate_is_idempotent_and_a_conflict_refused_per_company(pair):
    app, events = pair
    before = state(app.ledger)
    again = app.publish([close(events, "2025-01", company="C0001")])
    assert again.counts["duplicates"] == 1 and again.counts["recorded"] == 0
    assert state(app.ledger) == before
    other = close(events, "2025-02", id="close-2025-01", company="C0001")  # its id, other content
    with pytest.raises(UserError, match="already recorded with different content \\(company 'C0001'\\)"):
        app.publish([close(events, "2025-02", company="C0000"), other])
    assert state(app.ledger) == before  # the whole batch refused: nothing written
    with pytest.raises(UserError, match="used again with different content"):
        app.publish(
            [
                close(events, "2025-03", company="C0000"),
                close(events, "2025-04", id="close-2025-03"),
            ]
        )
    assert state(app.ledger) == before
    # the same id and content in another company is another event: recorded, and computed
    out = app.publish(
        [events.period_closed("2025-02", id="close-2025-02-x", company=c) for c in ("C0000", "C0001")]
    )
    assert out.counts["recorded"] == 2 and out.counts["completed"] > 0 and out.counts["failed"] == 0
    assert app.ledger.events.digest("C0000", "close-2025-02-x") != app.ledger.events.digest(
        "C0001", "close-2025-02-x"
    )


def test_another_companys_prefixed_id_no_longer_blocks_it(pair):
    """Before, `C0000-close-2025-05` belonged to C0000 (a prefix rule): C0001 could not take it first and block the
    real event. Now it names another event: both are recorded."""
    app, events = pair
    taken = app.publish([events.period_closed("2025-05", id="C0000-close-2025-05", company="C0001")])
    real = app.publish([events.period_closed("2025-05", id="C0000-close-2025-05", company="C0000")])
    assert taken.counts["recorded"] == real.counts["recorded"] == 1
    assert app.ledger.events.companies_of("C0000-close-2025-05") == ["C0000", "C0001"]


def test_retry_of_an_id_several_companies_use_asks_for_the_company(pair):
    app, _ = pair
    with pytest.raises(UserError, match="used by 2 companies \\(C0000, C0001\\): name one with --company"):
        app.check_filters(event="close-2025-01")
    assert app.event_company("close-2025-01", "C0001") == "C0001"
    with pytest.raises(UserError, match="no event 'close-2025-01' of company 'NOPE'"):
        app.event_company("close-2025-01", "NOPE")
    with pytest.raises(UserError, match="no event 'nope' in"):
        app.check_filters(event="nope")


def test_the_commands_ask_for_the_company_in_one_line(tmp_path):
    made = companies(2)
    with publish(tmp_path / "paybonus.db", made, events_of(made, {"close"})):
        pass
    r = run_here("retry", "--event", "close-2025-01", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [line for line in (r.stderr + r.stdout).splitlines() if line.strip()]
    assert lines == [
        "error: --event: event id 'close-2025-01' is used by 2 companies (C0000, C0001): name one with --company"
    ], lines
    r = run_here("retry", "--event", "close-2025-01", "--company", "C0001", cwd=tmp_path)
    assert r.returncode == 0 and "retried 0 dispatches" in r.stdout, r.stderr
    r = run_here(
        "retry", "--event", "C0000-results-2025", cwd=tmp_path
    )  # used by one company: no need to say it
    assert r.returncode == 0, r.stderr
    r = run_here("failures", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_a_conflicting_event_of_one_company_is_refused_by_publish_with_exit_2(tmp_path):
    made = companies(2)
    with publish(tmp_path / "paybonus.db", made, events_of(made, {"close"})) as app:
        before = state(app.ledger)
    fine = {
        "id": "close-2025-01",
        "type": "period_closed",
        "company": "C0001",
        "occurred_at": "2026-02-05T18:00:00+01:00",
    }
    bad = {**fine, "payload": {"period": {"start": "2025-02-01", "end": "2025-02-28"}}}
    (tmp_path / "bad.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    r = run_here("publish", "bad.jsonl", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "already recorded with different content (company 'C0001')" in r.stderr
    with Ledger.open(tmp_path / "paybonus.db") as ledger:
        assert state(ledger) == before


# -- the migration ---------------------------------------------------------------------------------------------


LATE = "C0000-close-2025-12"


def filled(path: Path) -> None:
    """A ledger as a year of work leaves it: the sample company (DURAND) and a generated one (C0000), findings, a
    payment and deadline notices."""
    with Paybonus.create(path) as app:
        app.load_company(sample_dir())
        app.publish(sample_dir() / "events.jsonl")
        made = companies(1)
        store_company(app.ledger, made[0].data)
        year = [e for e in events_of(made, set()) if e["id"] != LATE]  # its December close comes after m012
        app.publish([(str(i), app.host.event_types.from_dict(e)) for i, e in enumerate(year)])
        ent = next(e for e in app.entitlements(company="DURAND") if e.amount_cents > 1000)
        app.publish([EventFactory("DURAND").payment_recorded(ent.id, 1000, date(2026, 6, 1), id="pay-1")])
        app.check_deadlines(date(2027, 12, 31))


def before_m012(source: Path, path: Path) -> None:
    """The ledger `source` as paybonus wrote it before m012: the schema of m001..m011, every row copied as it is
    (what paybonus wrote then: the same rows, without the company of dispatches and findings)."""
    old = sqlite3.connect(path, isolation_level=None)
    migrations.apply(sqlite_utils.Database(old, execute_plugins=False), stop_before=M012)
    old.execute("PRAGMA foreign_keys = OFF")
    old.execute("BEGIN")
    old.execute("DELETE FROM ledger_meta")  # the chains' genesis is bound to the ledger's id: the source's
    new = sqlite3.connect(source)
    for (table,) in new.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlite_migrations'"
    ):
        cols = [r[1] for r in old.execute(f"PRAGMA table_info({table})")]
        rows = new.execute(f"SELECT rowid, {', '.join(cols)} FROM {table} ORDER BY rowid").fetchall()
        marks = ", ".join("?" for _ in range(len(cols) + 1))
        old.executemany(f"INSERT INTO {table} (rowid, {', '.join(cols)}) VALUES ({marks})", rows)
    old.execute("COMMIT")
    new.close()
    old.close()


def everything(conn: sqlite3.Connection, skip: tuple[str, ...] = ()) -> dict[str, list]:
    """Every row of every table (the migrations' bookkeeping aside), in rowid order."""
    out = {}
    for (table,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlite_migrations'"
    ):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in skip]
        out[table] = conn.execute(f"SELECT rowid, {', '.join(cols)} FROM {table} ORDER BY rowid").fetchall()
    return out


def test_m012_upgrades_a_filled_ledger_in_place_with_every_digest_unchanged(tmp_path):
    filled(tmp_path / "source.db")
    path = tmp_path / "old.db"
    before_m012(tmp_path / "source.db", path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'idx_events_id'").fetchone()
        assert "company" not in {r[1] for r in conn.execute("PRAGMA table_info(dispatches)")}
        before = everything(conn)
        assert (
            before["findings"] and before["payments"] and before["deadline_notices"] and before["audit_log"]
        )
    conn.close()

    with Paybonus.open(path) as app:
        assert app.ledger.migrated == [
            M012,
            "m013_overdue_net_of_corrections",
        ]
        conn = app.ledger.conn
        after = everything(conn)
        for table, rows in before.items():  # every row, digest and chain entry as it was
            if table not in ("dispatches", "findings"):
                assert after[table] == rows, table
        # dispatches and findings got their event's company; their rows kept (findings with their rowids: the
        # order a dispatch's digest lists them in)
        for table in ("dispatches", "findings"):
            assert next(r[1] for r in conn.execute(f"PRAGMA table_info({table})")) == "company"
            assert not conn.execute(
                f"SELECT 1 FROM {table} t WHERE t.company != (SELECT company FROM events e WHERE e.id = t.event_id)"
            ).fetchone()
        assert [r[:1] + r[2:] for r in after["findings"]] == before["findings"]
        assert sorted(r[2:] for r in after["dispatches"]) == sorted(r[1:] for r in before["dispatches"])
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the schema (tables, triggers, indexes, views) is a new ledger's
        fresh = Ledger.create(tmp_path / "fresh.db")
        objects = "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY 1, 2"
        assert conn.execute(objects).fetchall() == fresh.conn.execute(objects).fetchall()
        assert app.ledger.schema() == fresh.schema()
        fresh.close()
        for (view,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
            conn.execute(f"SELECT COUNT(*) FROM {view}").fetchone()
        # history still refuses to change
        for statement in (
            "UPDATE entitlements SET amount_cents = amount_cents + 1",
            "DELETE FROM entitlements",
            "UPDATE events SET digest = digest",
            "DELETE FROM payments",
            "UPDATE payments SET amount_cents = 1",
        ):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(statement)
        rep = app.verify()
        assert rep.ok, rep.problems
        assert rep.recomputed == rep.entitlements == len(before["entitlements"])
        assert app.replay().problems == []
        again = app.publish(sample_dir() / "events.jsonl").counts
        assert again["duplicates"] == again["events"] and again["recorded"] == 0
        # and the upgraded ledger takes another company's event under an id DURAND uses, and computes it
        late = next(e for e in companies(1)[0].events if e["id"] == LATE)
        taken = app.publish([app.host.event_types.from_dict({**late, "id": "DURAND-close-2025-12"})]).counts
        assert taken["recorded"] == 1 and taken["completed"] > 0 and taken["failed"] == 0
        assert app.verify().ok


def test_m012_interrupted_after_its_commit_finds_its_work_done(tmp_path):
    filled(tmp_path / "source.db")
    before_m012(tmp_path / "source.db", tmp_path / "old.db")
    Ledger.open(tmp_path / "old.db").close()
    with sqlite3.connect(tmp_path / "old.db") as conn:
        done = everything(conn)
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", (M012,))  # as if it stopped before this
    conn.close()
    with Paybonus.open(tmp_path / "old.db") as app:
        assert app.ledger.migrated == [M012]
        assert everything(app.ledger.conn) == done
        assert app.verify().ok


def test_m012_refuses_rows_whose_event_is_not_there_and_changes_nothing(tmp_path):
    filled(tmp_path / "source.db")
    path = tmp_path / "old.db"
    before_m012(tmp_path / "source.db", path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            "UPDATE dispatches SET event_id = 'gone' WHERE rowid = (SELECT MIN(rowid) FROM dispatches)"
        )
        before = everything(conn)
    conn.close()
    with pytest.raises(UserError, match="cannot upgrade it to name events by company"):
        Ledger.open(path)
    with sqlite3.connect(path) as conn:
        assert everything(conn) == before
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'idx_events_id'").fetchone()
    conn.close()


# PostgreSQL: the m012 of pg_schema, on a ledger brought back to the keys it had before
BACK_TO_M011 = """
ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id);
ALTER TABLE dispatches DROP CONSTRAINT dispatches_event_fkey;
ALTER TABLE dispatches DROP CONSTRAINT dispatches_pkey;
ALTER TABLE dispatches ADD CONSTRAINT dispatches_pkey PRIMARY KEY (event_id, scheme);
ALTER TABLE dispatches ADD CONSTRAINT dispatches_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id);
ALTER TABLE dispatches DROP COLUMN company;
ALTER TABLE findings DROP CONSTRAINT findings_event_fkey;
ALTER TABLE findings ADD CONSTRAINT findings_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id);
DROP INDEX idx_findings_company_event_scheme;
CREATE INDEX idx_findings_event_scheme ON findings (event_id, scheme);
ALTER TABLE findings DROP COLUMN company;
ALTER TABLE entitlements DROP CONSTRAINT entitlements_event_fkey;
ALTER TABLE entitlements ADD CONSTRAINT entitlements_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id);
ALTER TABLE payments DROP CONSTRAINT payments_event_fkey;
ALTER TABLE payments ADD CONSTRAINT payments_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id);
ALTER TABLE events DROP CONSTRAINT events_id_company_key;
DELETE FROM paybonus_migrations WHERE name = 'm012_event_ids_per_company';
"""


def test_m012_on_postgresql_keeps_every_row_and_digest(pg_url):
    import psycopg

    with Paybonus.create(pg_url) as app:
        app.load_company(sample_dir())
        app.publish(sample_dir() / "events.jsonl")
        ent = next(e for e in app.entitlements(company="DURAND") if e.amount_cents > 1000)
        app.publish([EventFactory("DURAND").payment_recorded(ent.id, 1000, date(2026, 6, 1), id="pay-1")])
        app.ledger.conn.executescript(BACK_TO_M011)
        assert app.ledger.pending_migrations() == [M012]

    def rows(c: psycopg.Connection) -> dict[str, list]:
        out = {}
        for table in ("events", "entitlements", "payments", "audit_log", "dispatches", "findings"):
            cols = [
                r[0]
                for r in c.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s AND column_name != 'company' ORDER BY ordinal_position",
                    (table,),
                )
            ]
            order = "rowid" if table == "findings" else "event_id, scheme" if table == "dispatches" else "seq"
            out[table] = c.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}").fetchall()
        return out

    with psycopg.connect(pg_url) as c:
        before = rows(c)
    assert before["findings"] and before["payments"]
    with Paybonus.open(pg_url) as app:
        assert app.ledger.migrated == [M012]
        rep = app.verify()
        assert rep.ok, rep.problems
        with psycopg.connect(pg_url) as c:
            assert rows(c) == before
            assert not c.execute(
                "SELECT 1 FROM dispatches d JOIN events e ON e.id = d.event_id WHERE d.company != e.company"
            ).fetchone()
        taken = app.publish([EventFactory("DURAND").period_closed("2025-12", id="DURAND-close-2025-12-x")])
        assert taken.counts["recorded"] == 1
