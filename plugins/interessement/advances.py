"""Advances on intéressement (loi 2023-1107 art. 12, L3348-1, décret 2024-644; LAW I-41, I-6, D3313-9 3° bis
and 3° ter; docs/rules.md D-9).

If the agreement provides it (`advances = true`) and the employee consented, advances may be paid during the
period, at most once a quarter. An `interessement_advance_granted` event records one as an entitlement of kind
`advance`, due on its payment day and paid like any other (`payment_recorded`, paid or placed). When the period
is computed, its advances count as already recorded: the computation records the difference, a correction. When
the rights are below the advances, the correction is negative: an over-payment, recovered by deductions from the
salary of at most a tenth of the net pay (L3251-3, `interessement_overpayment_recovered`), except what was placed
in a savings plan, which stays there as a voluntary payment without the exemptions (L3348-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from attrs import evolve, frozen
from paybonus.calendar import Period, add_months
from paybonus.convert import structure
from paybonus.errors import SchemeError
from paybonus.events import Event, EventType
from paybonus.hooks import (
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    LedgerView,
    RecordedEntitlement,
    SchemeContext,
    SchemeResult,
)
from paybonus.money import allocate, format_euros
from paybonus.params import Parameters

from .agreement import Agreement
from .shared import contributions, family_in_exercise, full_cap

GRANTED = "interessement_advance_granted"
RECOVERED = "interessement_overpayment_recovered"
FAMILY_SCHEMES = ("interessement", "interessement_projet")


@frozen
class AdvanceGranted:
    """An advance on an employee's intéressement of a calculation period, paid on `pay_on` (L3348-1)."""

    employee: str
    period: Period
    amount_cents: int
    pay_on: date
    consented_on: date  # the employee's express consent (décret 2024-644): no consent, no advance
    letter_received_on: date | None = None  # when the employee received the employer's letter asking it

    def __attrs_post_init__(self) -> None:
        if self.amount_cents <= 0:
            raise ValueError("amount_cents: must be positive")
        if self.consented_on > self.pay_on:
            raise ValueError(
                "consented_on: after pay_on: no advance without the employee's prior consent (L3348-1, LAW I-41)"
            )
        if self.letter_received_on is not None and self.letter_received_on > self.consented_on:
            raise ValueError("letter_received_on: after consented_on")


@frozen
class OverpaymentRecovered:
    """Part of an over-payment of advances deducted from a month's salary (L3251-3, L3348-1)."""

    entitlement: str  # the negative correction that records the over-payment
    amount_cents: int
    recovered_on: date
    net_pay_cents: int  # the net pay of the month the deduction is made from

    def __attrs_post_init__(self) -> None:
        if self.amount_cents <= 0:
            raise ValueError("amount_cents: must be positive")
        if self.net_pay_cents <= 0:
            raise ValueError("net_pay_cents: must be positive")


def _agreement(event: Event[Any], ledger: LedgerView) -> Agreement:
    raw = ledger.configuration(event.company).get("schemes", {}).get("interessement")
    if raw is None:
        raise ValueError("company: it has no intéressement agreement ([schemes.interessement])")
    try:
        return structure(raw, Agreement)
    except ValueError as exc:  # pragma: no cover - checked at load
        raise ValueError(f"company: schemes.interessement.{exc}") from None


def quarter(ex: Period, day: date) -> int:
    """The quarter of the exercise a day falls in: 0 to 3 (D-9: quarters aligned on the exercise)."""
    q = 0
    while add_months(ex.start, 3 * (q + 1)) <= day:
        q += 1
    return q


