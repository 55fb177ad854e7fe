"""The PostgreSQL write path of a worker (issue 18): write transactions in pipeline mode, a company's lock held for
the session across the transactions of one message (`Ledger.holding`), the chain head and the version read once,
and the same ledger as without any of it."""

from __future__ import annotations

import contextlib
import threading

import psycopg
import pytest
from paybonus import Paybonus
from paybonus.fixtures import sample_dir
from paybonus.store import Ledger


def counting(monkeypatch, ledger):
    """Statements the ledger's writing connection runs, by their SQL text."""
    seen: list[str] = []
    execute = ledger.conn.execute

    def spy(sql, args=()):
        seen.append(sql)
        return execute(sql, args)

    monkeypatch.setattr(ledger.conn, "execute", spy)
    return seen


def published(url, held: bool):
    """The sample company and its events, each event published on its own (as a worker's message would be),
    inside `holding` or not; returns the app, open."""
    app = Paybonus.create(url)
    app.load_company(sample_dir())
    events = app.read_events(sample_dir() / "events.jsonl")
    for pair in events:
        if held:
            with app.ledger.holding(pair[1].company):
                app.publish([pair])
        else:
            app.publish([pair])
    return app


def test_a_held_company_gives_the_same_ledger_with_one_head_read(pg_url, tmp_path, monkeypatch):
    with Paybonus.create(tmp_path / "l.db") as lite:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        expected = lite.summary()
    app = Paybonus.create(pg_url)
    app.load_company(sample_dir())
    seen = counting(monkeypatch, app.ledger)
    with app.ledger.holding("DURAND"):
        app.publish(sample_dir() / "events.jsonl")
    heads = [s for s in seen if s.startswith("SELECT n, hash FROM audit_log")]
    locks = [s for s in seen if "pg_advisory_xact_lock" in s]
    # the head read once for the 24 events (and once more for the summary publish returns); no lock per transaction
    assert len(heads) <= 2 and locks == []
    assert app.summary() == expected
    assert app.verify().ok
    app.close()


def test_held_or_not_the_chains_and_amounts_are_the_same(pg_url, pg_database):
    import uuid

    other = f"{pg_database}?options=-csearch_path%3Dt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {other.rsplit('%3D', 1)[1]}")
    a, b = published(pg_url, held=True), published(other, held=False)
    try:
        assert a.summary() == b.summary()
        assert [h.n for h in a.heads().values()] == [h.n for h in b.heads().values()]
        assert a.verify().ok and b.verify().ok
    finally:
        a.close()
        b.close()


def test_a_rolled_back_transaction_forgets_the_head_it_kept(pg_url):
    app = Paybonus.create(pg_url)
    app.load_company(sample_dir())
    ledger = app.ledger
    with ledger.holding("DURAND"):
        with ledger.write("DURAND"):
            ledger.audit.append("DURAND", "2026-01-01T00:00:00+00:00", [("test.kept", "a", "0" * 64)])
        with pytest.raises(RuntimeError), ledger.write("DURAND"):
            ledger.audit.append("DURAND", "2026-01-01T00:00:00+00:00", [("test.lost", "b", "1" * 64)])
            raise RuntimeError("rolled back")
        with ledger.write("DURAND"):  # continues from the committed head, not from the rolled-back entry
            ledger.audit.append("DURAND", "2026-01-01T00:00:00+00:00", [("test.next", "c", "2" * 64)])
    actions = [e.action for e in ledger.audit.entries("DURAND")]
    assert actions[-2:] == ["test.kept", "test.next"]
    assert not [p for p in app.verify().problems if "chain" in str(p)]
    app.close()


def test_other_writers_of_a_held_company_wait_for_its_release(pg_url):
    first, second = Ledger.create(pg_url), Ledger.open(pg_url)
    done = {"ACME": threading.Event(), "OTHER": threading.Event()}

    def write(company: str) -> None:
        with second.write(company):
            pass
        done[company].set()

    with first.holding("ACME"):
        with first.write("ACME"):
            pass
        t = threading.Thread(target=write, args=("OTHER",))
        t.start()
        assert done["OTHER"].wait(10)  # another company: no wait
        t.join()
        u = threading.Thread(target=write, args=("ACME",))
        u.start()
        assert not done["ACME"].wait(0.5)  # between the holder's transactions too
        with first.write("ACME"):  # the holder itself goes on
            pass
    assert done["ACME"].wait(10)
    u.join()
    first.close()
    second.close()


