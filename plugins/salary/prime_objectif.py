"""Built-in scheme `prime_objectif`: bonuses on individual or collective objectives (LAW section 4, O-1 to O-7).

Objective plans live in the company's `[schemes.prime_objectif]` table; achieved figures come with an
`objective_results` event. Each plan has a formula in the agreement formula language (tiers on the whole figure
with `step`, marginal tiers with `brackets`, achievement between floor and target, weighted objectives,
cumulative conditions) and a maximum variable amount. Objectives communicated after the period began (O-2), not in
French (O-3), or whose figures are missing (O-4) make the maximum amount due, with a warning.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from attrs import Factory, field, frozen
from paybonus.calendar import Period
from paybonus.events import RECOMPUTATION, Event, EventType, latest
from paybonus.formulas import Formula, FormulaError
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
from paybonus.money import allocate, format_euros, parse_euros

from . import mechanism as sc

# the period of a day, asked for each single-employee event (of each closed period, for PMT evidence): a pure
# function of its arguments, found once
period_of = functools.lru_cache(maxsize=4096)(sc.bonus_period)

# 1.2.0: figures recorded after the normal pay are paid with the pay that follows them (D-8); 1.1.0: grace
# period, contractual objectives, proration modes, leavers' due date (O-2, O-5)
VERSION = "1.2.0"
SCHEME = "prime_objectif"


@frozen
class Plan:
    """One objective plan: who, what formula, the maximum variable amount, how it was communicated."""

    id: str
    members: list[str]
    formula: str
    max_amount: (
        str  # euros per period for full presence: the cap, and what is due when objectives fail O-2..O-4
    )
    communicated_on: date | None = None
    language: str = "fr"
    scope: Literal["individual", "collective"] = "individual"
    figures: list[str] = Factory(list)
    # O-2: objectives set by the employer (unilateral) or agreed with the employee (contractual); communicated in
    # time when within the first `communication_grace_days` of the period (default: its first twelfth, D-5); late
    # contractual objectives: the last agreed formula applies (the judge's method, D-6), or the maximum
    nature: Literal["unilateral", "contractual"] = "unilateral"
    communication_grace_days: int | None = None
    contractual_fallback: Literal["last_agreed_formula", "max"] = "last_agreed_formula"
    # O-5, O-6: how partial presence reduces the bonus (D-7): the amount, the thresholds of the cumulative
    # figures (annualised), or not at all (the figures already cover the presence only)
    presence_proration: Literal["amount", "thresholds", "none"] = "amount"
    cumulative_figures: list[str] = Factory(list)
    parsed: Formula = field(init=False)
    max_cents: int = field(init=False)
    member_set: frozenset[str] = field(init=False, eq=False, repr=False)  # `in` per event, not a list scan

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "member_set", frozenset(self.members))
        try:
            object.__setattr__(self, "max_cents", parse_euros(self.max_amount))
        except ValueError as exc:
            raise ValueError(f"max_amount: {exc}") from None
        if self.max_cents <= 0:
            raise ValueError("max_amount: must be positive")
        if not self.members:
            raise ValueError(f"members: plan {self.id!r} has no members")
        try:
            object.__setattr__(self, "parsed", Formula.parse(self.formula, set(self.figures)))
        except FormulaError as exc:
            raise ValueError(f"formula: {exc} (declare the plan's figures in `figures`)") from None
        if self.communication_grace_days is not None and self.communication_grace_days < 0:
            raise ValueError("communication_grace_days: 0 or more days")
        unknown = sorted(set(self.cumulative_figures) - set(self.figures))
        if unknown:
            raise ValueError(f"cumulative_figures: {unknown[0]!r} is not one of the plan's figures")
        if self.presence_proration == "thresholds":
            if not self.cumulative_figures:
                raise ValueError(
                    "cumulative_figures: presence_proration = thresholds needs the figures that accumulate over "
                    'the period (e.g. ["ca"]) (D-7)'
                )
            if self.scope != "individual":
                raise ValueError("presence_proration: thresholds applies to individual plans (D-7)")
        elif self.cumulative_figures:
            raise ValueError("cumulative_figures: only used with presence_proration = thresholds (D-7)")

    def grace_days(self, period: Period) -> int:
        """Days from the period's start within which objectives count as communicated in time (O-2, D-5)."""
        if self.communication_grace_days is not None:
            return self.communication_grace_days
        return -(-period.days // 12)  # the first twelfth of the period, rounded up


@frozen(kw_only=True)
class ObjectiveConfig(sc.SalarySettings):
    plans: list[Plan]

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        ids = [p.id for p in self.plans]
        if len(set(ids)) != len(ids):
            raise ValueError("plans: each plan id appears once")
        shortest = SHORTEST_PERIOD_DAYS[self.frequency]
        for p in self.plans:
            if p.communication_grace_days is not None and p.communication_grace_days > shortest // 4:
                raise ValueError(
                    f"plans: plan {p.id!r}: communication_grace_days {p.communication_grace_days} is more than a "
                    f"quarter of {PERIOD_NAMES[self.frequency]} ({shortest // 4} days): objectives must be known "
                    "at the start of the period (O-2)"
                )


@frozen
class ObjectiveResults:
    """Achieved figures of a plan for a period: collective figures and, per employee, individual ones."""

    plan: str
    period: Period
    figures: dict[str, Decimal] = Factory(dict)
    employees: dict[str, dict[str, Decimal]] = Factory(dict)


SHORTEST_PERIOD_DAYS = {"monthly": 28, "quarterly": 90, "annual": 365}
PERIOD_NAMES = {"monthly": "a month", "quarterly": "a quarter", "annual": "an annual period"}
Todo = list[tuple[Plan, Period, Event[Any] | None, str | None]]  # plan, period, results, only this employee


def on_results(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`objective_results`: the plan's figures for a period give its bonuses."""
    cfg: ObjectiveConfig = ctx.config
    plan = _plan(cfg, event.payload.plan)
    period = sc.bonus_period(event.payload.period.start, cfg.frequency, ctx.company.fiscal_year_start)
    if period != event.payload.period:
        raise ValueError(
            f"objective_results for {event.payload.period}: the plan's periods are {cfg.frequency} ({period})"
        )
    return _run(ctx, cfg, [(plan, period, _latest_results(ctx, plan.id, period), None)], [], occurred=event)


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`period_closed`: unenforceable objectives make the maximum due, no figures needed (O-2, O-3)."""
    cfg: ObjectiveConfig = ctx.config
    period = sc.bonus_period(event.payload.period.end, cfg.frequency, ctx.company.fiscal_year_start)
    todo: Todo = []
    if period.end == event.payload.period.end:
        todo = [(plan, period, None, None) for plan in cfg.plans if _unenforceable(plan, period)]
    return _run(ctx, cfg, todo, [], occurred=event)


def on_leaver(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`employee_left`: a leaver's bonus for the period, once its figures are known (O-5)."""
    cfg: ObjectiveConfig = ctx.config
    emp, left = event.payload.employee, event.payload.left_on
    period = period_of(left, cfg.frequency, ctx.company.fiscal_year_start)
    todo: Todo = []
    findings: list[Finding] = []
    for plan in cfg.plans:
        if emp in plan.member_set:
            results = _latest_results(ctx, plan.id, period)
            if results is not None or _unenforceable(plan, period):
                todo.append((plan, period, results, emp))
            else:
                findings.append(
                    Finding(
                        "info", "O-5", f"plan {plan.id}: leaver's bonus waits for the period's figures", emp
                    )
                )
    return _run(ctx, cfg, todo, findings, occurred=event)


def on_recompute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`recomputation_requested`: every plan's bonuses of the period computed again with the installed rules,
    once its figures are known (or, objectives unenforceable, once the period is closed); differences are
    corrections citing the request."""
    p = event.payload
    if p.scheme != SCHEME:
        return SchemeResult()
    cfg: ObjectiveConfig = ctx.config
    period = sc.bonus_period(p.period.start, cfg.frequency, ctx.company.fiscal_year_start)
    if period != p.period:
        return SchemeResult(
            findings=[
                Finding("warning", "O-1", f"recomputation of {p.period}: the plans' periods are {period}")
            ]
        )
    closed = any(e.payload.period.end == period.end for e in ctx.events("period_closed"))
    todo: Todo = []
    for plan in cfg.plans:
        results = _latest_results(ctx, plan.id, period)
        if results is not None or (closed and _unenforceable(plan, period)):
            todo.append((plan, period, results, None))
    return _run(ctx, cfg, todo, [], event, occurred=event)


HANDLERS = {
    "objective_results": on_results,
    "period_closed": on_close,
    "employee_left": on_leaver,
    RECOMPUTATION.name: on_recompute,
}


def _run(
    ctx: SchemeContext,
    cfg: ObjectiveConfig,
    todo: Todo,
    findings: list[Finding],
    request: Event[Any] | None = None,
    occurred: Event[Any] | None = None,
) -> SchemeResult:
    findings = sc.payment_date_warning(cfg, SCHEME) + findings
    drafts: list[EntitlementDraft] = []
    for plan, period, results, only in todo:
        d, f = _plan_drafts(ctx, cfg, plan, period, results, only, request, occurred)
        drafts += d
        findings += f
    return SchemeResult(
        drafts, findings, {"plans": len({t[0].id for t in todo}), "entitlements": len(drafts)}
    )


def _plan_drafts(
    ctx: SchemeContext,
    cfg: ObjectiveConfig,
    plan: Plan,
    period: Period,
    results: Event[Any] | None,
    only: str | None,
    request: Event[Any] | None = None,
    occurred: Event[Any] | None = None,
) -> tuple[list[EntitlementDraft], list[Finding]]:
    findings: list[Finding] = []
    reasons = _max_reasons(plan, period)
    timing = _timeliness(plan, period)
    if timing["late"] and "O-2" not in reasons:  # contractual objectives not agreed in time (D-6)
        findings.append(Finding("warning", "O-2", LATE_CONTRACTUAL.format(plan=plan.id)))
    employees = ctx.population(period).employees
    if only is None or plan.scope == "collective":  # a collective pool is shared among every member present
        pop = {e.id: e for e in employees}
        members = [m for m in plan.members if m in pop]
    else:  # one leaver's event of an individual plan needs one record, not a dict of the whole population
        pop = {e.id: e for e in employees if e.id == only}
        members = [m for m in plan.members if m in pop]
    figures = dict(results.payload.figures) if results else {}
    per_emp = results.payload.employees if results else {}
    # the full-period amount of each member, before presence proration
    full: dict[str, tuple[int, dict[str, Any]]] = {}
    if plan.scope == "collective":
        pool, detail = _evaluate(ctx, plan, period, figures, reasons, findings, None)
        if detail.get("max_due"):
            for m in members:
                full[m] = (plan.max_cents, detail)
        else:
            shares = allocate(pool, [1] * len(members))  # shared equally among the members (seed: 5 people)
            for m, s in zip(members, shares, strict=True):
                full[m] = (
                    min(s, plan.max_cents),
                    {**detail, "pool_cents": pool, "members": len(members), "share_cents": s},
                )
    else:
        for m in members if only is None else [m for m in members if m == only]:
            own = {**figures, **per_emp.get(m, {})}
            annualised: dict[str, str] = {}
            if plan.presence_proration == "thresholds":  # D-7: thresholds prorated = figures annualised
                p = sc.presence(pop[m], period, cfg.absences)
                own, annualised = _annualise(plan, own, p)
            amount, detail = _evaluate(ctx, plan, period, own, reasons, findings, m)
            if annualised:
                detail = {**detail, "annualised_figures": annualised}
            full[m] = (min(amount, plan.max_cents), detail)
    drafts = []
    existing = sc.recorded_by_employee(
        ctx, SCHEME, period, lambda e: e.explanation.inputs.get("plan") == plan.id, employee=only
    )
    # what every member's explanation shares, built once per plan (the JSON is the same)
    parameters = {"absence_policy": cfg.absences, "frequency": cfg.frequency}
    capped_at = f"capped at the maximum variable amount {format_euros(plan.max_cents)}: "
    figures_on = results.occurred_at.date() if results else None
    figures_recorded_on = figures_on.isoformat() if figures_on else None
    results_id = results.id if results else None
    recomputed = {"recomputation": sc.recomputation(request)} if request is not None else {}
    asked_in = request.occurred_at.date().replace(day=1) if request is not None else None
    # a correction is recovered (or paid) by the payroll of the month its event occurred in, as `paybonus export`
    # places it: a leaver recorded, or figures restated, after the pay is never due in a month already closed
    event_in = occurred.occurred_at.date().replace(day=1) if occurred is not None else None
    base_rules = [
        "O-1",
        "O-2",
        "O-5",
        "O-6",
        "O-7",
        "D-5",
        *(["D-6"] if plan.nature == "contractual" else []),
        *(["D-7"] if plan.presence_proration != "amount" else []),
    ]
    detail_rules: dict[int, list[str]] = {}  # id of a detail (members share them) -> its rules but O-2
    due: dict[date, date] = {}
    dsn = sc.dsn(cfg.dsn_code)
    for m in members:
        if only is not None and m != only:
            continue
        emp = pop[m]
        p = sc.presence(emp, period, cfg.absences)
        full_cents, detail = full[m]
        # O-5, O-6, O-7: pro rata of presence, neutral absences excluded; not again when the figures already
        # cover the presence only (presence_proration = none, D-7) — the maximum amount always is
        prorated = plan.presence_proration != "none" or bool(detail.get("max_due"))
        amount = sc.prorate(full_cents, p) if prorated else full_cents
        left = sc.left_in(emp, period)
        pay_month = sc.payroll_month(period, cfg.pay_lag_months, left, figures_on)  # O-5, D-8
        if (
            asked_in is not None
        ):  # what a recomputation changes is paid by the payroll of its month, not before
            pay_month = max(pay_month, asked_in)
        before = existing.get(m, (0, None))
        if before[1] is not None and event_in is not None:  # a correction: not before its event's month
            pay_month = max(pay_month, event_in)
        delta = amount - before[0]
        if delta == 0:
            continue
        extra = detail_rules.get(id(detail))
        if extra is None:
            extra = detail_rules[id(detail)] = sorted(set(detail.get("rules", [])) - {"O-2"})
        expl = Explanation(
            inputs={
                "plan": plan.id,
                "period": period.key,
                **{k: v for k, v in detail.items() if k not in ("steps", "rules")},
                "full_cents": full_cents,
                "max_cents": plan.max_cents,
                "presence": p.to_json(),
                "presence_proration": plan.presence_proration,
                "prorated": prorated,
                "objectives": timing,
                "left_on": left.isoformat() if left else None,
                "figures_recorded_on": figures_recorded_on,
                "payroll_month": pay_month.isoformat()[:7],
                "previous_cents": before[0],
                "results_event": results_id,
                **recomputed,
            },
            parameters=parameters,
            steps=[
                *detail.get("steps", []),
                capped_at + format_euros(full_cents),
                f"pro rata of presence {p.present_days}/{p.period_days} days (neutral absences count as present): "
                f"{format_euros(amount)}"
                if prorated
                else f"not prorated again: the figures cover the presence only (presence_proration = none, D-7): "
                f"{format_euros(amount)}",
            ],
            rules=[*base_rules, *(["D-8"] if left else []), *extra],
        )
        kind = Kind.CORRECTION if before[1] else Kind.PRINCIPAL
        due_date = due.get(pay_month)
        if due_date is None:
            due_date = due[pay_month] = sc.due_date(pay_month)
        drafts.append(
            EntitlementDraft(
                m,
                period,
                delta,
                expl,
                kind=kind,
                due_date=due_date,
                corrects=before[1],
                key=f"{plan.id}|{results_id or 'max'}|{m}"
                + (f"|{request.id}" if request is not None else ""),
                dsn=dsn,
            )
        )
    return drafts, findings


def _evaluate(
    ctx: SchemeContext,
    plan: Plan,
    period: Period,
    figures: dict[str, Decimal],
    reasons: list[str],
    findings: list[Finding],
    emp: str | None,
) -> tuple[int, dict[str, Any]]:
    """The plan's formula on the figures, or the maximum when the objectives cannot be enforced (O-2..O-4)."""
    missing = sorted(n for n in plan.parsed.names if n not in figures)
    rules = list(reasons)
    if missing and not reasons:
        rules.append("O-4")
        findings.append(
            Finding(
                "warning",
                "O-4",
                f"plan {plan.id}: figure {missing[0]} is missing: the maximum amount is due",
                emp,
            )
        )
    elif reasons:
        for r in reasons:
            findings.append(
                Finding("warning", r, f"plan {plan.id}: objectives {_why(r)}: the maximum amount is due", emp)
            )
    if rules:
        return plan.max_cents, {
            "max_due": True,
            "rules": rules,
            "steps": [f"maximum variable amount due ({', '.join(rules)})"],
        }
    try:
        value, trace = plan.parsed.evaluate(figures, _prior(ctx, plan, period, emp))
    except FormulaError as exc:
        findings.append(Finding("warning", "O-4", f"plan {plan.id}: {exc}: the maximum amount is due", emp))
        return plan.max_cents, {
            "max_due": True,
            "rules": ["O-4"],
            "steps": [f"figures not verifiable ({exc})"],
        }
    cents = max(0, int((value * 100).to_integral_value(ROUND_DOWN)))
    used = {n: str(figures[n]) for n in sorted(plan.parsed.names)}
    return cents, {
        "formula": plan.formula,
        "figures": used,
        "value": str(value),
        "rules": [],
        "steps": [f"{plan.formula} = {value} euros", *trace],
    }


def _timeliness(plan: Plan, period: Period) -> dict[str, Any]:
    """Whether the objectives were communicated at the start of the period (O-2): within its first
    `grace` days (D-5)."""
    grace = plan.grace_days(period)
    last = period.start + timedelta(days=max(grace, 1) - 1)
    late = plan.communicated_on is None or plan.communicated_on > last
    return {
        "nature": plan.nature,
        "communicated_on": plan.communicated_on.isoformat() if plan.communicated_on else None,
        "grace_days": grace,
        "last_timely_day": last.isoformat(),
        "late": late,
        "fallback": (
            "maximum"
            if plan.nature == "unilateral" or plan.contractual_fallback == "max"
            else "last_agreed_formula"
        )
        if late
        else None,
    }


def _max_reasons(plan: Plan, period: Period) -> list[str]:
    reasons = []
    timing = _timeliness(plan, period)
    if timing["late"] and timing["fallback"] == "maximum":
        reasons.append("O-2")  # not notified at the start of the period: the maximum is due
    if plan.language.lower() != "fr":
        reasons.append("O-3")  # not in French (L1321-6)
    return reasons


def _annualise(
    plan: Plan, figures: dict[str, Decimal], p: sc.Presence
) -> tuple[dict[str, Decimal], dict[str, str]]:
    """The cumulative figures scaled to a full period (x period days / present days): comparing them with the
    plan's thresholds is comparing the actual figures with thresholds prorated by presence (D-7)."""
    if p.present_days <= 0 or p.present_days >= p.period_days:
        return figures, {}
    out = dict(figures)
    shown = {}
    for name in plan.cumulative_figures:
        if name in figures:
            out[name] = figures[name] * p.period_days / p.present_days
            shown[name] = str(out[name])
    return out, shown


LATE_CONTRACTUAL = (
    "plan {plan}: contractual objectives were not agreed at the start of the period: the last agreed formula is "
    "applied, as a judge would fix the amount (Cass. soc. 4 Dec. 2013 n° 12-25.330, D-6)"
)


def _why(rule: str) -> str:
    return {"O-2": "were communicated after the period began", "O-3": "were not written in French"}.get(
        rule, rule
    )


def _unenforceable(plan: Plan, period: Period) -> bool:
    return bool(_max_reasons(plan, period))


def _plan(cfg: ObjectiveConfig, plan_id: str) -> Plan:
    for p in cfg.plans:
        if p.id == plan_id:
            return p
    raise ValueError(f"objective_results for unknown plan {plan_id!r}")


def _latest_results(ctx: SchemeContext, plan: str, period: Period) -> Event[Any] | None:
    found = [e for e in ctx.events("objective_results", period) if e.payload.plan == plan]
    return latest(found)


def _prior(ctx: SchemeContext, plan: Plan, period: Period, emp: str | None) -> Any:
    """prior(figure, n): the plan's figure for the n-th period before, for this member (or collective)."""

    def prior(name: str, n: int) -> Decimal:
        before = period
        for _ in range(n):
            before = sc.bonus_period(
                before.start - timedelta(days=1), ctx.config.frequency, ctx.company.fiscal_year_start
            )
        found = _latest_results(ctx, plan.id, before)
        figs = {**found.payload.figures, **found.payload.employees.get(emp or "", {})} if found else {}
        if name not in figs:
            raise FormulaError(f"prior({name}) needs the plan's figures for {before}")
        return figs[name]

    return prior


def recompute(expl: Explanation) -> int:
    i = expl.inputs
    p = i["presence"]
    if not i.get("prorated", True):  # presence_proration = none (D-7)
        return int(i["full_cents"]) - int(i["previous_cents"])
    return sc.replay_prorate(
        int(i["full_cents"]), p["contract_days"] - p["absent_days"], p["period_days"]
    ) - int(i["previous_cents"])


def check_results(event: Event[Any], ledger: Any) -> None:
    """At publication: the company runs the plan, every employee is one of its members, every figure is one the
    plan declares (an undeclared or mistyped name would otherwise be dropped at compute time, and the bonus
    computed without it) and the period is one of the plan's."""
    configuration = ledger.configuration(event.company)
    schemes = configuration.get("schemes", {})
    plans = {p.get("id"): p for p in schemes.get(SCHEME, {}).get("plans", []) if isinstance(p, dict)}
    r = event.payload
    plan = plans.get(r.plan)
    if plan is None:
        known = ", ".join(sorted(str(k) for k in plans)) or "none"
        raise ValueError(f"payload.plan: the company has no objective plan {r.plan!r} (its plans: {known})")
    declared = set(plan.get("figures", []))
    for name in r.figures:
        if name not in declared:
            raise ValueError(
                f"payload.figures.{name}: not a figure of plan {r.plan!r} (its figures: {sorted(declared)})"
            )
    members = set(plan.get("members", []))
    for emp, figures in r.employees.items():
        # a mistyped id: its figures would be dropped and the member it meant paid the maximum (O-4)
        if emp not in members:
            raise ValueError(f"payload.employees.{emp}: not a member of plan {r.plan!r}")
        for name in figures:
            if name not in declared:
                raise ValueError(
                    f"payload.employees.{emp}.{name}: not a figure of plan {r.plan!r} (its figures: {sorted(declared)})"
                )
    # results for another period than one of the plan's would only fail at compute time, a dead letter for good
    frequency = schemes.get(SCHEME, {}).get("frequency", "annual")
    fiscal_year_start = configuration.get("company", {}).get("fiscal_year_start", "01-01")
    expected = sc.bonus_period(r.period.start, frequency, fiscal_year_start)
    if r.period != expected:
        raise ValueError(
            f"payload.period: {r.period} is not a period of plan {r.plan!r}: its periods are {frequency} "
            f"(e.g. {expected})"
        )


def event_types() -> list[EventType]:
    return [
        EventType(
            "objective_results",
            ObjectiveResults,
            "achieved figures of an objective plan for a period",
            check=check_results,
        )
    ]


def descriptor() -> SchemeDescriptor:
    return SchemeDescriptor(
        name=SCHEME,
        version=VERSION,
        label="Prime sur objectif",
        handlers=HANDLERS,
        per_employee=frozenset({"employee_left"}),  # on_leaver reads and awards the leaver only
        reads_own_entitlements_only=True,  # its own rights only: computed beside the other schemes
        recompute=recompute,
        dsn=DsnMapping("S21.G00.52", "027", sc.DSN_CODES["027"]),
        social_regime=SocialRegime.SALARY,
        config_type=ObjectiveConfig,
        description="Individual or collective objectives; maximum amount when objectives fail O-2 to O-4.",
    )
