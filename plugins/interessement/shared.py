"""What classic intéressement and intéressement de projet share: the caps and each person's share.

Both schemes count together for the caps (I-20, I-34) and give each beneficiary a share by the same rules:
seniority over the period and the 12 months before (I-13, I-14); sub-pools by uniform, presence and salary
criteria with assimilated absences (I-21 to I-29); the individual cap of 75 % of the exercise's PASS (I-30 to
I-34); CSG/CRDS and forfait social for each amount (LAW 0.3, 0.4). A correction never edits history.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, getcontext
from typing import Any, Protocol

from paybonus.calendar import Period, add_months, end_of_nth_month_after, seniority_months
from paybonus.distribution import Criterion, Person, Share
from paybonus.errors import SchemeError
from paybonus.hooks import (
    CompanyInfo,
    Drafts,
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    RecordedEntitlement,
    SchemeContext,
)
from paybonus.money import format_euros, share_half_up
from paybonus.params import Parameters, csg_crds
from paybonus.payroll import AbsenceKind, Contract, EmployeeRecord, PayLine, Population

from .agreement import SubPool

DEPRECATED_CAP_KEY = (
    'prorate_cap_by_presence is the former name of cap_proration (true: "days", false: "none"); '
    "write cap_proration instead"
)
FAMILY = ("interessement", "interessement_projet")  # counted together for the caps (I-20, I-34)
# absences that count as presence and at the salary the employee would have earned (I-25, I-26, I-27)
ASSIMILATED = frozenset(
    {
        AbsenceKind.MATERNITY,
        AbsenceKind.PATERNITY,
        AbsenceKind.ADOPTION,
        AbsenceKind.BEREAVEMENT,
        AbsenceKind.WORK_ACCIDENT,
        AbsenceKind.OCCUPATIONAL_DISEASE,
        AbsenceKind.QUARANTINE,
        AbsenceKind.ACTIVITE_PARTIELLE,
    }
)


# the criteria as module constants: `Criterion.UNIFORM` is a lookup on an Enum class, three a person in `Facts`
UNIFORM, PRESENCE, SALARY = Criterion.UNIFORM, Criterion.PRESENCE, Criterion.SALARY
# `format_euros`'s cents after the units, for cents >= 0
DECIMALS = tuple(f".{c:02d}" for c in range(100))


def as_drafts(
    ctx: SchemeContext,
    ex: Period,
    shares: Sequence[Share],
    facts: Mapping[str, Mapping[str, Any]],
    existing: Sequence[RecordedEntitlement],
    period: Period,
    deadline: date,
    key: str,
    common: Mapping[str, Any],
    parameters: Mapping[str, Any],
    steps: Sequence[str],
    rules: Sequence[str],
) -> Drafts:
    """Each share less what this computation recorded before: a principal, or a correction referencing it;
    someone no longer entitled gets a negative correction. Corrections never edit history.

    The drafts are built as they are read (`Drafts`): a computation of 200 000 beneficiaries holds their shares
    and facts, not 200 000 explanations at once (the bus encodes each one and lets it go)."""
    previous = by_employee(existing)
    # what a correction references: the principal, or the last advance of someone paid advances (I-41)
    principals = {e.employee: e.id for e in existing if e.kind in (Kind.PRINCIPAL, Kind.ADVANCE)}
    pool = Explanation(common, parameters, steps, rules)  # stored once for the whole computation
    levies = Levies(ctx.params, ex, ctx.company, deadline)  # the rates, once: each person's cents below

    # a `Facts` gives each person's inputs with the share's four keys in one dict (`Facts.inputs`), not a dict of
    # the facts copied into another; facts given as a mapping are copied as they always were
    of_facts = facts.inputs if isinstance(facts, Facts) else None
    levies_of, principal_of = levies.of, principals.get
    PRINCIPAL, CORRECTION = Kind.PRINCIPAL, Kind.CORRECTION

    def draft(share: Share, before: int) -> EntitlementDraft:
        amount, rounds, capped, employee = share.amount, share.rounds, share.capped, share.id
        delta = amount - before
        if of_facts is not None:
            inputs = of_facts(employee, share.cap, capped, rounds, before)
        else:
            inputs = {
                **facts[employee],
                "cap_room_cents": share.cap,
                "capped": capped,
                "rounds": rounds,
                "previous_cents": before,
            }
        if "prorated_cap_cents" in inputs:  # I-33, D-4: no proration, the excess is reported
            inputs["excess_over_prorated_cap_cents"] = excess_over_prorated_cap(amount, inputs)
        euros = f"{amount // 100}{DECIMALS[amount % 100]}" if amount >= 0 else format_euros(amount)
        lines = [
            f"share: {euros} over {len(rounds)} round(s) (capped)"
            if capped
            else f"share: {euros} over {len(rounds)} round(s)"
        ]
        if before:
            lines.append(
                f"already recorded for this period: {format_euros(before)}; correction {format_euros(delta)}"
            )
        expl = Explanation(inputs, {"contributions": levies_of(delta)}, lines, (), pool)
        corrects = principal_of(employee)
        return EntitlementDraft(
            employee, period, delta, expl, CORRECTION if corrects else PRINCIPAL, deadline, corrects, key
        )

    items: list[tuple[Share, int]] = []
    corrections = 0
    for share in shares:
        before = previous.get(share.id, 0)
        if share.amount == before:
            continue
        items.append((share, before))
        corrections += bool(principals.get(share.id))
    gone = []
    for emp, before in previous.items():
        if emp not in facts and before:
            expl = Explanation(
                {"previous_cents": before, "rounds": [], "cap_room_cents": None},
                steps=["no longer a beneficiary of this period"],
                shared=pool,
            )
            gone.append(
                EntitlementDraft(
                    emp, period, -before, expl, Kind.CORRECTION, deadline, principals.get(emp), key=key
                )
            )
    return Drafts(draft, items, corrections) + Drafts.of(gone)


def corrections(drafts: Sequence[EntitlementDraft]) -> int:
    """How many drafts are corrections (a `Drafts` knows without building them)."""
    return (
        drafts.corrections if isinstance(drafts, Drafts) else sum(d.kind is Kind.CORRECTION for d in drafts)
    )


class Counted(Protocol):
    """An amount already given to someone in the exercise: a recorded entitlement, or a draft of this dispatch."""

    @property
    def employee(self) -> str: ...

    @property
    def amount_cents(self) -> int: ...


class DistributionRules(Protocol):
    """What the beneficiaries' weights and caps depend on: an agreement, or a company's part of a project."""

    @property
    def seniority_months(self) -> int: ...

    @property
    def seniority_scope(self) -> str: ...  # "company" or "group" (D-12)

    @property
    def part_time(self) -> str: ...

    @property
    def cap_rule(self) -> str: ...  # "days", "months" or "none" (I-33, D-4)

    def subpool(self, criterion: Criterion) -> SubPool | None: ...


def family_in_exercise(
    ctx: SchemeContext, ex: Period, exclude: Collection[str] = ()
) -> list[RecordedEntitlement]:
    """Classic and project intéressement recorded for the exercise (I-20, I-34): an amount counts in the exercise
    its calculation period ends in (a project period may straddle two exercises, LAW P-3)."""
    return [
        e
        for scheme in FAMILY
        for e in ctx.entitlements(scheme=scheme, period=ex)
        if e.id not in exclude and ex.contains(e.period.end)
    ]


def beneficiaries(
    ctx: SchemeContext,
    ag: DistributionRules,
    ex: Period,
    calc: Period,
    pop: Population,
    earlier: Sequence[Counted],
) -> tuple[list[Person], Facts]:
    """Weights and individual cap room of everyone entitled over `calc` (I-13, I-14, I-21 to I-34), and the
    facts of each (in numbers: `Facts` gives each as its explanation's inputs)."""
    params = ctx.params
    max_seniority = params.value("interessement_max_seniority_months", calc.end)
    if ag.seniority_months > max_seniority:  # the agreement was checked at load; the law may have moved since
        raise SchemeError(
            f"seniority_months {ag.seniority_months} exceeds the legal maximum {max_seniority} (I-13)"
        )
    window = Period(add_months(calc.start, -12), calc.end)  # I-13
    full_hours = params.value("legal_monthly_hours", calc.end)
    cap_full = full_cap(params, ex)  # I-30, I-32
    got = received(earlier)
    salary_pool = ag.subpool(Criterion.SALARY)
    floor, ceiling = salary_bounds(salary_pool)
    months = list(calc.months())  # once for the whole population
    month_of = {m.start.replace(day=1): m for m in months}
    with_cp = salary_pool is None or salary_pool.salary_includes_cp_caisse is not False  # D-13
    people: list[Person] = []
    facts = Facts(ag.seniority_months)
    usual_cap = {"cap_proration": ag.cap_rule, "cap_full_cents": cap_full}  # most people's: held once
    ratios: dict[Decimal, Decimal] = {}
    prorate = ag.part_time == "prorate"  # I-29
    group = ag.seniority_scope == "group"
    start, end = calc.start, calc.end
    # what depends only on a person's contracts (days under contract, seniority, individual cap) is found once
    # for everyone with the same contracts: most people of a large company share a hiring date with others
    by_contracts: dict[Any, _ByContracts] = {}
    caps: dict[tuple[Contract, ...], tuple[int, dict[str, Any]]] = {}
    memo = _Memo(full_hours)
    for emp in pop.employees:
        key = (emp.contracts, emp.group_contracts) if group else emp.contracts
        known = by_contracts.get(key)
        if known is None:
            known = by_contracts[key] = _ByContracts(emp, calc, window, group)
        days, seniority = known.days, known.seniority
        if seniority is None:  # not under contract in the period
            continue
        if seniority.months < ag.seniority_months:  # once met, the whole presence counts (I-14)
            continue
        lines = [p for p in emp.pay if start <= p.month <= end]  # emp.pay_in(calc), once for both below
        presence, presence_hours, ratio = _presence_of(emp, calc, known, months, lines, memo)
        salary = _salary_of(emp, calc, month_of, with_cp, lines)
        base_salary = salary
        if floor is not None:
            salary = max(salary, floor)  # I-23
        if ceiling is not None:
            salary = min(salary, ceiling)
        weights = {
            Criterion.UNIFORM: int(ratio * 10_000) if prorate else 1,
            Criterion.PRESENCE: presence_hours if prorate else presence,
            Criterion.SALARY: salary,
        }
        found = caps.get(emp.contracts)
        if found is None:
            found = caps[emp.contracts] = individual_cap(params, ag.cap_rule, cap_full, emp, ex)
        cap, cap_detail = found
        already = got.get(emp.id, 0)
        room = max(0, cap - already)  # I-34: all periods, supplément and projet of the exercise
        people.append(Person(emp.id, weights, room))
        facts.add(
            emp.id,
            (
                days,
                seniority,
                presence,
                ratios.setdefault(ratio, ratio),
                base_salary,
                salary,
                weights,
                cap,
                usual_cap if cap_detail == usual_cap else cap_detail,
                already,
            ),
        )
    return people, facts


class Facts(Mapping[str, Mapping[str, Any]]):
    """Each beneficiary's facts (seniority, presence, salary, weights, cap), kept in numbers and given as the
    explanation's inputs when read: a computation of 200 000 beneficiaries does not hold 200 000 dicts of them.
    Facts given as dicts (company heads, I-24) are kept as they are."""

    def __init__(self, required_months: int) -> None:
        self._required = required_months
        self._numbers: dict[str, tuple[Any, ...]] = {}
        self._dicts: dict[str, Mapping[str, Any]] = {}
        self._ratios: dict[int, tuple[Any, str]] = {}  # id of a ratio -> (the ratio, its text)

    def add(self, employee: str, numbers: tuple[Any, ...]) -> None:
        self._numbers[employee] = numbers

    def update(self, more: Mapping[str, Mapping[str, Any]]) -> None:
        for k, v in more.items():
            self._numbers.pop(k, None)
            self._dicts[k] = v

    def __getitem__(self, employee: str) -> Mapping[str, Any]:
        n = self._numbers.get(employee)
        return self._dicts[employee] if n is None else self._built(n)

    def inputs(
        self, employee: str, cap_room: int | None, capped: bool, rounds: list[Any], previous: int
    ) -> dict[str, Any]:
        """`{**self[employee], "cap_room_cents": .., "capped": .., "rounds": .., "previous_cents": ..}` (an
        explanation's inputs, `as_drafts`): the same keys in the same order, the same values, without copying the
        person's facts into a second dict where they are built for this call."""
        n = self._numbers.get(employee)
        out = {**self._dicts[employee]} if n is None else self._built(n)
        out["cap_room_cents"] = cap_room
        out["capped"] = capped
        out["rounds"] = rounds
        out["previous_cents"] = previous
        return out

    def _built(self, n: Any) -> dict[str, Any]:
        """A new dict of the person's facts from their numbers (`__getitem__`'s value)."""
        days, seniority, presence, ratio, base_salary, salary, weights, cap, detail, got = n
        return {
            "employed_days": days,
            "seniority_days": seniority.seniority_days,
            "seniority": {
                "months": seniority.months,
                "days": seniority.days,
                "required_months": self._required,
                "contracts": seniority.contracts,
            },
            "presence_days": presence,
            "working_time_ratio": self._ratio_text(ratio),
            "salary_cents": base_salary,
            "salary_used_cents": salary,
            "weights": {
                "uniform": weights[UNIFORM],
                "presence": weights[PRESENCE],
                "salary": weights[SALARY],
            },
            "individual_cap_cents": cap,
            **detail,
            "already_in_exercise_cents": got,
        }

    def _ratio_text(self, ratio: Any) -> str:
        """`str(ratio)`, once per ratio object (most people share a few: `shared.facts` keeps one of each value);
        the object is kept beside its text, so its id names it while the text is kept."""
        known = self._ratios.get(id(ratio))
        if known is None or known[0] is not ratio:
            known = self._ratios[id(ratio)] = (ratio, str(ratio))
        return known[1]

    def cap_detail(self, employee: str) -> Mapping[str, Any]:
        """How the person's cap was found, and what they already received in the exercise (no dict built)."""
        n = self._numbers.get(employee)
        if n is None:
            return self._dicts.get(employee, {})
        return {**n[8], "already_in_exercise_cents": n[9]} if len(n[8]) > 2 else n[8]

    def __contains__(self, employee: object) -> bool:
        return employee in self._numbers or employee in self._dicts

    def __iter__(self) -> Iterator[str]:
        yield from self._numbers
        yield from (k for k in self._dicts if k not in self._numbers)

    def __len__(self) -> int:
        return len(self._numbers) + sum(1 for k in self._dicts if k not in self._numbers)


class Seniority:
    """The seniority of a set of contract spans over the period and the 12 months before (I-13, D-3), and how an
    explanation shows it: found once for everyone with the same contracts (the list is shared, never changed)."""

    __slots__ = ("contracts", "days", "months", "seniority_days", "spans")

    def __init__(self, spans: tuple[Period, ...]) -> None:
        self.spans = spans
        self.months, self.days = seniority_months(spans)  # in calendar months (docs/rules.md D-3)
        self.seniority_days = sum(x.days for x in spans)
        self.contracts = [[x.start.isoformat(), x.end.isoformat()] for x in spans]


class _ByContracts:
    """What depends on a person's contracts alone, found once for everyone with the same contracts: days under
    contract in the period (I-13), the seniority over it and the 12 months before, each month's spans."""

    __slots__ = ("_months", "days", "seniority")

    def __init__(self, emp: EmployeeRecord, calc: Period, window: Period, group: bool) -> None:
        self.days = emp.employed_days(calc)
        self.seniority: Seniority | None = None
        self._months: list[tuple[date, int, tuple[tuple[date, date], ...]]] | None = None
        if self.days:
            counted = emp.contracts + emp.group_contracts if group else emp.contracts
            self.seniority = Seniority(tuple(sorted(s for c in counted if (s := c.span(window)) is not None)))

    def months(
        self, emp: EmployeeRecord, months: list[Period]
    ) -> list[tuple[date, int, tuple[tuple[date, date], ...]]]:
        if self._months is None:
            self._months = _month_spans(emp, months)
        return self._months


_FULL_RATIO = Decimal("1.0000")  # the working-time ratio of everyone at full time all along: one object


class _Memo:
    """Values of the presence computation that many people share (hundredths of hours of so many days at so many
    hours, a month's working-time ratio), keyed by the identity of the hours' Decimal (kept alive here): the
    population shares one Decimal per distinct value, and the arithmetic is done once per value."""

    def __init__(self, full_hours: Decimal) -> None:
        self.full_hours = full_hours
        self.full_days: dict[int, int] = {}
        self._hours: dict[tuple[int, int], tuple[Decimal, int]] = {}
        self._ratio: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}

    def hours(self, present: int, h: Decimal) -> int:
        found = self._hours.get((present, id(h)))
        if found is None or found[0] is not h:
            found = self._hours[(present, id(h))] = (h, int(present * h * 100))
        return found[1]

    def ratio(self, h: Decimal, under: int) -> Decimal:
        found = self._ratio.get((under, id(h)))
        if found is None or found[0] is not h:
            found = self._ratio[(under, id(h))] = (h, min(Decimal(1), h / self.full_hours) * under)
        return found[1]


