"""Small schemes used by the engine's tests (not shipped)."""

from __future__ import annotations

import os
from typing import Any

from attrs import frozen
from paybonus.events import Event
from paybonus.hooks import (
    DsnMapping,
    EntitlementDraft,
    Explanation,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
    hookimpl,
)

CALLS: list[tuple[str, str, int]] = []  # (scheme, event id, population size): proves one call per event


@frozen
class FlatConfig:
    amount_cents: int


def flat_compute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    period = event.payload.period
    pop = ctx.population(period)
    CALLS.append(("flat_bonus", event.id, len(pop.employees)))
    drafts = []
    for emp in pop.employees:
        days = emp.employed_days(period)
        if days:
            expl = Explanation(
                {"days": days, "period_days": period.days},
                {"amount_cents": ctx.config.amount_cents},
                ["amount x days / period days, rounded down"],
                ["test"],
            )
            drafts.append(EntitlementDraft(emp.id, period, flat_recompute(expl), expl, due_date=period.end))
    return SchemeResult(drafts, summary={"beneficiaries": len(drafts)})


def flat_recompute(expl: Explanation) -> int:
    return int(expl.parameters["amount_cents"]) * int(expl.inputs["days"]) // int(expl.inputs["period_days"])


def flaky_compute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """Raises while FLAKY_BROKEN is set (environment or module flag), after producing half its work."""
    CALLS.append(("flaky", event.id, 0))
    if BROKEN["on"] or os.environ.get("FLAKY_BROKEN"):
        raise RuntimeError("flaky is broken today")
    period = event.payload.period
    expl = Explanation({}, {"amount_cents": 100}, ["fixed 1.00"], ["test"])
    return SchemeResult([EntitlementDraft(e.id, period, 100, expl) for e in ctx.population(period).employees])


BROKEN = {"on": True}

DSN = DsnMapping("S21.G00.52", "028", "test")


class FlatPlugin:
    @hookimpl
    def paybonus_register_schemes(self) -> list[SchemeDescriptor]:
        return [
            SchemeDescriptor(
                name="flat_bonus",
                version="1.0",
                label="Flat test bonus",
                handlers={"period_closed": flat_compute},
                recompute=flat_recompute,
                dsn=DSN,
                social_regime=SocialRegime.SALARY,
                config_type=FlatConfig,
            )
        ]


class FlakyPlugin:
    @hookimpl
    def paybonus_register_schemes(self) -> list[SchemeDescriptor]:
        return [
            SchemeDescriptor(
                name="flaky",
                version="1.0",
                label="Flaky test bonus",
                handlers={"period_closed": flaky_compute},
                recompute=lambda e: 100,
                dsn=DSN,
                social_regime=SocialRegime.SALARY,
            )
        ]


class DuplicatePlugin:
    @hookimpl
    def paybonus_register_schemes(self) -> list[SchemeDescriptor]:
        return FlatPlugin().paybonus_register_schemes()


SCHEMES_TOML = "[schemes.flat_bonus]\namount_cents = 10000\n\n[schemes.flaky]\n"