def test_an_error_of_a_statement_sent_ahead_rolls_its_transaction_back(pg_url):
    with Ledger.create(pg_url) as ledger:
        ledger.conn.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY)")
        with pytest.raises(psycopg.errors.UniqueViolation), ledger.write("ACME"):
            ledger.conn.execute("INSERT INTO scratch (k) VALUES (?)", ("a",))
            ledger.conn.execute("INSERT INTO scratch (k) VALUES (?)", ("a",))  # sent without waiting
        assert ledger.conn.execute("SELECT COUNT(*) FROM scratch").fetchone()[0] == 0
        with ledger.write("ACME"):  # the connection is usable again
            ledger.conn.execute("INSERT INTO scratch (k) VALUES (?)", ("b",))
        assert ledger.conn.execute("SELECT k FROM scratch").fetchall() == [("b",)]


def test_a_statement_prepared_in_a_failed_transaction_runs_again_afterwards(pg_url):
    """psycopg prepares a statement at its 5th run; when that run is in a pipelined transaction that fails, the
    statement may never reach the server while psycopg keeps it as prepared: every later run of it on the
    connection failed ("prepared statement _pg3_1 does not exist"), a long publish's later dispatches with it."""
    with Ledger.create(pg_url) as ledger:
        ledger.conn.execute("CREATE TABLE scratch (a BIGINT, b TEXT)")
        insert = "INSERT INTO scratch (a, b) VALUES (?, ?)"
        for value in (1, 2, 3, 2**64, 2**64, 2**64, 4, 5, 6, 7, 8, 2**64, 9):
            try:
                with ledger.write("ACME"):
                    ledger.conn.execute(insert, (value, "x"))
            except psycopg.errors.NumericValueOutOfRange:
                assert value == 2**64
        got = [r[0] for r in ledger.conn.execute("SELECT a FROM scratch ORDER BY a")]
        assert got == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_a_version_read_while_held_is_read_once_for_the_hold(pg_url, monkeypatch):
    """Nobody else can change a held company: its version is read once a message, even across this session's
    own commits (the computations read what they committed); a new load reads it again; released, read again."""
    with Ledger.create(pg_url) as ledger:
        seen = counting(monkeypatch, ledger)
        with ledger.holding("ACME"):
            v = ledger.version("ACME")
            assert ledger._unchanged_since("ACME", v)
            with ledger.write("ACME"):
                pass
            assert ledger.version("ACME") is v and ledger._unchanged_since("ACME", v)
            assert not ledger._unchanged_since("OTHER", v)
            ledger.store_company(
                "ACME", "Acme", "[company]\nid = 'ACME'\n", [], [], [], "2026-01-01T00:00:00"
            )
            assert not ledger._unchanged_since("ACME", v)  # loaded again: read again
            assert ledger.version("ACME") is not v
        assert not ledger._unchanged_since("ACME", v)  # released: anyone may have written since
        assert sum("MAX(seq) FROM entitlements" in s for s in seen) == 2


# -- one write transaction an event while the company is held (issue 18, second pass) --------------------------


def message_publish(app, size: int = 8):
    """The sample's events as a worker records them: messages of `size` events, each under its company's held
    lock with its configuration digest pinned."""
    pairs = app.read_events(sample_dir() / "events.jsonl")
    for i in range(0, len(pairs), size):
        with app.ledger.holding(pairs[i][1].company), app.bus.caches.pinned():
            app.publish(pairs[i : i + size])
    return pairs


