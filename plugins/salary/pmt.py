"""Built-in scheme `pmt`: prime de maîtrise technique, a company policy for technical experts (LAW section 6).

Written criteria (certifications, rare skills, knowledge transmission, measured impact) each score points;
evidence is recorded with `pmt_evidence_recorded` events, with a date and an approver. Levels map a score to a
fixed amount per period or a rate (5 % to 15 %) of the gross base salary. Every award lists the evidence it rests
on, and an award without approved evidence is not made. Salary: ordinary contributions (LAW section 6, O-1).
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from attrs import field, frozen
from paybonus.calendar import Period, add_months
from paybonus.events import Event, EventType
from paybonus.hooks import (
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
)
from paybonus.money import format_euros, parse_euros
from paybonus.payroll import EmployeeRecord

from . import mechanism as sc

# the period of a day, asked for each single-employee event (of each closed period, for PMT evidence): a pure
# function of its arguments, found once
period_of = functools.lru_cache(maxsize=4096)(sc.bonus_period)

VERSION = "1.1.0"  # 1.1.0: late evidence's award due with the payroll of its month
SCHEME = "pmt"
MIN_RATE, MAX_RATE = (
    Decimal("0.05"),
    Decimal("0.15"),
)  # the policy range of the product card (LAW section 6 [U])

MAX_VALIDITY_MONTHS = 600  # fifty years: a longer validity is a typing mistake


@frozen
class Criterion:
    id: str
    label: str
    points: int
    validity_months: int | None = None  # a certification may expire

    def __attrs_post_init__(self) -> None:
        if self.points < 0:
            raise ValueError(f"points: criterion {self.id!r}: {self.points} is negative")
        if self.validity_months is not None and not 1 <= self.validity_months <= MAX_VALIDITY_MONTHS:
            raise ValueError(
                f"validity_months: criterion {self.id!r}: {self.validity_months} is not 1 to {MAX_VALIDITY_MONTHS}"
            )


@frozen
class Level:
    name: str
    min_points: int
    amount: str | None = None  # euros per period
    rate: Decimal | None = None  # of the gross base salary of the period
    amount_cents: int = field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.min_points < 0:
            raise ValueError(f"min_points: level {self.name!r}: {self.min_points} is negative")
        if (self.amount is None) == (self.rate is None):
            raise ValueError(f"level {self.name!r}: give either amount or rate")
        try:
            object.__setattr__(self, "amount_cents", parse_euros(self.amount) if self.amount else 0)
        except ValueError as exc:
            raise ValueError(f"amount: {exc}") from None
        if self.rate is not None and not MIN_RATE <= self.rate <= MAX_RATE:
            raise ValueError(f"rate: {self.rate} is outside the policy range 0.05 to 0.15 of the base salary")


@frozen(kw_only=True)
class PmtConfig(sc.SalarySettings):
    criteria: list[Criterion]
    levels: list[Level]
    frequency: Literal["monthly", "quarterly", "annual"] = "annual"
    dsn_code: str = "028"
    policy_language: str = "fr"  # written criteria in French (L1321-6, O-3)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not self.levels:
            raise ValueError("levels: at least one level")
        if len({c.id for c in self.criteria}) != len(self.criteria):
            raise ValueError("criteria: each criterion id appears once")


@frozen
class EvidenceRecorded:
    """Evidence of a criterion for an employee: what, when, who approved it."""

    employee: str
    criterion: str
    obtained_on: date
    approver: str
    approved: bool = True
    reference: str = ""


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`period_closed`: the awards of a PMT period, from the evidence recorded so far."""
    cfg: PmtConfig = ctx.config
    period = sc.bonus_period(event.payload.period.end, cfg.frequency, ctx.company.fiscal_year_start)
    if period.end != event.payload.period.end:
        return SchemeResult()
    # a correction a month closed again records is recovered by the payroll of the close's month (export)
    closed_in = event.occurred_at.date().replace(day=1)
    return _award_periods(ctx, cfg, [(period, None)], ctx.events("pmt_evidence_recorded"), None, closed_in)


