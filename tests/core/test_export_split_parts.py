"""The export tells a payroll how many cents of each row are paid out and how many placed (`paid_part_cents`,
`placed_part_cents`), and the CSG/CRDS of each part: a `split` row (the employee's `option_chosen` with
`placed_cents`, or payments that did both) could not be processed, the paid part being taxable salary and the
placed part exempt within the cap (I-38, I-42). Late interest takes its principal's share (I-40)."""

import csv
import io
import json
from datetime import date

import pytest
from helpers.cli import run_here
from helpers.companies import principal_2022 as _principal
from hypothesis import given
from hypothesis import strategies as st
from paybonus import export
from paybonus.export import rows
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters
from paybonus.params import csg_crds as withheld

P = Parameters.default()
PARTS = ("paid_part_cents", "placed_part_cents", "csg_crds_paid_part_cents", "csg_crds_placed_part_cents")


def ev(bus, type_, payload, id, at="2023-04-20T10:00:00+02:00"):
    return bus.host.event_types.from_dict(
        {"id": id, "type": type_, "company": "ACME", "occurred_at": at, "payload": payload}
    )


def _pay(bus, pid, parts, paid_on="2023-04-20", at="2023-04-20T10:00:00+02:00", tag="pay"):
    for i, (mode, cents) in enumerate(parts):
        payload = {"entitlement": pid, "amount_cents": cents, "paid_on": paid_on, "mode": mode}
        bus.publish(ev(bus, "payment_recorded", payload, f"{tag}-{i}", at))


def _issue(bus, pid, on="2023-04-01", at="2023-04-20T10:00:00+02:00"):  # the window runs 15 days
    bus.publish(ev(bus, "statement_issued", {"entitlement": pid, "issued_on": on}, "st", at))


def _choose(bus, pid, choice, placed=None, on="2023-04-05", at="2023-04-20T10:00:00+02:00"):
    payload = {"entitlement": pid, "choice": choice, "chosen_on": on}
    if placed is not None:
        payload["placed_cents"] = placed
    bus.publish(ev(bus, "option_chosen", payload, f"ch-{choice}", at))


def _row(ledger, eid, as_of=date(2023, 5, 1)):
    [row] = [r for r in rows(ledger, P, as_of) if r["entitlement"] == eid]
    return row


def _parts(row):
    return tuple(row[c] for c in PARTS)


def test_a_split_choice_gives_the_cents_paid_out_and_placed(tmp_path):
    # I-38: the employee asked to place 1 234.56 € of the sum and receive the rest; I-42: the payroll taxes the
    # paid part as salary, the placed part not (within the cap). CSG/CRDS (LAW 0.3) is withheld once on the whole
    bus, ledger, pid, amount = _principal(tmp_path)
    _issue(bus, pid)
    placed = amount * 2 // 7
    _choose(bus, pid, "split", placed=placed)
    row = _row(ledger, pid, date(2023, 4, 10))
    assert (row["allocation"], row["status"], row["amount_cents"]) == ("split", "due", amount)
    assert row["paid_part_cents"] == amount - placed and row["placed_part_cents"] == placed
    csg = row["csg_crds_if_paid_cents"]
    assert csg == row["csg_crds_if_placed_cents"]
    placed_csg = (csg * placed * 2 + amount) // (2 * amount)  # its share, rounded half up
    assert (row["csg_crds_paid_part_cents"], row["csg_crds_placed_part_cents"]) == (
        csg - placed_csg,
        placed_csg,
    )
    # the payments that follow the choice change nothing
    _pay(bus, pid, [("paid", amount - placed), ("placed", placed)])
    assert _parts(_row(ledger, pid)) == _parts(row)


def test_payments_that_paid_out_part_and_placed_the_rest_give_their_cents(tmp_path):
    # no choice: the payments settled the row, both ways (I-38: nothing is left to choose)
    bus, ledger, pid, amount = _principal(tmp_path)
    _pay(bus, pid, [("paid", 1_000), ("placed_per", amount - 1_000)], paid_on="2023-03-15")
    row = _row(ledger, pid)
    assert row["allocation"] == "split"
    assert (row["paid_part_cents"], row["placed_part_cents"]) == (1_000, amount - 1_000)
    assert (
        row["csg_crds_paid_part_cents"] + row["csg_crds_placed_part_cents"] == row["csg_crds_if_paid_cents"]
    )


@pytest.mark.parametrize("plan", [True, False])
def test_a_row_not_split_has_its_whole_amount_in_one_part_and_a_pending_one_in_none(tmp_path, plan):
    # I-38: pending while the window is open, then the default: placed with a PEE, else paid out
    bus, ledger, pid, amount = _principal(tmp_path, plan)
    _issue(bus, pid)
    pending = _row(ledger, pid, date(2023, 4, 10))
    assert pending["allocation"] == "pending" and _parts(pending) == ("", "", "", "")
    row = _row(ledger, pid, date(2023, 5, 1))
    csg = row["csg_crds_if_paid_cents"]
    expected = (0, amount, 0, csg) if plan else (amount, 0, csg, 0)
    assert (row["allocation"], _parts(row)) == ("placed" if plan else "paid", expected)


