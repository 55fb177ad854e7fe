"""The intéressement computation for one calculation period (LAW 1.12 order), in one batch for the population.

1. pool from the agreement's formula on the period's figures, never below zero (I-3);
2. global cap: 20 % of the exercise's gross payroll, activité partielle indemnities excluded, less what other
   periods of the exercise already distributed (I-17 to I-20);
3. beneficiaries: seniority over the period and the 12 months before, all contracts added up (I-13, I-14);
4. sub-pools by criterion (I-21, I-22): uniform, presence (assimilated absences and activité partielle count as
   presence, I-25, I-27, I-28), salary (reconstituted salary for those periods, I-26, I-27; floor and ceiling, I-23);
5. individual cap: 75 % of the exercise's PASS, time-weighted for a non-calendar exercise, optionally prorated by
   presence, less what the person already received in the exercise (I-30 to I-34);
6. reliquat redistributed with the same rules when the agreement says so, else left undistributed (I-35, I-36);
7. CSG/CRDS and forfait social for each amount (LAW 0.3, 0.4), and the payment deadline (I-39).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from attrs import frozen
from paybonus.calendar import Period, add_months, end_of_nth_month_after
from paybonus.distribution import distribute, replay
from paybonus.errors import SchemeError
from paybonus.events import RECOMPUTATION, Event, latest
from paybonus.formulas import FormulaError
from paybonus.hooks import (
    EntitlementDraft,
    Explanation,
    Finding,
    RecordedEntitlement,
    SchemeContext,
    SchemeResult,
)
from paybonus.money import format_euros, to_decimal
from paybonus.params import Parameters

from . import advances, heads
from .agreement import Agreement
from .interest import on_payment, recomputation, recompute_interest, recompute_interests
from .shared import (
    DEPRECATED_CAP_KEY,
    as_drafts,
    beneficiaries,
    cap_parameters,
    corrections,
    default_rules,
    excess_findings,
    family_in_exercise,
    full_cap,
    global_room,
    highest_salary,
    pass_average,
    payroll_base,
    received,
    within,
)

SCHEME = "interessement"


@frozen
class Run:
    """Everything one computation needs to know, gathered once."""

    agreement: Agreement
    exercise: Period
    period: Period
    key: str  # identity of the computation: the results event (or supplément decision) it rests on
    pool_source: dict[str, Any]  # how the pool was obtained (formula and figures, or a decided amount)
    pool_raw_cents: int
    recomputation: dict[str, Any] | None = None  # the request, when the period is computed again


def on_results(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`results_published`: compute the calculation period the figures are for, once it is closed too."""
    ag: Agreement = ctx.config
    period = event.payload.period
    ex, calc = ag.period_of(period.start, ctx.company.fiscal_year_start)
    if calc != period:
        return SchemeResult(
            findings=[
                Finding("warning", "I-2", f"results for {period} do not match a calculation period ({calc})")
            ]
        )
    return _compute_period(ctx, ag, ex, calc)


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`period_closed`: the close of a calculation period's last pay period computes it, once results are in."""
    ag: Agreement = ctx.config
    ex, calc = ag.period_of(event.payload.period.end, ctx.company.fiscal_year_start)
    if event.payload.period.end != calc.end:
        return SchemeResult()  # not the last pay period of a calculation period
    return _compute_period(ctx, ag, ex, calc)