def test_a_held_message_records_each_new_event_with_its_first_dispatch(pg_url, tmp_path, monkeypatch):
    with Paybonus.create(tmp_path / "l.db") as lite:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        expected = lite.summary()
    app = Paybonus.create(pg_url)
    app.load_company(sample_dir())
    seen = counting(monkeypatch, app.ledger)
    transactions = []
    begin = app.ledger.server.transaction

    def counted(companies):
        transactions.append(tuple(companies))
        return begin(companies)

    monkeypatch.setattr(app.ledger.server, "transaction", counted)
    pairs = message_publish(app)
    messages = -(-len(pairs) // 8)
    dispatches = app.ledger.conn.execute("SELECT COUNT(*) FROM dispatches").fetchone()[0]
    payments = app.ledger.conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0]
    # a new event without a payment is written in the transaction of its first dispatch (and of the schemes
    # after it that read only their own entitlements; a batch of single-employee events, all in one): fewer
    # transactions than events and dispatches (each in its own before), and one per message at least
    assert messages <= len(transactions) < len(pairs) + dispatches - payments
    # the admission reads a message's digests once; nothing reads an event's digest or a dispatch's status again
    assert sum(s.startswith("SELECT id, digest FROM events") for s in seen) == messages
    assert not [s for s in seen if s.startswith(("SELECT digest FROM events", "SELECT scheme, status"))]
    assert sum("MAX(seq) FROM entitlements" in s for s in seen) <= messages  # the version: once a message
    assert app.summary() == expected
    assert app.verify().ok
    rows = app.ledger.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    message_publish(app)  # delivered again (a worker died before its ACK): duplicates, nothing written
    assert app.ledger.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == rows
    assert app.summary() == expected
    app.close()


def bus_on(url, *plugins, schemes_toml):
    from paybonus import EventBus, load_plugins
    from paybonus.fixtures.pytest_plugin import make_company
    from paybonus.sources import store_company

    ledger = Ledger.create(url)
    store_company(ledger, make_company(schemes_toml=schemes_toml).data)
    return EventBus(ledger, load_plugins(extra=plugins, entry_points=False, allow=None))


def state(ledger):
    """What a run decides, without its clock: entitlements, events, dispatches and their errors."""
    return (
        ledger.conn.execute(
            "SELECT id, scheme, employee, amount_cents, event_id, digest FROM entitlements ORDER BY id"
        ).fetchall(),
        ledger.conn.execute("SELECT company, id, digest FROM events ORDER BY seq").fetchall(),
        ledger.conn.execute(
            "SELECT event_id, scheme, status, attempts, error FROM dispatches ORDER BY 1, 2"
        ).fetchall(),
        [r[0] for r in ledger.conn.execute("SELECT action FROM audit_log ORDER BY company, n")],
    )


class BadDraftPlugin:
    """A scheme whose draft is refused while its rows are written (an amount that is not whole cents)."""

    from paybonus.hooks import hookimpl

    @hookimpl
    def paybonus_register_schemes(self):
        from helpers.plugins import DSN
        from paybonus.hooks import (
            EntitlementDraft,
            Explanation,
            SchemeDescriptor,
            SchemeResult,
            SocialRegime,
        )

        def compute(event, ctx):
            expl = Explanation({}, {}, ["bad"], ["test"])
            period = event.payload.period
            return SchemeResult(
                [EntitlementDraft(e.id, period, 1.5, expl) for e in ctx.population(period).employees]
            )

        return [
            SchemeDescriptor(
                name="a_bad_draft",  # first by name: the scheme recorded with the event
                version="1.0",
                label="Bad drafts",
                handlers={"period_closed": compute},
                recompute=lambda e: 0,
                dsn=DSN,
                social_regime=SocialRegime.SALARY,
            )
        ]


@pytest.mark.parametrize("broken", ["flaky", "a_bad_draft"])
def test_a_scheme_failing_under_the_held_lock_is_a_dead_letter_as_without_it(pg_url, pg_database, broken):
    """The first scheme fails while computing (flaky) or while its rows are written (a_bad_draft, inside the
    transaction that would have recorded the event too): the event is recorded all the same, the failure is a
    dead letter, the other scheme completes; the same rows as without the held lock."""
    import uuid

    from helpers import plugins as testplugins
    from helpers.plugins import SCHEMES_TOML, FlakyPlugin, FlatPlugin
    from paybonus.fixtures.pytest_plugin import EventFactory

    other = f"{pg_database}?options=-csearch_path%3Dt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {other.rsplit('%3D', 1)[1]}")
    testplugins.BROKEN["on"] = broken == "flaky"
    plugins = (FlatPlugin(), FlakyPlugin()) + ((BadDraftPlugin(),) if broken == "a_bad_draft" else ())
    toml = SCHEMES_TOML + ("\n[schemes.a_bad_draft]\n" if broken == "a_bad_draft" else "")
    events = EventFactory()
    batch = [(f"line {i}", events.period_closed(f"2025-{m:02d}")) for i, m in enumerate((3, 4), 1)]
    states = []
    try:
        for url, held in ((pg_url, True), (other, False)):
            bus = bus_on(url, *plugins, schemes_toml=toml)
            together: list[str] = []
            real = bus._publish_together
            bus._publish_together = lambda e, real=real, seen=together: seen.append(e.id) or real(e)  # type: ignore[method-assign]
            with bus.ledger.holding("ACME") if held else contextlib.nullcontext():
                out = bus.publish_all(batch)
            assert len(together) == (2 if held else 0)
            status = {(d.event_id, d.scheme): d.status for o in out for d in o.dispatches}
            assert {k: v for k, v in status.items() if v == "failed"} == {
                (e.id, broken): "failed" for _, e in batch
            }
            assert len(bus.ledger.dispatches.failed()) == 2
            states.append(state(bus.ledger))
            bus.close()
            bus.ledger.close()
    finally:
        testplugins.BROKEN["on"] = False
    assert states[0] == states[1]
    assert len(states[0][1]) == 2  # both events recorded


