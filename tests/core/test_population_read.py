"""The population read (`paybonus.store.companies.population`) against a straightforward reference written from the
rows as stored: the same employees in the same order, the same contracts, pay lines and absences, value for value
and type for type (the repr tells Decimal("151.67") from Decimal("151.670"), an int from a bool or a Decimal), on
generated payrolls with the edge cases: no pay line, no contract but pay, reconstituted salary or not, contracts
with another company of the group, absences, several contracts, periods that do not start on the first."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus.calendar import Period
from paybonus.payroll import Absence, AbsenceKind, Contract, EmployeeRecord, PayLine, Population
from paybonus.store import Ledger
from paybonus.store.companies import PAY_COLUMNS, population

# a few values each, so that many lines are equal (the read shares equal lines and amounts) and some are not
IDS = ["E1", "E10", "E2", "a", "B", "Zoé", "É3", "e 4"]
MONTHS = [f"{y}-{m:02d}-01" for y, m in [(2024, 12), *((2025, m) for m in range(1, 13)), (2026, 1)]]
HOURS = ["151.67", "151.670", "75.84", "0", "35"]
AP_HOURS = ["0", "45.50", "12"]
CENTS = [0, 1, 279_000, 279_000, 195_302, 2**40 + 7]
DAYS = [date(2024, 6, 1) + timedelta(days=d) for d in (0, 200, 214, 240, 300, 365, 400, 500, 640)]
KINDS = list(AbsenceKind)
PERIODS = [
    Period(date(2025, 1, 1), date(2025, 12, 31)),
    Period(date(2025, 3, 15), date(2025, 8, 20)),  # the March line counts (its month's first day is before)
    Period(date(2025, 6, 1), date(2025, 6, 30)),
]

pay_values = st.tuples(
    st.sampled_from(CENTS),
    st.sampled_from(CENTS),
    st.sampled_from(HOURS),
    st.sampled_from(AP_HOURS),
    st.sampled_from([0, 58_588]),
    st.none() | st.sampled_from(CENTS),  # reconstituted: None or an amount
    st.sampled_from([0, 12_345]),
    st.none() | st.sampled_from([0, 40_000]),  # ap_subject: None or an amount
)
contract = st.tuples(
    st.sampled_from(DAYS),  # start
    st.none() | st.sampled_from(DAYS),  # end (None: running)
    st.none() | st.sampled_from(["cadre", "ouvrier"]),
    st.none() | st.sampled_from(["Lyon", ""]),
    st.sampled_from(["", "unit-1"]),
    st.sampled_from(["", "", "", "GROUP-CO"]),  # a contract with another company of the group
)
absence = st.tuples(st.sampled_from(KINDS), st.sampled_from(DAYS), st.integers(0, 90))


@st.composite
def payrolls(draw):
    contracts, pay, absences = [], [], []
    for emp in draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS))):
        for start, end, cat, est, unit, other in draw(
            st.lists(contract, max_size=3, unique_by=lambda c: c[0])  # one contract a start day
        ):
            if end is not None and end < start:
                start, end = end, start
            contracts.append((emp, start.isoformat(), end and end.isoformat(), cat, est, "", unit, other))
        for month in draw(st.lists(st.sampled_from(MONTHS), unique=True, max_size=len(MONTHS))):
            pay.append((emp, month, *draw(pay_values)))
        for kind, start, days in draw(st.lists(absence, max_size=2, unique_by=lambda a: a[1])):
            absences.append((emp, kind.value, start.isoformat(), (start + timedelta(days=days)).isoformat()))
    return contracts, pay, absences


def reference(company: str, period: Period, contracts, pay, absences) -> Population:
    """The population as its docstring says, from the rows in Python: everyone under contract with the company
    (not a group company) at some point of the period, with all their contracts, or paid in the period's months."""
    s, e = period.start.isoformat(), period.end.isoformat()
    first = period.start.replace(day=1).isoformat()
    under = {c[0] for c in contracts if not c[7] and c[1] <= e and (c[2] is None or c[2] >= s)}
    mine = sorted((c for c in contracts if c[0] in under), key=lambda c: (c[0], c[1]))
    paid = sorted((p for p in pay if first <= p[1] <= e), key=lambda p: (p[0], p[1]))
    away = sorted((a for a in absences if a[2] <= e and a[3] >= s), key=lambda a: (a[0], a[2]))
    employees = []
    for emp in sorted(under | {p[0] for p in paid}):
        own = [c for c in mine if c[0] == emp and not c[7]]
        last = own[-1] if own else None
        employees.append(
            EmployeeRecord(
                emp,
                tuple(_contract(c) for c in own),
                tuple(
                    PayLine(date.fromisoformat(m), g, b, Decimal(h), Decimal(aph), api, rec, cp, aps)
                    for _, m, g, b, h, aph, api, rec, cp, aps in (p for p in paid if p[0] == emp)
                ),
                tuple(
                    Absence(AbsenceKind(k), date.fromisoformat(a), date.fromisoformat(b))
                    for _, k, a, b in (x for x in away if x[0] == emp)
                ),
                (last[3] or "") if last else "",
                (last[4] or "") if last else "",
                last[6] if last else "",
                group_contracts=tuple(_contract(c) for c in mine if c[0] == emp and c[7]),
            )
        )
    return Population(company, period, tuple(employees))


