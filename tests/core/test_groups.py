"""New events of several companies recorded in one write transaction (`EventBus._group`, docs/performance.md) give
exactly what one company's event at a time gives: same ids, amounts, explanations and chains; a unit that fails,
is refused while written or finds its company changed is published the usual way, alone."""

import itertools
import json
from datetime import UTC, datetime

import pytest
from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus import EventBus, Ledger, bus, load_plugins
from paybonus.audit import verify
from paybonus.bench import _results
from paybonus.errors import PartlyPublished, UserError
from paybonus.events import canonical_json
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate
from paybonus.hooks import hookimpl
from paybonus.sources import store_company
from paybonus.store import StaleRead

COMPANIES = [
    generate(
        f"GRP{i}",
        employees=24,
        seed=i,
        schemes_toml=SAMPLE_SCHEMES,
        salary_schemes=True,
        results=_results(24),
        csv_rows=False,
    )
    for i in range(3)
]
# as a vendor sends them: every company's events by date, companies interleaved
EVENTS = sorted(
    ((e["occurred_at"], e["company"], e) for c in COMPANIES for e in c.events), key=lambda t: t[:2]
)
LINES = [canonical_json(e) for _, _, e in EVENTS]
FIXED = datetime(2027, 1, 1, tzinfo=UTC)


def run(path, lines, group=bus.GROUP, patch=None):
    """Publish `lines` (groups of at most `group` units); the ledger's rows, its chains, its dead letters and the
    number of write transactions committed. `patch(bus)` may make things fail."""
    ledger = Ledger.create(path)
    for c in COMPANIES:
        store_company(ledger, c.data)
    b = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIXED)
    if patch:
        patch(b)
    commits: list[str] = []
    ledger.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    old, bus.GROUP = bus.GROUP, group
    try:
        outcomes = b.publish_all(b.host.event_types.read_jsonl("groups", lines))
    finally:
        bus.GROUP = old
        ledger.conn.set_trace_callback(None)
    report = verify(ledger, b.host.schemes, params=b.params)
    assert all(
        "failed after" in p.what for p in report.problems
    )  # dead letters only: every chain and amount ok
    rows, chains, failed = _state(ledger)
    b.close()
    ledger.close()
    return {"rows": rows, "chains": chains, "failed": failed, "outcomes": outcomes}, len(commits)


def _state(ledger):
    """The ledger's entitlements (id -> amount, kind, corrects, due date, explanation), its chains (sorted; the
    hashes differ from ledger to ledger: each has its id) and its dead letters."""
    rows = {
        r["id"]: (
            r["amount_cents"],
            r["kind"],
            r["corrects"],
            r["due_date"],
            ledger.entitlements.explanation(r),
        )
        for r in ledger.entitlements.all()
    }
    chains = sorted(
        tuple(r) for r in ledger.conn.execute("SELECT company, n, action, ref, digest FROM audit_log")
    )
    failed = sorted((f["company"], f["event_id"], f["scheme"]) for f in ledger.dispatches.failed())
    return rows, chains, failed


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory):
    return run(tmp_path_factory.mktemp("one") / "one.db", LINES, group=1)


def test_the_year_interleaves_companies_so_that_groups_form():
    companies = [c for _, c, _ in EVENTS]
    switches = sum(1 for a, b in itertools.pairwise(companies) if a != b)
    assert switches > len(EVENTS) / 4


def test_groups_record_what_one_company_at_a_time_records_in_fewer_transactions(tmp_path, one_by_one):
    alone, alone_commits = one_by_one
    grouped, grouped_commits = run(tmp_path / "grouped.db", LINES)
    assert len(alone["rows"]) > 150 and not alone["failed"]
    assert (
        grouped == alone
    )  # ids, amounts, explanations, chains and outcomes (hashes differ: each ledger has its id)
    assert grouped_commits < alone_commits / 2