def test_a_reader_shows_pending_events_as_the_last_recorded_ones(tmp_path):
    from paybonus import EventBus, load_plugins
    from paybonus.fixtures.pytest_plugin import EventFactory, make_company
    from paybonus.sources import store_company

    ledger = Ledger.create(tmp_path / "l.db")
    store_company(ledger, make_company().data)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    events = EventFactory()
    bus.publish(events.period_closed("2025-01"))
    pending = events.period_closed("2025-02")
    reader = bus.reader
    recorded = reader.events("ACME", "period_closed")
    with reader.pending([pending]):
        assert reader.events("ACME", "period_closed") == [*recorded, pending]
        assert reader.events("OTHER", "period_closed") == []
        assert reader.events("ACME", "employee_left") == []
        assert reader.event("ACME", pending.id) is pending
    assert reader.events("ACME", "period_closed") == recorded
    assert reader.event("ACME", pending.id) is None
    bus.close()
    ledger.close()


class LeaverPlugin:
    """A single-employee scheme that counts the leaver's events it reads (its own included) and hangs for E0002."""

    from paybonus.hooks import hookimpl

    @hookimpl
    def paybonus_register_schemes(self):
        import time
        from datetime import date

        from helpers.plugins import DSN
        from paybonus.calendar import Period
        from paybonus.hooks import (
            EntitlementDraft,
            Explanation,
            SchemeDescriptor,
            SchemeResult,
            SocialRegime,
        )

        def on_leaver(event, ctx):
            if event.payload.employee == "E0002":
                time.sleep(1.5)  # past the bus's limit: abandoned, the next computation gets a new reader
            seen = len(ctx.events("employee_left", employee=event.payload.employee))
            period = Period(date(2025, 1, 1), date(2025, 12, 31))
            expl = Explanation({"seen": seen}, {}, ["100 per event seen"], ["test"])
            return SchemeResult([EntitlementDraft(event.payload.employee, period, 100 * seen, expl)])

        return [
            SchemeDescriptor(
                name="leaver",
                version="1.0",
                label="Leaver",
                handlers={"employee_left": on_leaver},
                recompute=lambda e: 100 * int(e.inputs["seen"]),
                dsn=DSN,
                social_regime=SocialRegime.SALARY,
                per_employee=frozenset({"employee_left"}),
            )
        ]


def test_a_held_batch_shows_its_events_after_a_computation_was_abandoned(pg_url, pg_database):
    """Single-employee events computed before they are recorded: a computation abandoned on a timeout gives the
    next one a new reader, which shows them too (each leaver reads its own event: 100 cents, as without the hold)."""
    import uuid
    from datetime import date

    from paybonus.fixtures.pytest_plugin import EventFactory

    other = f"{pg_database}?options=-csearch_path%3Dt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {other.rsplit('%3D', 1)[1]}")
    events = EventFactory()
    batch = [
        (f"line {i}", events.employee_left(e, date(2025, 6, 30)))
        for i, e in enumerate(("E0001", "E0002", "E0003", "E0004"), 1)
    ]
    states = []
    for url, held in ((pg_url, True), (other, False)):
        bus = bus_on(url, LeaverPlugin(), schemes_toml="[schemes.leaver]\n")
        bus.timeout = 0.5
        with bus.ledger.holding("ACME") if held else contextlib.nullcontext():
            out = bus.publish_all(batch)
        assert [d.status for o in out for d in o.dispatches] == [
            "completed",
            "failed",
            "completed",
            "completed",
        ]
        amounts = bus.ledger.conn.execute(
            "SELECT employee, amount_cents FROM entitlements ORDER BY 1"
        ).fetchall()
        assert [tuple(a) for a in amounts] == [("E0001", 100), ("E0003", 100), ("E0004", 100)]
        states.append(state(bus.ledger))
        bus.close()
        bus.ledger.close()
    assert states[0] == states[1]