_ONE_TEN_THOUSANDTH = Decimal("0.0001")


def _month_spans(
    emp: EmployeeRecord, months: list[Period]
) -> list[tuple[date, int, tuple[tuple[date, date], ...]]]:
    """For each month of `months` the person is under contract in: its first day, the days under contract, and
    the spans of them (start, end): they depend on the contracts alone."""
    out = []
    for month in months:
        ms, me = month.start, month.end
        spans = []
        for c in emp.contracts:  # Contract.span, without a Period per month and contract
            s = c.start if c.start > ms else ms
            e = me if c.end is None or c.end > me else c.end
            if s <= e:
                spans.append((s, e))
        if spans:
            out.append((ms.replace(day=1), sum((e - s).days + 1 for s, e in spans), tuple(spans)))
    return out


def _presence_of(
    emp: EmployeeRecord,
    calc: Period,
    contracts: _ByContracts,
    months: list[Period],
    lines: list[PayLine],
    memo: _Memo,
) -> tuple[int, int, Decimal]:
    """`_presence`, computed as it does, with what many people share found once: `contracts` what depends on the
    person's contracts, `lines` the person's pay lines of the period."""
    full_hours = memo.full_hours
    absences = [a for a in emp.absences if a.kind not in ASSIMILATED] if emp.absences else []
    if not absences:
        for p in lines:
            if p.contract_hours != full_hours:
                break
        else:  # the common case, in one step
            days = contracts.days
            hours = memo.full_days.get(days)
            if hours is None:
                hours = memo.full_days[days] = int(days * full_hours * 100)
            return days, hours, _FULL_RATIO if days else Decimal(0)
    by_month = {p.month: p.contract_hours for p in lines}
    if not absences and all(h == full_hours for h in by_month.values()):  # as `_presence` decides it
        return _presence(emp, calc, months, full_hours)
    days_total = hours_total = 0
    ratio_num = Decimal(0)
    employed = 0
    for first, under, spans in contracts.months(emp, months):
        absent = 0
        for a in absences:
            a_start, a_end = a.start, a.end
            for s, e in spans:  # Period.overlap_days
                lo = s if s > a_start else a_start
                hi = e if e < a_end else a_end
                if lo <= hi:
                    absent += (hi - lo).days + 1
        present = under - absent if under > absent else 0
        h = by_month.get(first, full_hours)
        days_total += present
        hours_total += memo.hours(present, h)
        ratio_num += memo.ratio(h, under)
        employed += under
    ratio = (ratio_num / employed).quantize(_ONE_TEN_THOUSANDTH, ROUND_HALF_UP) if employed else Decimal(0)
    return days_total, hours_total, ratio


