"""What the salary-type bonuses (prime sur objectif, prime NAO, PMT) share; each plugin keeps only its own rules.

- the period a bonus covers (month, quarter or year, aligned on the company's fiscal year);
- proration by presence, where maternity, paternity, adoption, work accident and occupational disease are
  neutral, and every other absence is treated alike: a policy that singles out one kind of absence is refused
  (LAW O-7, N-4);
- leavers: the bonus of the period is acquired pro rata of presence; a clause requiring presence on the payment
  date is ignored with a warning (O-5, O-6);
- the payroll month that pays it and its due date; its DSN code in S21.G00.52 (026, 027 or 028).

They are salary: ordinary contributions, computed by the payroll (O-1, N-2).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal

from attrs import Factory, frozen
from paybonus.calendar import Period, add_months, fiscal_year, last_day_of_month
from paybonus.hooks import DsnMapping, Finding, Kind, RecordedEntitlement, SchemeContext
from paybonus.payroll import AbsenceKind, EmployeeRecord

# absences that never reduce a salary-type bonus (O-7; legally assimilated to effective work)
NEUTRAL = frozenset(
    {
        AbsenceKind.MATERNITY,
        AbsenceKind.PATERNITY,
        AbsenceKind.ADOPTION,
        AbsenceKind.WORK_ACCIDENT,
        AbsenceKind.OCCUPATIONAL_DISEASE,
    }
)
NON_NEUTRAL = frozenset(set(AbsenceKind) - NEUTRAL)
DSN_CODES = {
    "026": "prime exceptionnelle liée à l'activité avec période de rattachement spécifique",
    "027": "prime liée à l'activité avec période de rattachement spécifique",
    "028": "prime non liée à l'activité",
}
FREQUENCIES = {"monthly": 1, "quarterly": 3, "annual": 12}


@frozen(kw_only=True)
class SalarySettings:
    """Settings every salary-type scheme table accepts; a scheme's config class extends it (and may change a
    default by declaring the field again)."""

    frequency: Literal["monthly", "quarterly", "annual"] = "annual"
    absences: Literal["prorate", "ignore"] = "prorate"  # prorate: all non-protected absences alike (O-7, N-4)
    absence_kinds: list[str] | None = None  # if written, every non-protected kind: no singling out
    presence_on_payment_date: bool = False  # unenforceable (O-5): ignored, with a warning
    pay_lag_months: int = 1  # the payroll month that pays it: months after the period's end
    dsn_code: str = "027"

    def __attrs_post_init__(self) -> None:
        check_common(self)


def check_common(c: Any) -> None:
    """Checks of the settings every salary-type scheme table accepts (frequency, absences, absence_kinds,
    presence_on_payment_date, pay_lag_months, dsn_code), at load."""
    if c.dsn_code not in DSN_CODES:
        raise ValueError(f"dsn_code: {c.dsn_code!r} is not a S21.G00.52 bonus code (026, 027 or 028)")
    if not 0 <= c.pay_lag_months <= 12:
        raise ValueError("pay_lag_months: between 0 and 12")
    if c.absence_kinds is not None:
        kinds = set(c.absence_kinds)
        unknown = sorted(kinds - {k.value for k in AbsenceKind})
        if unknown:
            raise ValueError(f"absence_kinds: unknown absence kind {unknown[0]!r}")
        neutral = sorted(kinds & {k.value for k in NEUTRAL})
        if neutral:
            raise ValueError(
                f"absence_kinds: {neutral[0]} is a protected absence and can never reduce the bonus (LAW O-7, N-4)"
            )
        missing = sorted({k.value for k in NON_NEUTRAL} - kinds)
        if missing:
            raise ValueError(
                f"absence_kinds: a policy that reduces for some absences and not for {missing[0]} singles out a kind "
                "of absence; list every non-protected kind or none (LAW O-7, N-4)"
            )


def bonus_period(day: date, frequency: str, fiscal_year_start: str) -> Period:
    """The month, quarter or year (aligned on the fiscal year) containing `day`."""
    month, dom = (int(x) for x in fiscal_year_start.split("-"))
    ex = fiscal_year(day, month, dom)
    step = FREQUENCIES[frequency]
    k = 0
    while add_months(ex.start, (k + 1) * step) <= day:
        k += 1
    start = add_months(ex.start, k * step)
    return Period(start, add_months(start, step) - timedelta(days=1))


@frozen
class Presence:
    """Days under contract and days counted present in a period (neutral absences count as present)."""

    period_days: int
    contract_days: int
    absent_days: int
    neutral_days: int
    by_kind: dict[str, int] = Factory(dict)

    @property
    def present_days(self) -> int:
        return self.contract_days - self.absent_days

    def to_json(self) -> dict[str, Any]:
        return {
            "period_days": self.period_days,
            "contract_days": self.contract_days,
            "absent_days": self.absent_days,
            "neutral_days": self.neutral_days,
            "by_kind": self.by_kind,
        }


def presence(emp: EmployeeRecord, period: Period, policy: str) -> Presence:
    """Presence in `period`: non-neutral absences count as absent only under the 'prorate' policy (all alike)."""
    spans = [s for c in emp.contracts if (s := c.span(period)) is not None]
    contract_days = sum(s.days for s in spans)
    if not emp.absences:
        return Presence(period.days, contract_days, 0, 0, {})
    absent = neutral = 0
    by_kind: dict[str, int] = {}
    for a in emp.absences:
        days = sum(s.overlap_days(a.period) for s in spans)
        if not days:
            continue
        by_kind[a.kind.value] = by_kind.get(a.kind.value, 0) + days
        if a.kind in NEUTRAL:
            neutral += days
        elif policy == "prorate":
            absent += days
    return Presence(period.days, contract_days, min(absent, contract_days), neutral, by_kind)


def bonus_gross(
    emp: EmployeeRecord, period: Period, kinds: frozenset[AbsenceKind], ap_counts: bool = False
) -> tuple[int, int, list[dict[str, Any]]]:
    """(actual gross, gross used, months reconstituted) of `period`: in a month touched by an absence of one of
    `kinds` (or activité partielle hours, with `ap_counts`), the salary the employee would have earned — the
    payroll's reconstituted salary, else at least the base salary for the days under contract — instead of what
    was paid (N-4, O-7, docs/rules.md D-2), as intéressement does (I-26)."""
    actual = used = 0
    months: list[dict[str, Any]] = []
    for pl in emp.pay_in(period):
        actual += pl.gross_cents
        month = Period(pl.month, last_day_of_month(pl.month))
        hit = next(
            (
                a.kind
                for a in emp.absences
                if a.kind in kinds and a.start <= month.end and a.end >= month.start
            ),
            None,
        )
        if hit is None and not (ap_counts and pl.ap_hours > 0):
            used += pl.gross_cents
            continue
        if pl.reconstituted_cents is not None:
            cents, source = pl.reconstituted_cents, "reconstituted"
        else:
            under = sum(s.days for c in emp.contracts if (s := c.span(month)) is not None)
            cents, source = max(pl.gross_cents, pl.base_cents * under // month.days), "base_salary"
        used += cents
        months.append(
            {
                "month": pl.month.isoformat()[:7],
                "actual_cents": pl.gross_cents,
                "used_cents": cents,
                "absence": hit.value if hit is not None else "activite_partielle",
                "source": source,
            }
        )
    return actual, used, months


def prorate(full_cents: int, p: Presence) -> int:
    """The full-period amount pro rata of presence, rounded down to the cent: never more than `full_cents`."""
    if full_cents <= 0 or p.period_days == 0:
        return 0
    return full_cents * max(0, p.present_days) // p.period_days


def replay_prorate(full_cents: int, present_days: int, period_days: int) -> int:
    return full_cents * max(0, present_days) // period_days if full_cents > 0 and period_days else 0


def left_in(emp: EmployeeRecord, period: Period) -> date | None:
    """The day the employee's last contract ended, if inside `period`."""
    ends = [c.end for c in emp.contracts]
    if not ends or any(e is None for e in ends):
        return None
    last = max(e for e in ends if e is not None)
    return last if period.contains(last) else None


