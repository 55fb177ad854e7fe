"""A company's part of a project: its entity's pool, capped with classic intéressement, distributed by its criteria.

For each participation of the company in the project (one entity each), once the statement is recorded and the
pay month in which the entity's part of the period ends is closed:

1. the entity's pool is the statement's (the project formula, split by the agreement's key, checked again);
2. company global cap: classic + project intéressement of the exercise at most 20 % of the company's gross payroll
   from the exercise start to the period end (P-4, I-20), less what the exercise already gave;
3. beneficiaries: the entity's staff over the entity's window, seniority, weights by the company's own criteria;
4. individual cap: classic + project of the same exercise at most 75 % of the PASS (P-4, I-34), less what the
   person already received in the exercise, whichever scheme gave it;
5. reliquat redistributed or kept as the company's participation says (I-35, I-36).

The amount of a project period counts in the company exercise in which the period ends (LAW P-3 [U]). Each cap
takes what is already recorded: the first computation recorded keeps its amount and the later one gets the
room left, whichever scheme it is; a correction of either only ever uses that room, so the combined caps hold
whatever the order (docs/interessement-projet.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from paybonus.calendar import Period, end_of_nth_month_after, fiscal_year
from paybonus.distribution import distribute, replay
from paybonus.errors import SchemeError
from paybonus.events import RECOMPUTATION, Event, latest
from paybonus.hooks import (
    EntitlementDraft,
    Explanation,
    Finding,
    SchemeContext,
    SchemeResult,
)
from paybonus.money import format_euros
from paybonus.params import Parameters
from paybonus.payroll import Population

from ..interest import on_payment, recomputation, recompute_interest, recompute_interests
from ..shared import (
    as_drafts,
    beneficiaries,
    cap_parameters,
    corrections,
    default_rules,
    excess_findings,
    family_in_exercise,
    global_room,
    payroll_base,
    within,
)
from .agreement import Participation, ProjectSettings
from .statement import Statement, verify

SCHEME = "interessement_projet"
EVENT = "project_results_published"
RULES = [
    "P-1",
    "P-3",
    "P-4",
    "P-5",
    "I-3",
    "I-13",
    "I-14",
    "I-20",
    "I-21",
    "I-22",
    "I-25",
    "I-26",
    "I-30",
    "I-33",
    "I-34",
]


def on_project_results(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """The coordinator's statement for a project period: distribute the company's entity parts."""
    return _compute(ctx, [(event.payload.project, event.payload.period)], None)


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """A pay period closed: the project periods it lies in that were waiting for their window's close."""
    settings: ProjectSettings = ctx.config
    end = event.payload.period.end
    todo = sorted(
        {
            (e.payload.project, e.payload.period)
            for e in ctx.events(EVENT)
            if e.payload.period.contains(end) and settings.of(e.payload.project)  # windows lie within
        }
    )
    return _compute(ctx, todo, end)


