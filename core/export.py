"""Export of entitlements for the payroll: one row per entitlement with its DSN codes (docs/export.md).

Intéressement is declared in S21.G00.54 type 12 (other gross income) and its CSG/CRDS in S21.G00.81 code 073;
salary-type bonuses in S21.G00.52 with type 026, 027 or 028, subject to ordinary contributions computed by the
payroll (DSN.md, LAW 0.3).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .in_force import SchemesInForce
from .money import share_half_up
from .params import Parameters
from .params import csg_crds as withheld
from .payments import chosen_in, decided, has_savings_plan, settled, window_of
from .store import Ledger

COLUMNS = (
    "company",
    "employee",
    "entitlement",
    "scheme",
    "kind",
    "amount_cents",
    "paid_cents",
    "payroll_month",
    "period_start",
    "period_end",
    "due_date",
    "status",
    "allocation",
    "dsn_block",
    "dsn_code",
    "dsn_label",
    "social_regime",
    "ordinary_contributions",
    "csg_crds_block",
    "csg_crds_code",
    "csg_crds_if_paid_cents",
    "csg_crds_if_placed_cents",
    "forfait_social_cents",
    "forfait_social_placed_per_cents",
    "corrects",
    "paid_part_cents",
    "placed_part_cents",
    "csg_crds_paid_part_cents",
    "csg_crds_placed_part_cents",
)
DSN_LABELS = {
    ("S21.G00.54", "12"): "intéressement (y compris supplément)",
    ("S21.G00.52", "026"): "prime exceptionnelle liée à l'activité avec période de rattachement spécifique",
    ("S21.G00.52", "027"): "prime liée à l'activité avec période de rattachement spécifique",
    ("S21.G00.52", "028"): "prime non liée à l'activité",
}
CSG_CRDS_BLOCK, CSG_CRDS_CODE = "S21.G00.81", "073"


CHUNK_ROWS = 1000  # rows whose payments, choices and statements are read together


def rows(
    ledger: Ledger,
    params: Parameters,
    as_of: date,
    company: str | None = None,
    scheme: str | None = None,
    payroll_month: str | None = None,
) -> Generator[dict[str, Any], None, None]:
    with ledger.one_view():
        recorded = RecordedParameters(ledger, params)
        known = ledger.events.months(company)
        in_force = SchemesInForce(ledger, company)
        plans: dict[str, bool] = {}  # company -> has a savings plan
        chunk: list[Any] = []
        for r in ledger.entitlements.each_row(company, scheme):  # streamed: never all the rows at once
            chunk.append(r)
            if len(chunk) == CHUNK_ROWS:
                yield from _rows_of(
                    ledger, params, as_of, payroll_month, recorded, known, in_force, plans, chunk
                )
                chunk = []
        yield from _rows_of(ledger, params, as_of, payroll_month, recorded, known, in_force, plans, chunk)


def _rows_of(
    ledger: Ledger,
    params: Parameters,
    as_of: date,
    payroll_month: str | None,
    recorded: RecordedParameters,
    known: dict[tuple[str, str], str],
    in_force: SchemesInForce,
    plans: dict[str, bool],
    chunk: list[Any],
) -> Generator[dict[str, Any], None, None]:
    """The export's rows of a chunk of entitlement rows, with what they ask of the ledger read for all at once."""
    if not chunk:
        return
    facts = _Facts(ledger, params, plans, chunk)
    for r in chunk:
        expl = ledger.entitlements.explanation(r)
        month = _payroll_month(r, expl, known, not in_force.owes(r["company"], r["event_id"], r["scheme"]))
        if payroll_month and month != payroll_month:
            continue
        epargne = r["social_regime"] == "epargne_salariale"
        on = date.fromisoformat(r["period_end"])
        amount = r["amount_cents"]
        alloc_target = r["corrects"] if r["kind"] == "interest" and r["corrects"] else r["id"]
        alloc, parts = (
            _allocation(ledger, facts, r, expl, alloc_target, as_of) if epargne else ("paid", (amount, 0))
        )
        csg_paid = csg_crds(expl, "paid", amount, recorded.of(r), on) if epargne else ""
        csg_placed = csg_crds(expl, "placed", amount, recorded.of(r), on) if epargne else ""
        by_mode = facts.by_mode(r["id"])
        row = {
            "company": r["company"],
            "employee": r["employee"],
            "entitlement": r["id"],
            "scheme": r["scheme"],
            "kind": r["kind"],
            "amount_cents": amount,
            "paid_cents": sum(by_mode.values()),
            "payroll_month": month,
            "period_start": r["period_start"],
            "period_end": r["period_end"],
            "due_date": r["due_date"] or "",
            "status": r["status"],
            "allocation": alloc,
            "dsn_block": r["dsn_block"],
            "dsn_code": r["dsn_code"],
            "dsn_label": DSN_LABELS.get((r["dsn_block"], r["dsn_code"]), ""),
            "social_regime": r["social_regime"],
            "ordinary_contributions": not epargne,
            "csg_crds_block": CSG_CRDS_BLOCK if epargne else "",
            "csg_crds_code": CSG_CRDS_CODE if epargne else "",
            "csg_crds_if_paid_cents": csg_paid,
            "csg_crds_if_placed_cents": csg_placed,
            **(_forfait_social(by_mode, amount, expl) if epargne else dict.fromkeys(FORFAIT_SOCIAL, "")),
            "corrects": r["corrects"] or "",
            "paid_part_cents": "" if parts is None else parts[0],
            "placed_part_cents": "" if parts is None else parts[1],
            "csg_crds_paid_part_cents": "",
            "csg_crds_placed_part_cents": "",
        }
        if parts is not None and epargne:
            row["csg_crds_paid_part_cents"], row["csg_crds_placed_part_cents"] = csg_crds_parts(
                int(csg_paid), int(csg_placed), amount, parts[1]
            )
        yield row


