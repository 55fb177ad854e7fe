"""The event bus: record once, isolated dispatch per scheme, dead letters, retry, order."""

from datetime import date
from pathlib import Path

import pytest
from helpers import plugins as testplugins
from helpers.plugins import SCHEMES_TOML, FlakyPlugin, FlatPlugin
from paybonus.audit import verify
from paybonus.errors import UserError
from paybonus.fixtures.pytest_plugin import audit_ok, make_company


def ledger_state(ledger):
    """Everything a run decides, without wall-clock times."""
    ents = ledger.conn.execute(
        "SELECT id, scheme, employee, period_start, amount_cents, kind, event_id, digest, status FROM entitlements ORDER BY id"
    ).fetchall()
    events = ledger.conn.execute("SELECT id, digest FROM events ORDER BY id").fetchall()
    dispatches = ledger.conn.execute(
        "SELECT event_id, scheme, status FROM dispatches ORDER BY 1, 2"
    ).fetchall()
    return ents, events, dispatches


@pytest.fixture
def paybonus_ledger(both_backends_ledger):
    """Every test of the bus runs on both backends: a SQLite file and a PostgreSQL database."""
    return both_backends_ledger


@pytest.fixture
def bus(paybonus_bus):
    testplugins.BROKEN["on"] = False
    testplugins.CALLS.clear()
    return paybonus_bus(FlatPlugin(), FlakyPlugin(), company=make_company(schemes_toml=SCHEMES_TOML))


def test_an_event_is_recorded_once_and_a_duplicate_changes_nothing(bus, paybonus_events, paybonus_ledger):
    e = paybonus_events.period_closed("2025-03")
    first = bus.publish(e)
    assert not first.duplicate and {d.scheme for d in first.dispatches} == {"flaky", "flat_bonus"}
    before = ledger_state(paybonus_ledger)
    audit_rows = paybonus_ledger.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    again = bus.publish(e)
    assert again.duplicate and again.dispatches == ()
    assert ledger_state(paybonus_ledger) == before
    assert paybonus_ledger.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == audit_rows


def test_a_reused_id_with_other_content_is_refused_and_nothing_is_written(
    bus, paybonus_events, paybonus_ledger
):
    bus.publish(paybonus_events.period_closed("2025-03", id="x"))
    before = ledger_state(paybonus_ledger)
    with pytest.raises(UserError, match="already recorded with different content"):
        bus.publish(paybonus_events.period_closed("2025-04", id="x"))
    assert ledger_state(paybonus_ledger) == before


def test_publishing_a_batch_twice_gives_the_same_ledger(bus, paybonus_events, paybonus_ledger):
    batch = [
        (f"line {i}", paybonus_events.period_closed(f"2025-{m:02d}")) for i, m in enumerate(range(1, 13), 1)
    ]
    bus.publish_all(batch)
    once = ledger_state(paybonus_ledger)
    bus.publish_all(batch)
    assert ledger_state(paybonus_ledger) == once
    audit_ok(paybonus_ledger, bus)


def test_a_failing_scheme_is_rolled_back_alone_and_retry_completes_it(bus, paybonus_events, paybonus_ledger):
    testplugins.BROKEN["on"] = True
    out = bus.publish(paybonus_events.period_closed("2025-05"))
    status = {d.scheme: d.status for d in out.dispatches}
    assert status == {"flaky": "failed", "flat_bonus": "completed"}
    schemes = {r[0] for r in paybonus_ledger.conn.execute("SELECT DISTINCT scheme FROM entitlements")}
    assert schemes == {"flat_bonus"}  # the other plugin's work is recorded, the failing one's is absent
    dead = paybonus_ledger.dispatches.failed()
    assert (
        len(dead) == 1 and "RuntimeError: flaky is broken today" in dead[0]["error"] and dead[0]["traceback"]
    )
    rep = verify(paybonus_ledger, bus.host.schemes)  # a dead letter is a problem until it is retried
    assert [str(p) for p in rep.problems] == [
        "dispatch close-2025-05-01..2025-05-31/flaky (ACME): failed after 1 attempt(s): run `paybonus retry`"
    ]

    assert [o.status for o in bus.retry()] == ["failed"]  # still broken: attempt 2 recorded
    assert paybonus_ledger.dispatches.failed()[0]["attempts"] == 2
    testplugins.BROKEN["on"] = False
    outcomes = bus.retry()
    assert [(o.scheme, o.status) for o in outcomes] == [("flaky", "completed")]
    assert paybonus_ledger.dispatches.failed() == []
    assert {r[0] for r in paybonus_ledger.conn.execute("SELECT DISTINCT scheme FROM entitlements")} == {
        "flaky",
        "flat_bonus",
    }
    assert bus.retry() == []
    audit_ok(paybonus_ledger, bus)