def _salary_of(
    emp: EmployeeRecord, calc: Period, month_of: dict[date, Period], with_cp: bool, lines: list[PayLine]
) -> int:
    """`_salary`, with the common case in one pass over `lines` (the person's pay lines of `calc`): no month
    touched by an assimilated absence or activité partielle hours, so every month counts what was paid (its
    reconstituted salary where the payroll gives one, as `_salary` does)."""
    if emp.absences and any(a.kind in ASSIMILATED for a in emp.absences):
        return _salary(emp, calc, month_of, with_cp)
    total = 0
    for p in lines:
        if p.ap_hours > 0:
            return _salary(emp, calc, month_of, with_cp)
        if with_cp:
            total += p.cp_caisse_cents
        r = p.reconstituted_cents
        total += p.gross_cents if r is None else r
    return total


def _cap_detail(facts: Mapping[str, Mapping[str, Any]], employee: str) -> Mapping[str, Any]:
    return facts.cap_detail(employee) if isinstance(facts, Facts) else facts.get(employee, {})


def full_cap(params: Parameters, ex: Period) -> int:
    """75 % of the exercise's (average) PASS, in cents, rounded down (I-30, I-32)."""
    rate = params.get("interessement_individual_cap_rate", ex.end).value
    return int((pass_average(params, ex) * rate).to_integral_value(ROUND_DOWN))