def _contract(c) -> Contract:
    return Contract(date.fromisoformat(c[1]), date.fromisoformat(c[2]) if c[2] else None)


def assert_same(got: Population, want: Population) -> None:
    assert got == want
    assert repr(got) == repr(want)  # types and exact decimals, which == does not tell apart
    for g, w in zip(got.employees, want.employees, strict=True):
        for gl, wl in zip(g.pay, w.pay, strict=True):
            assert [type(v) for v in _values(gl)] == [type(v) for v in _values(wl)]


def _values(line: PayLine) -> list[object]:
    return [getattr(line, f) for f in PayLine.__attrs_attrs__.__dict__ if not f.startswith("_")]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    led = Ledger.create(tmp_path_factory.mktemp("population") / "ledger.db")
    yield led
    led.close()


_companies = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payroll=payrolls(), period=st.sampled_from(PERIODS))
def test_the_read_gives_the_reference_population(ledger, payroll, period):
    contracts, pay, absences = payroll
    company = f"C{next(_companies)}"
    ledger.store_company(company, company, "", contracts, pay, absences, "2026-01-01T00:00:00Z")
    assert_same(population(ledger.companies, company, period), reference(company, period, *payroll))


EDGES = (
    [  # contracts: employee, start, end, category, establishment, display_name, work_unit, group_company
        ("A", "2020-01-01", None, "cadre", "Lyon", "", "u1", ""),
        ("A", "2018-01-01", "2019-06-30", None, None, "", "", "GROUP-CO"),  # group: seniority only
        ("B", "2025-02-10", "2025-04-30", "ouvrier", "", "", "", ""),
        ("B", "2025-09-01", None, "cadre", "Paris", "", "u2", ""),  # two contracts: the last one's meta
        ("D", "2019-01-01", "2024-12-31", None, None, "", "", ""),  # gone before the period, never paid in it
        ("E", "2024-01-01", "2024-06-30", None, None, "", "", ""),  # gone before, paid in it (final pay)
        ("F", "2025-05-01", None, None, None, "", "", ""),  # under contract, no pay line
    ],
    [  # pay lines: employee, month, gross, base, hours, ap_hours, ap_indemnity, reconstituted, cp, ap_subject
        ("A", "2025-02-01", 279_000, 279_000, "151.67", "0", 0, None, 0, None),
        ("A", "2025-01-01", 195_302, 279_000, "151.67", "45.50", 58_588, 279_000, 0, 40_000),
        ("B", "2025-03-01", 279_000, 279_000, "151.67", "0", 0, None, 0, None),  # A's February line, in March
        (
            "B",
            "2025-02-01",
            279_000,
            279_000,
            "151.670",
            "0",
            0,
            None,
            0,
            None,
        ),  # equal, not the same decimal
        ("C", "2025-01-01", 100_000, 100_000, "75.84", "0", 0, None, 12_345, None),  # paid, no contract
        ("E", "2025-01-01", 50_000, 50_000, "0", "0", 0, 0, 0, 0),
        ("A", "2024-12-01", 279_000, 279_000, "151.67", "0", 0, None, 0, None),  # before the period
    ],
    [("A", "illness", "2025-03-01", "2025-03-10"), ("A", "strike", "2024-12-30", "2025-01-02")],
)


