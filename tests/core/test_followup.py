"""After the computation: payments, late interest, the employee's choice, leavers, exports (statements: tests/statements)."""

import io
import json
import logging
from datetime import date, datetime, timedelta, timezone

import pytest
from helpers.companies import close_year, company, person, toml, world
from paybonus.audit import verify
from paybonus.deadlines import check, scan
from paybonus.errors import UserError
from paybonus.export import COLUMNS, rows
from paybonus.params import Parameters
from paybonus.payments import allocation

P = Parameters.default()
TZ = timezone(timedelta(hours=1))


def ev(bus, type_, payload, id, at="2026-06-01T10:00:00+02:00"):
    return bus.host.event_types.from_dict(
        {"id": id, "type": type_, "company": "ACME", "occurred_at": at, "payload": payload}
    )


@pytest.fixture
def paid_world(tmp_path):
    people = [person("A", 300_000), person("B", 300_000, end="2025-06-30")]
    bus, ledger = world(
        tmp_path, company(people, toml(distribution={"presence": "1"}, headcount=10, per=True))
    )
    close_year(bus, rcai=5_000)
    ents = {r["employee"]: r for r in ledger.entitlements.rows(scheme="interessement")}
    return bus, ledger, ents


def pay(bus, ent, cents, on, mode="paid", id=None):
    return bus.publish(
        ev(
            bus,
            "payment_recorded",
            {"entitlement": ent, "amount_cents": cents, "paid_on": on, "mode": mode},
            id or f"pay-{ent}-{on}-{cents}-{mode}",
        )
    )


def test_partial_then_full_payment_moves_the_status(paid_world):
    bus, ledger, ents = paid_world
    a = ents["A"]
    pay(bus, a["id"], 100_000, "2026-05-15")
    assert ledger.entitlements.get(a["id"])["status"] == "partly_paid"
    pay(bus, a["id"], a["amount_cents"] - 100_000, "2026-05-20", mode="placed")
    assert ledger.entitlements.get(a["id"])["status"] == "paid_and_placed"
    assert verify(ledger, bus.host.schemes).ok


def test_paying_more_than_is_due_is_refused_and_nothing_is_written(paid_world):
    bus, ledger, ents = paid_world
    a = ents["A"]
    before = ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    with pytest.raises(UserError, match="more than is still due"):
        pay(bus, a["id"], a["amount_cents"] + 1, "2026-05-15")
    batch = [
        (
            "l1",
            ev(
                bus,
                "payment_recorded",
                {"entitlement": a["id"], "amount_cents": a["amount_cents"] - 10, "paid_on": "2026-05-01"},
                "p1",
            ),
        ),
        (
            "l2",
            ev(
                bus,
                "payment_recorded",
                {"entitlement": a["id"], "amount_cents": 11, "paid_on": "2026-05-02"},
                "p2",
            ),
        ),
    ]
    with pytest.raises(UserError, match=r"^l2: payload.amount_cents: more than is still due"):
        bus.publish_all(batch)
    assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    assert ledger.entitlements.get(a["id"])["status"] == "due"


def test_an_altered_status_is_caught_by_the_audit(paid_world):
    bus, ledger, ents = paid_world
    ledger.conn.execute("UPDATE entitlements SET status = 'paid' WHERE id = ?", (ents["A"]["id"],))
    rep = verify(ledger, bus.host.schemes)
    assert any("does not follow from its payments" in p.what for p in rep.problems)