def test_what_was_paid_out_before_the_default_placed_the_rest_stays_paid_out(tmp_path):
    # I-38: 10 € paid out in the window; no answer, the rest is placed by default: the export's `allocation`
    # reads `placed`, its parts say what the payroll must do with each cent
    bus, ledger, pid, amount = _principal(tmp_path)
    _issue(bus, pid)
    _pay(bus, pid, [("paid", 1_000)], paid_on="2023-04-05", at="2023-04-05T10:00:00+02:00")
    row = _row(ledger, pid, date(2023, 5, 1))
    assert (row["status"], row["allocation"]) == ("partly_paid", "placed")
    assert (row["paid_part_cents"], row["placed_part_cents"]) == (1_000, amount - 1_000)


def test_what_was_placed_before_the_default_paid_out_the_rest_stays_placed(tmp_path):
    # I-38 the other way round: no PEE, so the default is to pay out; 20 € placed in the company PER before the
    # statement and 10 € paid out in the window stay where they went, the rest is paid out
    bus, ledger, pid, amount = _principal(tmp_path, plan=False)
    _pay(bus, pid, [("placed_per", 2_000)], paid_on="2023-03-15", at="2023-03-15T10:00:00+01:00", tag="per")
    _issue(bus, pid)
    _pay(bus, pid, [("paid", 1_000)], paid_on="2023-04-05", at="2023-04-05T10:00:00+02:00")
    row = _row(ledger, pid, date(2023, 5, 1))
    assert (row["status"], row["allocation"]) == ("partly_paid", "paid")
    assert (row["paid_part_cents"], row["placed_part_cents"]) == (amount - 2_000, 2_000)


def test_the_late_interest_of_a_split_principal_goes_where_its_payment_went(tmp_path):
    # I-40: late interest is paid with its principal, with the same exemptions. Each late payment of a principal
    # split by the employee's choice (I-38) accrues its own interest row: the interest on the part paid out is
    # paid out, the interest on the part placed is placed, until the interest's own payments (which may go
    # either way) settle it
    bus, ledger, pid, amount = _principal(tmp_path)
    june = "2023-06-20T10:00:00+02:00"
    _issue(bus, pid, on="2023-06-01", at=june)
    placed = amount // 3
    _choose(bus, pid, "split", placed=placed, on="2023-06-05", at=june)
    _pay(bus, pid, [("paid", amount - placed), ("placed", placed)], paid_on="2023-06-15", at=june)
    interest = {
        r["id"]: r["amount_cents"]
        for r in ledger.entitlements.rows(scheme="interessement")
        if r["kind"] == "interest"
    }
    assert len(interest) == 2 and all(i > 0 for i in interest.values())
    got = {}
    for eid, i in interest.items():
        row = _row(ledger, eid, date(2023, 7, 10))
        assert row["allocation"] == "split"  # as before: the principal's choice
        got[row["paid_part_cents"], row["placed_part_cents"]] = i
    on_paid, on_placed = sorted(interest.values(), reverse=True)  # 2/3 of the principal was paid out
    assert got == {(on_paid, 0): on_paid, (0, on_placed): on_placed}
    eid = next(e for e, i in interest.items() if i == on_placed)
    july = "2023-07-10T10:00:00+02:00"
    _pay(bus, eid, [("paid", on_placed)], paid_on="2023-07-10", at=july, tag="pay-i")
    row = _row(ledger, eid, date(2023, 7, 10))
    assert (row["allocation"], row["paid_part_cents"], row["placed_part_cents"]) == ("split", on_placed, 0)


def test_interest_with_no_payment_of_its_own_takes_its_principal_s_share():
    # I-40: interest of a split principal (placed 1 of 3 cents) with no payment it accrued on: the same share of
    # it is placed, rounded half up
    assert export.split_parts("split", 100, 0, 0, 1, 3) == (67, 33)
    assert export.split_parts("split", 5, 0, 0, 1, 2) == (2, 3)


def test_only_a_payment_recorded_event_gives_the_mode_interest_follows(tmp_path):
    # I-40: the interest on one payment of a split principal goes where that payment went; an id that names no
    # payment of the company (another event, none at all, another company's) gives no mode, and the interest then
    # takes its principal's share
    bus, ledger, pid, amount = _principal(tmp_path)
    _pay(bus, pid, [("placed_per", amount)], paid_on="2023-03-15")
    _issue(bus, pid)
    assert export._payment_mode(ledger, "ACME", "pay-0") == "placed_per"
    assert export._payment_mode(ledger, "ACME", "st") is None  # the statement_issued event
    assert export._payment_mode(ledger, "ACME", "no-such-event") is None
    assert export._payment_mode(ledger, "OTHER", "pay-0") is None
    assert export._payment_mode(ledger, "ACME", None) is None