# -- one Sync a write transaction (issue 18, third pass) --------------------------------------------------------


def syncs(monkeypatch):
    """Pipeline Syncs sent (each a round trip to the server), counted in psycopg."""
    from psycopg import _pipeline_base

    seen: list[int] = []
    enqueue = _pipeline_base.BasePipeline._enqueue_sync

    def spy(self):
        seen.append(1)
        return enqueue(self)

    monkeypatch.setattr(_pipeline_base.BasePipeline, "_enqueue_sync", spy)
    return seen


def test_a_write_transaction_is_answered_by_one_sync(pg_url, monkeypatch):
    """BEGIN, the writes and COMMIT go in one pipeline, answered by one Sync (psycopg's `transaction()` inside a
    pipeline synced four times: when it began, around the block, when it ended)."""
    with Ledger.create(pg_url) as ledger:
        ledger.conn.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY)")
        with ledger.holding("ACME"):
            seen = syncs(monkeypatch)
            for k in ("a", "b", "c"):
                with ledger.write("ACME"):
                    ledger.conn.execute("INSERT INTO scratch (k) VALUES (?)", (k,))
            assert len(seen) == 3
            ledger.make_durable()
            assert len(seen) == 4
        assert [r[0] for r in ledger.conn.execute("SELECT k FROM scratch ORDER BY k")] == ["a", "b", "c"]


def test_a_held_publish_syncs_once_a_write_transaction(pg_url, monkeypatch):
    app = Paybonus.create(pg_url)
    app.load_company(sample_dir())
    transactions = []
    begin = app.ledger.server.transaction

    @contextlib.contextmanager
    def counted(companies):
        transactions.append(tuple(companies))
        with begin(companies):
            yield

    monkeypatch.setattr(app.ledger.server, "transaction", counted)
    seen = syncs(monkeypatch)
    with app.ledger.holding("DURAND"):
        app.publish(sample_dir() / "events.jsonl")
    assert transactions and len(seen) == len(transactions)
    assert app.verify().ok
    app.close()


def test_an_error_raised_by_the_block_rolls_back_and_leaves_the_connection_idle(pg_url):
    with Ledger.create(pg_url) as ledger:
        ledger.conn.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY)")
        with pytest.raises(RuntimeError), ledger.write("ACME"):
            ledger.conn.execute("INSERT INTO scratch (k) VALUES (?)", ("a",))
            assert ledger.conn.execute("SELECT COUNT(*) FROM scratch").fetchone()[0] == 1  # its own write
            raise RuntimeError("refused")
        assert not ledger.conn.in_transaction
        assert ledger.conn.execute("SELECT COUNT(*) FROM scratch").fetchone()[0] == 0


def test_a_failed_commit_rolls_back(pg_url):
    """An error only the COMMIT reports (a deferred constraint) rolls the transaction back too."""
    with Ledger.create(pg_url) as ledger:
        ledger.conn.executescript(
            "CREATE TABLE scratch (k TEXT PRIMARY KEY, up TEXT REFERENCES scratch (k) DEFERRABLE INITIALLY DEFERRED)"
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation), ledger.write("ACME"):
            ledger.conn.execute("INSERT INTO scratch (k, up) VALUES (?, ?)", ("a", "nowhere"))
        assert not ledger.conn.in_transaction
        assert ledger.conn.execute("SELECT COUNT(*) FROM scratch").fetchone()[0] == 0
        with ledger.write("ACME"):
            ledger.conn.execute("INSERT INTO scratch (k, up) VALUES (?, ?)", ("b", "b"))
        assert ledger.conn.execute("SELECT COUNT(*) FROM scratch").fetchone()[0] == 1