class Dated(Counted, Protocol):
    """An amount of the exercise with the calculation period it belongs to."""

    @property
    def period(self) -> Period: ...


def global_room(
    earlier: Sequence[Dated], end: date, cap_at_end: int, cap_at: Callable[[date], int]
) -> tuple[int, int | None, int, int]:
    """What a period ending on `end` may give under the exercise's 20 % cap (I-17, I-20): its pool at most its cap
    (20 % of the payroll from the exercise's start to `end`) less what periods ending by then gave; and, when
    periods ending later were computed already (a recomputation or restated results of an earlier period), what
    it distributes at most, at each of their ends, the cap to that day less everything given by then (None: no
    later period). Counting a later period against the earlier period's smaller payroll took the room twice.
    (pool room, distributed room, given by `end`, given later)."""
    by_end: dict[date, int] = {}
    for e in earlier:
        by_end[e.period.end] = by_end.get(e.period.end, 0) + e.amount_cents
    already = sum(v for d, v in by_end.items() if d <= end)
    given, later, later_room = already, 0, None
    for h in sorted(d for d in by_end if d > end):
        given += by_end[h]
        later += by_end[h]
        h_room = max(0, cap_at(h) - given)
        later_room = h_room if later_room is None else min(later_room, h_room)
    return max(0, cap_at_end - already), later_room, already, later


