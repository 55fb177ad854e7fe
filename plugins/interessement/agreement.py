"""The intéressement agreement, as written in a company's `[schemes.interessement]` table (LAW section 1).

Validated when the company is loaded: a formula naming an unknown figure, a period that is not a whole number
of months of at least 3, a seniority condition over 3 months or sub-pools that do not add up to 100 % are refused
there, with the field named, never discovered at payment time.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from attrs import Factory, field, frozen
from paybonus.calendar import Period, add_months, fiscal_year
from paybonus.distribution import Criterion
from paybonus.formulas import Formula, FormulaError

from .heads import CompanyHead, check_heads

# figures a results_published event may carry without being declared (euros, or counts for effectif)
STANDARD_FIGURES = (
    "rcai",  # résultat courant avant impôt
    "chiffre_affaires",
    "marge_brute",
    "resultat_exploitation",
    "resultat_net",
    "valeur_ajoutee",
    "ebe",  # excédent brut d'exploitation
    "effectif",
    "frais_personnel",
    "capitaux_propres",
    "rsp",  # réserve spéciale de participation (LAW)
)
COMPUTED_FIGURES = ("payroll",)  # gross salaries of the calculation period, all staff (I-18, I-19)
MAX_SENIORITY_MONTHS = 3  # I-13; also a dated parameter, checked against it at compute time
MIN_PERIOD_MONTHS = 3  # I-2


def _whole_months(start: date, end: date) -> int | None:
    """The number of months from `start` to `end` when it is whole (1 January-31 December: 12), else None."""
    after = end + timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    return months if months > 0 and add_months(start, months) == after else None


def check_cap_keys(c: Any) -> None:
    """`cap_proration` and its former name `prorate_cap_by_presence` are not both given."""
    if c.cap_proration is not None and c.prorate_cap_by_presence is not None:
        raise ValueError(
            "prorate_cap_by_presence: it is the former name of cap_proration; keep cap_proration only (I-33)"
        )


def cap_rule(c: Any) -> str:
    """How the individual cap is prorated for a partial year (I-33, D-4): the key, its former name, or 'days'."""
    if c.cap_proration is not None:
        return str(c.cap_proration)
    if c.prorate_cap_by_presence is not None:
        return "days" if c.prorate_cap_by_presence else "none"
    return "days"


@frozen
class SubPool:
    """One criterion's part of the pool (I-21, I-22); a salary floor and ceiling apply to the salary criterion (I-23)."""

    criterion: Literal["uniform", "presence", "salary"]
    share: Decimal
    salary_floor: Decimal | None = None
    salary_ceiling: Decimal | None = None
    # caisse de congés payés indemnities count as salary (default: yes, docs/rules.md D-13)
    salary_includes_cp_caisse: bool | None = None

    def __attrs_post_init__(self) -> None:
        if not Decimal(0) < self.share <= Decimal(1):
            raise ValueError(f"share: {self.share} must be above 0 and at most 1 (e.g. 0.30 for 30 %)")
        if (self.salary_floor is not None or self.salary_ceiling is not None) and self.criterion != "salary":
            raise ValueError("salary_floor and salary_ceiling only apply to the salary criterion (I-23)")
        if self.salary_includes_cp_caisse is not None and self.criterion != "salary":
            raise ValueError("salary_includes_cp_caisse only applies to the salary criterion (D-13)")
        if (
            self.salary_floor is not None
            and self.salary_ceiling is not None
            and self.salary_floor > self.salary_ceiling
        ):
            raise ValueError("salary_floor is above salary_ceiling")


@frozen
class Ratification:
    """The staff's vote on the employer's draft (L3312-5: ratified by two thirds of the staff, I-7)."""

    votes_for: int
    staff: int

    def __attrs_post_init__(self) -> None:
        if self.staff <= 0 or not 0 <= self.votes_for <= self.staff:
            raise ValueError("ratification: 0 <= votes_for <= staff, staff above 0")


@frozen
class HistoryYear:
    """Figures of an earlier exercise, for the aléa check of `paybonus lint` (I-1, I-3)."""

    period: Period
    figures: dict[str, Decimal]


