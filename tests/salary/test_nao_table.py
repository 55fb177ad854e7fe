"""Prime NAO computed once per population (`_Table`, issue 17) gives every instalment exactly the drafts the
straightforward per-person computation gave: amounts, explanations, keys, due dates (N-1, N-4, D-2)."""

import gc
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from attrs import frozen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus.calendar import Period
from paybonus.events import canonical_json
from paybonus.hooks import EntitlementDraft, Explanation
from paybonus.money import allocate, format_euros, scale_weights
from paybonus.payroll import Absence, AbsenceKind, Contract, EmployeeRecord, PayLine, Population
from paybonus.plugins.salary import mechanism as sc
from paybonus.plugins.salary import prime_nao as nao

FULL_HOURS = Decimal("151.67")

# -- the reference: prime_nao 1.1.0 as it computed each person at each instalment (before the table) --------------


@frozen
class _Numbers:
    amount: int
    presence: sc.Presence
    gross: int
    used: int
    reconstituted: list[dict[str, Any]]
    years: int
    bracket: Decimal
    coefficient: Decimal
    ratio: Decimal
    full: int


def _excluded(award: nao.Award, emp: EmployeeRecord, p: sc.Presence) -> str | None:
    if award.present_on is not None and not any(
        c.start <= award.present_on and (c.end is None or c.end >= award.present_on) for c in emp.contracts
    ):
        return f"not under contract on {award.present_on}"
    if p.present_days < award.min_presence_days:
        return f"presence {p.present_days} days below {award.min_presence_days}"
    return None


def _seniority_years(emp: EmployeeRecord, on: date) -> int:
    days = sum(((min(c.end or on, on) - c.start).days + 1) for c in emp.contracts if c.start <= on)
    return days // 365


def _working_time(emp: EmployeeRecord, ref: Period, full_hours: Decimal) -> Decimal:
    lines = list(emp.pay_in(ref))
    if not lines:
        return Decimal(1)
    avg = sum((pl.contract_hours for pl in lines), Decimal(0)) / len(lines)
    return min(Decimal(1), (avg / full_hours).quantize(Decimal("0.0001")))


def _award_numbers(award, emp, ref, cfg, full_hours):
    p = sc.presence(emp, ref, cfg.absences)
    if _excluded(award, emp, p) is not None:
        return None
    gross, used = 0, 0
    reconstituted: list[dict[str, Any]] = []
    if award.percent_of_gross is not None:
        kinds = nao.GROSS_KINDS[award.gross_basis]
        gross, used, reconstituted = sc.bonus_gross(emp, ref, kinds, award.gross_basis == "all_absences")
    base = Decimal(award.flat_cents)
    if award.percent_of_gross is not None:
        base += award.percent_of_gross * used
    years = _seniority_years(emp, award.present_on or ref.end)
    bracket = Decimal(0)
    for from_years, euros in award.seniority:
        if years >= from_years:
            bracket = euros * 100
    if award.seniority:
        base += bracket
    coef = award.categories.get(emp.category, Decimal(1))
    ratio = _working_time(emp, ref, full_hours) if award.part_time == "prorate" else Decimal(1)
    full = int((base * coef * ratio).to_integral_value(ROUND_DOWN))
    amount = sc.prorate(full, p)
    return _Numbers(amount, p, gross, used, reconstituted, years, bracket, coef, ratio, full)


