"""Built-in scheme `prime_nao`: a bonus from the annual wage negotiation (LAW section 5, N-1 to N-6).

An award combines a flat amount, a percentage of the gross salary of the reference period, seniority brackets and
category coefficients: (flat + rate x gross + bracket) x coefficient, then part-time and presence proration.
Presence conditions (under contract on a date, a minimum presence) apply to everyone alike, and protected
absences can never exclude or reduce (N-4). It is paid in one to three instalments on set dates, each computed
when the pay period containing its date is closed.
"""

from __future__ import annotations

import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal, overload

from attrs import Factory, evolve, field, frozen
from paybonus.calendar import Period
from paybonus.events import RECOMPUTATION, Event
from paybonus.hooks import (
    Drafts,
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    RecordedEntitlement,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
)
from paybonus.money import allocate, format_euros, parse_euros, scale_weights
from paybonus.payroll import AbsenceKind, Population

from . import mechanism as sc

VERSION = (
    "1.3.0"  # 1.3.0: what a later event records is due at the end of its month; 1.2.0: instalments brought
)
# up to the award at a later close (N-1); 1.1.0: D-2
SCHEME = "prime_nao"

MAX_COEFFICIENT = Decimal(10)  # a category's coefficient on the award
MAX_EUROS = Decimal(10**9)  # an amount per employee: far above any real bonus


@frozen
class Instalment:
    date: date
    share: Decimal


@frozen
class Award:
    id: str
    reference_period: Period
    flat: str | None = None  # euros
    percent_of_gross: Decimal | None = None  # e.g. 0.02 of the reference period's gross salary
    seniority: list[list[Decimal]] = Factory(list)  # [[years from, euros], ...]
    categories: dict[str, Decimal] = Factory(dict)  # coefficient by category (1 if absent)
    present_on: date | None = None
    min_presence_days: int = 0
    part_time: Literal["prorate", "none"] = "prorate"
    instalments: list[Instalment] = Factory(list)
    # the gross of `percent_of_gross` (N-4, docs/rules.md D-2): protected months at the salary the employee would
    # have earned (default), every month with an absence so, or the gross actually paid
    gross_basis: Literal["protected", "all_absences", "actual"] = "protected"
    flat_cents: int = field(init=False)

    def __attrs_post_init__(self) -> None:
        try:
            object.__setattr__(self, "flat_cents", parse_euros(self.flat) if self.flat else 0)
        except ValueError as exc:
            raise ValueError(f"flat: {exc}") from None
        if not (self.flat or self.percent_of_gross or self.seniority):
            raise ValueError(
                f"award {self.id!r}: give flat, percent_of_gross or seniority (or a combination)"
            )
        if self.flat_cents < 0:
            raise ValueError(f"flat: award {self.id!r}: {self.flat} is negative")
        for cat, coef in self.categories.items():
            if not Decimal(0) <= coef <= MAX_COEFFICIENT:
                raise ValueError(f"categories.{cat}: {coef} is not a coefficient from 0 to {MAX_COEFFICIENT}")
        for row in self.seniority:
            if len(row) == 2 and (row[0] < 0 or row[1] < 0 or row[1] >= MAX_EUROS):
                raise ValueError(f"seniority: [{row[0]}, {row[1]}]: years and euros are 0 or more (and sane)")
        for i in self.instalments:
            if not Decimal(0) < i.share <= 1:
                raise ValueError(f"instalments: share {i.share} is not a fraction above 0 and at most 1")
        bounds = [row[0] for row in self.seniority]
        if any(len(row) != 2 for row in self.seniority) or bounds != sorted(set(bounds)):
            raise ValueError("seniority: rows are [years from, euros] with increasing years")
        if not 1 <= len(self.instalments or [None]) <= 3:
            raise ValueError("instalments: one to three")
        if self.instalments and sum((i.share for i in self.instalments), Decimal(0)) != 1:
            raise ValueError("instalments: the shares add up to 1")
        if self.percent_of_gross is not None and not Decimal(0) < self.percent_of_gross < 1:
            raise ValueError("percent_of_gross: a fraction, e.g. 0.02 for 2 %")

    def schedule(self) -> list[Instalment]:
        return list(self.instalments) or [Instalment(self.reference_period.end, Decimal(1))]


