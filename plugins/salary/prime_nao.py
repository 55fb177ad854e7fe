"""Built-in scheme `prime_nao`: a bonus from the annual wage negotiation (LAW section 5, N-1 to N-6).

An award combines a flat amount, a percentage of the gross salary of the reference period, seniority brackets and
category coefficients: (flat + rate x gross + bracket) x coefficient, then part-time and presence proration.
Presence conditions (under contract on a date, a minimum presence) apply to everyone alike, and protected
absences can never exclude or reduce (N-4). It is paid in one to three instalments on set dates, each computed
when the pay period containing its date is closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from attrs import Factory, evolve, field, frozen
from paybonus.calendar import Period
from paybonus.events import RECOMPUTATION, Event
from paybonus.hooks import (
    Drafts,
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    RecordedEntitlement,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
)
from paybonus.money import allocate, format_euros, parse_euros, scale_weights
from paybonus.payroll import AbsenceKind, EmployeeRecord

from . import mechanism as sc

VERSION = "1.1.0"  # 1.1.0: a percentage of gross counts protected months at full salary (D-2)
SCHEME = "prime_nao"

MAX_COEFFICIENT = Decimal(10)  # a category's coefficient on the award
MAX_EUROS = Decimal(10**9)  # an amount per employee: far above any real bonus


@frozen
class Instalment:
    date: date
    share: Decimal


@frozen
class Award:
    id: str
    reference_period: Period
    flat: str | None = None  # euros
    percent_of_gross: Decimal | None = None  # e.g. 0.02 of the reference period's gross salary
    seniority: list[list[Decimal]] = Factory(list)  # [[years from, euros], ...]
    categories: dict[str, Decimal] = Factory(dict)  # coefficient by category (1 if absent)
    present_on: date | None = None
    min_presence_days: int = 0
    part_time: Literal["prorate", "none"] = "prorate"
    instalments: list[Instalment] = Factory(list)
    # the gross of `percent_of_gross` (N-4, docs/rules.md D-2): protected months at the salary the employee would
    # have earned (default), every month with an absence so, or the gross actually paid
    gross_basis: Literal["protected", "all_absences", "actual"] = "protected"
    flat_cents: int = field(init=False)

    def __attrs_post_init__(self) -> None:
        try:
            object.__setattr__(self, "flat_cents", parse_euros(self.flat) if self.flat else 0)
        except ValueError as exc:
            raise ValueError(f"flat: {exc}") from None
        if not (self.flat or self.percent_of_gross or self.seniority):
            raise ValueError(
                f"award {self.id!r}: give flat, percent_of_gross or seniority (or a combination)"
            )
        if self.flat_cents < 0:
            raise ValueError(f"flat: award {self.id!r}: {self.flat} is negative")
        for cat, coef in self.categories.items():
            if not Decimal(0) <= coef <= MAX_COEFFICIENT:
                raise ValueError(f"categories.{cat}: {coef} is not a coefficient from 0 to {MAX_COEFFICIENT}")
        for row in self.seniority:
            if len(row) == 2 and (row[0] < 0 or row[1] < 0 or row[1] >= MAX_EUROS):
                raise ValueError(f"seniority: [{row[0]}, {row[1]}]: years and euros are 0 or more (and sane)")
        for i in self.instalments:
            if not Decimal(0) < i.share <= 1:
                raise ValueError(f"instalments: share {i.share} is not a fraction above 0 and at most 1")
        bounds = [row[0] for row in self.seniority]
        if any(len(row) != 2 for row in self.seniority) or bounds != sorted(set(bounds)):
            raise ValueError("seniority: rows are [years from, euros] with increasing years")
        if not 1 <= len(self.instalments or [None]) <= 3:
            raise ValueError("instalments: one to three")
        if self.instalments and sum((i.share for i in self.instalments), Decimal(0)) != 1:
            raise ValueError("instalments: the shares add up to 1")
        if self.percent_of_gross is not None and not Decimal(0) < self.percent_of_gross < 1:
            raise ValueError("percent_of_gross: a fraction, e.g. 0.02 for 2 %")

    def schedule(self) -> list[Instalment]:
        return list(self.instalments) or [Instalment(self.reference_period.end, Decimal(1))]


@frozen(kw_only=True)
class NaoConfig(sc.SalarySettings):
    awards: list[Award]
    absences: Literal["prorate", "ignore"] = (
        "ignore"  # a NAO bonus prorates for absences only if the accord says so
    )
    pay_lag_months: int = 0
    dsn_code: str = "028"


def on_recompute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`recomputation_requested`: the instalments of the awards of that reference period already due (their pay
    period closed), computed again; each difference is a correction citing the request."""
    p = event.payload
    if p.scheme != SCHEME:
        return SchemeResult()
    cfg: NaoConfig = ctx.config
    closed = [e.payload.period for e in ctx.events("period_closed")]
    drafts: list[EntitlementDraft] = []
    for award in cfg.awards:
        if award.reference_period != p.period:
            continue
        schedule = award.schedule()
        for n, inst in enumerate(schedule):
            if not any(c.contains(inst.date) for c in closed):
                continue
            before = _recorded(ctx, award, n)
            new = _instalment(ctx, cfg, award, n, schedule)
            drafts += _corrections(new, before, event, sc.dsn(cfg.dsn_code))
    return SchemeResult(
        drafts, sc.payment_date_warning(cfg, SCHEME), {"recomputation": event.id, "entitlements": len(drafts)}
    )