# -- a dispatch's rows in one statement (issue 18, third pass) ---------------------------------------------------


def test_many_rows_go_in_one_statement_and_come_back_the_same(pg_url, monkeypatch):
    """Rows of the tables a dispatch fills travel as one JSON document a statement: every text (quotes,
    backslashes, control characters, any script), NULL and integer (beyond 32 bits) comes back as it was sent,
    in order (the identity numbers them as one INSERT a row would)."""
    from paybonus.store import pg

    monkeypatch.setattr(pg, "JSON_ROWS_CHUNK", 3)  # several statements for one call
    texts = [
        '{"a": "b\\"c"}',
        "back\\slash",
        "tab\there\nnewline\x1f\x01",
        "été 𝄞 中文 ",
        "",
        "'; DROP TABLE x; --",
    ]
    rows = [("ACME", 2**40 + i, "2026-12-01", "act", t, "d", "p", "h") for i, t in enumerate(texts)]
    with Ledger.create(pg_url) as ledger:
        statements = []
        execute = psycopg.Cursor.execute

        def spy(self, query, params=None, **kw):
            statements.append(query)
            return execute(self, query, params, **kw)

        monkeypatch.setattr(psycopg.Cursor, "execute", spy)
        with ledger.write("ACME"):
            ledger.conn.executemany(
                "INSERT INTO audit_log (company, n, at, action, ref, digest, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                iter(rows),
            )
        assert len([s for s in statements if "json_populate_recordset" in s]) == 2
        back = ledger.conn.execute(
            "SELECT company, n, at, action, ref, digest, prev_hash, hash FROM audit_log ORDER BY seq"
        ).fetchall()
        assert [tuple(r) for r in back] == rows
        with ledger.write("ACME"):
            ledger.conn.executemany(
                "INSERT OR IGNORE INTO shared_explanations (hash, body) VALUES (?, ?)",
                [("h1", "one"), ("h1", "again"), ("h2", "two")],
            )
        shared = ledger.conn.execute("SELECT hash, body FROM shared_explanations ORDER BY rowid").fetchall()
        assert [tuple(r) for r in shared] == [
            ("h1", "one"),
            ("h2", "two"),
        ]  # INSERT OR IGNORE: the first kept
        ledger.conn.execute("INSERT INTO companies VALUES ('ACME', 'Acme', '', 'x', 'now')")
        ledger.conn.execute(
            "INSERT INTO events (id, type, company, occurred_at, payload, digest, recorded_at) "
            "VALUES ('e1', 'close', 'ACME', 'now', '{}', 'x', 'now')"
        )
        findings = [
            ("ACME", "e1", "s", "warning", "r", "m", None),
            ("ACME", "e1", "s", "info", "r2", "m2", "E1"),
        ]
        with ledger.write("ACME"):
            ledger.conn.executemany(
                "INSERT INTO findings (company, event_id, scheme, level, rule, message, employee) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                findings,
            )
        back = ledger.conn.execute(
            "SELECT company, event_id, scheme, level, rule, message, employee FROM findings ORDER BY rowid"
        ).fetchall()
        assert [tuple(r) for r in back] == findings


def test_only_plain_inserts_of_the_dispatch_tables_go_as_json():
    from paybonus.store.pg import json_rows_insert

    assert json_rows_insert("INSERT INTO payments (a, b) VALUES (?, ?)") is None  # not one of them
    assert json_rows_insert("INSERT INTO audit_log (a) SELECT 1") is None
    assert json_rows_insert("UPDATE entitlements SET status = ? WHERE id = ?") is None
    sql = json_rows_insert("INSERT INTO findings (company, rule) VALUES (?, ?)")
    assert (
        sql
        == "INSERT INTO findings (company, rule) SELECT company, rule FROM json_populate_recordset(NULL::findings, %s)"
    )
    # a capitalised name would be a JSON key no column has (SQL folds it, JSON does not): read as NULL, silently
    assert json_rows_insert("INSERT INTO findings (company, Rule) VALUES (?, ?)") is None
    assert json_rows_insert("insert into findings (company, rule) values (?, ?)") is not None