def _detail(award, x):
    steps = [f"flat {format_euros(award.flat_cents)}"]
    if award.percent_of_gross is not None:
        how = (
            f" ({len(x.reconstituted)} month(s) at the salary the employee would have earned, "
            f"gross_basis = {award.gross_basis}, D-2)"
            if x.reconstituted
            else ""
        )
        steps.append(f"+ {award.percent_of_gross} x gross {format_euros(x.used)}{how}")
    if award.seniority:
        steps.append(f"+ seniority {x.years} years: {format_euros(int(x.bracket))}")
    steps.append(f"x category coefficient {x.coefficient} x working time {x.ratio} = {format_euros(x.full)}")
    p = x.presence
    steps.append(f"pro rata of presence {p.present_days}/{p.period_days} days: {format_euros(x.amount)}")
    return {
        "gross_cents": x.gross,
        **(
            {
                "gross_used_cents": x.used,
                "gross_basis": award.gross_basis,
                "reconstituted_months": x.reconstituted,
            }
            if award.percent_of_gross is not None
            else {}
        ),
        "seniority_years": x.years,
        "coefficient": str(x.coefficient),
        "working_time": str(x.ratio),
        "full_cents": x.full,
        "presence": p.to_json(),
        "steps": steps,
    }


def reference(ctx, cfg, award, n, schedule) -> list[EntitlementDraft]:
    ref = award.reference_period
    pay_month = schedule[n].date.replace(day=1)
    full_hours = ctx.params.value("legal_monthly_hours", ref.end)
    weights = scale_weights([i.share for i in schedule])
    due, dsn, month = sc.due_date(pay_month), sc.dsn(cfg.dsn_code), pay_month.isoformat()[:7]
    shared = Explanation(
        inputs={
            "award": award.id,
            "instalment": n + 1,
            "instalments": [str(i.share) for i in schedule],
            "payroll_month": month,
        },
        parameters={"legal_monthly_hours": str(full_hours)},
        rules=["N-1", "N-2", "N-4", *(["D-2"] if award.percent_of_gross is not None else [])],
    )
    out = []
    for emp in ctx.population(ref).employees:
        numbers = _award_numbers(award, emp, ref, cfg, full_hours)
        if numbers is None or numbers.amount <= 0:
            continue
        parts = allocate(numbers.amount, weights)
        if parts[n] <= 0:
            continue
        detail = _detail(award, numbers)
        steps = detail.pop("steps")
        expl = Explanation(
            inputs={**detail, "total_cents": numbers.amount, "instalment_cents": parts},
            steps=[*steps, f"instalment {n + 1} of {len(schedule)}: " + format_euros(parts[n])],
            shared=shared,
        )
        out.append(
            EntitlementDraft(emp.id, ref, parts[n], expl, due_date=due, key=f"{award.id}|{n + 1}", dsn=dsn)
        )
    return out


# -- random populations and awards ------------------------------------------------------------------------------


class Params:
    def value(self, name: str, on: date) -> Decimal:
        assert name == "legal_monthly_hours"
        return FULL_HOURS


class Ctx:
    def __init__(self, pop: Population) -> None:
        self.pop, self.params, self.reads = pop, Params(), 0

    def population(self, period: Period) -> Population:
        self.reads += 1
        return self.pop


DAY0 = date(2024, 1, 1)
days = st.integers(0, 3 * 365)
HOURS = ["151.67", "121.33", "75.83", "0", "35", "169", "151.666666666666666666666666666667", "104.00"]