def on_project_payment(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """Late-payment interest on a project amount (I-40)."""
    return on_payment(event, ctx, SCHEME)


def on_recompute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`recomputation_requested`: the company's parts of the project periods equal to the requested period,
    computed again, and their late interest; differences are recorded as corrections citing the request."""
    p = event.payload
    if p.scheme != SCHEME:
        return SchemeResult()
    settings: ProjectSettings = ctx.config
    todo = sorted(
        {
            (e.payload.project, e.payload.period)
            for e in ctx.events(EVENT)
            if e.payload.period == p.period and settings.of(e.payload.project)
        }
    )
    result = _compute(ctx, todo, None, event)
    more, found = recompute_interests(ctx, SCHEME, p.period, event, settings.late_interest_tmop)
    return SchemeResult(
        [*result.entitlements, *more],
        [*result.findings, *found],
        {**result.summary, "recomputation": event.id, "interest_corrections": len(more)},
    )


HANDLERS = {
    EVENT: on_project_results,
    "period_closed": on_close,
    "payment_recorded": on_project_payment,
    RECOMPUTATION.name: on_recompute,
}


def _compute(
    ctx: SchemeContext,
    todo: list[tuple[str, Period]],
    closed_on: date | None,
    request: Event[Any] | None = None,
) -> SchemeResult:
    """The company's entity parts of each (project, period); `closed_on`: the end of the pay period whose close
    triggered it (an entity computes only at the close of its window's last month)."""
    settings: ProjectSettings = ctx.config
    drafts: list[EntitlementDraft] = []
    findings: list[Finding] = []
    parts: list[dict[str, Any]] = []
    for project, period in todo:
        participations = settings.of(project)
        if not participations:
            parts.append({"project": project, "skipped": "the company takes no part in this project"})
            continue
        found = latest([e for e in ctx.events(EVENT, period) if e.payload.project == project])
        assert found is not None  # the triggering event itself, or one the filter above found
        statement = _statement(found, ctx.params)
        for p in sorted(participations, key=lambda x: x.entity):
            d, f, s = _entity(ctx, statement, found.id, p, drafts, closed_on, request)
            drafts.extend(d)
            findings.extend(f)
            if s:
                parts.append(s)
    return SchemeResult(drafts, findings, {"parts": parts})


def _statement(found: Event[Any], params: Parameters) -> Statement:
    try:
        return verify(found.payload.statement, params)
    except ValueError as exc:  # checked when published: only a changed parameter set can bring this here
        raise SchemeError(f"statement {found.id}: {exc}") from None


def _entity(
    ctx: SchemeContext,
    st: Statement,
    statement_event: str,
    p: Participation,
    pending: Sequence[EntitlementDraft],
    closed_on: date | None,
    request: Event[Any] | None = None,
) -> tuple[Sequence[EntitlementDraft], list[Finding], dict[str, Any] | None]:
    part = st.part(p.entity)
    entity = st.agreement.entity(p.entity)
    if part is None or entity is None:
        raise SchemeError(
            f"entity {p.entity} is not in the statement of project {st.project} for {st.period}"
        )
    if part.company != ctx.company.id:
        raise SchemeError(
            f"entity {p.entity} of project {st.project} belongs to {part.company}, not to this company"
        )
    head = {"project": st.project, "period": st.period.key, "entity": p.entity}
    window = part.window
    if window is None:
        return [], [], {**head, "skipped": "the entity takes no part in this period"}
    if closed_on is not None and closed_on != window.end:
        return [], [], None  # another month: nothing to do for this entity
    if not any(e.payload.period.end == window.end for e in ctx.events("period_closed")):
        return [], [], {**head, "waiting_for": f"the close of the pay period ending {window.end}"}
    existing = [
        e
        for e in ctx.entitlements(scheme=SCHEME, period=st.period)
        if e.period == st.period
        and e.explanation.inputs.get("project") == st.project
        and e.explanation.inputs.get("entity") == p.entity
    ]
    if request is None and any(
        e.explanation.inputs.get("statement_event") == statement_event for e in existing
    ):
        return [], [], {**head, "already_computed_from": statement_event}

    params = ctx.params
    month, day = (int(x) for x in ctx.company.fiscal_year_start.split("-"))
    ex = fiscal_year(st.period.end, month, day)  # the exercise the project period ends in (P-3 [U])
    # what the exercise already gave: recorded, and drafted earlier in this dispatch (another entity or period)
    earlier: list[Any] = [
        *family_in_exercise(ctx, ex, {e.id for e in existing}),
        *(d for d in pending if ex.contains(d.period.end)),
    ]

    # 2. company global cap, classic + project (P-4, I-20)
    payroll, payroll_detail = payroll_base(ctx.population(Period(ex.start, st.period.end)), params)
    rate = params.get("interessement_global_cap_rate", ex.end)
    global_cap = int((Decimal(payroll) * rate.value).to_integral_value(ROUND_DOWN))

    def cap_at(day: date) -> int:  # the cap to the end of a period computed after this one (I-17, I-20)
        base, _ = payroll_base(ctx.population(Period(ex.start, day)), params)
        return int((Decimal(base) * rate.value).to_integral_value(ROUND_DOWN))

    room, later_room, already, later = global_room(earlier, st.period.end, global_cap, cap_at)
    pool = min(part.pool_cents, room)
    findings = []

    # 3-5. the entity's staff, the company's own criteria, combined individual caps
    everyone = ctx.population(window)
    members = Population(everyone.company, window, tuple(e for e in everyone.employees if entity.includes(e)))
    people, facts = beneficiaries(ctx, p, ex, window, members, earlier)
    redistribute = p.reliquat == "redistribute"

    last: dict[int, Any] = {}  # the latest probe's distribution: the result when the whole pool fits

    def given(amount: int) -> int:
        last.clear()
        r = last[amount] = distribute(amount, p.subpools(), people, redistribute=redistribute)
        return amount - r.undistributed

    pool = within(pool, later_room, given)  # I-17, I-20: periods computed after this one took their room
    if pool < part.pool_cents:
        findings.append(
            Finding(
                "info",
                "I-20",
                "the company's 20 % cap, classic and project combined, reduced the entity's pool",
            )
        )

    result = last.get(pool) or distribute(pool, p.subpools(), people, redistribute=redistribute)
    if any(s.capped for s in result.shares):
        findings.append(Finding("info", "I-34", "the individual cap, classic and project combined, bound"))
    if result.undistributed:
        rule = "I-35" if p.reliquat == "redistribute" else "I-36"
        findings.append(Finding("info", rule, "part of the entity's pool was not distributed"))
    findings += excess_findings(result.shares, facts)

    deadline = _deadline(params, st.period)
    parameters = cap_parameters(ctx, ex)
    data = st.data
    total_weight = sum(x.weight for x in st.parts)
    steps = [
        f"project pool = {data['formula']} = {data['value']} euros -> {format_euros(data['pool_cents'])} (I-3)",
        f"split by {data['split']}: entity {p.entity} weight {part.weight} of {total_weight} "
        f"-> {format_euros(part.pool_cents)} (statement {st.hash[:12]})",
        f"company cap: 20 % of payroll {format_euros(payroll)} = {format_euros(global_cap)}, less "
        f"{format_euros(already)} already given in the exercise {ex} -> pool {format_euros(pool)} (I-20)",
        "sub-pools: " + ", ".join(f"{c} {format_euros(a)}" for c, a in result.subpools),
    ]
    rules = [*RULES, "I-35" if p.reliquat == "redistribute" else "I-36", "I-39", "0.3", "0.4"]
    rules += default_rules(p, facts, payroll_detail)
    common = {
        "project": st.project,
        "entity": p.entity,
        "statement_event": statement_event,
        "statement_hash": st.hash,
        "agreement_digest": data["agreement_digest"],
        "agreement_version": data["agreement_version"],
        "window": window.key,
        "exercise": ex.key,
        "entity_pool_cents": part.pool_cents,
        "pool_cents": pool,
    }
    if request is not None:
        common["recomputation"] = recomputation(request)
    key = f"{statement_event if request is None else request.id}#{p.entity}"
    drafts = as_drafts(
        ctx, ex, result.shares, facts, existing, st.period, deadline, key, common, parameters, steps, rules
    )
    summary = {
        **head,
        "statement": st.hash,
        "exercise": ex.key,
        "entity_pool_cents": part.pool_cents,
        "payroll_cents": payroll,
        "payroll_base": payroll_detail,
        "global_cap_cents": global_cap,
        "already_in_exercise_cents": already,
        **({"later_in_exercise_cents": later} if later else {}),
        "pool_cents": pool,
        "distributed_cents": pool - result.undistributed,
        "undistributed_cents": result.undistributed + part.pool_cents - pool,
        "beneficiaries": sum(1 for s in result.shares if s.amount),
        "capped": sum(1 for s in result.shares if s.capped),
        "corrections": corrections(drafts),
    }
    return drafts, findings, summary


def recompute(expl: Explanation) -> int:
    """The amount from a stored explanation: the person's share replayed, less what was recorded before."""
    if "segments" in expl.inputs:
        return recompute_interest(expl)
    return replay(expl.inputs["rounds"], expl.inputs["cap_room_cents"]) - int(
        expl.inputs.get("previous_cents", 0)
    )


def _deadline(params: Parameters, period: Period) -> date:
    """I-39 by P-5: a project period of 12 months or more is paid like an exercise, a shorter one within 2 months."""
    months = period.whole_months() or 0
    name = (
        "interessement_deadline_months_exercise"
        if months >= 12
        else "interessement_deadline_months_infra_annual"
    )
    return end_of_nth_month_after(period.end, params.value(name, period.end))