class _Facts:
    """What a chunk of rows asks of the ledger besides themselves, read in a few queries for the chunk: each row's
    payments by mode, the employee's latest choice and first statement of each row and of each principal of a late
    interest row (I-38, I-40), and those principals. A query a row and question took 34 s for the 84 456 rows of a
    PostgreSQL ledger (a round trip each)."""

    def __init__(self, ledger: Ledger, params: Parameters, plans: dict[str, bool], chunk: list[Any]) -> None:
        self.ledger, self.params, self.plans = ledger, params, plans
        own = {r["id"] for r in chunk}
        targets = {r["corrects"] for r in chunk if r["kind"] == "interest" and r["corrects"]} - own
        ids = sorted(own | targets)
        self._by_mode = ledger.payments.by_mode_of(ids)
        self._chosen = ledger.events.payloads_about(ids, "option_chosen")
        self._issued = ledger.events.payloads_about(ids, "statement_issued")
        self._rows = {r["id"]: r for r in chunk}
        self._rows.update((r["id"], r) for r in ledger.entitlements.get_many(sorted(targets)))

    def by_mode(self, entitlement: str) -> dict[str, int]:
        """`payments.paid_by_mode` of one of the chunk's rows or principals."""
        return self._by_mode.get(entitlement, {})

    def row(self, entitlement: str) -> Any:
        """The stored row of one of the chunk's rows or principals (None if there is none)."""
        return self._rows.get(entitlement)

    def allocation(self, entitlement: str, as_of: date) -> dict[str, Any]:
        """`payments.allocation` of one of the chunk's rows or principals, from what was read."""
        chosen = self._chosen.get(entitlement)
        window = window_of(self._issued.get(entitlement, ()), self.params)
        return decided(
            chosen_in(chosen[-1]) if chosen else None, window, lambda: self._plan(entitlement), as_of
        )

    def _plan(self, entitlement: str) -> bool:
        row = self.row(entitlement)
        if row is None:
            return False
        company = row["company"]
        if company not in self.plans:
            self.plans[company] = has_savings_plan(self.ledger, company)
        return self.plans[company]