def _failing_for(company, scheme_name, calls, event_type="period_closed"):
    def patch(b):
        scheme = b.host.schemes[scheme_name]
        original = scheme.handlers[event_type]

        def handler(event, ctx):
            if event.company == company:
                calls.append(event.id)
                raise RuntimeError("boom")
            return original(event, ctx)

        handlers = {**scheme.handlers, event_type: handler}
        b.host.schemes[scheme_name] = evolve(scheme, handlers=handlers)

    return patch


@pytest.mark.parametrize(
    ("scheme", "event_type", "failed"),
    [
        ("prime_nao", "period_closed", 12),
        ("interessement", "period_closed", 12),
        ("pmt", "pmt_evidence_recorded", 0),
    ],
)
def test_a_unit_whose_computation_fails_records_what_it_records_alone(tmp_path, scheme, event_type, failed):
    """A scheme fails for GRP1: the event (or the batch of single-employee events) is recorded in the group with
    the schemes computed before it, the failure after the commit, the schemes after it each alone: what one
    company's event at a time records, each handler called as often (a time-out is waited for once)."""
    calls_alone: list[str] = []
    calls_grouped: list[str] = []
    alone, _ = run(
        tmp_path / "one.db", LINES, group=1, patch=_failing_for("GRP1", scheme, calls_alone, event_type)
    )
    grouped, _ = run(
        tmp_path / "grouped.db", LINES, patch=_failing_for("GRP1", scheme, calls_grouped, event_type)
    )
    assert calls_grouped == calls_alone and calls_alone
    assert {(c, s) for c, _, s in alone["failed"]} == {("GRP1", scheme)}
    assert len(alone["failed"]) == (failed or len(calls_alone))
    assert grouped == alone


@pytest.mark.parametrize("failure", [StaleRead("changed meanwhile"), RuntimeError("disk")])
def test_a_unit_refused_while_written_is_undone_alone_and_published_the_usual_way(
    tmp_path, one_by_one, failure
):
    """The part of GRP2 fails once after writing its events (inside the group's transaction): undone alone, the
    other companies' parts committed, GRP2's events published again apart; nothing lost, nothing twice."""
    seen: list[str] = []

    def patch(b):
        record = b.ledger.record_dispatches

        def failing(records, checked=False):
            if records and records[0].company == "GRP2" and b.ledger._writing and not seen:
                seen.append(records[0].event_id)
                raise failure
            return record(records, checked)

        b.ledger.record_dispatches = failing

    alone, _ = one_by_one
    grouped, _ = run(tmp_path / "grouped.db", LINES, patch=patch)
    assert seen  # the failure happened, inside a group
    assert grouped == alone


def _company_orders(draw_perm, lines):
    """`lines` with the companies interleaved otherwise: each company's own order kept."""
    per = {}
    for line, (_, c, _) in zip(lines, EVENTS, strict=True):
        per.setdefault(c, []).append(line)
    order = draw_perm
    out, at = [], {c: 0 for c in per}
    for c in order:
        out.append(per[c][at[c]])
        at[c] += 1
    return out


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_how_companies_interleave_changes_nothing(tmp_path_factory, one_by_one, rnd):
    """Property (event order irrelevant across companies): any interleaving of the companies, each keeping its
    own order, records the same entitlements as the vendor's order, and grouped records exactly what one unit at a
    time records for that interleaving (the chains' order too: a batch of single-employee events forms otherwise
    when companies interleave otherwise, so the chains are compared with the ungrouped run of the same order)."""
    companies = [c for _, c, _ in EVENTS]
    rnd.shuffle(companies)
    lines = _company_orders(companies, LINES)
    folder = tmp_path_factory.mktemp("perm")
    grouped, _ = run(folder / "grouped.db", lines)
    alone, _ = run(folder / "alone.db", lines, group=1)
    assert grouped == alone
    assert grouped["rows"] == one_by_one[0]["rows"]