def within(pool: int, room: int | None, distributed: Callable[[int], int]) -> int:
    """The largest pool up to `pool` whose distributed part (what the caps leave of it) is at most `room`
    (I-17): `pool` itself when it fits, as it does when nothing changed since later periods were computed."""
    if room is None or distributed(pool) <= room:
        return pool
    lo, hi = min(room, pool), pool  # a pool of `room` distributes at most `room`
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if distributed(mid) <= room:
            lo = mid
        else:
            hi = mid
    return lo


def received(earlier: Sequence[Counted]) -> dict[str, int]:
    """What each beneficiary already received in the exercise (I-34)."""
    got: dict[str, int] = {}
    for e in earlier:
        got[e.employee] = got.get(e.employee, 0) + e.amount_cents
    return got


def salary_bounds(salary_pool: SubPool | None) -> tuple[int | None, int | None]:
    """The agreement's salary floor and ceiling in cents (I-23)."""
    if salary_pool is None:
        return None, None
    floor = int(salary_pool.salary_floor * 100) if salary_pool.salary_floor is not None else None
    ceiling = int(salary_pool.salary_ceiling * 100) if salary_pool.salary_ceiling is not None else None
    return floor, ceiling


def highest_salary(ag: DistributionRules, pop: Population, calc: Period) -> int:
    """The highest salary of the period for the salary criterion among everyone under contract (L3314-6: the
    cap of a company head's salary base, I-24)."""
    salary_pool = ag.subpool(Criterion.SALARY)
    floor, ceiling = salary_bounds(salary_pool)
    with_cp = salary_pool is None or salary_pool.salary_includes_cp_caisse is not False
    month_of = {m.start.replace(day=1): m for m in calc.months()}
    best = 0
    for emp in pop.employees:
        if not emp.employed_days(calc):
            continue
        salary = _salary(emp, calc, month_of, with_cp)
        if floor is not None:
            salary = max(salary, floor)
        if ceiling is not None:
            salary = min(salary, ceiling)
        best = max(best, salary)
    return best