def test_the_choice_window_is_15_days_then_the_default_applies(paid_world):
    bus, ledger, ents = paid_world
    a, b = ents["A"]["id"], ents["B"]["id"]
    for eid in (a, b):
        bus.publish(ev(bus, "statement_issued", {"entitlement": eid, "issued_on": "2026-04-01"}, f"st-{eid}"))
    assert allocation(ledger, a, date(2026, 4, 16), P)["allocation"] == "pending"  # 15 days: until 16 April
    assert allocation(ledger, a, date(2026, 4, 17), P) == {
        "allocation": "placed",
        "by": "default after the window (I-38)",
    }
    bus.publish(
        ev(
            bus,
            "option_chosen",
            {"entitlement": b, "choice": "split", "placed_cents": 1000, "chosen_on": "2026-04-10"},
            "ch-b",
        )
    )
    assert allocation(ledger, b, date(2026, 5, 1), P)["allocation"] == "split"
    with pytest.raises(UserError, match=r"outside the choice window 2026-04-01..2026-04-16 \(I-38\)"):
        bus.publish(
            ev(bus, "option_chosen", {"entitlement": a, "choice": "paid", "chosen_on": "2026-04-17"}, "late")
        )
    items = scan(ledger, date(2026, 4, 10), 30, P)
    assert {(i.kind, i.entitlement) for i in items if i.kind == "option_window"} == {("option_window", a)}


def test_without_a_savings_plan_the_default_is_payment(tmp_path):
    text = toml().replace("has_savings_plan = true", "has_savings_plan = false")
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text))
    close_year(bus, rcai=1_000)
    a = ledger.entitlements.rows(scheme="interessement")[0]["id"]
    bus.publish(ev(bus, "statement_issued", {"entitlement": a, "issued_on": "2026-04-01"}, "st"))
    assert allocation(ledger, a, date(2026, 5, 1), P)["allocation"] == "paid"


def test_a_leavers_unclaimed_sum_is_flagged_for_the_caisse_des_depots_once(paid_world):
    bus, ledger, ents = paid_world
    from paybonus.fixtures.pytest_plugin import EventFactory
    from paybonus.logs import configure

    bus.publish(
        EventFactory("ACME").employee_left("B", date(2025, 6, 30), forwarding_address="8 quai Perrache, Lyon")
    )
    b = ents["B"]
    assert b["due_date"] == "2026-05-31"
    assert [i.kind for i in scan(ledger, date(2027, 5, 31), 0, P) if i.entitlement == b["id"]] == ["overdue"]
    import structlog

    saved = structlog.get_config()
    stream = io.StringIO()
    configure("json", "warning", stream=stream)
    try:
        noticed = check(ledger, date(2027, 6, 1), P)  # one year after the deadline (I-45)
        assert {(i.kind, i.employee) for i in noticed} == {
            ("overdue", "A"),
            ("overdue", "B"),
            ("cdc_transfer", "B"),
        }
        assert check(ledger, date(2027, 6, 2), P) == []  # recorded: not noticed twice
    finally:
        structlog.configure(**saved)
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {e["event"] for e in logs} == {"deadline.overdue", "deadline.cdc_transfer_due"}
    assert all("amount" not in k and "cents" not in k for e in logs for k in e)
    assert ledger.conn.execute("SELECT COUNT(*) FROM deadline_notices").fetchone()[0] == 3
    assert verify(ledger, bus.host.schemes).ok


def _with_a_prime_nao(tmp_path):
    """ACME's 2025 intéressement (paid with the May 2026 payroll) and a prime NAO (the December 2025 one)."""
    nao = '\n[schemes.prime_nao]\n\n[[schemes.prime_nao.awards]]\nid = "n"\nreference_period = "2025"\nflat = "300.00"\n'
    bus, ledger = world(tmp_path, company([person("A", 300_000)], toml() + nao))
    close_year(bus, rcai=1_000)
    return ledger


