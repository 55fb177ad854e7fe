"""Late-payment interest on intéressement (LAW I-39, I-40, 0.5).

Sums paid after the deadline bear interest at 1.33 times the TMOP, from the day after the deadline to the
payment date. Day count: actual days / 365, each day at the TMOP of its half-year (a negative TMOP counts as
zero, as the Trésor recommends); simple interest on the amount paid late, rounded half-up to the cent once.
A half-year whose TMOP is unknown stops the computation with a clear error (add the value with --params, then
`paybonus retry`). The interest is an entitlement of kind `interest` referencing its principal.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from paybonus.errors import SchemeError
from paybonus.events import Event
from paybonus.hooks import EntitlementDraft, Explanation, Kind, SchemeContext, SchemeResult
from paybonus.money import format_euros


def on_payment(event: Event[Any], ctx: SchemeContext, scheme: str = "interessement") -> SchemeResult:
    """Interest on a payment of one of `scheme`'s entitlements made after its deadline."""
    p = event.payload
    target = next((e for e in ctx.entitlements(scheme=scheme) if e.id == p.entitlement), None)
    if (
        target is None
        or target.kind is Kind.INTEREST
        or target.due_date is None
        or p.paid_on <= target.due_date
    ):
        return SchemeResult()
    start, end = target.due_date + timedelta(days=1), p.paid_on
    try:
        segments = ctx.params.segments("tmop", start, end)
    except LookupError as exc:
        raise SchemeError(f"late interest for {target.id}: {exc}") from None
    multiplier = ctx.params.get("late_interest_multiplier", end)
    rows = [
        {
            "from": a.isoformat(),
            "to": b.isoformat(),
            "days": (b - a).days + 1,
            "tmop": str(v.value),
            "source": v.source,
        }
        for a, b, v in segments
    ]
    expl = Explanation(
        inputs={
            "principal": target.id,
            "paid_cents": p.amount_cents,
            "due_date": target.due_date.isoformat(),
            "paid_on": p.paid_on.isoformat(),
            "payment_event": event.id,
            "segments": rows,
        },
        parameters={"multiplier": multiplier.cite(), "day_count": "actual/365, negative TMOP counted as 0"},
        steps=[
            f"{format_euros(p.amount_cents)} paid {(end - start).days + 1} days after the deadline "
            f"{target.due_date}: x {multiplier.value} x TMOP x days / 365, per half-year"
        ],
        rules=["I-39", "I-40", "0.5"],
    )
    amount = recompute_interest(expl)
    if amount <= 0:
        return SchemeResult(summary={"late_days": (end - start).days + 1, "interest_cents": 0})
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
        summary={"late_days": (end - start).days + 1},
    )


def recompute_interest(expl: Explanation) -> int:
    i = expl.inputs
    multiplier = Decimal(expl.parameters["multiplier"]["value"])
    total = sum(
        (
            Decimal(i["paid_cents"]) * multiplier * max(Decimal(0), Decimal(s["tmop"])) * s["days"] / 365
            for s in i["segments"]
        ),
        Decimal(0),
    )
    return int(total.to_integral_value(ROUND_HALF_UP))