def individual_cap(
    params: Parameters, rule: str, cap_full: int, emp: EmployeeRecord, ex: Period
) -> tuple[int, dict[str, Any]]:
    """The person's individual cap for the exercise (I-30 to I-33, docs/rules.md D-4), and how it was found.

    - "days" (default): the full cap x days under contract in the exercise / days of the exercise; absences and
      part-time never reduce it (Urssaf "Les plafonds", 2019);
    - "months": the sum of the monthly ceilings (75 % of each month's PMSS) of the months under contract, a
      partial month by its days under contract (Urssaf's wording);
    - "none": the full cap; what exceeds the cap prorated by days is reported (Urssaf treats it as salary)."""
    employed = emp.employed_days(ex)
    detail: dict[str, Any] = {"cap_proration": rule, "cap_full_cents": cap_full}
    if employed >= ex.days:
        return cap_full, detail
    by_days = cap_full * employed // ex.days
    if rule == "days":
        return by_days, {**detail, "cap_days": [employed, ex.days]}
    if rule == "none":
        return cap_full, {**detail, "prorated_cap_cents": by_days, "cap_days": [employed, ex.days]}
    rate = params.get("interessement_individual_cap_rate", ex.end).value
    months, total = [], 0
    for m in ex.months():
        under = sum(s.days for c in emp.contracts if (s := c.span(m)) is not None)
        if not under:
            continue
        pmss = params.value("pmss", m.start)
        cents = int((Decimal(pmss) * rate * under / m.days).to_integral_value(ROUND_DOWN))
        months.append({"month": m.start.isoformat()[:7], "pmss_cents": pmss, "days": under, "cents": cents})
        total += cents
    return min(total, cap_full), {**detail, "cap_months": months}


def default_rules(
    ag: DistributionRules, facts: Mapping[str, Mapping[str, Any]], base: Mapping[str, int]
) -> list[str]:
    """The documented defaults (docs/rules.md) this computation applied: calendar-month seniority (D-3) with a
    seniority condition, cap proration (D-4) for someone under contract part of the exercise, the forfait social's
    headcount rule (D-10), group seniority (D-12), caisse CP indemnities in the salary criterion (D-13), a computed
    AP subject part (D-14)."""
    out = []
    if ag.seniority_months:
        out.append("D-3")
    if any("cap_days" in f or "cap_months" in f for f in (_cap_detail(facts, k) for k in facts)):
        out.append("D-4")
    out.append("D-10")
    if ag.seniority_scope == "group":
        out.append("D-12")
    salary = ag.subpool(Criterion.SALARY)
    if base.get("cp_caisse_cents") and salary is not None and salary.salary_includes_cp_caisse is not False:
        out.append("D-13")
    if base.get("ap_subject_computed_cents"):
        out.append("D-14")
    return out