def test_export_columns_carry_the_dsn_codes(tmp_path):
    ledger = _with_a_prime_nao(tmp_path)
    data = list(rows(ledger, P, date(2026, 7, 1)))
    assert set(data[0]) == set(COLUMNS)
    by_scheme = {r["scheme"]: r for r in data}
    i, n = by_scheme["interessement"], by_scheme["prime_nao"]
    assert (i["dsn_block"], i["dsn_code"], i["csg_crds_block"], i["csg_crds_code"]) == (
        "S21.G00.54",
        "12",
        "S21.G00.81",
        "073",
    )
    assert (
        i["csg_crds_if_paid_cents"] == 9_700 and i["csg_crds_if_placed_cents"] == 9_700
    )  # 9.7 % of 1 000.00 (0.3)
    assert i["ordinary_contributions"] is False and i["payroll_month"] == "2026-05"
    assert (n["dsn_block"], n["dsn_code"], n["ordinary_contributions"], n["csg_crds_code"]) == (
        "S21.G00.52",
        "028",
        True,
        "",
    )
    assert n["payroll_month"] == "2025-12"
    # salary (O-1): the whole amount paid out with the pay, no CSG/CRDS of the export's own (the payroll's)
    assert (n["allocation"], n["paid_part_cents"], n["placed_part_cents"]) == ("paid", n["amount_cents"], 0)
    assert (n["csg_crds_if_paid_cents"], n["csg_crds_if_placed_cents"]) == ("", "")
    assert (n["forfait_social_cents"], n["forfait_social_placed_per_cents"]) == (
        "",
        "",
    )  # LAW 0.4: not salary
    assert (n["csg_crds_paid_part_cents"], n["csg_crds_placed_part_cents"]) == ("", "")


def test_export_keeps_only_the_company_scheme_and_payroll_month_asked_for(tmp_path):
    # a payroll exports its own company's rows, one scheme, one month's payroll (I-39: the month of the deadline;
    # O-5: the month the salary-type scheme chose)
    ledger = _with_a_prime_nao(tmp_path)
    as_of = date(2026, 7, 1)

    def schemes(**only):
        return sorted(r["scheme"] for r in rows(ledger, P, as_of, **only))

    assert schemes() == ["interessement", "prime_nao"] == schemes(company="ACME")
    assert schemes(company="OTHER") == []
    assert schemes(scheme="prime_nao") == ["prime_nao"] == schemes(company="ACME", scheme="prime_nao")
    assert schemes(scheme="interessement") == ["interessement"]
    # each month keeps its row whichever comes first: a row of another month is skipped, not the end
    assert schemes(payroll_month="2025-12") == ["prime_nao"]
    assert schemes(payroll_month="2026-05") == ["interessement"]
    assert schemes(payroll_month="2026-06") == []


def test_export_gives_the_csg_crds_a_0_1_0_ledger_recorded(tmp_path):
    # LAW 0.3: the CSG/CRDS the explanation recorded when the amount was computed, even where 0.1.0 rounded the
    # CSG paid out in two parts (6.8 % and 2.4 %), a cent off the CSG placed (9.2 % rounded once): the export
    # says what the employee's statement said, it does not compute it again
    import gzip
    from pathlib import Path

    from paybonus import Paybonus

    old = tmp_path / "old.db"
    old.write_bytes(
        gzip.decompress((Path(__file__).parent.parent / "data" / "ledger-0.1.0-demo.db.gz").read_bytes())
    )
    with Paybonus.open(old) as app:
        [row] = [
            r for r in rows(app.ledger, P, date(2026, 7, 1)) if r["entitlement"] == "ENT-87bd81a7c30151f7947e"
        ]
    assert row["amount_cents"] == 121_267  # 9.7 % is 11 762.899
    assert (row["csg_crds_if_paid_cents"], row["csg_crds_if_placed_cents"]) == (
        8_246 + 2_910 + 606,
        11_157 + 606,
    )


def test_logging_is_quiet_for_the_library():
    # the standard library's convention for a library: one NullHandler, nothing printed unless the host says so
    assert [type(h) for h in logging.getLogger("paybonus").handlers] == [logging.NullHandler]
    assert datetime.now(TZ)


def _choose(bus, eid, choice, id, placed=None, on="2026-04-10"):
    payload = {"entitlement": eid, "choice": choice, "chosen_on": on}
    if placed is not None:
        payload["placed_cents"] = placed
    bus.publish(ev(bus, "option_chosen", payload, id))


@pytest.fixture
def chosen_world(paid_world):
    bus, ledger, ents = paid_world
    for eid in (ents["A"]["id"], ents["B"]["id"]):
        bus.publish(ev(bus, "statement_issued", {"entitlement": eid, "issued_on": "2026-04-01"}, f"st-{eid}"))
    return bus, ledger, ents