@frozen
class Agreement:
    formula: str
    distribution: list[SubPool]
    starts_on: date
    period_months: int = 12
    ends_on: date | None = None
    signed_on: date | None = None
    deposited_on: date | None = None
    figures: list[str] = Factory(list)
    seniority_months: int = 0
    # contracts with other companies of the group count for seniority (docs/rules.md D-12)
    seniority_scope: Literal["company", "group"] = "company"
    reliquat: Literal["redistribute", "keep"] = "keep"
    # individual cap for a partial year (I-33, docs/rules.md D-4): by days under contract (default), by monthly
    # ceilings, or none; `prorate_cap_by_presence` is the former name (true = "days", false = "none")
    cap_proration: Literal["days", "months", "none"] | None = None
    prorate_cap_by_presence: bool | None = None
    part_time: Literal["no_proration", "prorate"] = "no_proration"
    presence_conditions: list[str] = Factory(list)
    history: list[HistoryYear] = Factory(list)
    # advances during the period, if the agreement provides them (L3348-1, I-41); days the employee has to
    # consent after receiving the letter (default: the décret's 15 days)
    advances: bool = False
    advance_consent_days: int | None = None
    # company heads, officers and spouses the agreement names as beneficiaries (L3312-3, I-16, I-24)
    company_heads: list[CompanyHead] = Factory(list)
    # how the agreement was set up and renews (I-7, L3312-5): checked by `paybonus lint`
    setup: (
        Literal[
            "collective_agreement",
            "union_agreement",
            "cse_agreement",
            "ratification",
            "unilateral",
            "branch_adhesion",
        ]
        | None
    ) = None
    ratification: Ratification | None = None
    unilateral_ground: Literal["no_representatives", "failed_negotiation"] | None = None
    disagreement_record_on: date | None = None  # procès-verbal de désaccord (L3312-5 II 2°)
    cse_consulted_on: date | None = None
    covered_by_approved_branch_agreement: bool = False
    tacit_renewal: bool = False  # renewed for its initial duration unless renegotiation is asked (L3312-5 I)
    renegotiation_requested_on: date | None = None
    # late interest: TMOP in force on the payment date (I-40), or each day's own half-year (docs/rules.md D-1)
    late_interest_tmop: Literal["published", "per_semester"] = "published"
    parsed: Formula = field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.period_months < MIN_PERIOD_MONTHS or 12 % self.period_months:
            raise ValueError(
                f"period_months: {self.period_months} is not allowed: a calculation period is a whole number of "
                "months, at least 3, that divides the exercise (3, 4, 6 or 12) (LAW I-2)"
            )
        if not 0 <= self.seniority_months <= MAX_SENIORITY_MONTHS:
            raise ValueError(
                f"seniority_months: {self.seniority_months} is over the legal maximum of 3 months (LAW I-13)"
            )
        if self.presence_conditions:
            raise ValueError(
                "presence_conditions: a condition of presence at a date is unlawful for intéressement (LAW I-15); "
                "remove it (`paybonus lint` lists such clauses)"
            )
        if not self.distribution:
            raise ValueError(
                "distribution: at least one sub-pool (uniform, presence or salary) is needed (LAW I-21)"
            )
        crits = [s.criterion for s in self.distribution]
        if len(set(crits)) != len(crits):
            raise ValueError(
                "distribution: each criterion appears once (one sub-pool per criterion, LAW I-22)"
            )
        total = sum((s.share for s in self.distribution), Decimal(0))
        if total != 1:
            raise ValueError(f"distribution: the shares add up to {total}, not 1 (100 %)")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on: before starts_on")
        check_cap_keys(self)
        check_heads(self.company_heads)
        if (self.setup == "ratification") != (self.ratification is not None):
            raise ValueError(
                'ratification: give the vote (votes_for, staff) with setup = "ratification", and only then'
            )
        if self.unilateral_ground is not None and self.setup != "unilateral":
            raise ValueError('unilateral_ground: only with setup = "unilateral" (L3312-5 II)')
        if self.advance_consent_days is not None and self.advance_consent_days <= 0:
            raise ValueError("advance_consent_days: a number of days above 0 (décret 2024-644)")
        if self.tacit_renewal and self.ends_on is None:
            raise ValueError("tacit_renewal: give ends_on, the end of the first term (L3312-5 I)")
        for name in self.figures:
            if not name.isidentifier() or not name.islower():
                raise ValueError(f"figures: {name!r} must be lower_snake_case")
        try:
            object.__setattr__(self, "parsed", Formula.parse(self.formula, self.known_figures()))
        except FormulaError as exc:
            raise ValueError(f"formula: {exc}") from None

    @property
    def cap_rule(self) -> str:
        return cap_rule(self)

    def known_figures(self) -> set[str]:
        return {*STANDARD_FIGURES, *COMPUTED_FIGURES, *self.figures}

    def subpools(self) -> list[tuple[Criterion, int]]:
        """(criterion, weight in millionths of the pool) for `distribute`."""
        return [(Criterion(s.criterion), int(s.share * 1_000_000)) for s in self.distribution]

    def subpool(self, criterion: Criterion) -> SubPool | None:
        return next((s for s in self.distribution if s.criterion == criterion), None)

    def period_of(self, day: date, fiscal_year_start: str) -> tuple[Period, Period]:
        """(exercise, calculation period) containing `day`."""
        month, dom = (int(x) for x in fiscal_year_start.split("-"))
        ex = fiscal_year(day, month, dom)
        k = 0
        while add_months(ex.start, (k + 1) * self.period_months) <= day:
            k += 1
        start = add_months(ex.start, k * self.period_months)
        end = add_months(ex.start, (k + 1) * self.period_months)
        return ex, Period(start, date.fromordinal(end.toordinal() - 1))

    def in_force(self, period: Period, window_months: int = 3) -> bool:
        """Whether the period lies within the agreement, renewals included (I-7)."""
        return period.start >= self.starts_on and self.term_of(period, window_months) is not None

    def term_of(self, period: Period, window_months: int = 3) -> int | None:
        """The term covering `period`: 0 for the first, n for the n-th tacit renewal (I-7, L3312-5 I: renewed
        for the initial duration unless renegotiation was asked in the `window_months` before an expiry); None
        when the agreement has ended by then."""
        if self.ends_on is None:
            return 0
        term = 0
        while period.end > (end := self.term_end(term)):
            req = self.renegotiation_requested_on
            asked = req is not None and add_months(end + timedelta(days=1), -window_months) <= req <= end
            if not self.tacit_renewal or asked:
                return None
            term += 1
        return term

    def term_end(self, n: int) -> date:
        """The last day of the n-th term (0: `ends_on`), each renewal lasting the initial duration."""
        assert self.ends_on is not None
        months = _whole_months(self.starts_on, self.ends_on)
        if months:
            return add_months(self.starts_on, months * (n + 1)) - timedelta(days=1)
        return self.ends_on + (self.ends_on - self.starts_on + timedelta(days=1)) * n