def test_each_scheme_is_called_once_per_event_with_the_whole_population(bus, paybonus_events):
    bus.publish(paybonus_events.period_closed("2025-06"))
    flat_calls = [c for c in testplugins.CALLS if c[0] == "flat_bonus"]
    assert len(flat_calls) == 1 and flat_calls[0][2] >= 10


def test_dispatch_order_is_deterministic(bus, paybonus_events):
    testplugins.CALLS.clear()
    bus.publish(paybonus_events.period_closed("2025-07"))
    assert [c[0] for c in testplugins.CALLS] == ["flaky", "flat_bonus"]  # by scheme name


def test_unknown_company_is_a_user_error(bus, paybonus_events, paybonus_ledger):
    with pytest.raises(UserError, match="unknown company 'NOPE'"):
        bus.publish(paybonus_events.period_closed("2025-03", company="NOPE"))
    assert paybonus_ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_a_batch_with_one_bad_event_writes_nothing(bus, paybonus_events, paybonus_ledger):
    batch = [
        ("l1", paybonus_events.period_closed("2025-01")),
        ("l2", paybonus_events.period_closed("2025-02", company="NOPE")),
    ]
    with pytest.raises(UserError, match=r"^l2: company"):
        bus.publish_all(batch)
    assert paybonus_ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_schemes_only_run_for_companies_that_configure_them(paybonus_bus, paybonus_events, paybonus_ledger):
    bus = paybonus_bus(FlatPlugin(), company=make_company(schemes_toml=""))
    out = bus.publish(paybonus_events.period_closed("2025-03"))
    assert out.dispatches == ()


def _one_scheme_plugin(name, handler):
    """A plugin registering one scheme `name` whose period_closed handler is `handler`."""
    from paybonus.hooks import SchemeDescriptor, SocialRegime, hookimpl

    class One:
        @hookimpl
        def paybonus_register_schemes(self):
            return [
                SchemeDescriptor(
                    name=name,
                    version="1",
                    label=name.title(),
                    handlers={"period_closed": handler},
                    recompute=lambda e: 0,
                    dsn=testplugins.DSN,
                    social_regime=SocialRegime.SALARY,
                )
            ]

    return One()


def test_a_scheme_returning_floats_or_duplicates_fails_as_a_dead_letter(
    paybonus_bus, paybonus_events, paybonus_ledger
):
    from paybonus.calendar import Period
    from paybonus.hooks import (
        EntitlementDraft,
        Explanation,
        SchemeResult,
    )

    def bad(event, ctx):
        return SchemeResult([EntitlementDraft("E0001", Period.parse("2025-01"), 12.5, Explanation())])  # type: ignore[arg-type]

    bus = paybonus_bus(_one_scheme_plugin("bad", bad), company=make_company(schemes_toml="[schemes.bad]\n"))
    out = bus.publish(paybonus_events.period_closed("2025-01"))
    assert out.dispatches[0].status == "failed" and "amount_cents must be an int" in out.dispatches[0].error
    assert paybonus_ledger.conn.execute("SELECT COUNT(*) FROM entitlements").fetchone()[0] == 0


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("employee", 1, "employee must be a non-empty str, got int"),
        ("employee", "  ", "employee must be a non-empty str, got an empty id"),
        ("employee", ("E0001", "Jeanne Dupont"), "employee must be a non-empty str, got tuple"),
        ("due_date", "2026-05-31", "due_date must be a date or None, got str"),
        ("due_date", "datetime", "due_date must be a date or None, got datetime"),
        ("corrects", 7, "corrects must be an entitlement id"),
        ("key", None, "key must be a str"),
        ("period", "2025-01", "period must be a Period"),
        ("period", "datetimes", "a period's start and end must be dates"),
        ("kind", "principal", "kind must be a Kind, got str"),
        ("dsn", {"block": "S21.G00.52", "code": "026"}, "dsn must be a DsnMapping"),
        ("dsn", "", "dsn must be a DsnMapping"),
    ],
)
def test_a_draft_off_its_type_hints_fails_its_dispatch_on_both_backends(
    paybonus_bus, paybonus_events, paybonus_ledger, field, value, words
):
    """A draft field of another type than its hint (a due date as text, an employee as a number) fails the
    dispatch with a clear error and nothing of it is kept: SQLite would have stored it as given, PostgreSQL
    refused it, and a due date as text was read as no due date at all (its legal deadline lost)."""
    from datetime import datetime

    from paybonus.calendar import Period
    from paybonus.hooks import (
        EntitlementDraft,
        Explanation,
        SchemeResult,
    )

    bad_value = (
        {
            "datetime": datetime(2026, 5, 31, 12, 0),
            "datetimes": Period(datetime(2025, 1, 1), datetime(2025, 1, 31, 23)),
        }.get(value, value)
        if isinstance(value, str)
        else value
    )
    fields = {"employee": "E0001", "period": Period.parse("2025-01"), "due_date": date(2026, 5, 31)}
    fields[field] = bad_value

    def bad(event, ctx):
        extra = {}
        if field in ("corrects", "key", "kind", "dsn"):
            extra[field] = bad_value
        draft = EntitlementDraft(
            fields["employee"], fields["period"], 1250, Explanation(), due_date=fields["due_date"], **extra
        )
        return SchemeResult([draft])

    bus = paybonus_bus(_one_scheme_plugin("bad", bad), company=make_company(schemes_toml="[schemes.bad]\n"))
    out = bus.publish(paybonus_events.period_closed("2025-03"))
    assert out.dispatches[0].status == "failed" and words in out.dispatches[0].error
    assert "Jeanne" not in out.dispatches[0].error  # the error names the type, never the value
    assert paybonus_ledger.conn.execute("SELECT COUNT(*) FROM entitlements").fetchone()[0] == 0