def test_a_nul_in_a_text_is_refused_as_a_bound_parameter_is_without_quoting_other_rows():
    """Found by review: PostgreSQL's JSON error quoted the text around the NUL (other rows, an employee's figures)
    into the dispatch's error and the logs."""
    from paybonus.store.pg import json_rows

    assert list(json_rows(["a"], [["explanation with an escaped \\u0000, not a NUL"]]))  # text, not a NUL
    with pytest.raises(psycopg.DataError, match=r"cannot contain NUL \(0x00\) bytes$"):
        list(json_rows(["a", "b"], [["E1 salary 3512.45", 1], ["x\x00y", 2]]))


def test_an_entitlement_of_an_unknown_company_is_refused_through_its_event(pg_url):
    """The key from entitlements to companies is gone (m012_entitlement_company_through_event): the key to the
    event, by (id, company), refuses a company that is not the event's, and so any that is not in companies."""
    from paybonus.store.entitlements import _INSERT

    with Paybonus.create(pg_url) as app:
        app.load_company(sample_dir())
        app.publish(sample_dir() / "events.jsonl")
        conn = app.ledger.conn
        count = app.ledger.entitlements.count()
        row = list(conn.execute("SELECT * FROM entitlements ORDER BY seq LIMIT 1").fetchone())[1:]
        assert not conn.execute(
            "SELECT 1 FROM pg_constraint WHERE conname = 'entitlements_company_fkey'"
        ).fetchone()
        for company in ("NOWHERE", "ACME"):
            forged = [f"forged-{company}" if c == 0 else v for c, v in enumerate(row)]
            forged[3] = company
            conn.execute(
                "INSERT INTO companies VALUES ('ACME', 'Acme', '', 'x', 'now') ON CONFLICT DO NOTHING"
            )
            with pytest.raises(psycopg.errors.ForeignKeyViolation), app.ledger.write(company):
                conn.executemany(_INSERT, [forged])
        assert app.ledger.entitlements.count() == count


def test_json_rows_writes_what_json_writes_and_leaves_other_values_to_json():
    """Texts, integers and NULLs go through orjson (the same text as json's, faster); anything else, and what
    orjson refuses, is written (or refused) by json as before."""
    import json

    from paybonus.store.pg import json_rows

    cols = ["a", "b", "c"]
    plain = [("x", 1, None), ('é\u2028\x7f\x1f"\\\t', 2**63 - 1, ""), ("y", -(2**63), "z")]
    reference = json.dumps(
        [dict(zip(cols, r, strict=True)) for r in plain], ensure_ascii=False, separators=(",", ":")
    )
    assert list(json_rows(cols, plain)) == [reference]
    for other in [("a", 2**70, None), ("\ud800", 1, None), ("a", 1.5, None), ("a", True, None)]:
        assert list(json_rows(cols, [other])) == [
            json.dumps([dict(zip(cols, other, strict=True))], ensure_ascii=False, separators=(",", ":"))
        ]
    with pytest.raises(ValueError):  # as json always refused it
        list(json_rows(cols, [("a", float("nan"), None)]))


def test_writes_share_one_cursor_reads_get_their_own(pg_url):
    """A write's result is never read: writes reuse the connection's writing cursor; a read's rows stay readable
    while other statements run."""
    from paybonus.store.pg import is_write

    assert is_write("INSERT INTO t (a) VALUES (?)") and is_write("  update t SET a = 1")
    assert is_write("DELETE FROM t") and not is_write("INSERT INTO t (a) VALUES (1) RETURNING a")
    assert not is_write("SELECT 1") and not is_write("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")
    with Paybonus.create(pg_url) as app:
        conn = app.ledger.conn
        conn.execute("CREATE TEMP TABLE wc (a integer)")
        first = conn.execute("INSERT INTO wc (a) VALUES (?)", (1,))
        assert conn.execute("INSERT INTO wc (a) VALUES (?)", (2,)) is first
        conn.executemany("INSERT INTO wc (a) VALUES (?)", [(3,), (4,)])
        reading = conn.execute("SELECT a FROM wc ORDER BY a")
        other = conn.execute("SELECT count(*) FROM wc")
        conn.execute("INSERT INTO wc (a) VALUES (?)", (5,))
        assert other is not reading and other is not first
        assert [r[0] for r in reading] == [1, 2, 3, 4]
        assert other.fetchone()[0] == 4
