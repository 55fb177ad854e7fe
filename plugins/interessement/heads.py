"""Company heads, officers and their spouses as beneficiaries of intéressement (LAW I-16, I-17, I-24).

In a company of at least 1 and fewer than 250 employees, the agreement may extend intéressement to the chairman,
managing directors, managers and members of the board, and to the spouse or PACS partner who is a conjoint
collaborateur or associé (L3312-3). Their remuneration or taxed professional income of the previous year is added
to the 20 % base (L3314-8); for the salary criterion it counts within the highest salary paid in the company, and
the agreement may give a spouse a base of at most a quarter of the PASS (L3314-6). Presence is the time in office
and the individual cap is prorated by it, as for a partial year (docs/rules.md D-11).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from attrs import Factory, field, frozen
from paybonus.calendar import Period, add_months, seniority_months
from paybonus.distribution import Criterion, Person
from paybonus.errors import SchemeError
from paybonus.hooks import SchemeContext
from paybonus.money import format_euros, parse_euros

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@frozen
class CompanyHead:
    """A company head, officer or spouse the agreement names as a beneficiary (L3312-3)."""

    id: str  # the beneficiary's id in paybonus (never an employee's id)
    role: Literal["head", "officer", "spouse"]
    in_office_from: date
    in_office_until: date | None = None
    # remuneration (or taxed professional income) of calendar years, euros: {"2024" = "100000.00"}
    income: dict[str, str] = Factory(dict)
    spouse_base: str | None = None  # spouse only: the agreement's base, euros, at most 25 % of the PASS
    income_cents: dict[int, int] = field(init=False, eq=False)
    spouse_base_cents: int | None = field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"id: {self.id!r} must be 1-64 letters, digits or ._-")
        if self.in_office_until is not None and self.in_office_until < self.in_office_from:
            raise ValueError(f"{self.id}: in_office_until is before in_office_from")
        cents: dict[int, int] = {}
        for year, euros in self.income.items():
            if not re.fullmatch(r"(19|20)[0-9]{2}", year):
                raise ValueError(f"{self.id}: income: {year!r} is not a calendar year")
            try:
                cents[int(year)] = parse_euros(euros)
            except ValueError as exc:
                raise ValueError(f"{self.id}: income.{year}: {exc}") from None
        object.__setattr__(self, "income_cents", cents)
        base = None
        if self.spouse_base is not None:
            if self.role != "spouse":
                raise ValueError(f"{self.id}: spouse_base only applies to a spouse (L3314-6)")
            try:
                base = parse_euros(self.spouse_base)
            except ValueError as exc:
                raise ValueError(f"{self.id}: spouse_base: {exc}") from None
        object.__setattr__(self, "spouse_base_cents", base)

    def office(self) -> Period:
        return Period(self.in_office_from, self.in_office_until or date.max)

    def days_in_office(self, period: Period) -> int:
        return period.overlap_days(self.office())


def check_heads(heads: Sequence[CompanyHead]) -> None:
    """At load: ids once each."""
    ids = [h.id for h in heads]
    if len(set(ids)) != len(ids):
        raise ValueError("company_heads: each id appears once")


def eligible(
    ctx: SchemeContext, heads: Sequence[CompanyHead], employees: int, deadline: date
) -> dict[str, Any]:
    """Refuse (SchemeError) what L3312-3 does not allow: 250 employees or more (L130-1 CSS, I-16), a company with
    no employee, a spouse's base above a quarter of the PASS (L3314-6). Returns the headcount rule applied."""
    params = ctx.params
    threshold = params.value("interessement_heads_max_headcount", deadline)
    try:
        years = params.value("headcount_threshold_years", deadline)
        reached, rule = ctx.company.headcount_reached(threshold, deadline.year, years)
    except LookupError as exc:
        raise SchemeError(f"company heads (I-16): {exc}") from None
    if reached is None:
        raise SchemeError(
            "company heads (I-16): the headcount is unknown: give company.average_headcounts (L3312-3: fewer than "
            f"{threshold} employees)"
        )
    if reached:
        raise SchemeError(
            f"company heads (I-16): they benefit only in a company of fewer than {threshold} employees (L3312-3); "
            "the company reached it (L130-1 CSS)"
        )
    if employees == 0:
        raise SchemeError("company heads (I-16): the company has no employee in the period (L3312-3)")
    return rule