def _recorded(ctx: SchemeContext, award: Award, n: int) -> list[RecordedEntitlement]:
    """What is recorded for instalment `n` of `award` (principals and corrections)."""
    return [
        e
        for e in ctx.entitlements(scheme=SCHEME, period=award.reference_period)
        if e.period == award.reference_period
        and e.explanation.inputs.get("award") == award.id
        and e.explanation.inputs.get("instalment") == n + 1
    ]


def _corrections(
    new: Sequence[EntitlementDraft], before: list[RecordedEntitlement], request: Event[Any], dsn: DsnMapping
) -> list[EntitlementDraft]:
    """The new amounts less what was recorded: corrections referencing each principal (or a principal for a
    new beneficiary); someone no longer entitled gets a negative correction."""
    total: dict[str, int] = {}
    principal: dict[str, RecordedEntitlement] = {}
    for e in before:
        total[e.employee] = total.get(e.employee, 0) + e.amount_cents
        if e.kind is Kind.PRINCIPAL:
            principal[e.employee] = e
    out = []
    why = sc.recomputation(request)
    for d in new:
        prev = total.pop(d.employee, 0)
        if d.amount_cents == prev:
            continue
        first = principal.get(d.employee)
        expl = evolve(  # keeps the part the instalment's drafts share
            d.explanation,
            inputs={**d.explanation.inputs, "previous_cents": prev, "recomputation": why},
            steps=[*d.explanation.steps, f"recorded before: {format_euros(prev)}"],
        )
        if first is None:
            out.append(evolve(d, explanation=expl, amount_cents=d.amount_cents - prev))
        else:
            out.append(
                evolve(
                    d,
                    explanation=expl,
                    amount_cents=d.amount_cents - prev,
                    kind=Kind.CORRECTION,
                    corrects=first.id,
                    key=f"{d.key}|{request.id}",
                )
            )
    for emp, prev in total.items():
        if not prev or emp not in principal:
            continue
        first = principal[emp]
        inputs = {**first.explanation.inputs, "full_cents": 0, "total_cents": 0, "previous_cents": prev}
        expl = Explanation(
            {**inputs, "recomputation": why},
            first.explanation.parameters,
            ["no longer entitled under the installed rules", f"recorded before: {format_euros(prev)}"],
            first.explanation.rules,
        )
        out.append(
            EntitlementDraft(
                emp,
                first.period,
                -prev,
                expl,
                Kind.CORRECTION,
                first.due_date,
                first.id,
                key=f"{first.explanation.inputs.get('award')}|{first.explanation.inputs.get('instalment')}|{request.id}",
                dsn=dsn,
            )
        )
    return out


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    cfg: NaoConfig = ctx.config
    closed = event.payload.period
    drafts = Drafts()
    findings = sc.payment_date_warning(cfg, SCHEME)
    closes: list[Event[Any]] | None = None  # the company's closes, read when an instalment falls in this one
    for award in cfg.awards:
        schedule = award.schedule()
        for n, inst in enumerate(schedule):
            if closed.contains(inst.date):
                new = _instalment(ctx, cfg, award, n, schedule)
                closes = ctx.events("period_closed") if closes is None else closes
                if any(c.id != event.id and c.payload.period.contains(inst.date) for c in closes):
                    # the month closed again (a payroll corrected after its close): what changed is a correction
                    # citing this close; nothing when nothing changed (N-1)
                    before = _recorded(ctx, award, n)
                    new = Drafts.of(_corrections(new, before, event, sc.dsn(cfg.dsn_code))) if before else new
                drafts = drafts + new
                if award.gross_basis == "actual" and award.percent_of_gross is not None:
                    findings.append(Finding("warning", "N-4", ACTUAL_GROSS_WARNING.format(award=award.id)))
    return SchemeResult(drafts, findings, {"entitlements": len(drafts)})