def test_a_unit_whose_company_changed_since_it_computed_is_computed_again(tmp_path):
    """Another process loads GRP1 again while the group computes: GRP1's part finds its company changed
    (`check_unchanged`), is undone alone and computed again from the new load; the other companies' parts are
    recorded as computed. Every dispatch names the load it computed from."""
    path = tmp_path / "changed.db"
    reloaded: list[str] = []

    def patch(b):
        prepare = b._prepare

        def preparing(unit):
            p = prepare(unit)
            if (
                p is not None
                and unit[0].company == "GRP1"
                and unit[0].type == "period_closed"
                and not reloaded
            ):
                other = Ledger.open(path)
                store_company(other, COMPANIES[1].data)  # another process: a load of GRP1 meanwhile
                other.close()
                reloaded.append(unit[0].id)
            return p

        b._prepare = preparing

    run(path, LINES, patch=patch)
    assert reloaded
    ledger = Ledger.open(path)
    try:
        load = ledger.conn.execute(
            "SELECT payroll_load FROM dispatches WHERE company = 'GRP1' AND event_id = ?", (reloaded[0],)
        ).fetchall()
        latest = ledger.conn.execute("SELECT MAX(n) FROM payroll_loads WHERE company = 'GRP1'").fetchone()[0]
    finally:
        ledger.close()
    assert latest == 2 and load and {r[0] for r in load} == {2}


def _refused_midway(path, group):
    """Publish the first seven events, another process recording GRP1's close of January with other content while
    it computes: GRP1's event is refused (as admission refuses it). The exception, the events recorded, and the
    dispatches the `entitlements_recorded` hook heard of."""
    from paybonus.store.events import EventRecord

    heard: list[tuple[str, str, str]] = []

    def patch(b):
        compute = b._compute

        def computing(event, scheme, digest=None):
            if event.id == "GRP1-close-2025-01" and not heard.count(("other", "", "")):
                heard.append(("other", "", ""))
                other = Ledger.open(path)
                other.record_event(
                    EventRecord(
                        event.id, event.type, event.company, "2025-02-05T18:00:00+01:00", "{}", "x" * 64
                    ),
                    None,
                    FIXED.isoformat(),
                )
                other.close()
            return compute(event, scheme, digest)

        b._compute = computing

        class Hearing:
            @hookimpl
            def paybonus_entitlements_recorded(self, event, scheme, entitlement_ids):
                heard.append((event.company, event.id, scheme))

        b.host.pm.register(Hearing())

    with pytest.raises((UserError, PartlyPublished)) as refused:
        run(path, LINES[:7], group=group, patch=patch)
    ledger = Ledger.open(path)
    try:
        recorded = sorted((r["company"], r["id"]) for r in ledger.events.all() if r["digest"] != "x" * 64)
    finally:
        ledger.close()
    return type(refused.value), str(refused.value), recorded, sorted(heard)


def test_a_unit_refused_after_the_group_committed_stops_the_file_where_one_at_a_time_stops(tmp_path):
    """GRP1's event of a group is refused after its part was undone (another process recorded its id with other
    content): the file stops there, as one unit at a time stops, reporting what was recorded (PartlyPublished),
    and no event after it is recorded unheard of (its hooks, logs, failures and later schemes never run)."""
    alone = _refused_midway(tmp_path / "one.db", 1)
    grouped = _refused_midway(tmp_path / "grouped.db", bus.GROUP)
    assert alone[0] is PartlyPublished and ("GRP2", "GRP2-close-2025-01") not in alone[2]
    assert grouped == alone