def test_the_edge_cases_on_both_backends(both_backends_ledger):
    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    both_backends_ledger.store_company("X", "X", "", *EDGES, "2026-01-01T00:00:00Z")
    pop = population(both_backends_ledger.companies, "X", period)
    assert_same(pop, reference("X", period, *EDGES))
    assert [e.id for e in pop.employees] == ["A", "B", "C", "E", "F"]
    a, b, c = pop.employees[:3]
    assert a.pay[0].reconstituted_cents == 279_000 and a.pay[1].reconstituted_cents is None
    assert b.pay[0].contract_hours.as_tuple() != b.pay[1].contract_hours.as_tuple()  # 151.670 and 151.67
    assert c.contracts == () and (c.category, c.establishment, c.work_unit) == ("", "", "")
    assert pop.employees[4].pay == ()


def test_a_load_committed_during_the_read_is_not_mixed_into_the_population(ledger_target, monkeypatch):
    # the read is one statement a month (and contracts, absences): a `paybonus load` committing between two of them
    # gave a population with January of one load and February of the next; read in one snapshot, it is all the
    # first load's (the next read, keyed on the new load, gives all of the second's)
    from paybonus.store import Ledger, LedgerReader
    from paybonus.store.companies import Companies

    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    writer = Ledger.create(ledger_target)
    writer.store_company("X", "X", "", *EDGES, "2026-01-01T00:00:00Z")
    contracts, pay, absences = EDGES
    doubled = [(*line[:2], line[2] * 2, *line[3:]) for line in pay]
    months_read = []
    real = Companies.pay_lines_of_month

    def then_load(self, company, month):
        months_read.append(month)
        if len(months_read) == 1:  # after the first month's statement: another process loads the company
            writer.store_company("X", "X", "", contracts, doubled, absences, "2026-02-01T00:00:00Z")
        return real(self, company, month)

    monkeypatch.setattr(Companies, "pay_lines_of_month", then_load)
    reader = LedgerReader.open(ledger_target)
    try:
        pop = reader.payroll("X", period)
        assert len(months_read) > 1
        assert_same(pop, reference("X", period, contracts, pay, absences))
        assert_same(reader.payroll("X", period), reference("X", period, contracts, doubled, absences))
    finally:
        reader.close()
        writer.close()


def test_two_threads_reading_populations_on_one_reader_neither_share_nor_end_each_others_snapshot(
    ledger_target, monkeypatch
):
    # a reader's connection is shared with the thread a plugin computes in. A second thread's read must not take the
    # first one's snapshot as "inside a transaction already" (it would read the payroll as it was before a load
    # committed since) nor have it ended in its middle by the first one's COMMIT (two loads in one population)
    import threading

    from paybonus.store import Ledger, LedgerReader
    from paybonus.store.companies import Companies

    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    writer = Ledger.create(ledger_target)
    writer.store_company("X", "X", "", *EDGES, "2026-01-01T00:00:00Z")
    contracts, pay, absences = EDGES
    doubled = [(*line[:2], line[2] * 2, *line[3:]) for line in pay]
    real = Companies.pay_lines_of_month
    first_month_read, second_started = threading.Event(), threading.Event()
    first: list[Population] = []

    def month(self, company, month):
        chunks = list(real(self, company, month))
        if threading.current_thread().name == "first" and not first_month_read.is_set():
            first_month_read.set()
            second_started.wait(timeout=1)  # held inside its read while the other one starts (or waits)
        elif threading.current_thread().name != "first":
            second_started.set()
        return iter(chunks)

    monkeypatch.setattr(Companies, "pay_lines_of_month", month)
    reader = LedgerReader.open(ledger_target)
    other = threading.Thread(target=lambda: first.append(reader.payroll("X", period)), name="first")
    try:
        other.start()
        first_month_read.wait()
        writer.store_company("X", "X", "", contracts, doubled, absences, "2026-02-01T00:00:00Z")
        second = reader.payroll("X", period)  # asked after the second load committed: all of it
        other.join()
        assert_same(first[0], reference("X", period, contracts, pay, absences))
        assert_same(second, reference("X", period, contracts, doubled, absences))
    finally:
        second_started.set()
        other.join()
        reader.close()
        writer.close()


