"""The PostgreSQL write path of a worker (issue 18): write transactions in pipeline mode, a company's lock held for
the session across the transactions of one message (`Ledger.holding`), the chain head and the version read once,
and the same ledger as without any of it."""

from __future__ import annotations

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
            ledger.store_company("ACME", "Acme", "[company]\nid = 'ACME'\n", [], [], [], "2026-01-01T00:00:00")
            assert not ledger._unchanged_since("ACME", v)  # loaded again: read again
            assert ledger.version("ACME") is not v
        assert not ledger._unchanged_since("ACME", v)  # released: anyone may have written since
        assert sum("MAX(seq) FROM entitlements" in s for s in seen) == 2