ACTUAL_GROSS_WARNING = (
    "award {award}: gross_basis = actual: months of maternity, paternity, adoption, work accident or occupational "
    "disease paid as daily allowances reduce the percentage of gross (D-2)"
)
GROSS_KINDS = {"protected": sc.NEUTRAL, "all_absences": frozenset(AbsenceKind), "actual": frozenset()}


def _instalment(
    ctx: SchemeContext, cfg: NaoConfig, award: Award, n: int, schedule: list[Instalment]
) -> Drafts:
    """The drafts of instalment `n` of `award`: each person's amount now, each explanation as the core records it
    (`Drafts`), from the numbers kept (`_Numbers`): not 200 000 explanations held at once."""
    ref = award.reference_period
    pay_month = schedule[n].date.replace(day=1)
    full_hours = ctx.params.value("legal_monthly_hours", ref.end)
    weights = scale_weights([i.share for i in schedule])  # the same for everyone: once
    due, dsn, month = sc.due_date(pay_month), sc.dsn(cfg.dsn_code), pay_month.isoformat()[:7]
    shared = Explanation(  # what every beneficiary of the instalment shares: stored once
        inputs={
            "award": award.id,
            "instalment": n + 1,
            "instalments": [str(i.share) for i in schedule],
            "payroll_month": month,
        },
        parameters={"legal_monthly_hours": str(full_hours)},
        rules=["N-1", "N-2", "N-4", *(["D-2"] if award.percent_of_gross is not None else [])],
    )
    last = f"instalment {n + 1} of {len(schedule)}: "
    key = f"{award.id}|{n + 1}"

    def draft(emp_id: str, numbers: _Numbers, parts: list[int]) -> EntitlementDraft:
        detail = _detail(award, numbers)
        steps = detail.pop("steps")
        amount = parts[n]
        expl = Explanation(
            inputs={**detail, "total_cents": numbers.amount, "instalment_cents": parts},
            steps=[*steps, last + format_euros(amount)],
            shared=shared,
        )
        return EntitlementDraft(emp_id, ref, amount, expl, due_date=due, key=key, dsn=dsn)

    items = []
    for emp in ctx.population(ref).employees:
        numbers = _award_numbers(award, emp, ref, cfg, full_hours)
        if numbers is None or numbers.amount <= 0:
            continue
        parts = allocate(numbers.amount, weights)
        if parts[n] <= 0:
            continue
        items.append((emp.id, numbers, parts))
    return Drafts(draft, items)


@frozen
class _Numbers:
    """One person's award in numbers; `_detail` gives its explanation."""

    amount: int  # the award for the whole reference period, pro rata of presence
    presence: sc.Presence
    gross: int
    used: int
    reconstituted: list[dict[str, Any]]
    years: int
    bracket: Decimal
    coefficient: Decimal
    ratio: Decimal
    full: int


def _excluded(award: Award, emp: EmployeeRecord, p: sc.Presence) -> str | None:
    if (
        award.present_on is not None
        and not any(  # under contract that day; a protected absence still counts (N-4)
            c.start <= award.present_on and (c.end is None or c.end >= award.present_on)
            for c in emp.contracts
        )
    ):
        return f"not under contract on {award.present_on}"
    if p.present_days < award.min_presence_days:
        return f"presence {p.present_days} days below {award.min_presence_days}"
    return None