def on_supplement(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`supplement_decided`: a supplément d'intéressement distributed with the agreement's rules (LAW 1.11)."""
    return _supplement(event, ctx, ctx.config)


def on_recompute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`recomputation_requested`: the period computed again with the installed rules, and the late interest on
    its payments; differences are recorded as corrections citing the request (nothing is edited)."""
    p = event.payload
    if p.scheme != SCHEME:
        return SchemeResult()
    ag: Agreement = ctx.config
    ex, calc = ag.period_of(p.period.start, ctx.company.fiscal_year_start)
    if calc != p.period:
        return SchemeResult(
            findings=[
                Finding("warning", "I-2", f"recomputation of {p.period}: not a calculation period ({calc})")
            ]
        )
    result = _compute_period(ctx, ag, ex, calc, request=event)
    more, found = recompute_interests(ctx, SCHEME, calc, event, ag.late_interest_tmop)
    return SchemeResult(
        [*result.entitlements, *more],
        [*result.findings, *found],
        {**result.summary, "recomputation": event.id, "interest_corrections": len(more)},
    )


HANDLERS = {
    "results_published": on_results,
    "period_closed": on_close,
    "supplement_decided": on_supplement,
    "payment_recorded": on_payment,  # late-payment interest (I-40)
    advances.GRANTED: advances.on_advance,  # I-41
    RECOMPUTATION.name: on_recompute,
}


def _compute_period(
    ctx: SchemeContext, ag: Agreement, ex: Period, calc: Period, request: Event[Any] | None = None
) -> SchemeResult:
    """The distribution of one calculation period, when both its results and its close are recorded (again,
    for a recomputation request)."""
    window = ctx.params.value("interessement_renegotiation_window_months", calc.start)
    if not ag.in_force(calc, window):  # I-7: renewals by tacit agreement count
        return SchemeResult(summary={"skipped": f"{calc} is outside the agreement"})
    results = latest(ctx.events("results_published", calc))
    closed = [e for e in ctx.events("period_closed") if e.payload.period.end == calc.end]
    if results is None or not closed:
        return SchemeResult(
            summary={"waiting_for": "results" if results is None else "period close", "period": calc.key}
        )
    existing = [
        e for e in ctx.entitlements(scheme=SCHEME, period=calc) if e.period == calc and not _is_supplement(e)
    ]
    if request is None and any(e.explanation.inputs.get("results_event") == results.id for e in existing):
        return SchemeResult(summary={"already_computed_from": results.id})
    figures = dict(results.payload.figures)
    pop = ctx.population(calc)
    figures["payroll"] = to_decimal(pop.payroll_cents())
    try:
        value, trace = ag.parsed.evaluate(figures, _prior(ctx, ag, calc))
    except FormulaError as exc:
        raise SchemeError(f"formula of {calc}: {exc}") from None
    pool_raw = max(
        0, int((value * 100).to_integral_value(ROUND_DOWN))
    )  # I-3: never below zero, never rounded up
    run = Run(
        ag,
        ex,
        calc,
        results.id if request is None else request.id,
        {
            "formula": ag.formula,
            "figures": {k: str(v) for k, v in sorted(figures.items())},
            "trace": trace,
            "value": str(value),
            "results_event": results.id,
        },
        pool_raw,
        recomputation(request),
    )
    return _distribute(ctx, run, existing)


def _supplement(event: Event[Any], ctx: SchemeContext, ag: Agreement) -> SchemeResult:
    """Supplément d'intéressement for a closed exercise, within the caps, with the agreement's rules (LAW 1.11)."""
    ex = event.payload.exercise
    exp, _ = ag.period_of(ex.start, ctx.company.fiscal_year_start)
    if exp != ex:
        raise SchemeError(f"supplément for {ex}: not an exercise of the company (expected {exp})")
    run = Run(
        ag,
        ex,
        ex,
        event.id,
        {"supplement_decision": event.id, "decided_on": event.payload.decided_on.isoformat()},
        event.payload.amount_cents,
    )
    return _distribute(ctx, run, [], supplement=True)


def _distribute(
    ctx: SchemeContext,
    run: Run,
    existing: Sequence[RecordedEntitlement],
    supplement: bool = False,
) -> SchemeResult:
    ag, ex, calc, params = run.agreement, run.exercise, run.period, ctx.params
    findings: list[Finding] = []
    pop = ctx.population(calc)
    earlier = family_in_exercise(ctx, ex, {e.id for e in existing})
    deadline = _deadline(params, ex, calc)

    # 2. global cap (I-17 to I-20): 20 % of the exercise's payroll so far, less what the exercise already gave
    to_date = Period(ex.start, calc.end)
    payroll_ex, payroll_detail = payroll_base(ctx.population(to_date) if to_date != calc else pop, params)
    heads_rule: dict[str, Any] | None = None
    if ag.company_heads:  # L3312-3: their previous year's income is in the base too (I-17, L3314-8)
        heads_rule = _check_heads(ctx, ag, ex, calc, pop, deadline)
        heads_income, _ = heads.income_in_base(ag.company_heads, ex, to_date)
        payroll_ex += heads_income
        payroll_detail = {**payroll_detail, "heads_income_cents": heads_income}
    g_rate = params.get("interessement_global_cap_rate", ex.end)
    global_cap = int((Decimal(payroll_ex) * g_rate.value).to_integral_value(ROUND_DOWN))

    def cap_at(day: date) -> int:  # the cap to the end of a period computed after this one (I-17)
        upto = Period(ex.start, day)
        base, _ = payroll_base(ctx.population(upto), params)
        if ag.company_heads:
            base += heads.income_in_base(ag.company_heads, ex, upto)[0]
        return int((Decimal(base) * g_rate.value).to_integral_value(ROUND_DOWN))

    room, later_room, already_total, later_total = global_room(earlier, calc.end, global_cap, cap_at)
    pool = min(run.pool_raw_cents, room)

    # 3-5. beneficiaries, weights, individual caps
    people, facts = beneficiaries(ctx, ag, ex, calc, pop, earlier)
    if ag.company_heads:  # I-24, D-11
        more, more_facts = heads.people(
            ag.company_heads,
            ex,
            calc,
            ag.seniority_months,
            highest_salary(ag, pop, calc),
            full_cap(params, ex),
            received(earlier),
            params.value("legal_monthly_hours", calc.end),
            ag.part_time == "prorate",
        )
        people += more
        facts.update(more_facts)
    redistribute = ag.reliquat == "redistribute"

    last: dict[int, Any] = {}  # the latest probe's distribution: the result when the whole pool fits

    def given(amount: int) -> int:
        last.clear()
        r = last[amount] = distribute(amount, ag.subpools(), people, redistribute=redistribute)
        return amount - r.undistributed

    pool = within(pool, later_room, given)  # I-17: periods computed after this one took their room
    if pool < run.pool_raw_cents:
        findings.append(Finding("info", "I-17", "the global cap (20 % of gross payroll) reduced the pool"))
    result = last.get(pool) or distribute(pool, ag.subpools(), people, redistribute=redistribute)
    if result.undistributed:
        rule = "I-35" if ag.reliquat == "redistribute" else "I-36"
        findings.append(
            Finding("info", rule, "part of the pool was not distributed (caps or no beneficiary)")
        )

    parameters = cap_parameters(ctx, ex)
    if heads_rule is not None:
        parameters = {**parameters, "company_heads_headcount_rule": heads_rule}
    common_steps = _pool_steps(run, pool, global_cap, payroll_ex, already_total, result)
    rules = [
        "I-1",
        "I-3",
        "I-13",
        "I-14",
        "I-17",
        "I-18",
        "I-19",
        "I-21",
        "I-22",
        "I-25",
        "I-26",
        "I-27",
        "I-30",
        "I-32",
        "I-33",
        "I-34",
        "I-35" if ag.reliquat == "redistribute" else "I-36",
        "I-39",
        "0.3",
        "0.4",
        *default_rules(ag, facts, payroll_detail),
        *(["I-16", "I-24", "D-11"] if ag.company_heads else []),
    ]
    findings += excess_findings(result.shares, facts)
    if ag.prorate_cap_by_presence is not None:
        findings.append(Finding("info", "I-33", DEPRECATED_CAP_KEY))
    common: dict[str, Any] = {
        ("supplement_decision" if supplement else "results_event"): run.pool_source.get(
            "results_event", run.key
        ),
        "pool_cents": pool,
    }
    if run.recomputation is not None:
        common["recomputation"] = run.recomputation
    term = ag.term_of(calc, params.value("interessement_renegotiation_window_months", calc.start))
    if term:  # a period under a tacit renewal of the agreement (I-7)
        common["renewal_term"] = term
    drafts: Sequence[EntitlementDraft] = as_drafts(
        ctx,
        ex,
        result.shares,
        facts,
        existing,
        calc,
        deadline,
        run.key,
        common,
        parameters,
        common_steps,
        rules,
    )
    drafts, advance_findings = advances.annotate(ctx, drafts, existing)  # I-41, D3313-9 3° bis and 3° ter
    findings += advance_findings
    summary = {
        "period": calc.key,
        "exercise": ex.key,
        **run.pool_source,
        "pool_raw_cents": run.pool_raw_cents,
        "payroll_cents": payroll_ex,
        "payroll_base": payroll_detail,
        "global_cap_cents": global_cap,
        "already_in_exercise_cents": already_total,
        **({"later_in_exercise_cents": later_total} if later_total else {}),
        "pool_cents": pool,
        "subpools": result.subpools,
        "distributed_cents": pool - result.undistributed,
        "undistributed_cents": result.undistributed,
        "reliquat_rounds": result.rounds,
        "beneficiaries": sum(1 for s in result.shares if s.amount),
        "capped": sum(1 for s in result.shares if s.capped),
        "corrections": corrections(drafts),
    }
    return SchemeResult(drafts, findings, summary)


def _check_heads(
    ctx: SchemeContext, ag: Agreement, ex: Period, calc: Period, pop: Any, deadline: date
) -> dict[str, Any]:
    """L3312-3 and L3314-6 conditions of the agreement's company heads (SchemeError otherwise)."""
    employees = [e for e in pop.employees if e.employed_days(calc)]
    clash = sorted({h.id for h in ag.company_heads} & {e.id for e in pop.employees})
    if clash:
        raise SchemeError(f"company_heads: {clash[0]} is also an employee id; give the head another id")
    rule = heads.eligible(ctx, ag.company_heads, len(employees), deadline)
    heads.spouse_limit(ctx, ag.company_heads, pass_average(ctx.params, ex), ex.end)
    return rule


def recompute(expl: Explanation) -> int:
    """The amount from a stored explanation: the person's share replayed, less what was recorded before."""
    if "segments" in expl.inputs:
        return recompute_interest(expl)
    if "advance_cents" in expl.inputs:
        return advances.recompute_advance(expl)
    return replay(expl.inputs["rounds"], expl.inputs["cap_room_cents"]) - int(
        expl.inputs.get("previous_cents", 0)
    )


def _deadline(params: Parameters, ex: Period, calc: Period) -> date:
    """Last day to pay without late interest (I-39)."""
    if calc == ex:
        return end_of_nth_month_after(ex.end, params.value("interessement_deadline_months_exercise", ex.end))
    return end_of_nth_month_after(
        calc.end, params.value("interessement_deadline_months_infra_annual", calc.end)
    )


def _pool_steps(run: Run, pool: int, global_cap: int, payroll: int, already: int, result: Any) -> list[str]:
    src = run.pool_source
    if "formula" in src:
        first = f"pool = {src['formula']} = {src['value']} euros -> {format_euros(run.pool_raw_cents)} (not below 0, I-3)"
    else:
        first = f"supplément decided: {format_euros(run.pool_raw_cents)} (L3314-10)"
    return [
        first,
        f"global cap: 20 % of payroll {format_euros(payroll)} = {format_euros(global_cap)}, "
        f"less {format_euros(already)} already given in the exercise -> pool {format_euros(pool)} (I-17)",
        "sub-pools: " + ", ".join(f"{c} {format_euros(a)}" for c, a in result.subpools),
    ]


def _prior(ctx: SchemeContext, ag: Agreement, calc: Period) -> Any:
    def prior(name: str, n: int) -> Decimal:
        start = add_months(calc.start, -n * ag.period_months)
        p = Period(start, date.fromordinal(add_months(start, ag.period_months).toordinal() - 1))
        found = latest(ctx.events("results_published", p))
        if found is None or name not in found.payload.figures:
            raise FormulaError(
                f"prior({name}{'' if n == 1 else f', {n}'}) needs the results of {p}, not published"
            )
        return found.payload.figures[name]

    return prior


def _is_supplement(e: RecordedEntitlement) -> bool:
    return "supplement_decision" in e.explanation.inputs