@frozen(kw_only=True)
class NaoConfig(sc.SalarySettings):
    awards: list[Award]
    absences: Literal["prorate", "ignore"] = (
        "ignore"  # a NAO bonus prorates for absences only if the accord says so
    )
    pay_lag_months: int = 0
    dsn_code: str = "028"


def on_recompute(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    """`recomputation_requested`: the instalments of the awards of that reference period already due (their pay
    period closed), computed again; each difference is a correction citing the request."""
    p = event.payload
    if p.scheme != SCHEME:
        return SchemeResult()
    cfg: NaoConfig = ctx.config
    closed = [e.payload.period for e in ctx.events("period_closed")]
    drafts: list[EntitlementDraft] = []
    for award in cfg.awards:
        if award.reference_period != p.period:
            continue
        schedule = award.schedule()
        for n, inst in enumerate(schedule):
            if not any(c.contains(inst.date) for c in closed):
                continue
            before = _recorded(ctx, award, n)
            new = _instalment(ctx, cfg, award, n, schedule)
            drafts += _corrections(ctx, award, n, new, before, event, sc.dsn(cfg.dsn_code))
    return SchemeResult(
        drafts, sc.payment_date_warning(cfg, SCHEME), {"recomputation": event.id, "entitlements": len(drafts)}
    )


@frozen
class _Recorded:
    """What is recorded for one instalment of an award, summed as it is read: each person's total (principal and
    corrections) and his principal's id; not the entitlements themselves (200 000 explanations at a time)."""

    total: dict[str, int]
    principal: dict[str, str]


def _of(e: RecordedEntitlement, award: Award, n: int) -> bool:
    """Whether `e` is of instalment `n` of `award` (its principal or a correction)."""
    inputs = e.explanation.inputs
    return (
        e.period == award.reference_period
        and inputs.get("award") == award.id
        and inputs.get("instalment") == n + 1
    )


def _recorded(ctx: SchemeContext, award: Award, n: int) -> _Recorded:
    """What is recorded for instalment `n` of `award` (principals and corrections)."""
    total: dict[str, int] = {}
    principal: dict[str, str] = {}
    for e in ctx.iter_entitlements(scheme=SCHEME, period=award.reference_period):
        if _of(e, award, n):
            total[e.employee] = total.get(e.employee, 0) + e.amount_cents
            if e.kind is Kind.PRINCIPAL:
                principal[e.employee] = e.id
    return _Recorded(total, principal)


def _principals(ctx: SchemeContext, award: Award, n: int, ids: set[str]) -> dict[str, RecordedEntitlement]:
    """The recorded principals `ids` of instalment `n` of `award`, by employee (read again: a few people)."""
    return {
        e.employee: e
        for e in ctx.iter_entitlements(scheme=SCHEME, period=award.reference_period)
        if e.id in ids and _of(e, award, n)
    }


def _corrections(
    ctx: SchemeContext,
    award: Award,
    n: int,
    new: Sequence[EntitlementDraft],
    before: _Recorded,
    request: Event[Any],
    dsn: DsnMapping,
    reason: str | None = None,
    kept: tuple[frozenset[str], list[str]] | None = None,
) -> list[EntitlementDraft]:
    """The new amounts of instalment `n` of `award` less what was recorded: corrections referencing each
    principal (or a principal for a new beneficiary); someone no longer entitled gets a negative correction.
    `kept` (staff, out): someone not in the staff loaded now keeps what was recorded (his id added to `out`): a
    payroll that no longer lists him is no proof he is not entitled (a recomputation the company asks for takes it
    back)."""
    total = dict(before.total)
    principal = before.principal
    out = []
    # what `request` records is paid (or recovered) by the payroll of the month it occurred in, as `paybonus
    # export` places it: never due before that month ends (an instalment's own date may be months past)
    floor = sc.due_date(request.occurred_at.date())
    why = sc.recomputation(request)
    if reason is not None:  # what the request's own reason would not say (a later instalment's close)
        why["reason"] = reason
    for d in new:
        prev = total.pop(d.employee, 0)
        if d.amount_cents == prev:
            continue
        first_id = principal.get(d.employee)
        expl = evolve(  # keeps the part the instalment's drafts share
            d.explanation,
            inputs={**d.explanation.inputs, "previous_cents": prev, "recomputation": why},
            steps=[*d.explanation.steps, f"recorded before: {format_euros(prev)}"],
        )
        due = floor if d.due_date is None else max(d.due_date, floor)
        if first_id is None:
            out.append(evolve(d, explanation=expl, amount_cents=d.amount_cents - prev, due_date=due))
        else:
            out.append(
                evolve(
                    d,
                    explanation=expl,
                    amount_cents=d.amount_cents - prev,
                    due_date=due,
                    kind=Kind.CORRECTION,
                    corrects=first_id,
                    key=f"{d.key}|{request.id}",
                )
            )
    gone: list[tuple[str, int]] = []
    for emp, prev in total.items():
        if not prev or emp not in principal:
            continue
        if kept is not None and emp not in kept[0]:
            kept[1].append(emp)
            continue
        gone.append((emp, prev))
    firsts = _principals(ctx, award, n, {principal[emp] for emp, _ in gone}) if gone else {}
    for emp, prev in gone:
        first = firsts[emp]
        inputs = {**first.explanation.inputs, "full_cents": 0, "total_cents": 0, "previous_cents": prev}
        expl = Explanation(
            {**inputs, "recomputation": why},
            first.explanation.parameters,
            ["no longer entitled under the installed rules", f"recorded before: {format_euros(prev)}"],
            first.explanation.rules,
        )
        out.append(
            EntitlementDraft(
                emp,
                first.period,
                -prev,
                expl,
                Kind.CORRECTION,
                floor if first.due_date is None else max(first.due_date, floor),
                first.id,
                key=f"{first.explanation.inputs.get('award')}|{first.explanation.inputs.get('instalment')}|{request.id}",
                dsn=dsn,
            )
        )
    return out


def on_close(event: Event[Any], ctx: SchemeContext) -> SchemeResult:
    cfg: NaoConfig = ctx.config
    closed = event.payload.period
    drafts = Drafts()
    findings = sc.payment_date_warning(cfg, SCHEME)
    closes: list[Event[Any]] | None = None  # the company's closes, read when an instalment falls in this one
    for award in cfg.awards:
        schedule = award.schedule()
        brought: set[int] = set()  # the earlier instalments this close brought up to the award: once each
        for n, inst in enumerate(schedule):
            if closed.contains(inst.date):
                closes = ctx.events("period_closed") if closes is None else closes
                # the instalments are shares of one award (N-1): the earlier ones already computed are brought up
                # to what the award gives now (a payroll loaded month by month, someone hired since), as
                # corrections citing this close, so that the instalments add up to the award. Earlier is by
                # date (the schedule is not required in date order); one in this closed period is computed by
                # its own turn of this loop, not here (it would be given twice)
                for m, other in enumerate(schedule):
                    if (
                        m in brought
                        or other.date >= inst.date
                        or closed.contains(other.date)
                        or not any(c.payload.period.contains(other.date) for c in closes)
                    ):
                        continue
                    brought.add(m)
                    before = _recorded(ctx, award, m)
                    earlier = _instalment(ctx, cfg, award, m, schedule)
                    reason = (
                        f"the close of {closed.key} (instalment {n + 1}) brought instalment {m + 1} up to what the "
                        "award gives now (N-1)"
                    )
                    staff = frozenset(e.id for e in ctx.population(award.reference_period).employees)
                    missing: list[str] = []
                    drafts = drafts + Drafts.of(
                        _corrections(
                            ctx,
                            award,
                            m,
                            earlier,
                            before,
                            event,
                            sc.dsn(cfg.dsn_code),
                            reason,
                            (staff, missing),
                        )
                    )
                    if missing:  # a count, never who: findings are read by people who are not payroll
                        findings.append(
                            Finding(
                                "warning",
                                "N-1",
                                MISSING_WARNING.format(award=award.id, n=len(missing), m=m + 1),
                            )
                        )
                new = _instalment(ctx, cfg, award, n, schedule)
                if any(c.id != event.id and c.payload.period.contains(inst.date) for c in closes):
                    # the month closed again (a payroll corrected after its close): what changed is a correction
                    # citing this close; nothing when nothing changed (N-1)
                    before = _recorded(ctx, award, n)
                    new = (
                        Drafts.of(_corrections(ctx, award, n, new, before, event, sc.dsn(cfg.dsn_code)))
                        if before.total
                        else new
                    )
                drafts = drafts + new
                if award.gross_basis == "actual" and award.percent_of_gross is not None:
                    findings.append(Finding("warning", "N-4", ACTUAL_GROSS_WARNING.format(award=award.id)))
    return SchemeResult(drafts, findings, {"entitlements": len(drafts)})


MISSING_WARNING = (
    "award {award}: beneficiaries of instalment {m} no longer in the payroll loaded now: {n}; what they were given is "
    "kept (a payroll that no longer lists someone is no proof he is not entitled); publish recomputation_requested "
    "to take it back if they are not"
)
ACTUAL_GROSS_WARNING = (
    "award {award}: gross_basis = actual: months of maternity, paternity, adoption, work accident or occupational "
    "disease paid as daily allowances reduce the percentage of gross (D-2)"
)
GROSS_KINDS = {"protected": sc.NEUTRAL, "all_absences": frozenset(AbsenceKind), "actual": frozenset()}


def _instalment(
    ctx: SchemeContext, cfg: NaoConfig, award: Award, n: int, schedule: list[Instalment]
) -> Drafts:
    """The drafts of instalment `n` of `award`: each person's amount now, each explanation as the core records it
    (`Drafts`), from the award's numbers (`_Table`), computed once per population and award and shared by its
    instalments: not 200 000 explanations, nor 200 000 award objects, held at once."""
    ref = award.reference_period
    pay_month = schedule[n].date.replace(day=1)
    full_hours = ctx.params.value("legal_monthly_hours", ref.end)
    weights = scale_weights([i.share for i in schedule])  # the same for everyone: once
    due, dsn, month = sc.due_date(pay_month), sc.dsn(cfg.dsn_code), pay_month.isoformat()[:7]
    shared = Explanation(  # what every beneficiary of the instalment shares: stored once
        inputs={
            "award": award.id,
            "instalment": n + 1,
            "instalments": [str(i.share) for i in schedule],
            "payroll_month": month,
        },
        parameters={"legal_monthly_hours": str(full_hours)},
        rules=["N-1", "N-2", "N-4", *(["D-2"] if award.percent_of_gross is not None else [])],
    )
    last = f"instalment {n + 1} of {len(schedule)}: "
    key = f"{award.id}|{n + 1}"
    pop = ctx.population(ref)
    table = _table(pop, award, cfg.absences, full_hours, keep=n < len(schedule) - 1)
    explain = _Explainer(award, table, ref.days)._explain
    split: dict[int, list[int]] = {}  # allocate() of each distinct award amount: most people share a few

    employees, amounts, index = pop.employees, table.amount, table.index
    principal = Kind.PRINCIPAL

    def draft(i: int) -> EntitlementDraft:
        # positional arguments, the defaults given as they are (a new empty dict of parameters, no rules, not a
        # correction): the same Explanation and draft as by keywords, without attrs' keyword and factory work
        total = amounts[i]
        parts = split[total]
        amount = parts[n]  # above 0: the rows kept below
        inputs, steps = explain(i, f"{last}{amount // 100}{DECIMALS[amount % 100]}")  # format_euros, c > 0
        inputs["total_cents"] = total
        inputs["instalment_cents"] = list(parts)
        return EntitlementDraft(
            employees[index[i]].id,
            ref,
            amount,
            Explanation(inputs, {}, steps, (), shared),
            principal,
            due,
            None,
            key,
            dsn,
        )

    rows = array("i")  # the table's rows this instalment pays (an instalment of 0 cents is no entitlement)
    for i, total in enumerate(amounts):
        parts = split.get(total)
        if parts is None:
            parts = split[total] = allocate(total, weights)
        if parts[n] > 0:
            rows.append(i)
    items = _Rows(rows)
    return Drafts(draft, items)


# -- an award's numbers for a population, computed once --------------------------------------------------------

# the table's columns: cents in 64 bits (a column that meets a larger amount becomes a list: amounts are exact
# Python ints everywhere), days and years in 64 bits, positions in 32 (fewer than 2**31 people)
CENTS = ("amount", "full", "gross", "used")
WIDE = ("contract_days", "absent_days", "neutral_days", "years")
NARROW = ("index", "bracket", "coefficient", "ratio")
INT64 = 2**63 - 1
ONE = Decimal(1)
ZERO = Decimal(0)
HOURS_QUANTUM = Decimal("0.0001")
DECIMALS = tuple(f".{c:02d}" for c in range(100))  # `format_euros`'s cents after the units, for c >= 0


@frozen
class _Table:
    """An award's numbers for everyone it pays (amount above 0), in population order, as columns (`array`: a few
    bytes a person, not an object): what each instalment reads and explains. People with an absence in the
    reference period keep their presence by kind, and with `percent_of_gross` their reconstituted months, on the
    side (`by_kind`, `months`: by row)."""

    index: array[int]  # position in the population's employees
    amount: array[int] | list[int]  # the award for the whole reference period, pro rata of presence (cents)
    full: array[int] | list[int]  # before presence (cents)
    contract_days: array[int]
    absent_days: array[int]
    neutral_days: array[int]
    years: array[int]  # seniority on the award's date
    bracket: array[int]  # index into `brackets`
    coefficient: array[int]  # index into `coefficients`
    ratio: array[int]  # index into `ratios`
    # with percent_of_gross: the gross actually paid, and the gross used (cents)
    gross: array[int] | list[int]
    used: array[int] | list[int]
    brackets: list[Decimal]
    coefficients: list[Decimal]
    ratios: list[Decimal]
    by_kind: dict[int, dict[str, int]]
    months: dict[int, list[dict[str, Any]]]


class _Rows(Sequence[tuple[int]]):
    """The items of an instalment's `Drafts`: (row,) for each row of the table it pays, from an array of rows."""

    def __init__(self, rows: array[int]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, k: int) -> tuple[int]: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[tuple[int]]: ...

    def __getitem__(self, k: int | slice) -> tuple[int] | Sequence[tuple[int]]:
        if isinstance(k, slice):
            return _Rows(self.rows[k])
        return (self.rows[k],)

    def __iter__(self) -> Iterator[tuple[int]]:
        return ((i,) for i in self.rows)


# (population, its weak reference) -> {award key: table}: the tables go with their population (the bus keeps the
# last few populations read); a population read again is a new object, computed again
_TABLES: dict[int, tuple[weakref.ref[Population], dict[tuple[Any, ...], _Table]]] = {}


def _table(pop: Population, award: Award, policy: str, full_hours: Decimal, keep: bool) -> _Table:
    """The award's numbers for `pop`: computed at its first instalment, read again by the next ones; the last
    lets them go (`keep` False: the rest of the close needs the memory more than a recomputation its time)."""
    key = (repr(award), policy, full_hours)
    held = _TABLES.get(id(pop))
    if held is None or held[0]() is not pop:
        held = (weakref.ref(pop), {})
        _TABLES[id(pop)] = held
        weakref.finalize(pop, _TABLES.pop, id(pop), None)
    table = held[1].pop(key, None) or _compute(pop, award, policy, full_hours)
    if keep:
        held[1][key] = table
    return table


def _compute(pop: Population, award: Award, policy: str, full_hours: Decimal) -> _Table:
    """Each person's award, one pass over the population: presence, seniority, working time and the gross where
    the award needs them; the decimal steps (bracket, working time, (base x coefficient x ratio)) are worked out
    once per distinct input and shared (the same operations as for one person, so the same results, N-1, N-4)."""
    ref = award.reference_period
    start, end, period_days = ref.start, ref.end, ref.days
    on = award.present_on or ref.end
    percent = award.percent_of_gross
    kinds = GROSS_KINDS[award.gross_basis]
    ap_counts = award.gross_basis == "all_absences"
    prorate_time = award.part_time == "prorate"
    present_on, min_days = award.present_on, award.min_presence_days
    flat = Decimal(award.flat_cents)
    brackets = [ZERO, *(euros * 100 for _, euros in award.seniority)]
    coefficients: list[Decimal] = []
    coefficient_at: dict[int, int] = {}  # id of a coefficient (the config's own object) -> index
    ratios: list[Decimal] = []
    ratio_at: dict[tuple[Decimal, int], int] = {}  # (sum of the hours, lines) -> index
    bracket_at: dict[int, int] = {}  # years -> index
    full_of: dict[tuple[int, int, int, int], int] = {}
    cols: dict[str, Any] = {name: array("q") for name in (*CENTS, *WIDE)}
    cols.update((name, array("i")) for name in NARROW)
    index, contract_c, absent_c, neutral_c, years_c, bracket_c, coef_c, ratio_c = (
        cols[k].append for k in ("index", *WIDE, "bracket", "coefficient", "ratio")
    )
    amount_c, full_c, gross_c, used_c = (cols[k].append for k in CENTS)
    by_kind: dict[int, dict[str, int]] = {}
    months: dict[int, list[dict[str, Any]]] = {}
    categories = award.categories
    row = 0
    for at, emp in enumerate(pop.employees):
        contracts = emp.contracts
        # presence (sc.presence): days under contract, and with an absence its own count by kind
        if emp.absences:
            p = sc.presence(emp, ref, policy)
            contract_days, absent, neutral, kinds_days = (
                p.contract_days,
                p.absent_days,
                p.neutral_days,
                p.by_kind,
            )
        else:
            contract_days = 0
            for c in contracts:
                s = c.start if c.start > start else start
                e = end if c.end is None or c.end > end else c.end
                if s <= e:
                    contract_days += (e - s).days + 1
            absent = neutral = 0
            kinds_days = None
        present = contract_days - absent
        # excluded (N-4): not under contract on the award's date, or presence below the minimum
        if present_on is not None and not any(
            c.start <= present_on and (c.end is None or c.end >= present_on) for c in contracts
        ):
            continue
        if present < min_days:
            continue
        gross = used = 0
        reconstituted: list[dict[str, Any]] = []
        if percent is not None:
            gross, used, reconstituted = sc.bonus_gross(emp, ref, kinds, ap_counts)
        days = 0  # seniority (_seniority_years): every contract started by `on`, up to `on`
        for c in contracts:
            if c.start <= on:
                days += ((c.end if c.end is not None and c.end < on else on) - c.start).days + 1
        years = days // 365
        b = bracket_at.get(years)
        if b is None:
            b = 0
            for j, (from_years, _) in enumerate(award.seniority):
                if years >= from_years:
                    b = j + 1
            bracket_at[years] = b
        coef = categories.get(emp.category, ONE)
        k = coefficient_at.get(id(coef))
        if k is None:
            k = coefficient_at[id(coef)] = len(coefficients)
            coefficients.append(coef)
        r = 0
        if prorate_time:  # _working_time: the mean contractual hours of the period's lines over full time
            hours = [pl.contract_hours for pl in emp.pay if start <= pl.month <= end]
            hkey = (sum(hours, ZERO), len(hours)) if hours else (ONE, 0)
            r = ratio_at.get(hkey, -1)
            if r < 0:
                mean = hkey[0] / hkey[1] if hkey[1] else None
                ratio = ONE if mean is None else min(ONE, (mean / full_hours).quantize(HOURS_QUANTUM))
                r = ratio_at[hkey] = len(ratios)
                ratios.append(ratio)
        elif not ratios:
            ratios.append(ONE)
        fkey = (used, b, k, r)
        full = full_of.get(fkey)
        if full is None:
            base = flat
            if percent is not None:
                base += percent * used
            if award.seniority:
                base += brackets[b]
            full = full_of[fkey] = int((base * coef * ratios[r]).to_integral_value(ROUND_DOWN))
        # sc.prorate: pro rata of presence, rounded down to the cent
        amount = full * max(0, present) // period_days if full > 0 and period_days else 0
        if amount <= 0:
            continue
        wide = full > INT64 or gross > INT64 or used > INT64 or gross < -INT64 or used < -INT64
        if wide and isinstance(cols["amount"], array):  # cents beyond 64 bits: those columns become lists
            cols.update((k, list(cols[k])) for k in CENTS)
            amount_c, full_c, gross_c, used_c = (cols[k].append for k in CENTS)
        index(at)
        amount_c(amount)
        full_c(full)
        contract_c(contract_days)
        absent_c(absent)
        neutral_c(neutral)
        years_c(years)
        bracket_c(b)
        coef_c(k)
        ratio_c(r)
        if percent is not None:
            gross_c(gross)
            used_c(used)
            if reconstituted:
                months[row] = reconstituted
        if kinds_days is not None:
            by_kind[row] = kinds_days
        row += 1
    return _Table(
        **cols, brackets=brackets, coefficients=coefficients, ratios=ratios, by_kind=by_kind, months=months
    )


class _Explainer:
    """Row `i` of a table as an award's explanation (inputs and steps, without the instalment's numbers, its step
    given as `tail`), the same text for everyone who shares a step. The columns are read into locals once per
    instalment (`_explain`, made in `__init__`, reads closure cells, not attributes each row); an amount above
    0 is written as `format_euros` writes it, inline (`f"{c // 100}{DECIMALS[c % 100]}"`, the same text for
    c >= 0, without a format spec's parsing: a quarter of the time)."""

    def __init__(self, award: Award, table: _Table, period_days: int) -> None:
        self.award, self.t, self.period_days = award, table, period_days
        self.flat = f"flat {format_euros(award.flat_cents)}"
        self.percent = award.percent_of_gross
        self.seniority: dict[tuple[int, int], str] = {}
        self.factors: dict[tuple[int, int], tuple[str, str, str]] = {}
        self._explain = self._make()

    def __call__(self, i: int, tail: str) -> tuple[dict[str, Any], list[str]]:
        return self._explain(i, tail)

    def _make(self) -> Callable[[int, str], tuple[dict[str, Any], list[str]]]:
        award, t, period_days = self.award, self.t, self.period_days
        flat, percent, basis, with_seniority = (
            self.flat,
            self.percent,
            award.gross_basis,
            bool(award.seniority),
        )
        seniority_of, factors_of = self.seniority, self.factors
        full_c, amount_c, years_c, bracket_c = t.full, t.amount, t.years, t.bracket
        coef_c, ratio_c, contract_c, absent_c, neutral_c = (
            t.coefficient,
            t.ratio,
            t.contract_days,
            t.absent_days,
            t.neutral_days,
        )
        gross_c, used_c, months_of, by_kind_of = t.gross, t.used, t.months.get, t.by_kind.get
        brackets, coefficients, ratios = t.brackets, t.coefficients, t.ratios

        def explain(i: int, tail: str) -> tuple[dict[str, Any], list[str]]:
            full, amount = full_c[i], amount_c[i]  # both above 0: a table keeps no row of 0
            years = years_c[i]
            steps = [flat]
            if percent is not None:
                used, months = used_c[i], months_of(i, [])
                how = (
                    f" ({len(months)} month(s) at the salary the employee would have earned, "
                    f"gross_basis = {basis}, D-2)"
                    if months
                    else ""
                )
                steps.append(f"+ {percent} x gross {format_euros(used)}{how}")
            if with_seniority:
                b = bracket_c[i]
                s = seniority_of.get((years, b))
                if s is None:
                    s = seniority_of[(years, b)] = (
                        f"+ seniority {years} years: {format_euros(int(brackets[b]))}"
                    )
                steps.append(s)
            k, r = coef_c[i], ratio_c[i]
            factors = factors_of.get((k, r))
            if factors is None:
                coef, ratio = coefficients[k], ratios[r]
                factors = factors_of[(k, r)] = (
                    str(coef),
                    str(ratio),
                    f"x category coefficient {coef} x working time {ratio} = ",
                )
            contract, absent = contract_c[i], absent_c[i]
            steps += (
                f"{factors[2]}{full // 100}{DECIMALS[full % 100]}",
                f"pro rata of presence {contract - absent}/{period_days} days: {amount // 100}{DECIMALS[amount % 100]}",
                tail,
            )
            presence = {
                "period_days": period_days,
                "contract_days": contract,
                "absent_days": absent,
                "neutral_days": neutral_c[i],
                "by_kind": by_kind_of(i, {}),
            }
            if percent is not None:
                inputs: dict[str, Any] = {
                    "gross_cents": gross_c[i],
                    "gross_used_cents": used,
                    "gross_basis": basis,
                    "reconstituted_months": months,
                }
            else:
                inputs = {"gross_cents": 0}
            inputs["seniority_years"] = years
            inputs["coefficient"] = factors[0]
            inputs["working_time"] = factors[1]
            inputs["full_cents"] = full
            inputs["presence"] = presence
            return inputs, steps

        return explain


# a schedule of instalment shares (as stored: text) -> its integer weights. Every row of a dispatch has the same
# schedule (its shared part): `audit verify` converts each schedule once, not once a row (Decimals, about a third
# of this recompute's time). Only lists of text are kept; anything else is converted each time, as before.
_WEIGHTS: dict[tuple[str, ...], tuple[int, ...]] = {}
_WEIGHTS_KEPT = 64


def _weights(shares: Any) -> Sequence[int]:
    """`scale_weights` of the shares read as Decimals (the same value, the same error)."""
    if shares.__class__ is not list or any(s.__class__ is not str for s in shares):
        return scale_weights([Decimal(s) for s in shares])
    key = tuple(shares)
    found = _WEIGHTS.get(key)
    if found is None:
        found = tuple(scale_weights([Decimal(s) for s in key]))  # raises as before: nothing kept
        if len(_WEIGHTS) >= _WEIGHTS_KEPT:
            _WEIGHTS.clear()
        _WEIGHTS[key] = found
    return found


def recompute(expl: Explanation) -> int:
    i = expl.inputs
    p = i["presence"]
    total = sc.replay_prorate(int(i["full_cents"]), p["contract_days"] - p["absent_days"], p["period_days"])
    parts = allocate(total, _weights(i["instalments"]))
    n = int(i["instalment"])
    if not 1 <= n <= len(parts):  # a negative index would silently take an instalment from the end
        raise ValueError(f"instalment {n} is not one of the schedule's 1 to {len(parts)}")
    return parts[n - 1] - int(i.get("previous_cents", 0))


def descriptor() -> SchemeDescriptor:
    return SchemeDescriptor(
        name=SCHEME,
        version=VERSION,
        label="Prime NAO",
        handlers={"period_closed": on_close, RECOMPUTATION.name: on_recompute},
        reads_own_entitlements_only=True,  # its own rights only: computed beside the other schemes
        recompute=recompute,
        dsn=DsnMapping("S21.G00.52", "028", sc.DSN_CODES["028"]),
        social_regime=SocialRegime.SALARY,
        config_type=NaoConfig,
        description="Flat, % of gross, seniority brackets, category coefficients; 1 to 3 instalments.",
    )