def test_a_part_whose_error_ended_the_whole_transaction_ends_the_group(tmp_path, one_by_one):
    """SQLite ends the whole transaction on some errors (a full disk, an I/O error, an interrupt): the part cannot
    be undone alone, and what the group's other parts wrote is gone. The error itself is raised, no later part is
    written in a transaction of its own (unheard of: no log, no hook), and publishing the file again records it all
    as one company's event at a time does."""
    import sqlite3

    path = tmp_path / "full.db"
    seen: list[str] = []

    def patch(b):
        record = b.ledger.record_dispatches

        def failing(records, checked=False):
            if records and records[0].event_id.startswith("GRP1-close") and b.ledger._writing and not seen:
                seen.append(records[0].event_id)
                b.ledger.conn.execute("ROLLBACK")  # what SQLite does itself on SQLITE_FULL
                raise sqlite3.OperationalError("database or disk is full")
            return record(records, checked)

        b.ledger.record_dispatches = failing

    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        run(path, LINES, patch=patch)
    ledger = Ledger.open(path)
    try:
        after = ledger.conn.execute(
            "SELECT COUNT(*) FROM events WHERE seq > (SELECT seq FROM events WHERE id = ? AND company = 'GRP0')",
            (seen[0].replace("GRP1", "GRP0"),),
        ).fetchone()[0]
        recorded = {(r["company"], r["id"]) for r in ledger.events.all()}
    finally:
        ledger.close()
    assert seen[0].startswith("GRP1-close") and ("GRP2", seen[0].replace("GRP1", "GRP2")) not in recorded
    assert after == 0
    ledger = Ledger.open(path)
    b = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIXED)
    b.publish_all(b.host.event_types.read_jsonl("groups", LINES))  # the file again
    rows, chains, _ = _state(ledger)
    b.close()
    ledger.close()
    assert rows == one_by_one[0]["rows"] and chains == one_by_one[0]["chains"]


def _republished(path, patch=None):
    """The file published again on the ledger at `path`: its rows, chains and dead letters, as `run` gives them."""
    ledger = Ledger.open(path)
    b = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIXED)
    if patch:
        patch(b)
    b.publish_all(b.host.event_types.read_jsonl("groups", LINES))
    state = _state(ledger)
    b.close()
    ledger.close()
    return state


@pytest.mark.parametrize("where", ["writing", "after the commit"])
def test_an_interrupt_mid_group_leaves_what_publishing_the_file_again_completes(tmp_path, where):
    """Ctrl-C while a group's parts are written (nothing of the group is kept) or after its commit, before a
    computation's failure is recorded and the schemes after it run (the events are recorded): publishing the file
    again (interessement failing for GRP1 each time) records what one company's event at a time records."""
    calls: list[str] = []
    alone, _ = run(tmp_path / "one.db", LINES, group=1, patch=_failing_for("GRP1", "interessement", calls))
    fail = _failing_for("GRP1", "interessement", calls)
    stopped: list[str] = []

    def patch(b):
        fail(b)
        record, failed = b.ledger.record_dispatches, b._failed

        def recording(records, checked=False):
            if where == "writing" and records and records[0].company == "GRP2" and b.ledger._writing:
                stopped.append(records[0].event_id)
                raise KeyboardInterrupt
            return record(records, checked)

        def failing(event, scheme, attempt, exc, t0):
            if where == "after the commit" and not b.ledger._writing:
                stopped.append(event.id)
                raise KeyboardInterrupt
            return failed(event, scheme, attempt, exc, t0)

        b.ledger.record_dispatches = recording
        b._failed = failing

    path = tmp_path / "stopped.db"
    with pytest.raises(KeyboardInterrupt):
        run(path, LINES, patch=patch)
    assert stopped
    ledger = Ledger.open(path)
    try:
        kept = {r["id"] for r in ledger.events.all()}
    finally:
        ledger.close()
    assert (stopped[0] in kept) == (where == "after the commit")
    rows, chains, failed = _republished(path, fail)
    assert rows == alone["rows"]
    assert failed == alone["failed"]
    assert chains == alone["chains"]