def check_advance(event: Event[Any], ledger: LedgerView) -> None:
    """Refuse, before anything is written, an advance the agreement or the law does not allow (I-41, I-6)."""
    p = event.payload
    ag = _agreement(event, ledger)
    if not ag.advances:
        raise ValueError(
            "payload: the agreement does not provide advances (advances = true in [schemes.interessement]; "
            "L3348-1, LAW I-41)"
        )
    info = ledger.company(event.company)
    assert info is not None  # admission refused unknown companies
    ex, calc = ag.period_of(p.period.start, info.fiscal_year_start)
    if calc != p.period:
        raise ValueError(f"payload.period: {p.period} is not a calculation period of the agreement ({calc})")
    if not calc.contains(p.pay_on):
        raise ValueError(
            f"payload.pay_on: {p.pay_on} is outside {calc}: an advance is paid during the period (L3348-1)"
        )
    if ag.deposited_on is not None and p.pay_on < ag.deposited_on:
        raise ValueError(f"payload.pay_on: before the agreement's deposit ({ag.deposited_on}, LAW I-6)")
    if p.letter_received_on is not None:
        days = ag.advance_consent_days or Parameters.default().value(
            "interessement_advance_consent_days", p.letter_received_on
        )
        if (p.consented_on - p.letter_received_on).days > days:
            raise ValueError(
                f"payload.consented_on: more than {days} days after the letter: without timely consent there is "
                "no advance (décret 2024-644)"
            )
    q = quarter(ex, p.pay_on)
    for other in ledger.events(event.company, GRANTED, p.employee):
        o = other.payload
        if other.id != event.id and ex.contains(o.pay_on) and quarter(ex, o.pay_on) == q:
            raise ValueError(
                f"payload.pay_on: advance {other.id} was paid in the same quarter of the exercise: at most one "
                "advance a quarter (L3348-1, LAW I-41, D-9)"
            )


def check_recovery(event: Event[Any], ledger: LedgerView) -> None:
    """A deduction recovers an over-payment of advances, at most a tenth of the net pay (L3251-3) and never
    more than can be recovered from the salary (what was placed in a plan cannot, L3348-1)."""
    p = event.payload
    ent = ledger.entitlement(p.entitlement)
    if ent is None or ent.company != event.company or "overpayment" not in ent.explanation.inputs:
        raise ValueError(f"payload.entitlement: {p.entitlement!r} is not an over-payment of advances")
    recoverable = int(ent.explanation.inputs["overpayment"]["salary_deduction_cents"])
    done = sum(
        e.payload.amount_cents
        for e in ledger.events(event.company, RECOVERED)
        if e.payload.entitlement == p.entitlement and e.id != event.id
    )
    if p.amount_cents > recoverable - done:
        raise ValueError(
            f"payload.amount_cents: {p.amount_cents} is more than the {max(0, recoverable - done)} cents left to "
            "recover from the salary"
        )
    fraction = Parameters.default().value("salary_deduction_max_fraction", p.recovered_on)
    limit = int(p.net_pay_cents * fraction)
    if p.amount_cents > limit:
        raise ValueError(
            f"payload.amount_cents: a deduction is at most a tenth of the net pay ({limit} cents of "
            f"{p.net_pay_cents}; L3251-3, LAW I-41)"
        )


def company_heads(event: Event[Any], ledger: LedgerView) -> set[str]:
    """The company heads, officers and spouses of the agreement (L3312-3): beneficiaries without a contract, whom
    an advance may name before their first entitlement (admission asks only for an id the payroll lacks)."""
    return {h.id for h in _agreement(event, ledger).company_heads}


EVENT_TYPES = [
    EventType(
        GRANTED,
        AdvanceGranted,
        "an advance on intéressement paid during the period",
        check=check_advance,
        outside_payroll=company_heads,
    ),
    EventType(
        RECOVERED,
        OverpaymentRecovered,
        "an over-payment of advances deducted from a salary",
        check=check_recovery,
        reported=("recovered_on",),
    ),
]