def _award_numbers(
    award: Award,
    emp: EmployeeRecord,
    ref: Period,
    cfg: NaoConfig,
    full_hours: Decimal,
) -> _Numbers | None:
    """The award of `emp` in numbers (None: excluded, N-4)."""
    p = sc.presence(emp, ref, cfg.absences)
    if _excluded(award, emp, p) is not None:
        return None
    gross, used = 0, 0
    reconstituted: list[dict[str, Any]] = []
    if award.percent_of_gross is not None:
        kinds = GROSS_KINDS[award.gross_basis]
        gross, used, reconstituted = sc.bonus_gross(emp, ref, kinds, award.gross_basis == "all_absences")
    base = Decimal(award.flat_cents)
    if award.percent_of_gross is not None:
        base += award.percent_of_gross * used
    years = _seniority_years(emp, award.present_on or ref.end)
    bracket = Decimal(0)
    for from_years, euros in award.seniority:
        if years >= from_years:
            bracket = euros * 100
    if award.seniority:
        base += bracket
    coef = award.categories.get(emp.category, Decimal(1))
    ratio = _working_time(emp, ref, full_hours) if award.part_time == "prorate" else Decimal(1)
    full = int((base * coef * ratio).to_integral_value(ROUND_DOWN))
    amount = sc.prorate(full, p)
    return _Numbers(amount, p, gross, used, reconstituted, years, bracket, coef, ratio, full)


def _detail(award: Award, x: _Numbers) -> dict[str, Any]:
    """The explanation's inputs of an award, and its steps (under "steps")."""
    steps = [f"flat {format_euros(award.flat_cents)}"]
    if award.percent_of_gross is not None:
        how = (
            f" ({len(x.reconstituted)} month(s) at the salary the employee would have earned, "
            f"gross_basis = {award.gross_basis}, D-2)"
            if x.reconstituted
            else ""
        )
        steps.append(f"+ {award.percent_of_gross} x gross {format_euros(x.used)}{how}")
    if award.seniority:
        steps.append(f"+ seniority {x.years} years: {format_euros(int(x.bracket))}")
    steps.append(f"x category coefficient {x.coefficient} x working time {x.ratio} = {format_euros(x.full)}")
    p = x.presence
    steps.append(f"pro rata of presence {p.present_days}/{p.period_days} days: {format_euros(x.amount)}")
    return {
        "gross_cents": x.gross,
        **(
            {
                "gross_used_cents": x.used,
                "gross_basis": award.gross_basis,
                "reconstituted_months": x.reconstituted,
            }
            if award.percent_of_gross is not None
            else {}
        ),
        "seniority_years": x.years,
        "coefficient": str(x.coefficient),
        "working_time": str(x.ratio),
        "full_cents": x.full,
        "presence": p.to_json(),
        "steps": steps,
    }


def _seniority_years(emp: EmployeeRecord, on: date) -> int:
    days = sum(((min(c.end or on, on) - c.start).days + 1) for c in emp.contracts if c.start <= on)
    return days // 365


def _working_time(emp: EmployeeRecord, ref: Period, full_hours: Decimal) -> Decimal:
    lines = list(emp.pay_in(ref))
    if not lines:
        return Decimal(1)
    avg = sum((pl.contract_hours for pl in lines), Decimal(0)) / len(lines)
    return min(Decimal(1), (avg / full_hours).quantize(Decimal("0.0001")))


def recompute(expl: Explanation) -> int:
    i = expl.inputs
    p = i["presence"]
    total = sc.replay_prorate(int(i["full_cents"]), p["contract_days"] - p["absent_days"], p["period_days"])
    parts = allocate(total, scale_weights([Decimal(s) for s in i["instalments"]]))
    return parts[int(i["instalment"]) - 1] - int(i.get("previous_cents", 0))


def descriptor() -> SchemeDescriptor:
    return SchemeDescriptor(
        name=SCHEME,
        version=VERSION,
        label="Prime NAO",
        handlers={"period_closed": on_close, RECOMPUTATION.name: on_recompute},
        recompute=recompute,
        dsn=DsnMapping("S21.G00.52", "028", sc.DSN_CODES["028"]),
        social_regime=SocialRegime.SALARY,
        config_type=NaoConfig,
        description="Flat, % of gross, seniority brackets, category coefficients; 1 to 3 instalments.",
    )