def on_evidence(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`pmt_evidence_recorded`: evidence recorded after a period was closed counts for it: the award is
    (re)computed for every closed PMT period it may count for."""
    cfg: PmtConfig = ctx.config
    emp_id = event.payload.employee
    todo: list[tuple[Period, str | None]] = []
    for end in sorted({e.payload.period.end for e in ctx.events("period_closed")}):
        period = period_of(end, cfg.frequency, ctx.company.fiscal_year_start)
        if period.end == end and end >= event.payload.obtained_on:
            todo.append((period, emp_id))
    if not todo:
        return SchemeResult()
    # an award it gives or changes for a closed period is paid by the payroll of the month it is recorded in
    asked_in = event.occurred_at.date().replace(day=1)
    return _award_periods(ctx, cfg, todo, ctx.events("pmt_evidence_recorded", employee=emp_id), asked_in)


HANDLERS = {"period_closed": on_close, "pmt_evidence_recorded": on_evidence}


def _award_periods(
    ctx: SchemeContext,
    cfg: PmtConfig,
    todo: list[tuple[Period, str | None]],
    recorded: list[Event[Any]],
    asked_in: date | None = None,
    closed_in: date | None = None,
) -> SchemeResult:
    findings = sc.payment_date_warning(cfg, SCHEME)
    criteria = {c.id: c for c in cfg.criteria}
    evidence: dict[str, list[Event[Any]]] = {}
    for e in recorded:
        if e.payload.criterion not in criteria:
            findings.append(
                Finding("warning", "PMT", f"evidence {e.id} names an unknown criterion", e.payload.employee)
            )
            continue
        evidence.setdefault(e.payload.employee, []).append(e)
    drafts = []
    levels = sorted(cfg.levels, key=lambda lv: lv.min_points)
    for period, only in todo:
        existing = sc.recorded_by_employee(ctx, SCHEME, period, employee=only)
        for emp in ctx.population(period).employees:
            if only is not None and emp.id != only:
                continue
            before = existing.get(emp.id, (0, None))
            found = evidence.get(emp.id)
            if not found and not before[0]:
                continue  # no evidence, no award (0 whatever the presence), and nothing recorded to correct
            draft = _award(cfg, criteria, levels, emp, period, found or [], before, asked_in, closed_in)
            if draft is not None:
                drafts.append(draft)
    return SchemeResult(drafts, findings, {"awards": len(drafts)})


def _award(
    cfg: PmtConfig,
    criteria: dict[str, Criterion],
    levels: list[Level],
    emp: EmployeeRecord,
    period: Period,
    evidence: list[Event[Any]],
    before: tuple[int, str | None],
    asked_in: date | None = None,
    closed_in: date | None = None,
) -> EntitlementDraft | None:
    valid = [e for e in evidence if e.payload.approved and _valid(e, criteria, period)]
    score = sum(criteria[e.payload.criterion].points for e in valid)
    level = next((lv for lv in reversed(levels) if score >= lv.min_points), None) if valid else None
    base = sum(pl.base_cents for pl in emp.pay_in(period))
    full = 0
    if level is not None:  # no award without approved evidence
        full = (
            level.amount_cents
            if level.rate is None
            else int((level.rate * base).to_integral_value(ROUND_DOWN))
        )
    p = sc.presence(emp, period, cfg.absences)
    amount = sc.prorate(full, p)
    delta = amount - before[0]
    if delta == 0:
        return None
    left = sc.left_in(emp, period)
    pay_month = sc.payroll_month(period, cfg.pay_lag_months, left)
    if asked_in is not None:  # evidence recorded after the close: never due before the month it came in
        pay_month = max(pay_month, asked_in)
    if (
        closed_in is not None and before[1] is not None
    ):  # a correction: not before the month it is recorded in
        pay_month = max(pay_month, closed_in)
    expl = Explanation(
        inputs={
            "level": level.name if level else None,
            "score": score,
            "base_salary_cents": base,
            "full_cents": full,
            "presence": p.to_json(),
            "payroll_month": pay_month.isoformat()[:7],
            "previous_cents": before[0],
            "evidence": [
                {
                    "event": e.id,
                    "criterion": e.payload.criterion,
                    "obtained_on": e.payload.obtained_on.isoformat(),
                    "approver": e.payload.approver,
                    "reference": e.payload.reference,
                }
                for e in valid
            ],
        },
        parameters={
            "level_min_points": level.min_points if level else None,
            "rate": str(level.rate) if level is not None and level.rate is not None else None,
            "amount_cents": (level.amount_cents or None) if level else None,
        },
        steps=[
            f"score {score} from {len(valid)} approved evidence -> level {level.name if level else 'none'}",
            f"{'rate ' + str(level.rate) + ' x base ' + format_euros(base) if level and level.rate is not None else 'fixed'}"
            f" = {format_euros(full)}",
            f"pro rata of presence {p.present_days}/{p.period_days} days: {format_euros(amount)}",
            *(
                [f"already recorded: {format_euros(before[0])}; correction {format_euros(delta)}"]
                if before[0]
                else []
            ),
        ],
        rules=["PMT policy", "O-1", "O-4", "O-7", "N-4"],
    )
    kind = Kind.CORRECTION if before[1] else Kind.PRINCIPAL
    key = f"pmt|{period.key}" if kind is Kind.PRINCIPAL else f"pmt|{period.key}|{score}|{amount}"
    return EntitlementDraft(
        emp.id,
        period,
        delta,
        expl,
        kind=kind,
        due_date=sc.due_date(pay_month),
        corrects=before[1],
        key=key,
        dsn=sc.dsn(cfg.dsn_code),
    )


def _valid(e: Event[Any], criteria: dict[str, Criterion], period: Period) -> bool:
    c = criteria[e.payload.criterion]
    got = e.payload.obtained_on
    if got > period.end:
        return False
    return c.validity_months is None or add_months(got, c.validity_months) > period.start


def recompute(expl: Explanation) -> int:
    i = expl.inputs
    p = i["presence"]
    amount = sc.replay_prorate(int(i["full_cents"]), p["contract_days"] - p["absent_days"], p["period_days"])
    return amount - int(i.get("previous_cents", 0))


def event_types() -> list[EventType]:
    return [
        EventType(
            "pmt_evidence_recorded",
            EvidenceRecorded,
            "evidence of a PMT criterion, with its approver",
            reported=("obtained_on",),
        )
    ]


def descriptor() -> SchemeDescriptor:
    return SchemeDescriptor(
        name=SCHEME,
        version=VERSION,
        label="Prime de maîtrise technique (PMT)",
        handlers=HANDLERS,
        per_employee=frozenset({"pmt_evidence_recorded"}),  # on_evidence reads and awards that employee only
        reads_own_entitlements_only=True,  # its own rights only: computed beside the other schemes
        recompute=recompute,
        dsn=DsnMapping("S21.G00.52", "028", sc.DSN_CODES["028"]),
        social_regime=SocialRegime.SALARY,
        config_type=PmtConfig,
        description="Scored criteria with approved evidence; levels to a fixed amount or 5-15 % of base salary.",
    )
