"""prime_fin_annee: a fixed year-end bonus, pro rata of days under contract in the fiscal year."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen
from paybonus.calendar import Period, fiscal_year, last_day_of_month
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
from paybonus.money import format_euros, parse_euros

VERSION = "1.0.0"


def _euros(value: str) -> int:
    cents = parse_euros(value)
    if cents <= 0:
        raise ValueError("amount must be positive")
    return cents


@frozen
class Config:
    amount: str = field()  # euros for a full year, e.g. "800.00"

    @amount.validator
    def _check(self, attribute: Any, value: str) -> None:
        try:
            _euros(value)
        except ValueError as exc:  # name the field: paybonus prefixes the file and the table
            raise ValueError(f"{attribute.name}: {exc}") from None


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`period_closed`: the close of the fiscal year's last pay period gives everyone their bonus."""
    period: Period = event.payload.period
    month, day = (int(x) for x in ctx.company.fiscal_year_start.split("-"))
    fy = fiscal_year(period.end, month, day)
    if period.end != fy.end:  # only the close of the fiscal year's last pay period triggers it
        return SchemeResult()
    full = _euros(ctx.config.amount)
    drafts = []
    for emp in ctx.population(fy).employees:
        days = emp.employed_days(fy)
        if days == 0:
            continue
        expl = Explanation(
            inputs={"days_under_contract": days, "days_in_year": fy.days},
            parameters={"amount_cents": full},
            steps=[f"{format_euros(full)} x {days} / {fy.days} days, rounded down to the cent"],
            rules=["company policy: prime de fin d'année"],
        )
        drafts.append(
            EntitlementDraft(emp.id, fy, recompute(expl), expl, due_date=last_day_of_month(period.end))
        )
    return SchemeResult(drafts, summary={"beneficiaries": len(drafts)})


def recompute(expl: Explanation) -> int:
    return (
        int(expl.parameters["amount_cents"])
        * int(expl.inputs["days_under_contract"])
        // int(expl.inputs["days_in_year"])
    )


@hookimpl
def paybonus_register_schemes() -> list[SchemeDescriptor]:
    return [
        SchemeDescriptor(
            name="prime_fin_annee",
            version=VERSION,
            label="Prime de fin d'année",
            handlers={"period_closed": on_close},
            recompute=recompute,
            dsn=DsnMapping(
                "S21.G00.52", "027", "prime liée à l'activité avec période de rattachement spécifique"
            ),
            social_regime=SocialRegime.SALARY,
            config_type=Config,
        )
    ]