def payroll_month(
    period: Period, lag: int, left_on: date | None = None, figures_on: date | None = None
) -> date:
    """First day of the payroll month paying the bonus. A leaver's is his final pay's (O-5) when the figures it
    rests on were known by his exit; otherwise the month `lag` after the period's end, when its figures were known
    by that month's end. Figures recorded later are paid with the pay that follows them, `lag` months after their
    month (docs/rules.md D-8): never a due date before the amount could be known."""
    normal = left_on.replace(day=1) if left_on is not None else add_months(period.end.replace(day=1), lag)
    known_by = left_on if left_on is not None else due_date(normal)
    if figures_on is None or figures_on <= known_by:
        return normal
    return add_months(figures_on.replace(day=1), lag)


def due_date(pay_month: date) -> date:
    return last_day_of_month(pay_month)


@functools.cache
def dsn(code: str) -> DsnMapping:
    return DsnMapping("S21.G00.52", code, DSN_CODES[code])


def payment_date_warning(settings: Any, scheme: str) -> list[Finding]:
    if settings.presence_on_payment_date:
        return [
            Finding(
                "warning",
                "O-5",
                f"{scheme}: the condition of presence on the payment date is unenforceable "
                "and is ignored: leavers get the bonus pro rata of presence",
            )
        ]
    return []


def recorded_by_employee(
    ctx: SchemeContext,
    scheme: str,
    period: Period,
    match: Callable[[RecordedEntitlement], bool] = lambda e: True,
    employee: str | None = None,
) -> dict[str, tuple[int, str | None]]:
    """What is already recorded for `period` per employee (only `employee`'s, if given): (net cents, id of the
    principal to correct)."""
    out: dict[str, tuple[int, str | None]] = {}
    for e in ctx.iter_entitlements(scheme=scheme, period=period, employee=employee):  # summed, not held
        if e.period != period or not match(e):
            continue
        total, principal = out.get(e.employee, (0, None))
        out[e.employee] = (total + e.amount_cents, principal or (e.id if e.kind is Kind.PRINCIPAL else None))
    return out


def recomputation(request: Any) -> dict[str, Any]:
    """What a correction says about the event that asked for it: a `recomputation_requested`, or a pay period
    closed again."""
    return {
        "request": request.id,
        "reason": getattr(request.payload, "reason", None) or "the pay period was closed again",
        "requested_at": request.occurred_at.isoformat(),
    }