def test_context_sees_earlier_events_and_entitlements(paybonus_bus, paybonus_events, paybonus_ledger):
    from paybonus.hooks import SchemeDescriptor, SchemeResult, SocialRegime, hookimpl

    seen = {}

    def look(event, ctx):
        seen["results"] = [e.id for e in ctx.events("results_published", event.payload.period)]
        seen["flat"] = len(ctx.entitlements(scheme="flat_bonus", period=event.payload.period))
        return SchemeResult()

    class Look:
        @hookimpl
        def paybonus_register_schemes(self):
            return [
                SchemeDescriptor(
                    name="zz_look",
                    version="1",
                    label="Look",
                    handlers={"period_closed": look},
                    recompute=lambda e: 0,
                    dsn=testplugins.DSN,
                    social_regime=SocialRegime.SALARY,
                )
            ]

    bus = paybonus_bus(
        FlatPlugin(), Look(), company=make_company(schemes_toml=SCHEMES_TOML.replace("flaky", "zz_look"))
    )
    bus.publish(paybonus_events.results_published("2025-03", {"rcai": "10"}, id="r1"))
    bus.publish(paybonus_events.period_closed("2025-03"))
    assert seen["results"] == ["r1"] and seen["flat"] > 0


@pytest.mark.parametrize("read", ["entitlements", "iter_entitlements"])
@pytest.mark.parametrize("reads", ["flat_bonus", None, "zz_own"])
def test_a_scheme_reading_only_its_own_entitlements_is_held_to_it(
    paybonus_bus, paybonus_events, paybonus_ledger, reads, read
):
    """A scheme declaring `reads_own_entitlements_only` is computed from the read of the event's first scheme
    (docs/plugins.md): asking for another scheme's entitlements, or every scheme's, fails its dispatch with a
    clear error (a plugin fault, never a partial answer); the other schemes are recorded. Its own it reads."""
    from attrs import evolve
    from paybonus.hooks import SchemeResult

    seen = []

    def own(event, ctx):
        seen.append(len(list(getattr(ctx, read)(scheme=reads, period=event.payload.period))))
        return SchemeResult()

    plugin = _one_scheme_plugin("zz_own", own)
    bus = paybonus_bus(
        FlatPlugin(), plugin, company=make_company(schemes_toml=SCHEMES_TOML.replace("flaky", "zz_own"))
    )
    bus.host.schemes["zz_own"] = evolve(bus.host.schemes["zz_own"], reads_own_entitlements_only=True)
    out = bus.publish(paybonus_events.period_closed("2025-03"))
    status = {d.scheme: d for d in out.dispatches}
    assert status["flat_bonus"].status == "completed" and status["flat_bonus"].entitlements > 0
    if reads == "zz_own":
        assert status["zz_own"].status == "completed" and seen == [0]
        audit_ok(paybonus_ledger, bus)
    else:
        assert status["zz_own"].status == "failed" and not seen
        whose = "of flat_bonus" if reads else "of every scheme"
        assert f"declares reads_own_entitlements_only and asked for the entitlements {whose}" in (
            status["zz_own"].error
        )