def test_groups_log_and_notify_what_one_company_at_a_time_does(tmp_path, monkeypatch):
    """Each company's log lines (but times and hashes) and `entitlements_recorded` notices, in their order, are
    those of one company's event at a time, a failing scheme's included."""
    heard: list[tuple[str, str, str, int]] = []

    class Hearing:
        @hookimpl
        def paybonus_entitlements_recorded(self, event, scheme, entitlement_ids):
            heard.append((event.company, event.id, scheme, len(entitlement_ids)))

    def logged(group):
        lines: list[tuple[str, str, tuple]] = []

        class Recorder:
            def __getattr__(self, level):
                def add(name, **kw):
                    kw.pop("duration_ms", None)
                    kw.pop("hash", None)
                    lines.append((level, name, tuple(sorted(kw.items()))))

                return add

        monkeypatch.setattr(bus, "log", Recorder())
        heard.clear()
        fail = _failing_for("GRP1", "prime_nao", [])

        def patch(b):
            fail(b)
            b.host.pm.register(Hearing())

        run(tmp_path / f"{group}.db", LINES, group=group, patch=patch)
        by_company: dict[str, list] = {}
        for line in lines:
            by_company.setdefault(dict(line[2]).get("company"), []).append(line)
        return by_company, sorted(heard, key=lambda h: h[0]), list(heard)

    alone, grouped = logged(1), logged(bus.GROUP)
    assert len(alone[1]) > 10 and len(alone[0]["GRP1"]) > 50
    assert grouped[:2] == alone[:2]


def test_one_id_in_several_companies_records_what_one_company_at_a_time_records(tmp_path):
    """Ids are unique per company only: every company's events under the same ids (the vendor's own numbering)."""
    lines = [
        line.replace('"id":"GRP0-', '"id":"')
        .replace('"id":"GRP1-', '"id":"')
        .replace('"id":"GRP2-', '"id":"')
        for line in LINES
    ]
    assert len({canonical_json({"id": line.split('"id":"')[1].split('"')[0]}) for line in lines}) < len(lines)
    alone, _ = run(tmp_path / "one.db", lines, group=1)
    grouped, _ = run(tmp_path / "grouped.db", lines)
    assert grouped == alone and len(alone["rows"]) > 150


def test_a_project_shared_by_companies_records_what_one_company_at_a_time_records(tmp_path):
    """Intéressement de projet: the partners' figures reach each company in the coordinator's statement (the
    event's payload), never from another company's rows. The three companies' years interleaved by date, then
    the statement of each (what `project import` publishes, one event a company: one group), grouped or not."""
    from helpers.projects import agreement, load_company, statement_event, statement_from
    from paybonus.fixtures.project import write_example

    example = tmp_path / "example"
    write_example(example)
    companies = ("ALPHA", "MEGA", "BETA")
    lines = sorted(
        (
            json_line
            for cid in companies
            for json_line in (example / cid / "events.jsonl").read_text().splitlines()
        ),
        key=lambda line: (json.loads(line)["occurred_at"], json.loads(line)["company"]),
    )

    def published(group):
        ledger = Ledger.create(tmp_path / f"projet-{group}.db")
        for cid in companies:
            load_company(ledger, example, cid)
        b = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIXED)
        publish_group, groupable = b._publish_group, b._groupable
        b._publish_group = lambda units: groups.append(len(units)) or publish_group(units)
        b._groupable = lambda unit: asked.append(len(unit)) or groupable(unit)
        old, bus.GROUP = bus.GROUP, group
        try:
            b.publish_all(b.host.event_types.read_jsonl("year", lines))
            statement = statement_from(dict.fromkeys(companies, ledger), agreement())
            b.publish_all([("statement", statement_event(statement, cid)) for cid in companies])
        finally:
            bus.GROUP = old
        rows = {
            r["id"]: (r["scheme"], r["amount_cents"], ledger.entitlements.explanation(r))
            for r in ledger.entitlements.all()
        }
        chains = sorted(
            tuple(r) for r in ledger.conn.execute("SELECT company, n, action, ref, digest FROM audit_log")
        )
        b.close()
        ledger.close()
        return rows, chains

    groups: list[int] = []
    asked: list[int] = []
    alone = published(1)
    asked.clear()
    grouped = published(bus.GROUP)
    assert {v[0] for v in alone[0].values()} >= {"interessement", "interessement_projet"}
    assert groups and groups[-1] == 3  # the statements: one group
    # the closes (intéressement, then intéressement de projet, which reads it) are not grouped: each asked once
    assert sum(asked) <= len(lines) + 3
    assert grouped == alone


