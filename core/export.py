"""Export of entitlements for the payroll: one row per entitlement with its DSN codes (docs/export.md).

Intéressement is declared in S21.G00.54 type 12 (other gross income) and its CSG/CRDS in S21.G00.81 code 073;
salary-type bonuses in S21.G00.52 with type 026, 027 or 028, subject to ordinary contributions computed by the
payroll (DSN.md, LAW 0.3).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .params import Parameters
from .params import csg_crds as withheld
from .payments import allocation, settled
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
)
DSN_LABELS = {
    ("S21.G00.54", "12"): "intéressement (y compris supplément)",
    ("S21.G00.52", "026"): "prime exceptionnelle liée à l'activité avec période de rattachement spécifique",
    ("S21.G00.52", "027"): "prime liée à l'activité avec période de rattachement spécifique",
    ("S21.G00.52", "028"): "prime non liée à l'activité",
}
CSG_CRDS_BLOCK, CSG_CRDS_CODE = "S21.G00.81", "073"


def rows(
    ledger: Ledger,
    params: Parameters,
    as_of: date,
    company: str | None = None,
    scheme: str | None = None,
    payroll_month: str | None = None,
) -> Iterator[dict[str, Any]]:
    recorded = RecordedParameters(ledger, params)
    known = ledger.events.months(company)
    for r in ledger.entitlements.rows(company, scheme):
        expl = ledger.entitlements.explanation(r)
        month = _payroll_month(r, expl, known)
        if payroll_month and month != payroll_month:
            continue
        epargne = r["social_regime"] == "epargne_salariale"
        on = date.fromisoformat(r["period_end"])
        amount = r["amount_cents"]
        alloc_target = r["corrects"] if r["kind"] == "interest" and r["corrects"] else r["id"]
        yield {
            "company": r["company"],
            "employee": r["employee"],
            "entitlement": r["id"],
            "scheme": r["scheme"],
            "kind": r["kind"],
            "amount_cents": amount,
            "paid_cents": ledger.payments.paid_cents(r["id"]),
            "payroll_month": month,
            "period_start": r["period_start"],
            "period_end": r["period_end"],
            "due_date": r["due_date"] or "",
            "status": r["status"],
            "allocation": _allocation(ledger, r["id"], alloc_target, amount, as_of, params)
            if epargne
            else "paid",
            "dsn_block": r["dsn_block"],
            "dsn_code": r["dsn_code"],
            "dsn_label": DSN_LABELS.get((r["dsn_block"], r["dsn_code"]), ""),
            "social_regime": r["social_regime"],
            "ordinary_contributions": not epargne,
            "csg_crds_block": CSG_CRDS_BLOCK if epargne else "",
            "csg_crds_code": CSG_CRDS_CODE if epargne else "",
            "csg_crds_if_paid_cents": csg_crds(expl, "paid", amount, recorded.of(r), on) if epargne else "",
            "csg_crds_if_placed_cents": csg_crds(expl, "placed", amount, recorded.of(r), on)
            if epargne
            else "",
            **(
                _forfait_social(ledger, r["id"], amount, expl)
                if epargne
                else dict.fromkeys(FORFAIT_SOCIAL, "")
            ),
            "corrects": r["corrects"] or "",
        }


def _allocation(
    ledger: Ledger, entitlement: str, target: str, amount: int, as_of: date, params: Parameters
) -> str:
    """The employee's choice for `target` (the row, or the principal of an interest row: I-40); with none, what
    the row's recorded payments did once they paid or placed all of it (`payments.settled`, as the statements
    read it: I-38, nothing is left to choose, and a sum paid out before the window closed is not "placed for want
    of an answer"), or for an interest row still due what its principal's did; else the default after the
    window, or `pending`."""
    alloc = allocation(ledger, target, as_of, params)
    if alloc["by"] != "choice":
        done = settled(ledger.payments.paid_by_mode(entitlement), amount)
        if done is None and target != entitlement:  # late interest goes where its principal went (I-40)
            principal = ledger.entitlements.get(target)
            if principal is not None:
                done = settled(ledger.payments.paid_by_mode(target), int(principal["amount_cents"]))
        alloc = done or alloc
    return str(alloc["allocation"])


def _payroll_month(r: Any, expl: dict[str, Any], known: dict[tuple[str, str], str]) -> str:
    """The month whose payroll pays (or recovers) the row: the one its scheme chose (salary-type bonuses, O-5),
    else the month of its deadline (I-39); never a month before its event occurred. A correction recorded after
    that month (a recomputation), or a principal computed from results published after the deadline, goes to the
    payroll of the month it became known in: a payroll month already closed would never pay it."""
    chosen = expl.get("inputs", {}).get("payroll_month")
    month = chosen or (r["due_date"] or "")[:7]
    if month and (r["kind"] == "correction" or not chosen):
        month = max(month, known.get((r["company"], r["event_id"]), ""))
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

    def of(self, row: Any) -> Parameters:
        d = self.ledger.dispatches.get(row["company"], row["event_id"], row["scheme"])
        digest = d["params_digest"] if d is not None else None
        if not digest:
            return self.current
        if digest not in self._sets:
            document = self.ledger.parameter_set(digest)
            self._sets[digest] = Parameters.from_document(json.loads(document)) if document else self.current
        return self._sets[digest]


FORFAIT_SOCIAL = ("forfait_social_cents", "forfait_social_placed_per_cents")


def _forfait_social(ledger: Ledger, entitlement: str, amount: int, expl: dict[str, Any]) -> dict[str, Any]:
    """The employer's forfait social on the amount (LAW 0.4), at the rate of a qualifying PER for what was placed
    in it (`placed_per` payments) and the explanation's rate for the rest; empty when the explanation has none."""
    fs = expl.get("parameters", {}).get("contributions", {}).get("forfait_social")
    if not fs or "rate" not in fs:
        return dict.fromkeys(FORFAIT_SOCIAL, "")
    per = ledger.payments.paid_by_mode(entitlement).get("placed_per", 0)
    rate, rate_per = Decimal(fs["rate"]), Decimal(fs.get("rate_if_placed_in_per", fs["rate"]))

    def levy(cents: int, r: Decimal) -> int:
        return int((Decimal(cents) * r).to_integral_value(ROUND_HALF_UP))

    return {
        "forfait_social_cents": levy(amount - per, rate) + levy(per, rate_per),
        "forfait_social_placed_per_cents": per,
    }