def excess_findings(shares: Sequence[Share], facts: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """With `cap_proration = "none"`: how many beneficiaries received more in the exercise than the cap prorated by
    presence (Urssaf treats that excess as salary, I-33, D-4). No amounts: findings are logged."""
    over = sum(1 for s in shares if excess_over_prorated_cap(s.amount, _cap_detail(facts, s.id)) > 0)
    if not over:
        return []
    return [
        Finding(
            "warning",
            "I-33",
            f"{over} beneficiaries received more than the individual cap prorated by presence "
            "(cap_proration = none); Urssaf treats the excess as salary: see excess_over_prorated_cap_cents",
        )
    ]


def excess_over_prorated_cap(amount: int, fact: Mapping[str, Any]) -> int:
    if "prorated_cap_cents" not in fact:
        return 0
    return max(0, int(fact["already_in_exercise_cents"]) + amount - int(fact["prorated_cap_cents"]))


def _salary(emp: EmployeeRecord, calc: Period, month_of: dict[date, Period], with_cp: bool = True) -> int:
    """Salary of the period for the salary criterion: what the employee would have earned in months with an
    assimilated absence or activité partielle (I-26, I-27): the payroll's reconstituted salary when it gives one,
    else at least the base salary for the days under contract (a documented fallback); plus the indemnities of a
    caisse de congés payés unless the agreement leaves them out (D-13)."""
    total = 0
    for p in emp.pay_in(calc):
        if with_cp:
            total += p.cp_caisse_cents
        if p.reconstituted_cents is not None:
            total += p.reconstituted_cents
            continue
        if not p.ap_hours and not emp.absences:
            total += p.gross_cents
            continue
        month = month_of.get(p.month) or Period(p.month, end_of_nth_month_after(p.month, 0))
        affected = p.ap_hours > 0 or any(
            a.kind in ASSIMILATED and a.start <= month.end and a.end >= month.start for a in emp.absences
        )
        if affected:
            under = sum(s.days for c in emp.contracts if (s := c.span(month)) is not None)
            total += max(p.gross_cents, p.base_cents * under // month.days)
        else:
            total += p.gross_cents
    return total


def _presence(
    emp: EmployeeRecord, calc: Period, months: list[Period], full_hours: Decimal
) -> tuple[int, int, Decimal]:
    """Days present (assimilated absences and activité partielle count, I-25, I-27, I-28), the same weighted by
    each month's contractual hours (hundredths), and the average working-time ratio over the period."""
    hours = {p.month: p.contract_hours for p in emp.pay_in(calc)}
    absences = [a for a in emp.absences if a.kind not in ASSIMILATED]
    if not absences and all(h == full_hours for h in hours.values()):  # the common case, in one step
        employed = emp.employed_days(calc)
        return employed, int(employed * full_hours * 100), Decimal("1.0000") if employed else Decimal(0)
    days_total = hours_total = 0
    ratio_num = Decimal(0)
    employed = 0
    for month in months:
        spans = [s for c in emp.contracts if (s := c.span(month)) is not None]
        if not spans:
            continue
        under = sum(s.days for s in spans)
        absent = sum(s.overlap_days(a.period) for a in absences for s in spans) if absences else 0
        present = max(0, under - absent)
        h = hours.get(month.start.replace(day=1), full_hours)
        days_total += present
        hours_total += int(present * h * 100)
        ratio_num += min(Decimal(1), h / full_hours) * under
        employed += under
    ratio = (ratio_num / employed).quantize(Decimal("0.0001"), ROUND_HALF_UP) if employed else Decimal(0)
    return days_total, hours_total, ratio


def payroll_base(pop: Population, params: Parameters) -> tuple[int, dict[str, int]]:
    """The base of the 20 % global cap over the population's period (I-17 to I-19): gross salaries of all staff,
    plus the indemnities paid by a caisse de congés payés (I-18), plus the part of activité partielle indemnities
    subject to contributions (I-19): the payroll's `ap_subject`, else what exceeds 3.15 x the hourly SMIC per hour
    not worked. The activité partielle indemnity itself stays out."""
    gross = cp = ap = computed = 0
    start, end = pop.period.start, pop.period.end
    subject: dict[tuple[date, Decimal, int], int] = {}
    for e in pop.employees:
        for p in e.pay:  # e.pay_in(pop.period), without a generator per person
            if not start <= p.month <= end:
                continue
            gross += p.gross_cents
            cp += p.cp_caisse_cents
            if p.ap_subject_cents is not None:
                ap += p.ap_subject_cents
            elif p.ap_indemnity_cents and p.ap_hours:
                key = (p.month, p.ap_hours, p.ap_indemnity_cents)
                part = subject.get(key)
                if part is None:  # the parameters looked up once per month, hours and indemnity
                    part = subject[key] = ap_subject_computed(params, *key)
                computed += part
    detail = {"gross_cents": gross, "cp_caisse_cents": cp, "ap_subject_cents": ap + computed}
    if computed:
        detail["ap_subject_computed_cents"] = computed  # D-14
    return gross + cp + ap + computed, detail


def ap_subject_computed(params: Parameters, month: date, hours: Decimal, indemnity_cents: int) -> int:
    """The part of an activité partielle indemnity above 3.15 x the hourly SMIC per hour not worked (I-19)."""
    try:
        factor = params.value("ap_complement_subject_threshold_smic", month)
    except LookupError:  # before 1 May 2020 the complementary indemnity was not subject
        return 0
    smic = params.value("smic_hourly", month)
    threshold = int((factor * smic * hours).to_integral_value(ROUND_HALF_UP))
    return max(0, indemnity_cents - threshold)


def pass_average(params: Parameters, ex: Period) -> Decimal:
    """PASS of the exercise; for a non-calendar exercise, the average over its months (I-31, I-32 [U])."""
    months = list(ex.months())
    return sum((Decimal(params.value("pass_annual", m.start)) for m in months), Decimal(0)) / len(months)


def cap_parameters(ctx: SchemeContext, ex: Period) -> dict[str, Any]:
    p = ctx.params
    return {
        "pass": [v.cite() for _, _, v in p.segments("pass_annual", ex.start, ex.end)],
        "pass_average_cents": str(pass_average(p, ex)),
        "individual_cap_rate": p.get("interessement_individual_cap_rate", ex.end).cite(),
        "global_cap_rate": p.get("interessement_global_cap_rate", ex.end).cite(),
    }


def contributions(
    params: Parameters, ex: Period, ctx: SchemeContext, cents: int, deadline: date | None = None
) -> dict[str, Any]:
    """CSG/CRDS on 100 % of the amount, split for paid or placed (LAW 0.3); the employer's forfait social (0.4)."""
    return Levies(params, ex, ctx.company, deadline).of(cents)


class Levies:
    """CSG/CRDS (LAW 0.3) and the employer's forfait social (0.4) of amounts of one computation: the rates and the
    headcount rule are looked up once (a computation of 200 000 beneficiaries looked them up for each), `of` gives
    an amount's contributions."""

    def __init__(
        self, params: Parameters, ex: Period, company: CompanyInfo, deadline: date | None = None
    ) -> None:
        on = ex.end
        self._csg = csg_crds(params, 0, on)  # the rates in force on `on`, each part rounded once in `of`
        self._social = forfait_social(params, company, 0, deadline or on)
        self._rate, self._rate_per = (
            Decimal(self._social["rate"]),
            Decimal(self._social["rate_if_placed_in_per"]),
        )
        c = self._csg
        rates = (c.csg_rate, c.csg_deductible_rate, c.crds_rate, self._rate, self._rate_per)
        # each rate as an exact fraction n / d, when Decimal arithmetic would be exact too (below)
        fractions = [f for r in rates if (f := _fraction(r)) is not None]
        exact = len(fractions) == len(rates) and getcontext().prec >= 28
        self._exact: list[tuple[int, int]] | None = fractions if exact else None
        # with every rate at 0 or more, `share_half_up(c, n, d)` is (2|c|n + d) // 2d with c's sign: the five
        # numerators and divisors once (`_halves_of`), one expression a rate instead of a call
        self._halves: tuple[int, ...] | None = None
        if self._exact is not None and all(n >= 0 for n, _ in self._exact):
            self._halves = tuple(x for n, d in self._exact for x in (2 * n, d, 2 * d))

    def of(self, cents: int) -> dict[str, Any]:
        """The contributions of `cents`, as `csg_crds` and `forfait_social` give them."""
        if self._halves is not None and -_EXACT_BELOW < cents < _EXACT_BELOW:
            csg, deductible, crds, social, social_per = _halves_of(cents, self._halves)
        elif self._exact is not None and -_EXACT_BELOW < cents < _EXACT_BELOW:
            csg, deductible, crds, social, social_per = (share_half_up(cents, n, d) for n, d in self._exact)
        else:
            c, amount = self._csg, Decimal(cents)
            csg = _half_up(amount * c.csg_rate)
            deductible = _half_up(amount * c.csg_deductible_rate)
            crds = _half_up(amount * c.crds_rate)
            social, social_per = _half_up(amount * self._rate), _half_up(amount * self._rate_per)
        return {
            "csg_crds_base_cents": cents,
            "paid": {"csg_deductible": deductible, "csg_non_deductible": csg - deductible, "crds": crds},
            "placed": {"csg_non_deductible": csg, "crds": crds},
            "forfait_social": {**self._social, "cents": social, "cents_if_placed_in_per": social_per},
        }


# Decimal(cents) * rate is exact (no rounding at 28 digits) when cents has at most 15 digits and the rate at most 12:
# the same product in integers, rounded half away from zero (ROUND_HALF_UP), is then the same number of cents
_EXACT_BELOW = 10**15
_RATE_DIGITS = 12


def _fraction(rate: Decimal) -> tuple[int, int] | None:
    """A finite rate of at most 12 digits as (numerator, 10 ** decimals); None otherwise."""
    if not isinstance(rate, Decimal) or not rate.is_finite():
        return None
    sign, digits, exponent = rate.as_tuple()
    if len(digits) > _RATE_DIGITS or not isinstance(exponent, int) or exponent > 0:
        return None
    n = int("".join(map(str, digits)))
    return (-n if sign else n), 10**-exponent


def _halves_of(cents: int, h: tuple[int, ...]) -> tuple[int, int, int, int, int]:
    """`share_half_up(cents, n, d)` of five rates n / d, each n at 0 or more, from `h` = (2n, d, 2d) of each:
    |cents| x n / d rounded half up is (2|cents|n + d) // 2d, given cents' sign (0 stays 0)."""
    a = -cents if cents < 0 else cents
    n0, d0, e0, n1, d1, e1, n2, d2, e2, n3, d3, e3, n4, d4, e4 = h
    out = (
        (a * n0 + d0) // e0,
        (a * n1 + d1) // e1,
        (a * n2 + d2) // e2,
        (a * n3 + d3) // e3,
        (a * n4 + d4) // e4,
    )
    if cents < 0:
        return (-out[0], -out[1], -out[2], -out[3], -out[4])
    return out


def _half_up(d: Decimal) -> int:
    return int(d.to_integral_value(ROUND_HALF_UP))


def forfait_social(params: Parameters, company: CompanyInfo, cents: int, deadline: date) -> dict[str, Any]:
    """The employer's forfait social on an intéressement amount (LAW 0.4, docs/rules.md D-10).

    None below 250 employees (LFSS 2019); the headcount is the company's average headcount per L130-1 CSS, a
    threshold counting once reached five consecutive calendar years, judged in the year of the payment deadline.
    Above it: 20 % of the amount paid or placed in the PEE, 16 % of what is placed in a PER d'entreprise that meets
    L137-16's default allocation (`per_qualifying`); the export applies the rate of the actual placement."""
    threshold = params.value("forfait_social_exempt_below_interessement", deadline)
    try:
        years = params.value("headcount_threshold_years", deadline)
    except LookupError:  # before L130-1 II (1 January 2020): the previous year's headcount alone
        years = 1
    try:
        reached, rule = company.headcount_reached(threshold, deadline.year, years)
    except LookupError as exc:
        raise SchemeError(f"forfait social (LAW 0.4): {exc}") from None
    subject = reached is not False  # an unknown headcount: subject, the cautious reading
    rate = params.value("forfait_social_full", deadline) if subject else Decimal(0)
    rate_per = params.value("forfait_social_per", deadline) if subject and company.per_qualifying else rate

    def levy(r: Decimal) -> int:
        return int((Decimal(cents) * r).to_integral_value(ROUND_HALF_UP))

    return {
        "headcount": company.headcount,
        "headcount_rule": rule,
        "subject": subject,
        "rate": str(rate),
        "cents": levy(rate),
        "rate_if_placed_in_per": str(rate_per),
        "cents_if_placed_in_per": levy(rate_per),
        "note": "employer's levy; exempt below the headcount threshold"
        if not subject
        else "employer's levy; the rate of a qualifying PER applies to what is placed in it",
    }


def by_employee(existing: Sequence[RecordedEntitlement]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in existing:
        out[e.employee] = out.get(e.employee, 0) + e.amount_cents
    return out