def test_entitlements_are_read_one_at_a_time_or_at_once_alike(bus, paybonus_events, paybonus_ledger):
    # `iter_entitlements` streams what `entitlements` lists: the same values in the same order, under each filter
    from paybonus.calendar import Period
    from paybonus.store import LedgerReader

    for month in ("2025-01", "2025-02", "2025-03"):
        bus.publish(paybonus_events.period_closed(month))
    reader = LedgerReader.open(paybonus_ledger.path)
    feb = Period.parse("2025-02")
    for filters in ({}, {"scheme": "flat_bonus"}, {"period": feb}, {"employee": "E0001"}, {"scheme": "nope"}):
        streamed = reader.iter_entitlements("ACME", **filters)
        assert not isinstance(streamed, list)
        listed = reader.entitlements("ACME", **filters)
        assert list(streamed) == listed
        assert filters.get("scheme") == "nope" or listed
    assert len(reader.entitlements("ACME", period=feb)) < len(reader.entitlements("ACME"))
    reader.close()


def test_entitlements_carry_everything_the_ledger_promises(bus, paybonus_events, paybonus_ledger):
    bus.publish(paybonus_events.period_closed("2025-02"))
    row = paybonus_ledger.entitlements.rows(scheme="flat_bonus")[0]
    assert row["scheme_version"] == "1.0" and row["kind"] == "principal" and row["status"] == "due"
    assert row["social_regime"] == "salary" and (row["dsn_block"], row["dsn_code"]) == ("S21.G00.52", "028")
    assert row["due_date"] == "2025-02-28" and row["event_id"] == "close-2025-02-01..2025-02-28"
    assert type(row["amount_cents"]) is int
    if paybonus_ledger.backend == "sqlite":
        cols = {r[1]: r[2] for r in paybonus_ledger.conn.execute("PRAGMA table_info(entitlements)")}
        assert cols["amount_cents"] == "INTEGER"
        assert paybonus_ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert paybonus_ledger.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    else:
        assert paybonus_ledger.schema()[("table", "entitlements")].count("amount_cents bigint NO") == 1


def test_leaver_event_needs_no_scheme(bus, paybonus_events, paybonus_ledger):
    out = bus.publish(paybonus_events.employee_left("E0001", date(2025, 5, 31), forwarding_address="1 rue X"))
    assert out.dispatches == () and paybonus_ledger.events.digest("ACME", "left-E0001")


def test_an_older_ledger_is_upgraded_by_its_migrations_on_open(tmp_path):
    import sqlite3

    import sqlite_utils
    from paybonus.store import Ledger
    from paybonus.store.schema import migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    migrations.apply(db, stop_before="m002_payments")  # a ledger written by the first release
    assert "payments" not in db.table_names()
    conn.close()
    ledger = Ledger.open(path)
    assert {"payments", "deadline_notices"} <= set(ledger.db.table_names())
    assert [m.name for m in migrations.applied(ledger.db)] == [
        "m001_initial",
        "m002_payments",
        "m003_work_units",
        "m004_event_subjects",
        "m005_proof",
        "m006_views_for_humans",
        "m007_statement_company_files",
        "m008_group_contracts_and_payroll_bases",
        "m009_shared_explanations",
        "m010_message_dead_letters",
        "m011_audit_index_of_parameter_sets",
        "m012_event_ids_per_company",
        "m013_overdue_net_of_corrections",
    ]
    assert "work_unit" in ledger.db.table("contracts").columns_dict
    assert "company_files" in ledger.db.table_names()
    assert "group_company" in ledger.db.table("contracts").columns_dict
    assert {"cp_caisse_cents", "ap_subject_cents"} <= set(ledger.db.table("pay_lines").columns_dict)
    ledger.close()


def test_a_ledger_written_by_0_1_0_opens_migrates_verifies_and_takes_more_events(tmp_path):
    # tests/data/ledger-0.1.0-demo.db.gz: `paybonus demo` of release 0.1.0 (one global chain, JSON-only subjects)
    import gzip

    from paybonus import Paybonus
    from paybonus.fixtures import sample_dir

    path = tmp_path / "old.db"
    path.write_bytes(
        gzip.decompress((Path(__file__).parent.parent / "data" / "ledger-0.1.0-demo.db.gz").read_bytes())
    )
    with Paybonus.open(path) as app:
        assert app.ledger.pending_migrations() == []
        rep = app.verify()
        assert rep.ok, rep.problems
        assert rep.recomputed == rep.entitlements == 106
        left = app.ledger.events.of_type("DURAND", "employee_left")
        assert left and all(r["employee"] for r in left)  # m004 filled the new column from the payloads
        again = app.publish(sample_dir() / "events.jsonl").counts
        assert again["recorded"] == 0 and again["duplicates"] == again["events"] and again["failed"] == 0
        assert app.verify().ok
