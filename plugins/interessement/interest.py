"""Late-payment interest on intéressement (LAW I-39, I-40, 0.5; docs/rules.md D-1).

Sums paid after the deadline bear interest at 1.33 times the TMOP, from the day after the deadline to the
payment date: simple interest on the amount paid late, actual days / 365, a negative TMOP counted as zero (the
Trésor's guidance), rounded half-up to the cent once. The interest is an entitlement of kind `interest`
referencing its principal.

Which TMOP (the agreement's `late_interest_tmop`):
- `published` (default, LAW I-40): interest is paid with the principal, so every late day bears the TMOP in force
  on the payment date, that is the last one whose notice had appeared in the JO (a value is in force from the day
  after its notice). The semester whose notice was due before the payment must be known: a missing one stops the
  computation with an error naming it (add it with --params, then `paybonus retry`), never an older value
  carried forward silently;
- `per_semester`: each late day at the TMOP of its own half-year (known only once that half-year's notice is out).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from paybonus.calendar import (
    Period,
    end_of_nth_month_after,
    next_semester,
    previous_semester,
    semester_of,
    semester_period,
)
from paybonus.errors import SchemeError
from paybonus.events import Event
from paybonus.hooks import (
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    RecordedEntitlement,
    SchemeContext,
    SchemeResult,
)
from paybonus.money import format_euros
from paybonus.params import Parameters, ParamValue


def on_payment(event: Event[Any], ctx: SchemeContext, scheme: str = "interessement") -> SchemeResult:
    """Interest on a payment of one of `scheme`'s entitlements made after its deadline."""
    p = event.payload
    target = next((e for e in ctx.entitlements(scheme=scheme) if e.id == p.entitlement), None)
    if target is None or target.due_date is None or not _late(target, p.paid_on):
        return SchemeResult()
    convention = getattr(ctx.config, "late_interest_tmop", "published")
    amount, expl, findings = interest(
        ctx.params, target.id, target.due_date, p.paid_on, p.amount_cents, event.id, convention
    )
    late_days = (p.paid_on - target.due_date).days
    if amount <= 0:
        return SchemeResult(findings=findings, summary={"late_days": late_days, "interest_cents": 0})
    return SchemeResult(
        [
            EntitlementDraft(
                target.employee,
                target.period,
                amount,
                expl,
                kind=Kind.INTEREST,
                due_date=p.paid_on,
                corrects=target.id,
                key=event.id,
            )
        ],
        findings,
        summary={"late_days": late_days},
    )


def _late(target: RecordedEntitlement | None, paid_on: date) -> bool:
    """A payment after the deadline of an amount that bears interest (not interest itself, nor an advance:
    the deadline is the period's, I-39)."""
    return (
        target is not None
        and target.kind not in (Kind.INTEREST, Kind.ADVANCE)
        and target.due_date is not None
        and paid_on > target.due_date
    )


def recomputation(request: Event[Any] | None) -> dict[str, Any] | None:
    """What a correction recorded on request says about it (explanation input `recomputation`)."""
    if request is None:
        return None
    return {
        "request": request.id,
        "reason": request.payload.reason,
        "requested_at": request.occurred_at.isoformat(),
    }


def recompute_interests(
    ctx: SchemeContext, scheme: str, period: Period, request: Event[Any], convention: str
) -> tuple[list[EntitlementDraft], list[Finding]]:
    """The late interest of every late payment of the period's amounts, computed again: the difference with what
    was recorded for each payment is an interest entitlement citing the request (I-40, D-1)."""
    ents = {e.id: e for e in ctx.entitlements(scheme=scheme, period=period) if e.period == period}
    recorded: dict[tuple[str, str], int] = {}
    for e in ents.values():
        if e.kind is Kind.INTEREST and e.corrects:
            k = (e.corrects, str(e.explanation.inputs.get("payment_event")))
            recorded[k] = recorded.get(k, 0) + e.amount_cents
    drafts, findings = [], []
    for pay in ctx.events("payment_recorded"):
        p = pay.payload
        target = ents.get(p.entitlement)
        if target is None or not _late(target, p.paid_on):
            continue
        assert target.due_date is not None
        amount, expl, found = interest(
            ctx.params, target.id, target.due_date, p.paid_on, p.amount_cents, pay.id, convention
        )
        before = recorded.get((target.id, pay.id), 0)
        if amount == before:
            continue
        findings += found
        expl = Explanation(
            {**expl.inputs, "previous_cents": before, "recomputation": recomputation(request)},
            expl.parameters,
            [*expl.steps, f"recorded before for this payment: {format_euros(before)}"],
            expl.rules,
        )
        drafts.append(
            EntitlementDraft(
                target.employee,
                target.period,
                amount - before,
                expl,
                kind=Kind.INTEREST,
                due_date=p.paid_on,
                corrects=target.id,
                key=f"{request.id}|{pay.id}",
            )
        )
    return drafts, findings


