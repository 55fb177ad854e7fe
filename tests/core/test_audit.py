"""The audit trail: append-only, hash-chained, and a verifier that names the first altered row."""

import sqlite3

import pytest
from helpers import plugins as testplugins
from helpers.plugins import SCHEMES_TOML, FlatPlugin
from paybonus.audit import verify
from paybonus.fixtures.pytest_plugin import make_company


@pytest.fixture
def filled(paybonus_bus, paybonus_events, paybonus_ledger):
    testplugins.BROKEN["on"] = False
    bus = paybonus_bus(
        FlatPlugin(), company=make_company(schemes_toml=SCHEMES_TOML.replace("[schemes.flaky]\n", ""))
    )
    for m in range(1, 4):
        bus.publish(paybonus_events.period_closed(f"2025-{m:02d}"))
    rep = verify(paybonus_ledger, bus.host.schemes)
    assert rep.ok and rep.recomputed == rep.entitlements > 20
    return bus, paybonus_ledger


def test_triggers_refuse_update_and_delete(filled):
    _, ledger = filled
    for sql in (
        "UPDATE audit_log SET digest = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "UPDATE entitlements SET amount_cents = amount_cents + 1",
        "DELETE FROM entitlements",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            ledger.conn.execute(sql)
    ledger.conn.execute("UPDATE entitlements SET status = 'paid' WHERE seq = 1")  # status may move


def test_changing_an_amount_with_plain_sql_is_named(filled):
    bus, ledger = filled
    target = ledger.conn.execute("SELECT id, seq FROM entitlements ORDER BY seq LIMIT 1 OFFSET 7").fetchone()
    ledger.conn.execute("DROP TRIGGER entitlements_immutable")
    ledger.conn.execute(
        "UPDATE entitlements SET amount_cents = amount_cents + 100 WHERE id = ?", (target[0],)
    )
    rep = verify(ledger, bus.host.schemes)
    assert not rep.ok
    assert rep.problems[0].where == f"entitlement {target[0]} (row {target[1]})"
    assert "differs from audit_log" in rep.problems[0].what


def test_changing_amount_and_digest_is_caught_by_recomputation(filled):
    bus, ledger = filled
    from paybonus.store.entitlements import digest as entitlement_digest

    ledger.conn.execute("DROP TRIGGER entitlements_immutable")
    cur = ledger.conn.cursor()
    cur.row_factory = sqlite3.Row
    row = dict(cur.execute("SELECT * FROM entitlements ORDER BY seq LIMIT 1 OFFSET 3").fetchone())
    row["amount_cents"] += 1
    ledger.conn.execute(
        "UPDATE entitlements SET amount_cents = ?, digest = ? WHERE id = ?",
        (row["amount_cents"], entitlement_digest(row), row["id"]),
    )
    rep = verify(ledger, bus.host.schemes)
    whats = [p.what for p in rep.problems if row["id"] in p.where]
    assert any("differs from audit_log" in w for w in whats)
    assert any("recomputed from its explanation" in w for w in whats)


def test_altering_an_audit_row_breaks_the_chain_at_that_row(filled):
    bus, ledger = filled
    ledger.conn.execute("DROP TRIGGER audit_log_no_update")
    ledger.conn.execute("UPDATE audit_log SET ref = 'forged' WHERE seq = 5")
    rep = verify(ledger, bus.host.schemes)
    assert rep.problems[0].where == "audit_log seq 5" and "row altered" in rep.problems[0].what


def test_deleting_an_audit_row_is_named(filled):
    bus, ledger = filled
    ledger.conn.execute("DROP TRIGGER audit_log_no_delete")
    ledger.conn.execute("DELETE FROM audit_log WHERE seq = 9")
    rep = verify(ledger, bus.host.schemes)
    assert rep.problems[0].where == "audit_log seq 10"


def test_rewriting_the_whole_chain_is_caught_by_the_expected_head(filled):
    bus, ledger = filled
    good = verify(ledger, bus.host.schemes).head.hash
    assert verify(ledger, bus.host.schemes, expect_head=good).ok
    assert not verify(ledger, bus.host.schemes, expect_head="0" * 64).ok


def test_an_inserted_entitlement_is_named(filled):
    bus, ledger = filled
    ledger.conn.execute(
        "INSERT INTO entitlements (id, scheme, scheme_version, company, employee, period_start, period_end, amount_cents,"
        " kind, social_regime, status, event_id, explanation, digest, recorded_at) SELECT 'ENT-forged', scheme,"
        " scheme_version, company, employee, period_start, period_end, 999999, kind, social_regime, status, event_id,"
        " explanation, digest, recorded_at FROM entitlements LIMIT 1"
    )
    rep = verify(ledger, bus.host.schemes)
    assert any(
        p.where.startswith("entitlement ENT-forged") and "no audit entry" in p.what for p in rep.problems
    )