def test_a_large_companys_event_grouped_holds_no_more_than_published_alone(tmp_path):
    """A large company's event grouped with a small company's: its rows are built as they are written, as
    `_publish_together` builds them, not all held until the group's commit (GROUP_ROWS bounds the drafts held
    before a unit is computed, not one unit's own): the peak is that of one company's event at a time."""
    import tracemalloc

    companies = [
        generate(
            f"BIG{n}",
            employees=n,
            seed=n,
            schemes_toml=SAMPLE_SCHEMES,
            salary_schemes=True,
            results=_results(n),
            csv_rows=False,
        )
        for n in (1500, 5)
    ]
    events = sorted(
        ((e["occurred_at"], e["company"], e) for c in companies for e in c.events), key=lambda t: t[:2]
    )
    lines = [canonical_json(e) for _, _, e in events]

    def peak(group):
        ledger = Ledger.create(tmp_path / f"{group}.db")
        for c in companies:
            store_company(ledger, c.data)
        b = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIXED)
        admitted = b.admit(b.host.event_types.read_jsonl("big", lines))
        old, bus.GROUP = bus.GROUP, group
        tracemalloc.start()
        try:
            b.publish_all(admitted)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            bus.GROUP = old
            b.close()
            ledger.close()

    alone = peak(1)
    assert peak(bus.GROUP) < alone * 1.1


@pytest.mark.parametrize(
    ("scheme", "event_type"),
    [("prime_nao", "period_closed"), ("pmt", "period_closed"), ("prime_objectif", "objective_results")],
)
def test_a_unit_whose_draft_is_refused_while_written_records_what_it_records_alone(
    tmp_path, scheme, event_type
):
    """A scheme returns a bad draft (an amount in floating euros) for GRP1: refused as its row is built, which is
    while the group's part is written; the unit is published the usual way, which records the failure as one
    company's event at a time does."""

    def patch(b):
        s = b.host.schemes[scheme]
        original = s.handlers[event_type]

        def handler(event, ctx):
            result = original(event, ctx)
            if event.company != "GRP1" or not result.entitlements:
                return result
            bad = evolve(result.entitlements[0], amount_cents=result.entitlements[0].amount_cents / 100)
            return evolve(result, entitlements=[bad, *result.entitlements[1:]])

        b.host.schemes[scheme] = evolve(s, handlers={**s.handlers, event_type: handler})

    alone, _ = run(tmp_path / "one.db", LINES, group=1, patch=patch)
    grouped, _ = run(tmp_path / "grouped.db", LINES, patch=patch)
    assert {(c, s) for c, _, s in alone["failed"]} == {("GRP1", scheme)}
    assert grouped == alone


@pytest.mark.parametrize("failing", [None, "prime_objectif"])
def test_batches_of_leavers_of_several_companies_record_what_they_record_alone(tmp_path, failing):
    """Departures, several of each company in a row (each company's a batch of single-employee events): the
    batches of the three companies one group; a scheme failing for GRP1's leavers too."""
    template = json.loads(next(line for line in LINES if '"employee_left"' in line))
    leavers = []
    for company in ("GRP0", "GRP1", "GRP2"):
        for employee in ("E0003", "E0004", "E0005"):
            e = {**template, "company": company, "id": f"{company}-late-left-{employee}"}
            e["payload"] = {**template["payload"], "employee": employee}
            leavers.append(canonical_json(e))
    lines = LINES + leavers
    units: list[int] = []

    def patch(b):
        if failing:
            _failing_for("GRP1", failing, [], "employee_left")(b)
        publish_group = b._publish_group
        b._publish_group = lambda group: units.append([len(u) for u in group]) or publish_group(group)

    alone, _ = run(tmp_path / "one.db", lines, group=1, patch=patch)
    units.clear()
    grouped, _ = run(tmp_path / "grouped.db", lines, patch=patch)
    assert any(u.count(3) >= 2 for u in units)  # batches of companies grouped
    assert bool(alone["failed"]) == bool(failing)
    assert grouped == alone