def test_a_payment_must_follow_the_employee_s_choice(chosen_world):
    """I-38: the export tells the payroll how to treat the sum (CSG/CRDS, income tax) from the choice; a payment
    placed when the employee chose to be paid (or the reverse) made the ledger contradict itself. Refused, exit 2,
    nothing written."""
    bus, ledger, ents = chosen_world
    a, b = ents["A"], ents["B"]
    _choose(bus, a["id"], "paid", "ch-a")
    with pytest.raises(UserError, match=r"payload.mode: the employee chose 'paid' .* would place more"):
        pay(bus, a["id"], 100, "2026-05-20", mode="placed")
    with pytest.raises(UserError, match=r"the employee chose 'paid'"):
        pay(bus, a["id"], 100, "2026-05-20", mode="placed_per")
    pay(bus, a["id"], 100, "2026-05-20")  # paid out, as chosen

    _choose(bus, b["id"], "split", "ch-b", placed=1000)
    pay(bus, b["id"], 1000, "2026-05-20", mode="placed")
    with pytest.raises(UserError, match=r"the employee chose 'split' .* would place more"):
        pay(bus, b["id"], 1, "2026-05-20", mode="placed", id="one-more-placed")
    pay(bus, b["id"], b["amount_cents"] - 1000, "2026-05-20")  # the rest, paid out
    assert ledger.payments.paid_by_mode(b["id"]) == {"placed": 1000, "paid": b["amount_cents"] - 1000}
    assert ledger.payments.paid_by_mode(a["id"]) == {"paid": 100}


def test_a_split_pays_out_no_more_than_what_it_leaves_unplaced(chosen_world):
    bus, ledger, ents = chosen_world
    b = ents["B"]
    _choose(bus, b["id"], "split", "ch-b", placed=1000)
    with pytest.raises(UserError, match=r"the employee chose 'split' .* would pay out more"):
        pay(bus, b["id"], b["amount_cents"] - 999, "2026-05-20")
    assert ledger.payments.paid_by_mode(b["id"]) == {}


def test_a_choice_cannot_undo_what_was_already_paid(chosen_world):
    bus, ledger, ents = chosen_world
    a = ents["A"]
    pay(bus, a["id"], 100, "2026-04-05")  # paid out inside the open window
    with pytest.raises(
        UserError, match=r"payload.choice: more of the sum was already paid out than 'placed'"
    ):
        _choose(bus, a["id"], "placed", "ch-a")
    _choose(bus, a["id"], "split", "ch-a2", placed=1000)  # still possible: the rest is enough to place
    assert allocation(ledger, a["id"], date(2026, 5, 1), P)["allocation"] == "split"


def test_with_no_choice_a_sum_is_placed_after_the_window_not_paid_out(chosen_world):
    bus, ledger, ents = chosen_world
    a = ents["A"]
    with pytest.raises(UserError, match=r"no choice was recorded by the end of the window \(2026-04-16\)"):
        pay(bus, a["id"], 100, "2026-04-20")
    pay(bus, a["id"], 100, "2026-04-20", mode="placed")
    pay(bus, a["id"], 100, "2026-04-10")  # inside the window, before any choice: the employee's to decide
    assert ledger.payments.paid_by_mode(a["id"]) == {"placed": 100, "paid": 100}


def test_a_choice_and_its_payment_in_one_batch_are_checked_together(chosen_world):
    bus, ledger, ents = chosen_world
    a = ents["A"]
    batch = [
        ev(bus, "option_chosen", {"entitlement": a["id"], "choice": "paid", "chosen_on": "2026-04-10"}, "ch"),
        ev(
            bus,
            "payment_recorded",
            {"entitlement": a["id"], "amount_cents": 100, "paid_on": "2026-05-20", "mode": "placed"},
            "pay",
        ),
    ]
    with pytest.raises(UserError, match=r"the employee chose 'paid'"):
        bus.publish_all([("file:1", batch[0]), ("file:2", batch[1])])
    assert ledger.events.digest("ACME", "ch") is None  # nothing of the batch written
