"""A recomputation's cut is netted against everything it cuts, not only the principal: a principal paid in full
whose period was computed again twice (first up, a positive correction; then down, a negative correction that
references the principal) left the positive correction `overdue` in `paybonus deadlines` and the `overdue` view,
and a leaver's flagged for the Caisse des dépôts (I-45), for money the employee was not owed (review, December
2026: m013 netted the cut against the principal only)."""

import shutil
from datetime import date

import pytest
from paybonus import Paybonus
from paybonus.fixtures import sample_dir

RATES = "[[0, 0], [50000, 0.10], [150000, 0.15]]"
UP = "[[0, 0], [50000, 0.12], [150000, 0.18]]"


def _event(id, type, payload):
    return {
        "id": id,
        "type": type,
        "company": "DURAND",
        "occurred_at": "2026-07-01T09:00:00+02:00",
        "payload": payload,
    }


def _publish(app, event):
    app.publish([(event["id"], app.host.event_types.from_dict(event))])


def _recompute(app, company, rates, id):
    toml = company / "company.toml"
    text = toml.read_text(encoding="utf-8")
    old = next(r for r in (RATES, UP) if r in text)
    toml.write_text(text.replace(old, rates))
    app.load_company(company)
    _publish(
        app,
        _event(id, "recomputation_requested", {"scheme": "interessement", "period": "2025", "reason": id}),
    )


def _pay(app, entitlement, cents, id):
    payload = {"entitlement": entitlement, "amount_cents": cents, "paid_on": "2026-05-20", "mode": "paid"}
    _publish(app, _event(id, "payment_recorded", payload))


@pytest.fixture
def up_then_down(tmp_path, ledger_target):
    """2025 intéressement computed; every principal paid in full; computed again with higher rates (a positive
    correction each), then with rates between the two (a smaller negative correction each)."""
    company = tmp_path / "co"
    shutil.copytree(sample_dir(), company)
    assert RATES in (company / "company.toml").read_text(encoding="utf-8")
    app = Paybonus.create(ledger_target)
    app.load_company(company)
    app.publish(company / "events.jsonl")
    ents = app.entitlements(company="DURAND", scheme="interessement")
    for n, e in enumerate(e for e in ents if e.kind == "principal" and e.amount_cents > 0):
        _pay(app, e.id, e.amount_cents, f"pay-principal-{n}")
    _recompute(app, company, UP, "recompute-up")
    yield app, company
    app.close()


def _by_principal(app):
    ents = app.entitlements(company="DURAND", scheme="interessement")
    up = {e.corrects: e for e in ents if e.kind == "correction" and e.amount_cents > 0}
    down = {e.corrects: e for e in ents if e.kind == "correction" and e.amount_cents < 0}
    return up, down


def _overdue(app, ids):
    listed = {
        i.entitlement: i.outstanding_cents
        for i in app.deadlines(date(2027, 12, 31), 0)
        if i.kind == "overdue"
    }
    view = dict(app.ledger.conn.execute("SELECT entitlement, outstanding_cents FROM overdue").fetchall())
    return {k: v for k, v in listed.items() if k in ids}, {k: int(v) for k, v in view.items() if k in ids}


def test_a_positive_correction_paid_net_of_a_later_cut_is_not_overdue(up_then_down):
    app, company = up_then_down
    _recompute(app, company, "[[0, 0], [50000, 0.11], [150000, 0.16]]", "recompute-down")
    up, down = _by_principal(app)
    both = [p for p in up if p in down]
    assert both
    for n, p in enumerate(both):
        net = up[p].amount_cents + down[p].amount_cents
        assert 0 < net < up[p].amount_cents
        _pay(app, up[p].id, net, f"pay-net-{n}")  # the principal was paid; the rest, net of the cut
    ids = {up[p].id for p in both} | set(both)
    assert _overdue(app, ids) == ({}, {})


def test_a_positive_correction_a_cut_cancels_is_not_overdue(up_then_down):
    """Computed again below the first rates: the cut is larger than the raise, the employee was over-paid (the
    principal in full); the raise is owed by nobody."""
    app, company = up_then_down
    _recompute(app, company, "[[0, 0], [50000, 0.05], [150000, 0.08]]", "recompute-down")
    up, down = _by_principal(app)
    both = [p for p in up if p in down]
    assert both
    assert all(up[p].amount_cents + down[p].amount_cents < 0 for p in both)
    ids = {up[p].id for p in both} | set(both)
    assert _overdue(app, ids) == ({}, {})


def test_what_is_left_of_a_group_s_net_is_still_overdue(up_then_down):
    app, company = up_then_down
    _recompute(app, company, "[[0, 0], [50000, 0.11], [150000, 0.16]]", "recompute-down")
    up, down = _by_principal(app)
    p = next(p for p in up if p in down)
    net = up[p].amount_cents + down[p].amount_cents
    _pay(app, up[p].id, net - 7, "pay-short")
    assert _overdue(app, {up[p].id, p}) == ({up[p].id: 7}, {up[p].id: 7})