def _allocation(
    ledger: Ledger,
    facts: _Facts,
    r: Any,
    expl: dict[str, Any],
    target: str,
    as_of: date,
) -> tuple[str, tuple[int, int] | None]:
    """The employee's choice for `target` (the row, or the principal of an interest row: I-40); with none, what
    the row's recorded payments did once they paid or placed all of it (`payments.settled`, as the statements
    read it: I-38, nothing is left to choose, and a sum paid out before the window closed is not "placed for want
    of an answer"), or for an interest row still due what its principal's did; else the default after the
    window, or `pending`. With it, the row's (paid part, placed part) in cents (`split_parts`), None while
    pending."""
    entitlement, company, amount = r["id"], r["company"], int(r["amount_cents"])
    alloc = facts.allocation(target, as_of)
    by_mode = facts.by_mode(entitlement)
    own = settled(by_mode, amount)  # what the row's own payments did, once they paid or placed all of it
    principal = facts.row(target) if target != entitlement else None
    basis = amount  # the cents a split's `placed_cents` is a part of: the row's, or its principal's
    if principal is not None:
        basis = int(principal["amount_cents"])
    if alloc["by"] != "choice":
        if own is not None:
            alloc, basis = own, amount
        elif principal is not None:  # late interest goes where its principal went (I-40)
            alloc = settled(facts.by_mode(target), basis) or alloc
    name = str(alloc["allocation"])
    split_placed = alloc.get("placed_cents")
    if name == "split" and target != entitlement and own is None:
        # interest accrued on one payment of a split principal goes where that payment went (I-40: paid with it,
        # with the same exemptions); else the principal's share
        mode = _payment_mode(ledger, company, expl.get("inputs", {}).get("payment_event"))
        if mode is not None:
            split_placed, basis = (0 if mode == "paid" else amount), amount
    paid = by_mode.get("paid", 0)
    placed = sum(c for m, c in by_mode.items() if m != "paid")
    return name, split_parts(name, amount, paid, placed, split_placed, basis)


def _payment_mode(ledger: Ledger, company: str, event_id: Any) -> str | None:
    """The mode (`paid`, `placed`, `placed_per`) of the `payment_recorded` event `event_id`, or None."""
    if not isinstance(event_id, str):
        return None
    event = ledger.events.get(company, event_id)
    if event is None or event["type"] != "payment_recorded":
        return None
    return str(json.loads(event["payload"]).get("mode", "paid"))


def split_parts(
    allocation: str, amount: int, paid: int, placed: int, split_placed: int | None, basis: int
) -> tuple[int, int] | None:
    """(paid part, placed part) of a row of `amount` cents, adding up to it (I-38, I-42: the paid part is taxable
    salary, the placed part exempt within the cap): what its payments already paid out (`paid`) or placed
    (`placed`) stays so, and the rest goes where `allocation` says. A split places `split_placed` cents of
    `basis` (the choice's `placed_cents`, or what the payments placed): of the row's own amount, or of its
    principal's for late interest, which takes the same share, rounded half up (I-40). None while pending."""
    if allocation == "pending":
        return None
    # payments never exceed a row's amount; should a ledger say otherwise, no part goes negative
    if amount >= 0:
        paid, placed = min(paid, amount), min(placed, amount - min(paid, amount))
    if allocation == "paid":
        return amount - placed, placed
    if allocation == "placed":
        return paid, amount - paid
    share = share_half_up(amount, split_placed or 0, basis)
    if amount >= 0:
        share = max(min(max(share, placed), amount - paid), 0)
    return amount - share, share


def csg_crds_parts(if_paid: int, if_placed: int, amount: int, placed_part: int) -> tuple[int, int]:
    """The row's CSG/CRDS (LAW 0.3) on its paid part and on its placed part, from the export's own columns: the
    placed part's share of `csg_crds_if_placed_cents`, and `csg_crds_if_paid_cents` less its placed part's share,
    each share rounded half up; they add up to the CSG/CRDS withheld on the whole amount (its statement's 4°,
    rounded once), the same paid or placed."""
    if amount == 0:
        return if_paid, 0
    return if_paid - share_half_up(if_paid, placed_part, amount), share_half_up(
        if_placed, placed_part, amount
    )


