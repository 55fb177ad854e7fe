"""What a recomputation cut (a negative correction) is owed net of the cut: paid its net amount, it is not overdue,
and a leaver's is not handed to the Caisse des dépôts for the cut (I-39, I-45); a recomputation's corrections
reach a payroll that is still open.

Found by an outsider's trial (December 2026): `deadlines` listed such a principal as overdue for the correction's
amount forever, and would have flagged a leaver's for transfer. Then by a review: a cut is netted against
everything it cuts, not only the principal: a principal paid in full whose period was computed again twice
(first up, a positive correction; then down, a negative correction that references the principal) left the
positive correction `overdue` (the first fix netted the cut against the principal only)."""

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


def _sample_year(tmp_path, ledger_target):
    """The sample company (a copy, to be recomputed with other rates) and its 2025 published: (app, its folder)."""
    company = tmp_path / "co"
    shutil.copytree(sample_dir(), company)
    assert RATES in (company / "company.toml").read_text(encoding="utf-8")
    app = Paybonus.create(ledger_target)
    app.load_company(company)
    app.publish(company / "events.jsonl")
    return app, company


@pytest.fixture
def cut(tmp_path, ledger_target):
    """The sample company's 2025 intéressement computed, then computed again with lower rates: each principal
    gets a negative correction. Returns the app, a principal and its correction's amount."""
    app, company = _sample_year(tmp_path, ledger_target)
    _recompute(app, company, "[[0, 0], [50000, 0.05], [150000, 0.08]]", "recompute-2025")
    ents = app.entitlements(company="DURAND", scheme="interessement")
    corrections = {e.corrects: e for e in ents if e.kind == "correction" and e.amount_cents < 0}
    principal = next(e for e in ents if e.kind == "principal" and e.id in corrections)
    yield app, principal, corrections[principal.id].amount_cents
    app.close()


def _overdue_of(app, principal, as_of):
    return [i for i in app.deadlines(as_of, 0) if i.entitlement == principal.id and i.kind == "overdue"]


def test_a_principal_paid_its_net_amount_is_not_overdue(cut):
    app, principal, correction = cut
    after = date(2027, 12, 31)
    unpaid = _overdue_of(app, principal, after)
    assert [i.outstanding_cents for i in unpaid] == [principal.amount_cents + correction]  # net, not gross
    _pay(app, principal.id, principal.amount_cents + correction, "pay-net")
    assert _overdue_of(app, principal, after) == []
    view = app.ledger.conn.execute("SELECT entitlement FROM overdue WHERE entitlement = ?", (principal.id,))
    assert view.fetchall() == []  # the view for humans says the same
    assert app.verify().ok


def test_a_principal_paid_in_full_with_the_cut_to_recover_is_not_overdue_either(cut):
    app, principal, _ = cut
    _pay(app, principal.id, principal.amount_cents, "pay-gross")
    assert _overdue_of(app, principal, date(2027, 12, 31)) == []


def test_a_principal_partly_paid_is_overdue_for_what_is_left_of_its_net(cut):
    app, principal, correction = cut
    _pay(app, principal.id, 1000, "pay-part")
    left = [i.outstanding_cents for i in _overdue_of(app, principal, date(2027, 12, 31))]
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


@pytest.fixture
def up_then_down(tmp_path, ledger_target):
    """2025 intéressement computed; every principal paid in full; computed again with higher rates (a positive
    correction each), then with rates between the two (a smaller negative correction each)."""
    app, company = _sample_year(tmp_path, ledger_target)
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


def test_one_company_s_deadlines_are_its_rows_of_everyone_s(up_then_down, tmp_path):
    """`deadlines --company` nets each of its rows over that company's rows only (a correction and a payment are
    of the company of what they are about): the same items as the whole ledger's for it, from a window that reads
    no other company's rows (0.6 s a company of a 200-company ledger, whatever its own size, before)."""
    from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate, write_company_dir

    app, company = up_then_down
    _recompute(app, company, "[[0, 0], [50000, 0.11], [150000, 0.16]]", "recompute-down")
    up, down = _by_principal(app)
    p = next(p for p in up if p in down)
    _pay(app, up[p].id, up[p].amount_cents + down[p].amount_cents - 7, "pay-short")
    other = tmp_path / "other"
    write_company_dir(generate("OTHER", 40, schemes_toml=SAMPLE_SCHEMES, salary_schemes=True), other)
    app.load_company(other)
    app.publish(other / "events.jsonl")
    day = date(2026, 5, 20)
    everyone = app.deadlines(day, 30)
    assert {i.company for i in everyone} == {"DURAND", "OTHER"}
    assert {i.kind for i in everyone} >= {"overdue", "due"}
    for c in ("DURAND", "OTHER"):
        assert app.deadlines(day, 30, company=c) == [i for i in everyone if i.company == c]
    [short] = [i for i in app.deadlines(day, 30, company="DURAND") if i.entitlement == up[p].id]
    assert short.outstanding_cents == 7