# -- the read as runs (SQLite): each person's months in consecutive rows cross into Python as one row a run ---------
# (`Companies.pay_block`, `_pay_runs`). The rows are stored in a drawn order (as a load writes them: person by
# person; shuffled; month by month; interleaved with another company's rows; with rowids missing) and the
# payrolls have long runs of equal lines, with months missing inside them (a run that is not its months m0..m1);
# the periods leave some of the lines out (other months' lines among the period's).

PAY_SQL = f"INSERT INTO pay_lines (company, {', '.join(PAY_COLUMNS)}) VALUES ({', '.join('?' * 11)})"


@st.composite
def steady_payrolls(draw):
    """Payrolls of people paid the same most months: one or two lines' values each, months with gaps."""
    contracts, pay, absences = draw(payrolls())
    steady = []
    employees = sorted({p[0] for p in pay} | {c[0] for c in contracts})
    for emp in draw(st.lists(st.sampled_from(employees), unique=True)) if employees else []:
        values = draw(st.lists(pay_values, min_size=1, max_size=2))
        months = draw(st.lists(st.sampled_from(MONTHS), unique=True, min_size=1, max_size=len(MONTHS)))
        for month in sorted(months):
            steady.append((emp, month, *values[draw(st.integers(0, len(values) - 1))]))
    taken = {p[0] for p in steady}
    return contracts, [p for p in pay if p[0] not in taken] + steady, absences


def store_in_order(ledger, company, payroll, order):
    """Load the payroll, then write its pay lines again in `order`'s physical order."""
    contracts, pay, absences = payroll
    ledger.store_company(company, company, "", contracts, pay, absences, "2026-01-01T00:00:00Z")
    rows = sorted(pay, key=lambda p: (p[0], p[1]))
    if order == "loaded":
        return
    if order == "by month":
        rows.sort(key=lambda p: (p[1], p[0]))
    elif isinstance(order, int):  # a seed: shuffled
        import random

        random.Random(order).shuffle(rows)
    with ledger.write(company) as conn:
        conn.execute("DELETE FROM pay_lines WHERE company = ?", (company,))
        if order in ("interleaved", "holes"):  # another company's line between two of this one's
            other = f"{company}-other"
            ledger.companies.upsert(other, other, "", "2026-01-01T00:00:00Z")
            for p in rows:
                conn.execute(PAY_SQL, (company, *p))
                conn.execute(PAY_SQL, (other, *p))
            if order == "holes":  # rowids missing between this company's lines
                conn.execute("DELETE FROM pay_lines WHERE company = ?", (other,))
        else:
            conn.executemany(PAY_SQL, ((company, *p) for p in rows))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payroll=steady_payrolls(),
    period=st.sampled_from(PERIODS),
    order=st.sampled_from(["loaded", "by month", "interleaved", "holes"]) | st.integers(0, 9),
)
def test_the_read_as_runs_gives_the_reference_population_whatever_the_rows_order(
    ledger, payroll, period, order
):
    import paybonus.store.companies as companies_module

    company = f"R{next(_companies)}"
    store_in_order(ledger, company, payroll, order)
    want = reference(company, period, *payroll)
    assert_same(population(ledger.companies, company, period), want)
    probe = companies_module.RUN_PROBE_RATIO
    companies_module.RUN_PROBE_RATIO = 0  # runs whatever their number, wherever the rows allow them
    try:
        assert_same(population(ledger.companies, company, period), want)
    finally:
        companies_module.RUN_PROBE_RATIO = probe