def _payroll_month(r: Any, expl: dict[str, Any], known: dict[tuple[str, str], str], backfilled: bool) -> str:
    """The month whose payroll pays (or recovers) the row: the one its scheme chose (salary-type bonuses, O-5),
    else the month of its deadline (I-39); never a month before its event occurred. A correction recorded after
    that month (a recomputation), or a principal computed from results published after the deadline, goes to the
    payroll of the month it became known in: a payroll month already closed would never pay it. So does a
    principal a recomputation (or a later close) gave someone new, whose explanation says `recomputation`, and a
    row `paybonus retry --backfill` computed for a scheme its event did not owe when it was recorded
    (`paybonus.in_force`): it goes to the payroll of the month it was recorded in, not to its event's, closed by
    then. A retry of a dispatch its event owed (a failure, an interrupted run) keeps the month it was owed in."""
    inputs = expl.get("inputs", {})
    chosen = inputs.get("payroll_month")
    month = chosen or (r["due_date"] or "")[:7]
    if month and (r["kind"] == "correction" or not chosen or "recomputation" in inputs):
        month = max(month, known.get((r["company"], r["event_id"]), ""))
    if month and backfilled:
        month = max(month, known.get((r["company"], r["event_id"]), ""), str(r["recorded_at"])[:7])
    return str(month)


def csg_crds(expl: dict[str, Any], mode: str, cents: int, params: Parameters, on: date) -> int:
    """CSG/CRDS on 100 % of the amount (LAW 0.3) if paid or placed: as the explanation recorded it when the
    amount was computed; else from the parameters its dispatch recorded, CSG rounded once (the same whether
    paid or placed)."""
    recorded = expl.get("parameters", {}).get("contributions", {}).get(mode)
    if isinstance(recorded, dict):
        return sum(int(v) for v in recorded.values())
    return withheld(params, cents, on).withheld_cents


class RecordedParameters:
    """The parameter set each entitlement's dispatch computed with (the current set for a 0.x entitlement)."""

    def __init__(self, ledger: Ledger, current: Parameters) -> None:
        self.ledger, self.current = ledger, current
        self._sets: dict[str, Parameters] = {}
        # each dispatch's parameter set digest, asked once for all its rows
        self._digests: dict[tuple[str, str, str], str | None] = {}

    def of(self, row: Any) -> Parameters:
        key = (row["company"], row["event_id"], row["scheme"])
        if key not in self._digests:
            if len(self._digests) >= DISPATCHES_KEPT:
                self._digests.clear()
            d = self.ledger.dispatches.get(*key)
            self._digests[key] = d["params_digest"] if d is not None else None
        digest = self._digests[key]
        if not digest:
            return self.current
        if digest not in self._sets:
            document = self.ledger.parameter_set(digest)
            self._sets[digest] = Parameters.from_document(json.loads(document)) if document else self.current
        return self._sets[digest]


DISPATCHES_KEPT = 4096
FORFAIT_SOCIAL = ("forfait_social_cents", "forfait_social_placed_per_cents")


def _forfait_social(by_mode: dict[str, int], amount: int, expl: dict[str, Any]) -> dict[str, Any]:
    """The employer's forfait social on the amount (LAW 0.4), at the rate of a qualifying PER for what was placed
    in it (`placed_per` payments) and the explanation's rate for the rest; empty when the explanation has none."""
    fs = expl.get("parameters", {}).get("contributions", {}).get("forfait_social")
    if not fs or "rate" not in fs:
        return dict.fromkeys(FORFAIT_SOCIAL, "")
    per = by_mode.get("placed_per", 0)
    rate, rate_per = Decimal(fs["rate"]), Decimal(fs.get("rate_if_placed_in_per", fs["rate"]))

    def levy(cents: int, r: Decimal) -> int:
        return int((Decimal(cents) * r).to_integral_value(ROUND_HALF_UP))

    return {
        "forfait_social_cents": levy(amount - per, rate) + levy(per, rate_per),
        "forfait_social_placed_per_cents": per,
    }