def test_a_correction_keeps_its_own_allocation_not_its_principal_s(tmp_path):
    # restated results after the employee chose to be paid out: the correction has its own statement and window
    # (I-38), pending until then (docs/export.md); only late interest takes its principal's choice (I-40)
    bus, ledger, pid, amount = _principal(tmp_path)
    _issue(bus, pid)
    _choose(bus, pid, "paid")
    bus.publish(EventFactory("ACME").results_published("2022", {"rcai": "2000"}, id="restated"))
    [correction] = [r for r in ledger.entitlements.rows(scheme="interessement") if r["kind"] == "correction"]
    assert correction["corrects"] == pid and correction["amount_cents"] > 0
    principal = _row(ledger, pid, date(2023, 4, 25))
    assert (principal["allocation"], principal["paid_part_cents"]) == ("paid", amount)
    row = _row(ledger, correction["id"], date(2023, 4, 25))
    assert (row["allocation"], _parts(row)) == ("pending", ("", "", "", ""))


def test_late_interest_s_csg_crds_is_computed_with_the_parameters_its_dispatch_recorded(tmp_path):
    # LAW 0.3: late interest (I-40) records no CSG/CRDS of its own: the export computes it on the whole interest
    # with the parameter set the interest was computed with, as the ledger recorded it, not the set in force
    # today; an interest of 0.x, whose dispatch recorded none, takes today's
    bus, ledger, pid, amount = _principal(tmp_path, plan=False)
    _pay(bus, pid, [("paid", amount)], paid_on="2023-12-15", at="2023-12-20T10:00:00+01:00")
    [interest] = [r for r in ledger.entitlements.rows(scheme="interessement") if r["kind"] == "interest"]
    doc = P.to_document()
    doc["csg_total"]["values"][0]["value"] = "0.5"  # a set of today's that is not the one recorded
    today = Parameters.from_document(doc)

    def csg(params):
        row = next(r for r in rows(ledger, params, date(2024, 1, 10)) if r["entitlement"] == interest["id"])
        return row["csg_crds_if_paid_cents"], row["csg_crds_if_placed_cents"]

    cents, on = interest["amount_cents"], date.fromisoformat(interest["period_end"])
    then, now = withheld(P, cents, on).withheld_cents, withheld(today, cents, on).withheld_cents
    assert 0 < then < now
    assert csg(today) == (then, then) and csg(P) == (then, then)
    ledger.conn.execute(
        "UPDATE dispatches SET params_digest = NULL WHERE event_id = ? AND scheme = 'interessement'",
        (interest["event_id"],),
    )
    assert csg(today) == (now, now)


def test_the_new_columns_come_after_the_existing_ones():
    # vendors parse the export by position too: the columns they know keep their place
    assert export.COLUMNS[-4:] == PARTS and export.COLUMNS.index("corrects") == len(export.COLUMNS) - 5


@given(
    amount=st.integers(0, 10**12),
    basis=st.integers(1, 10**12),
    data=st.data(),
    allocation=st.sampled_from(["paid", "placed", "split"]),
)
def test_the_parts_add_up_to_the_amount_and_are_never_negative(amount, basis, data, allocation):
    split_placed = data.draw(st.integers(0, basis))
    paid = data.draw(st.integers(0, amount))
    placed = data.draw(st.integers(0, amount - paid))
    got = export.split_parts(allocation, amount, paid, placed, split_placed, basis)
    assert got is not None
    paid_part, placed_part = got
    assert type(paid_part) is int and type(placed_part) is int
    assert paid_part + placed_part == amount and paid_part >= 0 and placed_part >= 0
    assert paid_part >= paid and placed_part >= placed  # a payment is never undone
    if allocation == "split" and basis == amount and paid <= amount - split_placed and placed <= split_placed:
        assert placed_part == split_placed  # the employee's choice, to the cent (I-38)
    csg = data.draw(st.integers(0, 10**11))
    csg_paid, csg_placed = export.csg_crds_parts(csg, csg, amount, placed_part)
    assert csg_paid + csg_placed == csg and csg_paid >= 0 and csg_placed >= 0


def test_split_parts_of_a_pending_row_are_unknown():
    assert export.split_parts("pending", 5_000, 0, 0, None, 5_000) is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_cli_export_carries_the_parts_of_a_split(tmp_path, fmt):
    bus, _ledger, pid, amount = _principal(tmp_path)
    _issue(bus, pid)
    _choose(bus, pid, "split", placed=amount // 2)
    db = next(tmp_path.glob("*.db"))
    out = run_here(
        "--db",
        str(db),
        "export",
        "--format",
        fmt,
        "--as-of",
        "2023-04-10",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    if fmt == "csv":
        got = list(csv.DictReader(io.StringIO(out.stdout)))
        assert list(got[0]) == list(export.COLUMNS)
        [row] = [r for r in got if r["entitlement"] == pid]
        parts = {c: int(row[c]) for c in PARTS}
    else:
        got = [json.loads(line) for line in out.stdout.splitlines()]
        [row] = [r for r in got if r["entitlement"] == pid]
        parts = {c: row[c] for c in PARTS}
    assert row["allocation"] == "split"
    assert parts["paid_part_cents"] == amount - amount // 2 and parts["placed_part_cents"] == amount // 2
    assert parts["csg_crds_paid_part_cents"] + parts["csg_crds_placed_part_cents"] == int(
        row["csg_crds_if_paid_cents"]
    )