def on_advance(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`interessement_advance_granted`: an entitlement of kind advance, due on its payment day (I-41)."""
    ag: Agreement = ctx.config
    p = event.payload
    ex, calc = ag.period_of(p.period.start, ctx.company.fiscal_year_start)
    q = quarter(ex, p.pay_on)
    for other in ctx.events(GRANTED, employee=p.employee):  # admission checked the ledger; this, the batch
        if other.id == event.id:
            break
        if ex.contains(other.payload.pay_on) and quarter(ex, other.payload.pay_on) == q:
            raise SchemeError(
                f"advance {event.id}: advance {other.id} was paid in the same quarter of the exercise: at most one "
                "advance a quarter (L3348-1, LAW I-41, D-9)"
            )
    already = sum(e.amount_cents for e in family_in_exercise(ctx, ex) if e.employee == p.employee)
    cap = full_cap(ctx.params, ex)
    if already + p.amount_cents > cap:  # I-30: an advance never goes beyond the full individual cap
        raise SchemeError(
            f"advance {event.id}: with what was already recorded in the exercise it exceeds the individual cap "
            f"of 75 % of the PASS ({format_euros(cap)}, I-30)"
        )
    expl = Explanation(
        inputs={
            "advance_cents": p.amount_cents,
            "advance": {
                "event": event.id,
                "pay_on": p.pay_on.isoformat(),
                "consented_on": p.consented_on.isoformat(),
                "quarter": quarter(ex, p.pay_on) + 1,
            },
            "exercise": ex.key,
        },
        parameters={"contributions": contributions(ctx.params, ex, ctx, p.amount_cents, p.pay_on)},
        steps=[
            f"advance of {format_euros(p.amount_cents)} on the intéressement of {calc}, paid on {p.pay_on} with "
            f"the employee's consent of {p.consented_on} (L3348-1); deducted when the period is computed"
        ],
        rules=["I-41", "I-6", "D-9", "0.3", "0.4"],
    )
    draft = EntitlementDraft(p.employee, calc, p.amount_cents, expl, Kind.ADVANCE, p.pay_on, key=event.id)
    return SchemeResult([draft], summary={"advance": event.id})


def recompute_advance(expl: Explanation) -> int:
    return int(expl.inputs["advance_cents"])


def annotate(
    ctx: SchemeContext, drafts: Sequence[EntitlementDraft], existing: Sequence[RecordedEntitlement]
) -> tuple[Sequence[EntitlementDraft], list[Finding]]:
    """Each amount of someone who received advances says so (D3313-9 3° bis, 3° ter); a negative one is an
    over-payment, split between what the salary can recover and what stays blocked in a plan (L3348-1, D-9)."""
    advances: dict[str, list[RecordedEntitlement]] = {}
    for e in existing:
        if e.kind is Kind.ADVANCE:
            advances.setdefault(e.employee, []).append(e)
    if not advances:
        return drafts, []  # as they are: drafts built as they are read stay so
    modes = _payments_by_mode(ctx, {e.id for es in advances.values() for e in es})
    out, findings = [], []
    for d in drafts:
        adv = advances.get(d.employee)
        if not adv:
            out.append(d)
            continue
        total = sum(e.amount_cents for e in adv)
        before = int(d.explanation.inputs.get("previous_cents", 0))
        rights = before + d.amount_cents
        extra: dict[str, Any] = {
            "advances": [{"entitlement": e.id, "cents": e.amount_cents} for e in adv],
            "advances_cents": total,
            "rights_cents": rights,
            "remaining_cents": rights - total,  # 3° ter: to be received (> 0) or to give back (< 0)
        }
        steps = [f"advances received: {format_euros(total)}; rights {format_euros(rights)}"]
        if d.amount_cents < 0 and rights < total:
            over = total - max(rights, 0)
            paid = sum(modes.get(e.id, {}).get("paid", 0) for e in adv)
            placed = sum(v for e in adv for m, v in modes.get(e.id, {}).items() if m != "paid")
            unpaid = max(0, total - paid - placed)
            salary, blocked, not_paid = (
                allocate(over, [paid, placed, unpaid]) if paid + placed + unpaid else (0, 0, over)
            )
            extra["overpayment"] = {
                "cents": over,
                "salary_deduction_cents": salary,  # recovered from the salary, a tenth of the net pay at most
                "blocked_in_plan_cents": blocked,  # stays in the plan: a voluntary payment, no exemptions
                "not_yet_paid_cents": not_paid,  # advances still due: simply not paid
            }
            steps.append(
                f"over-payment {format_euros(over)}: {format_euros(salary)} recovered from the salary "
                f"(L3251-3), {format_euros(blocked)} blocked in the plan (L3348-1), {format_euros(not_paid)} "
                "not paid yet"
            )
            if blocked:
                findings.append(
                    Finding(
                        "warning",
                        "I-41",
                        "advances placed in a savings plan exceed the rights: that part stays blocked as a "
                        "voluntary payment without the exemptions (L3348-1); the payroll treats it as salary",
                        d.employee,
                    )
                )
        expl = d.explanation
        out.append(
            evolve(
                d,
                explanation=evolve(  # keeps the part the computation's drafts share
                    expl,
                    inputs={**expl.inputs, **extra},
                    steps=[*expl.steps, *steps],
                    rules=[*expl.rules, "I-41"],
                ),
            )
        )
    return out, findings


def _payments_by_mode(ctx: SchemeContext, ids: set[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for e in ctx.events("payment_recorded"):
        p = e.payload
        if p.entitlement in ids:
            by = out.setdefault(p.entitlement, {})
            by[p.mode] = by.get(p.mode, 0) + p.amount_cents
    return out