def test_a_load_writes_pay_lines_person_by_person_and_the_year_is_read_as_runs(tmp_path, monkeypatch):
    from paybonus.store.companies import Companies

    months = [f"2025-{m:02d}-01" for m in range(1, 13)]
    line = (279_000, 279_000, "151.67", "0", 0, None, 0, None)
    other = (195_302, 279_000, "151.67", "45.50", 58_588, 279_000, 0, 40_000)
    pay = [(emp, m, *line) for m in months for emp in ("A", "B")]  # month by month, as payroll files come
    pay += [("C", m, *(other if m in ("2025-03-01", "2025-04-01") else line)) for m in months]  # three runs
    pay += [("D", m, *line) for m in months if m not in ("2025-05-01", "2025-06-01")]  # not paid in May, June
    contracts = [(e, "2020-01-01", None, "cadre", "Lyon", "", "", "") for e in "ABCD"]
    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    led = Ledger.create(tmp_path / "ledger.db")
    led.store_company("X", "X", "", contracts, pay, [], "2026-01-01T00:00:00Z")
    stored = led.conn.execute("SELECT employee, month FROM pay_lines ORDER BY rowid").fetchall()
    assert stored == sorted(stored)
    runs = []
    real = Companies.pay_runs

    def counted(self, *args):
        for rows in real(self, *args):
            runs.extend(rows)
            yield rows

    monkeypatch.setattr(Companies, "pay_runs", counted)
    pop = population(led.companies, "X", period)
    assert_same(pop, reference("X", period, contracts, pay, []))
    assert [r[1] for r in runs] == ["A", "B", "C", "C", "C", "D"]  # D's run has a gap: its months read again
    a, b, c, d = pop.employees
    assert a.pay is b.pay and len(a.pay) == 12  # the same run: one tuple
    assert c.pay[0] is a.pay[0] and c.pay[2] is not a.pay[2]  # the same line of a month: one object
    assert [p.month.month for p in d.pay] == [1, 2, 3, 4, 7, 8, 9, 10, 11, 12]
    led.close()


def test_a_load_committed_during_a_read_as_runs_is_not_mixed_into_the_population(tmp_path, monkeypatch):
    # the runs are read by rowid (the block `pay_block` found, then the rows' months): a load committed in between
    # rewrites the company's rows under other rowids; the read's snapshot still sees the first load's rows
    import paybonus.store.companies as companies_module
    from paybonus.store import LedgerReader
    from paybonus.store.companies import Companies

    monkeypatch.setattr(companies_module, "RUN_PROBE_RATIO", 0)  # runs, however many
    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    target = str(tmp_path / "ledger.db")
    writer = Ledger.create(target)
    writer.store_company("X", "X", "", *EDGES, "2026-01-01T00:00:00Z")
    contracts, pay, absences = EDGES
    doubled = [(*line[:2], line[2] * 2, *line[3:]) for line in pay]
    real = Companies.pay_runs
    loads = []

    def then_load(self, *args):
        if not loads:  # between the block's bounds and its rows: another process loads the company
            loads.append(
                writer.store_company("X", "X", "", contracts, doubled, absences, "2026-02-01T00:00:00Z")
            )
        return real(self, *args)

    monkeypatch.setattr(Companies, "pay_runs", then_load)
    reader = LedgerReader.open(target)
    try:
        assert_same(reader.payroll("X", period), reference("X", period, contracts, pay, absences))
        assert loads
        assert_same(reader.payroll("X", period), reference("X", period, contracts, doubled, absences))
    finally:
        reader.close()
        writer.close()


def test_a_year_of_a_two_year_payroll_is_read_as_runs(tmp_path, monkeypatch):
    # a load of two years writes each person's 24 months in a row: the year's lines are every other stretch of 12 rows,
    # the other year's rows between them end the runs
    from paybonus.store.companies import Companies

    months = [f"{y}-{m:02d}-01" for y in (2024, 2025) for m in range(1, 13)]
    line = (279_000, 279_000, "151.67", "0", 0, None, 0, None)
    pay = [(emp, m, *line) for m in months for emp in ("A", "B", "C")]
    pay += [
        ("D", m, 300_000, *line[1:]) for m in months[6:18]
    ]  # July 2024 to June 2025: one run across the years
    contracts = [(e, "2020-01-01", None, "cadre", "Lyon", "", "", "") for e in "ABCD"]
    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    led = Ledger.create(tmp_path / "ledger.db")
    led.store_company("X", "X", "", contracts, pay, [], "2026-01-01T00:00:00Z")
    runs = []
    real = Companies.pay_runs

    def counted(self, *args):
        for rows in real(self, *args):
            runs.extend(rows)
            yield rows

    monkeypatch.setattr(Companies, "pay_runs", counted)
    pop = population(led.companies, "X", period)
    assert_same(pop, reference("X", period, contracts, pay, []))
    assert [(r[1], r[2][:7]) for r in runs] == [
        ("A", "2025-01"),
        (None, "2024-01"),
        ("B", "2025-01"),
        (None, "2024-01"),
        ("C", "2025-01"),
        (None, "2024-07"),  # D's first line, after C's last
        ("D", "2025-01"),
    ]
    assert [p.month.month for p in pop.employees[3].pay] == [1, 2, 3, 4, 5, 6]
    led.close()


