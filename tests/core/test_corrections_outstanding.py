"""A principal cut by a recomputation (a negative correction that references it) is owed net of the cut: paid
its net amount, it is not overdue, and a leaver's is not handed to the Caisse des dépôts for the cut (I-39, I-45).

Found by an outsider's trial (December 2026): `deadlines` listed such a principal as overdue for the correction's
amount forever, and would have flagged a leaver's for transfer."""

import shutil
from datetime import date

import pytest
from paybonus import Paybonus
from paybonus.fixtures import sample_dir


def _event(id, type, payload):
    return {
        "id": id,
        "type": type,
        "company": "DURAND",
        "occurred_at": "2026-07-01T09:00:00+02:00",
        "payload": payload,
    }


@pytest.fixture
def cut(tmp_path, ledger_target):
    """The sample company's 2025 intéressement computed, then computed again with lower rates: each principal
    gets a negative correction. Returns the app, a principal and its correction's amount."""
    company = tmp_path / "co"
    shutil.copytree(sample_dir(), company)
    toml = company / "company.toml"
    old = "[[0, 0], [50000, 0.10], [150000, 0.15]]"
    assert old in toml.read_text(encoding="utf-8")
    app = Paybonus.create(ledger_target)
    app.load_company(company)
    app.publish(company / "events.jsonl")
    toml.write_text(toml.read_text(encoding="utf-8").replace(old, "[[0, 0], [50000, 0.05], [150000, 0.08]]"))
    app.load_company(company)
    request = _event(
        "recompute-2025",
        "recomputation_requested",
        {"scheme": "interessement", "period": "2025", "reason": "rates"},
    )
    app.publish([("request", app.host.event_types.from_dict(request))])
    ents = app.entitlements(company="DURAND", scheme="interessement")
    corrections = {e.corrects: e for e in ents if e.kind == "correction" and e.amount_cents < 0}
    principal = next(e for e in ents if e.kind == "principal" and e.id in corrections)
    yield app, principal, corrections[principal.id].amount_cents
    app.close()


def _pay(app, principal, cents, id):
    payment = _event(
        id,
        "payment_recorded",
        {"entitlement": principal.id, "amount_cents": cents, "paid_on": "2026-05-20", "mode": "paid"},
    )
    app.publish([("payment", app.host.event_types.from_dict(payment))])


def _overdue(app, principal, as_of):
    return [i for i in app.deadlines(as_of, 0) if i.entitlement == principal.id and i.kind == "overdue"]


def test_a_principal_paid_its_net_amount_is_not_overdue(cut):
    app, principal, correction = cut
    after = date(2027, 12, 31)
    unpaid = _overdue(app, principal, after)
    assert [i.outstanding_cents for i in unpaid] == [principal.amount_cents + correction]  # net, not gross
    _pay(app, principal, principal.amount_cents + correction, "pay-net")
    assert _overdue(app, principal, after) == []
    view = app.ledger.conn.execute("SELECT entitlement FROM overdue WHERE entitlement = ?", (principal.id,))
    assert view.fetchall() == []  # the view for humans says the same
    assert app.verify().ok


def test_a_principal_paid_in_full_with_the_cut_to_recover_is_not_overdue_either(cut):
    app, principal, _ = cut
    _pay(app, principal, principal.amount_cents, "pay-gross")
    assert _overdue(app, principal, date(2027, 12, 31)) == []


def test_a_principal_partly_paid_is_overdue_for_what_is_left_of_its_net(cut):
    app, principal, correction = cut
    _pay(app, principal, 1000, "pay-part")
    left = [i.outstanding_cents for i in _overdue(app, principal, date(2027, 12, 31))]
    assert left == [principal.amount_cents + correction - 1000]
    view = app.ledger.conn.execute(
        "SELECT outstanding_cents FROM overdue WHERE entitlement = ?", (principal.id,)
    )
    assert [int(r[0]) for r in view.fetchall()] == left


def test_a_recomputation_s_corrections_go_to_the_payroll_of_the_month_it_was_asked_in(cut):
    """Asked on 2026-07-01, after the intéressement's deadline (2026-05-31): its corrections went to the 2026-05
    payroll, already closed, and no later month's export ever gave them to the payroll."""
    app, principal, _ = cut
    rows = app.export(date(2026, 7, 31), company="DURAND", scheme="interessement")
    corrections = {r["entitlement"] for r in rows if r["kind"] == "correction"}
    assert corrections
    assert {r["payroll_month"] for r in rows if r["kind"] == "correction"} == {"2026-07"}
    assert {r["payroll_month"] for r in rows if r["entitlement"] == principal.id} == {"2026-05"}
    july = app.export(date(2026, 7, 31), company="DURAND", scheme="interessement", payroll_month="2026-07")
    assert corrections <= {r["entitlement"] for r in july}