@st.composite
def employee(draw: st.DrawFn, i: int) -> EmployeeRecord:
    contracts = []
    for _ in range(draw(st.integers(0, 3))):
        start = DAY0 - timedelta(days=draw(st.integers(0, 3000))) + timedelta(days=draw(days))
        end = None if draw(st.booleans()) else start + timedelta(days=draw(st.integers(0, 900)))
        contracts.append(Contract(start, end))
    absences = []
    for _ in range(draw(st.integers(0, 3) if draw(st.booleans()) else st.just(0))):
        start = DAY0 + timedelta(days=draw(days))
        absences.append(
            Absence(
                draw(st.sampled_from(list(AbsenceKind))),
                start,
                start + timedelta(days=draw(st.integers(0, 200))),
            )
        )
    lines = []
    hours = draw(st.sampled_from(HOURS))
    gross = draw(st.integers(0, 900_000))
    for m in sorted(draw(st.sets(st.integers(0, 35), max_size=14))):  # 2024-01 .. 2026-12
        month = date(2024 + m // 12, m % 12 + 1, 1)
        if draw(st.integers(0, 4)) == 0:
            hours, gross = draw(st.sampled_from(HOURS)), draw(st.integers(0, 900_000))
        lines.append(
            PayLine(
                month,
                gross,
                draw(st.sampled_from([gross, gross + 10_000, 0])),
                Decimal(hours),
                Decimal(draw(st.sampled_from(["0", "0", "7.5"]))),
                reconstituted_cents=draw(st.sampled_from([None, None, gross + 12_345])),
            )
        )
    return EmployeeRecord(
        f"E{i:04d}",
        tuple(contracts),
        tuple(lines),
        tuple(absences),
        category=draw(st.sampled_from(["cadre", "technicien", "employe", ""])),
    )


@st.composite
def populations(draw: st.DrawFn) -> list[EmployeeRecord]:
    n = draw(st.integers(0, 25))
    return [draw(employee(i)) for i in range(n)]


REFERENCES = [Period(date(2025, 1, 1), date(2025, 12, 31)), Period(date(2025, 3, 15), date(2026, 3, 14))]


@st.composite
def awards(draw: st.DrawFn) -> nao.Award:
    ref = draw(st.sampled_from(REFERENCES))
    flat = draw(st.sampled_from([None, "150.00", "0.07", "1234.56"]))
    percent = draw(st.sampled_from([None, Decimal("0.02"), Decimal("0.0333")]))
    seniority = draw(
        st.sampled_from(
            [[], [[Decimal(0), Decimal(100)], [Decimal(2), Decimal(200)], [Decimal("5.5"), Decimal("350.5")]]]
        )
    )
    if not (flat or percent or seniority):
        flat = "150.00"
    shares = draw(
        st.sampled_from([[], ["1"], ["0.5", "0.5"], ["0.3", "0.3", "0.4"], ["0.333", "0.333", "0.334"]])
    )
    dates = [ref.start + timedelta(days=90 * (k + 1)) for k in range(len(shares))]
    return nao.Award(
        id="nao",
        reference_period=ref,
        flat=flat,
        percent_of_gross=percent,
        seniority=seniority,
        categories=draw(
            st.sampled_from([{}, {"cadre": Decimal("0.8")}, {"cadre": Decimal("1.5"), "": Decimal(0)}])
        ),
        present_on=draw(st.sampled_from([None, ref.end, ref.start + timedelta(days=100)])),
        min_presence_days=draw(st.sampled_from([0, 0, 30, 200])),
        part_time=draw(st.sampled_from(["prorate", "none"])),
        instalments=[nao.Instalment(d, Decimal(s)) for d, s in zip(dates, shares, strict=True)],
        gross_basis=draw(st.sampled_from(["protected", "all_absences", "actual"])),
    )


def as_rows(drafts: Any) -> list[tuple[Any, ...]]:
    return [
        (
            d.employee,
            d.period,
            d.amount_cents,
            d.kind,
            d.due_date,
            d.key,
            d.dsn,
            d.corrects,
            canonical_json(d.explanation.to_dict()),
            canonical_json(d.explanation.own_dict()),
        )
        for d in drafts
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(people=populations(), award=awards(), policy=st.sampled_from(["prorate", "ignore"]))
def test_every_instalment_gives_what_the_per_person_computation_gave(people, award, policy):
    ref = award.reference_period
    pop = Population("ACME", ref, tuple(people))
    cfg = nao.NaoConfig(awards=[award], absences=policy)
    ctx = Ctx(pop)
    schedule = award.schedule()
    for n in range(len(schedule)):
        got = nao._instalment(ctx, cfg, award, n, schedule)
        want = reference(ctx, cfg, award, n, schedule)
        assert as_rows(got) == as_rows(want)
        assert as_rows(got) == as_rows(got)  # built again when read again: the same drafts
        assert len(got) == len(want)


def test_the_instalments_of_an_award_share_one_computation_per_population(monkeypatch):
    ref = REFERENCES[0]
    people = [
        EmployeeRecord(
            f"E{i}",
            (Contract(date(2020, 1, 1), None),),
            (PayLine(date(2025, 1, 1), 300_000, 300_000, FULL_HOURS),),
        )
        for i in range(5)
    ]
    award = nao.Award(
        id="nao",
        reference_period=ref,
        flat="150.00",
        instalments=[
            nao.Instalment(date(2025, 6, 30), Decimal("0.5")),
            nao.Instalment(date(2025, 12, 31), Decimal("0.5")),
        ],
    )
    cfg = nao.NaoConfig(awards=[award])
    computed: list[int] = []
    real = nao._compute

    def counting(pop, *args):
        computed.append(id(pop))
        return real(pop, *args)

    monkeypatch.setattr(nao, "_compute", counting)
    pop = Population("ACME", ref, tuple(people))
    ctx = Ctx(pop)
    schedule = award.schedule()
    drafts = nao._instalment(ctx, cfg, award, 0, schedule)
    first = as_rows(drafts)
    # read by index and by slice, the drafts are the ones iteration gives
    assert as_rows([drafts[0], drafts[-1]]) == [first[0], first[-1]] and as_rows(drafts[1:3]) == first[1:3]
    assert len(computed) == 1 and len(first) == 5
    # another award (or another absence policy) is computed on its own, and kept on its own
    prorated = nao.NaoConfig(awards=[award], absences="prorate")
    nao._instalment(ctx, prorated, award, 0, schedule)
    assert len(computed) == 2
    # the last instalment reads the numbers of the first, and lets them go
    second = as_rows(nao._instalment(ctx, cfg, award, 1, schedule))
    assert len(computed) == 2 and len(second) == 5
    assert len(nao._TABLES[id(pop)][1]) == 1  # the prorated one's first instalment only
    # computed again when asked again after the last (a recomputation, a month closed again): the same drafts
    assert as_rows(nao._instalment(ctx, cfg, award, 1, schedule)) == second
    assert len(computed) == 3
    # a population read again (a payroll loaded meanwhile) is computed on its own; the old one's numbers go with it
    old = id(pop)
    ctx.pop = Population("ACME", ref, tuple(people))
    assert as_rows(nao._instalment(ctx, cfg, award, 0, schedule)) == first
    assert len(computed) == 4
    assert old in nao._TABLES and id(ctx.pop) in nao._TABLES
    del pop
    gc.collect()
    assert old not in nao._TABLES and id(ctx.pop) in nao._TABLES


def test_amounts_beyond_64_bits_stay_exact():
    """Cents are Python ints: a column that meets an amount beyond 64 bits becomes a list, never a wrapped or
    rounded number (no float touches an amount)."""
    ref = REFERENCES[0]
    year = (Contract(date(2020, 1, 1), None),)
    people = [
        EmployeeRecord("A", year, (PayLine(date(2025, 1, 1), 300_000, 300_000, FULL_HOURS),)),
        EmployeeRecord("B", year, (PayLine(date(2025, 1, 1), 10**21 + 7, 10**21, FULL_HOURS),)),
        EmployeeRecord("C", year, (PayLine(date(2025, 1, 1), -(10**20), 0, FULL_HOURS),), category="cadre"),
    ]
    pop = Population("ACME", ref, tuple(people))
    for flat in ("999999999999999.99", "150.00"):
        award = nao.Award(
            id="nao",
            reference_period=ref,
            flat=flat,
            percent_of_gross=Decimal("0.0333"),
            categories={"cadre": Decimal(10)},
            instalments=[
                nao.Instalment(date(2025, 6, 30), Decimal("0.5")),
                nao.Instalment(date(2025, 12, 31), Decimal("0.5")),
            ],
        )
        cfg = nao.NaoConfig(awards=[award])
        for n in range(2):
            got = as_rows(nao._instalment(Ctx(pop), cfg, award, n, award.schedule()))
            assert got == as_rows(reference(Ctx(pop), cfg, award, n, award.schedule()))
            assert max(r[2] for r in got) > 2**63