def test_months_stored_in_another_iso_form_keep_the_monthly_reads_order(tmp_path):
    # a library caller may store a month as "20250201" (date.fromisoformat reads it): the monthly read gives a
    # person's lines in the months' text order, which is then not their dates' order; the runs read put a person's
    # runs in date order, so it must leave such a ledger to the monthly read
    a = (279_000, 279_000, "151.67", "0", 0, None, 0, None)
    b = (300_000, 300_000, "151.67", "0", 0, None, 0, None)
    pay = [("E1", "2025-03-01", *a), ("E1", "20250201", *b)]
    pay += [(f"P{i:02d}", f"2025-{m:02d}-01", *a) for i in range(20) for m in range(1, 13)]  # runs worth it
    period = Period(date(2024, 7, 1), date(2026, 6, 30))
    led = Ledger.create(tmp_path / "ledger.db")
    led.store_company("X", "X", "", [], pay, [], "2026-01-01T00:00:00Z")
    pop = population(led.companies, "X", period)
    assert [line.month.month for line in pop.employees[0].pay] == [3, 2]  # "2025-03-01" < "20250201"
    assert_same(pop, reference("X", period, [], pay, []))
    led.close()


def test_lines_stored_month_by_month_are_told_before_the_count_of_the_companys_lines(tmp_path):
    # a ledger loaded month by month (before c440208) reads month by month: the runs' probe tells it from a few
    # thousand rows, without the count of every line's key (0.2 CPU s at 200 000 people, for nothing)
    line = (279_000, 279_000, "151.67", "0", 0, None, 0, None)
    pay = [(f"E{i:03d}", f"2025-{m:02d}-01", *line) for m in range(1, 13) for i in range(400)]
    led = Ledger.create(tmp_path / "ledger.db")
    led.store_company("X", "X", "", [], [], [], "2026-01-01T00:00:00Z")
    with led.write("X") as conn:
        conn.executemany(PAY_SQL, (("X", *p) for p in pay))  # month by month, as earlier loads wrote them
    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    statements: list[str] = []
    led.conn.set_trace_callback(statements.append)
    try:
        pop = population(led.companies, "X", period)
    finally:
        led.conn.set_trace_callback(None)
    assert_same(pop, reference("X", period, [], pay, []))
    assert not [s for s in statements if "MIN(rowid)" in s]
    led.close()


def test_a_company_is_probed_once_and_still_read_as_runs(tmp_path):
    # a population read counted the runs of the same rows twice before reading them (3.7 of the 12 ms of a vendor
    # month's company of 125 people): the second count is the first one, or fewer, when the first row is the
    # block's (as a load writes it), whether the window holds the company's lines or only their start
    from paybonus.store import companies as companies_module

    line = (279_000, 279_000, "151.67", "0", 0, None, 0, None)
    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    led = Ledger.create(tmp_path / "ledger.db")
    for company, people in (("SMALL", 40), ("LARGE", companies_module.RUN_PROBE // 6)):
        pay = [(f"E{i:04d}", f"2025-{m:02d}-01", *line) for i in range(people) for m in range(1, 13)]
        contracts = [(f"E{i:04d}", "2020-01-01", None, "cadre", "Lyon", "", "", "") for i in range(people)]
        led.store_company(company, company, "", contracts, pay, [], "2026-01-01T00:00:00Z")
        statements: list[str] = []
        led.conn.set_trace_callback(statements.append)
        try:
            pop = population(led.companies, company, period)
        finally:
            led.conn.set_trace_callback(None)
        assert_same(pop, reference(company, period, contracts, pay, []))
        probes = [s for s in statements if s.startswith("SELECT COUNT(*) FROM (SELECT r.rowid")]
        assert len(probes) == 1, company  # LARGE: its lines outgrow the window
        assert any("CASE WHEN r.company" in s and "COUNT" not in s for s in statements)  # read as runs
    led.close()