def interest(
    params: Parameters,
    principal: str,
    due: date,
    paid_on: date,
    paid_cents: int,
    payment_event: str,
    convention: str,
) -> tuple[int, Explanation, list[Finding]]:
    """The interest on `paid_cents` paid on `paid_on` for a deadline `due`, its explanation and warnings."""
    start, end = due + timedelta(days=1), paid_on
    where = f"late interest for {principal}"
    if convention == "per_semester":
        rows, findings = _per_semester(params, start, end, where)
        how = "each day at the TMOP of its own half-year (late_interest_tmop = per_semester)"
    else:
        rows, findings = _published(params, start, end, where)
        s = rows[0]
        notice = f"avis JO {s['jo']}" if s["jo"] else f"JO date estimated, in force from {s['in_force_from']}"
        how = f"TMOP in force on {paid_on}: {s['semester']} ({notice}) (late_interest_tmop = published, I-40)"
    multiplier = params.get("late_interest_multiplier", end)
    days = (end - start).days + 1
    expl = Explanation(
        inputs={
            "principal": principal,
            "paid_cents": paid_cents,
            "due_date": due.isoformat(),
            "paid_on": paid_on.isoformat(),
            "payment_event": payment_event,
            "segments": rows,
        },
        parameters={
            "multiplier": multiplier.cite(),
            "day_count": "actual/365, negative TMOP counted as 0",
            "tmop_convention": convention,
        },
        steps=[
            f"{format_euros(paid_cents)} paid {days} days after the deadline {due}: "
            f"x {multiplier.value} x TMOP x days / 365",
            how,
        ],
        rules=["I-39", "I-40", "0.5", "D-1"],
    )
    return recompute_interest(expl), expl, findings


def _row(a: date, b: date, v: ParamValue) -> dict[str, Any]:
    return {
        "from": a.isoformat(),
        "to": b.isoformat(),
        "days": (b - a).days + 1,
        "tmop": str(v.value),
        "semester": v.semester,
        "jo": v.jo.isoformat() if v.jo else None,
        "in_force_from": v.valid_from.isoformat(),
        "estimated": v.estimated,
        "source": v.source + (f" ({v.ref})" if v.ref else ""),
    }


def _published(
    params: Parameters, start: date, end: date, where: str
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """One segment: every late day at the TMOP in force on the payment date (`end`)."""
    window = params.value("tmop_publication_window_months", end)
    required = semester_of(end)  # the latest semester whose notice was due before the payment
    while end_of_nth_month_after(semester_period(required).end, window) >= end:
        required = previous_semester(required)
    if params.of_semester("tmop", required) is None:
        due = end_of_nth_month_after(semester_period(required).end, window)
        raise SchemeError(
            f"{where}: the TMOP of {required} is unknown (its JO notice is due by {due}, before the payment of "
            f'{end}): add {{ semester = "{required}", jo = YYYY-MM-DD, from = <the day after jo>, value = "0.NNNN" '
            '} to a [tmop] table (unit = "rate", source = "avis au JO ...") in a parameters file and run '
            "`paybonus --params FILE retry` (docs/after-computation.md)"
        )
    try:
        v = params.get("tmop", end)
    except LookupError as exc:  # a payment before the first known TMOP
        raise SchemeError(f"{where}: {exc}") from None
    findings = []
    if v.estimated:
        findings.append(
            Finding(
                "warning",
                "I-40",
                f"the TMOP used ({v.semester}) has an estimated JO date ({v.valid_from}); check the avis on "
                "Légifrance and, if it differs, give its jo with --params and request a recomputation",
            )
        )
    nxt = next_semester(v.semester or semester_of(v.valid_from))
    known = params.of_semester("tmop", nxt)
    if semester_period(nxt).end < end and (known is None or known.estimated):
        findings.append(
            Finding(
                "warning",
                "I-40",
                f"the TMOP notice of {nxt} may have appeared before {end}: if so, add it with its jo date "
                "(--params) and request a recomputation",
            )
        )
    return [_row(start, end, v)], findings


def _per_semester(
    params: Parameters, start: date, end: date, where: str
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """One segment per half-year, each at that half-year's TMOP."""
    rows, missing = [], []
    day = start
    while day <= end:
        sem = semester_of(day)
        stop = min(end, semester_period(sem).end)
        v = params.of_semester("tmop", sem)
        if v is None:
            missing.append(sem)
        else:
            rows.append(_row(day, stop, v))
        day = stop + timedelta(days=1)
    if missing:
        raise SchemeError(
            f"{where}: the TMOP of {', '.join(missing)} is unknown (late_interest_tmop = per_semester needs "
            'each late day\'s half-year): add { semester = "YYYY-SN", jo = YYYY-MM-DD, from = <the day after '
            'jo>, value = "0.NNNN" } rows to a [tmop] table in a parameters file and run '
            "`paybonus --params FILE retry` (docs/after-computation.md)"
        )
    return rows, []


def recompute_interest(expl: Explanation) -> int:
    """The interest from a stored explanation (less what was recorded before, for a recomputation)."""
    i = expl.inputs
    multiplier = Decimal(expl.parameters["multiplier"]["value"])
    total = sum(
        (
            Decimal(i["paid_cents"]) * multiplier * max(Decimal(0), Decimal(s["tmop"])) * s["days"] / 365
            for s in i["segments"]
        ),
        Decimal(0),
    )
    return int(total.to_integral_value(ROUND_HALF_UP)) - int(i.get("previous_cents", 0))