def spouse_limit(ctx: SchemeContext, heads: Sequence[CompanyHead], pass_cents: Decimal, on: date) -> int:
    rate = ctx.params.value("interessement_spouse_base_pass_rate", on)
    limit = int((pass_cents * rate).to_integral_value(ROUND_DOWN))
    for h in heads:
        if h.role == "spouse" and h.spouse_base_cents is None and not h.income_cents:
            raise SchemeError(f"company_heads: {h.id}: a spouse needs spouse_base or income (L3314-6)")
        if h.spouse_base_cents is not None and h.spouse_base_cents > limit:
            raise SchemeError(
                f"company_heads: {h.id}: spouse_base {format_euros(h.spouse_base_cents)} is above a quarter of "
                f"the PASS ({format_euros(limit)}, L3314-6, I-24)"
            )
    return limit


def previous_income(h: CompanyHead, ex: Period) -> int | None:
    """The income of the calendar year before the exercise starts (L3314-6, L3314-8: the previous year)."""
    return h.income_cents.get(ex.start.year - 1)


def income_in_base(heads: Sequence[CompanyHead], ex: Period, upto: Period) -> tuple[int, dict[str, int]]:
    """What the heads add to the 20 % base over `upto` (the exercise so far): their previous year's income, by
    their days in office in it over the exercise's days (I-17, L3314-8)."""
    out: dict[str, int] = {}
    for h in heads:
        income = previous_income(h, ex)
        if income:
            out[h.id] = income * h.days_in_office(upto) // ex.days
    return sum(out.values()), out


def people(
    heads: Sequence[CompanyHead],
    ex: Period,
    calc: Period,
    seniority_required: int,
    highest_salary: int,
    cap_full: int,
    got: Mapping[str, int],
    full_hours: Decimal,
    part_time_prorate: bool,
) -> tuple[list[Person], dict[str, dict[str, Any]]]:
    """Each head's weights and cap room over `calc` (I-24, D-11): presence is the days in office, the salary the
    previous year's income (or a spouse's base) for those days, at most the highest salary paid in the period."""
    out: list[Person] = []
    facts: dict[str, dict[str, Any]] = {}
    window = Period(add_months(calc.start, -12), calc.end)
    for h in heads:
        days = h.days_in_office(calc)
        if days == 0:
            continue
        span = window.overlap(h.office())
        months, left = seniority_months([span] if span else [])
        if months < seniority_required:  # I-13, by time in office (D-11)
            continue
        base, source = (
            (h.spouse_base_cents, "spouse_base")
            if h.spouse_base_cents is not None
            else (
                previous_income(h, ex) or 0,
                f"income {ex.start.year - 1}",
            )
        )
        salary = base * days // ex.days
        used = min(salary, highest_salary)  # L3314-6: within the highest salary paid in the company
        weights = {
            Criterion.UNIFORM: 10_000 if part_time_prorate else 1,
            Criterion.PRESENCE: int(days * full_hours * 100) if part_time_prorate else days,
            Criterion.SALARY: used,
        }
        cap = cap_full * h.days_in_office(ex) // ex.days if h.days_in_office(ex) < ex.days else cap_full
        room = max(0, cap - got.get(h.id, 0))
        out.append(Person(h.id, weights, room))
        facts[h.id] = {
            "beneficiary": {
                "type": h.role,
                "in_office": [h.in_office_from.isoformat(), _iso(h.in_office_until)],
            },
            "employed_days": days,
            "seniority": {
                "months": months,
                "days": left,
                "required_months": seniority_required,
                "office": True,
            },
            "presence_days": days,
            "salary_base": source,
            "salary_cents": salary,
            "salary_used_cents": used,
            "highest_salary_cents": highest_salary,
            "weights": {str(k): v for k, v in weights.items()},
            "individual_cap_cents": cap,
            "cap_proration": "days",
            "already_in_exercise_cents": got.get(h.id, 0),
        }
    return out, facts


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
