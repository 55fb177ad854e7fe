"""Intéressement de projet (LAW section 2, I-20, I-34): three companies, one joining mid-project, combined caps,
both set-ups, the statement round trip and tampering."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from helpers.cli import file_hash, run, run_here
from helpers.projects import (
    FIGURES,
    ISSUED,
    POOL,
    YEAR,
    agreement,
    amounts,
    classic_results,
    close_year,
    load_company,
    statement_event,
    statement_from,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus import EventBus, Ledger, load_plugins
from paybonus.audit import verify as audit_verify
from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.fixtures.project import CLASSIC_RCAI, PEOPLE, company_toml, project_toml, write_example
from paybonus.params import Parameters
from paybonus.plugins.interessement.projet.agreement import load_project_toml
from paybonus.plugins.interessement.projet.statement import Measure, build, content_hash, verify

CAP_2025 = 3_532_500  # 75 % of PASS 2025 (47 100 €): classic + projet combined (I-30, P-4, I-34)
COMPANIES = ("ALPHA", "MEGA", "BETA")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    dest = tmp_path / "example"
    write_example(dest)
    return dest


def shared(tmp_path: Path, example: Path, name: str = "shared.db") -> tuple[EventBus, Ledger]:
    ledger = Ledger.create(tmp_path / name)
    for cid in COMPANIES:
        load_company(ledger, example, cid)
    return EventBus(ledger, load_plugins(entry_points=False)), ledger


def publish_statement(bus: EventBus, statement: dict, companies=COMPANIES, suffix: str = "") -> None:
    for cid in companies:
        outcome = bus.publish(statement_event(statement, cid, suffix))
        assert all(d.status == "completed" for d in outcome.dispatches), outcome


def projet_summary(ledger: Ledger, entity: str) -> dict:
    parts = []
    for (summary,) in ledger.conn.execute(
        "SELECT summary FROM dispatches WHERE scheme = 'interessement_projet' AND summary IS NOT NULL"
    ):
        parts += [p for p in json.loads(summary)["parts"] if p.get("entity") == entity and "pool_cents" in p]
    assert parts, f"no computation for {entity}"
    return parts[-1]


# -- golden case: the shipped example ----------------------------------------------------------------------


def test_the_pool_is_split_by_headcount_and_each_company_distributes_its_part(tmp_path, example):
    # formula over project figures: 11 250 + 3 750 + 6 250 = 21 250.00 € (P-1, achievement());
    # headcount key in employee-days over each entity's window: ALPHA 3 x 365 + A4 306 (from March) = 1 401,
    # MEGA-LYON 2 x 365 = 730 (LILLE is not in the project), BETA-RD joined 1 July: B1 184 + B2 122 = 306
    bus, ledger = shared(tmp_path, example)
    for cid in COMPANIES:
        close_year(bus, example, cid)
    statement = statement_from(dict.fromkeys(COMPANIES, ledger), agreement())
    assert statement["pool_cents"] == POOL and statement["value"] == "21250.000"
    parts = {e["entity"]: e for e in statement["entities"]}
    assert {k: v["weight"] for k, v in parts.items()} == {"ALPHA": 1401, "MEGA-LYON": 730, "BETA-RD": 306}
    # largest remainder (LAW 8): 2 125 000 x 1401/2437 = 1 221 635.2, x 730/2437 = 636 540.8, x 306/2437 = 266 823.9
    assert {k: v["pool_cents"] for k, v in parts.items()} == {
        "ALPHA": 1_221_635,
        "MEGA-LYON": 636_541,
        "BETA-RD": 266_824,
    }
    assert parts["BETA-RD"]["window"] == {"start": "2025-07-01", "end": "2025-12-31"}
    publish_statement(bus, statement)
    projet = amounts(ledger, "interessement_projet")
    # each entity's staff only: M3 (Lille establishment) and B3 (production unit) are outside the project
    assert {e for _, e in projet} == {"A2", "A3", "A4", "M1", "M2", "B1", "B2"}
    # MEGA and BETA: no cap binds, their part is distributed to the cent (salary criterion)
    assert projet[("MEGA", "M1")] + projet[("MEGA", "M2")] == 636_541
    assert projet[("BETA", "B1")] + projet[("BETA", "B2")] == 266_824
    report = audit_verify(ledger, bus.host.schemes)
    assert report.ok, report.problems


def test_the_combined_individual_cap_binds_for_the_high_earner(tmp_path, example):
    # P-4, I-34: classic + projet of the same exercise at most 75 % of the PASS. A1's classic share alone is
    # capped at 35 325.00 €, so he gets no project share; with reliquat "keep" his blocked share is not
    # given to the others (I-36)
    bus, ledger = shared(tmp_path, example)
    for cid in COMPANIES:
        close_year(bus, example, cid)
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()))
    classic, projet = amounts(ledger, "interessement"), amounts(ledger, "interessement_projet")
    assert classic[("ALPHA", "A1")] == CAP_2025 and ("ALPHA", "A1") not in projet
    s = projet_summary(ledger, "ALPHA")
    assert s["capped"] == 1 and s["pool_cents"] == 1_221_635
    assert s["distributed_cents"] + s["undistributed_cents"] == 1_221_635  # cents conserved in the entity
    assert sum(v for (c, _), v in projet.items() if c == "ALPHA") == s["distributed_cents"]
    for key in classic.keys() | projet.keys():
        assert classic.get(key, 0) + projet.get(key, 0) <= CAP_2025
    findings = {
        r[0] for r in ledger.conn.execute("SELECT rule FROM findings WHERE scheme = 'interessement_projet'")
    }
    assert "I-34" in findings


def test_cap_order_first_recorded_keeps_its_amount_and_the_combined_cap_holds_both_ways(tmp_path, example):
    # documented order (docs/interessement-projet.md): whichever of classic and projet is recorded first keeps
    # its amount; the other gets the room left. Either way A1 ends exactly at the combined cap.
    bus_a, ledger_a = shared(tmp_path, example, "classic-first.db")
    bus_b, ledger_b = shared(tmp_path, example, "projet-first.db")
    statement = None
    for cid in COMPANIES:
        close_year(bus_a, example, cid)
        close_year(bus_b, example, cid, classic=False)
    statement = statement_from(dict.fromkeys(COMPANIES, ledger_a), agreement())
    publish_statement(bus_a, statement)
    publish_statement(bus_b, statement)
    for cid in COMPANIES:
        classic_results(bus_b, example, cid)
    a_classic, a_projet = amounts(ledger_a, "interessement"), amounts(ledger_a, "interessement_projet")
    b_classic, b_projet = amounts(ledger_b, "interessement"), amounts(ledger_b, "interessement_projet")
    a1 = ("ALPHA", "A1")
    assert a_classic[a1] == CAP_2025 and a1 not in a_projet  # classic first: projet gets no room
    assert (
        b_projet[a1] > 0 and b_classic[a1] == CAP_2025 - b_projet[a1]
    )  # projet first: classic gets the rest
    for classic, projet in ((a_classic, a_projet), (b_classic, b_projet)):
        for key in classic.keys() | projet.keys():
            assert classic.get(key, 0) + projet.get(key, 0) <= CAP_2025
    assert audit_verify(ledger_b, bus_b.host.schemes).ok


def test_recomputing_either_scheme_never_breaks_the_combined_caps(tmp_path, example):
    # restated classic results and a restated project statement each produce corrections within the room the
    # other left: per person <= 75 % PASS (I-34), per company <= 20 % of payroll (I-20)
    bus, ledger = shared(tmp_path, example)
    for cid in COMPANIES:
        close_year(bus, example, cid, classic=False)
    first = statement_from(dict.fromkeys(COMPANIES, ledger), agreement())
    publish_statement(bus, first)
    for cid in COMPANIES:
        classic_results(bus, example, cid)
    from paybonus.fixtures.pytest_plugin import EventFactory

    later = ISSUED.replace(month=4)
    for cid in COMPANIES:  # classic restated far higher: MEGA and BETA would take all of their 20 %
        bus.publish(
            EventFactory(cid).results_published("2025", {"rcai": 5_000_000}, id=f"{cid}-restated", at=later)
        )
    better = dict(FIGURES, completion=Decimal("1"), quality=Decimal("0.98"))
    restated = statement_from(dict.fromkeys(COMPANIES, ledger), agreement(), figures=better)
    restated = build(agreement(), YEAR, better, _measures(restated), later.replace(day=20))
    publish_statement(bus, restated, suffix="-r")
    classic, projet = amounts(ledger, "interessement"), amounts(ledger, "interessement_projet")
    for key in classic.keys() | projet.keys():
        assert classic.get(key, 0) + projet.get(key, 0) <= CAP_2025
    payroll = {c: sum(m * _months(start) for _, m, _, _, start, _ in PEOPLE[c]) for c in COMPANIES}
    for c in COMPANIES:
        total = sum(v for (co, _), v in classic.items() if co == c) + sum(
            v for (co, _), v in projet.items() if co == c
        )
        assert total <= payroll[c] // 5, c
    kinds = {r["kind"] for r in ledger.entitlements.rows(scheme="interessement_projet")}
    assert "correction" in kinds  # never an edit: deltas that reference what they correct
    assert audit_verify(ledger, bus.host.schemes).ok


def test_the_company_cap_of_20_percent_is_shared_with_classic_intéressement(tmp_path, example):
    # I-20: MEGA's classic intéressement already takes its whole 20 % of payroll: its entity part is cut to 0
    bus, ledger = shared(tmp_path, example)
    for cid in COMPANIES:
        close_year(bus, example, cid, classic=cid != "MEGA")
    from paybonus.fixtures.pytest_plugin import EventFactory

    bus.publish(EventFactory("MEGA").results_published("2025", {"rcai": 1_000_000}, id="MEGA-big"))
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()))
    s = projet_summary(ledger, "MEGA-LYON")
    assert s["global_cap_cents"] == 12_840_000 * 20 // 100 == s["already_in_exercise_cents"]
    assert s["pool_cents"] == 0 and s["undistributed_cents"] == s["entity_pool_cents"] == 636_541
    assert not [k for k in amounts(ledger, "interessement_projet") if k[0] == "MEGA"]


# -- the two set-ups ----------------------------------------------------------------------------------------


def test_one_ledger_per_company_gives_the_same_cents_as_a_shared_ledger(tmp_path, example):
    bus, ledger = shared(tmp_path, example)
    own: dict[str, tuple[EventBus, Ledger]] = {}
    for cid in COMPANIES:
        close_year(bus, example, cid)
        lg = Ledger.create(tmp_path / f"{cid}.db")
        load_company(lg, example, cid)
        own[cid] = (EventBus(lg, load_plugins(entry_points=False)), lg)
        close_year(own[cid][0], example, cid)
    st_shared = statement_from(dict.fromkeys(COMPANIES, ledger), agreement())
    st_own = statement_from({c: own[c][1] for c in COMPANIES}, agreement())
    assert st_own == st_shared  # measured apart, the same statement to the byte
    publish_statement(bus, st_shared)
    merged: dict = {}
    for cid, (b, lg) in own.items():
        publish_statement(b, st_own, companies=(cid,))
        merged.update(amounts(lg, "interessement_projet"))
        assert {c for c, _ in amounts(lg, "interessement_projet")} == {cid}  # each ledger holds its own staff
    assert merged == amounts(ledger, "interessement_projet")


# -- the statement file -------------------------------------------------------------------------------------


def test_statement_round_trips_through_its_file_and_is_checked_again_on_import():
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    text = json.dumps(statement, indent=2)
    again = verify(json.loads(text, parse_float=Decimal), Parameters.default())
    assert again.hash == statement["hash"] == content_hash(statement)
    assert (
        sum(p.pool_cents for p in again.parts) + statement["undistributed_cents"] == statement["pool_cents"]
    )
    assert json.dumps(again.data, indent=2) == text


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda s: s["entities"][0].update(pool_cents=s["entities"][0]["pool_cents"] + 100),
            "hash: the content",
        ),
        (lambda s: s["figures"].update(completion="1"), "hash: the content"),
        (lambda s: s.update(hash="0" * 64), "hash: the content"),
        (lambda s: s.pop("hash"), "hash: the content"),
    ],
)
def test_a_tampered_statement_is_refused(tamper, message):
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    changed = copy.deepcopy(statement)
    tamper(changed)
    with pytest.raises(ValueError, match=message):
        verify(changed, Parameters.default())


def test_a_rehashed_statement_whose_numbers_do_not_follow_is_refused():
    # the hash proves integrity, not honesty: the numbers are computed again from the statement's own inputs
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    forged = copy.deepcopy(statement)
    forged["entities"][0]["pool_cents"] += 100
    forged["entities"][1]["pool_cents"] -= 100
    forged["hash"] = content_hash(forged)
    with pytest.raises(ValueError, match="ALPHA: the stated part does not follow"):
        verify(forged, Parameters.default())
    forged = copy.deepcopy(statement)
    forged["agreement"]["formula"] = forged["formula"] = "30000"
    forged["hash"] = content_hash(forged)
    with pytest.raises(ValueError, match="agreement_digest"):
        verify(forged, Parameters.default())


# -- the agreement ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("ends_on = 2027-12-31", "ends_on = 2030-01-31"), "longer than 60 months from 2025-01-01 (LAW P-3)"),
        (("joined_on = 2025-07-01", "joined_on = 2025-07-15"), "must be the first day of a month"),
        (("joined_on = 2025-07-01", "joined_on = 2028-01-01"), "outside the project"),
        (('split = "headcount"', 'split = "turnover"'), "split: expected one of"),
        (("period_months = 12", "period_months = 2"), "at least 3 whole months"),
        (
            ("15000 * achievement(completion", "15000 * achievement(completness"),
            "unknown figure 'completness'",
        ),
        (('unit = "LYON"', ""), "names its unit"),
        (('id = "BETA-RD"\ncompany = "BETA"', 'id = "ALPHA"\ncompany = "BETA"'), "'ALPHA' appears twice"),
        (
            ('id = "ALPHA"\ncompany = "ALPHA"', 'id = "ALPHA"\ncompany = "ALPHA"\nunit = "LYON"'),
            "entity ALPHA: unit only applies to an establishment or a work unit",
        ),
        (
            ("joined_on = 2025-07-01", "joined_on = 2025-07-01\nleft_on = 2026-06-15"),
            "entity BETA-RD: left_on 2026-06-15 must be the last day of a month",
        ),
        (
            ("joined_on = 2025-07-01", "joined_on = 2025-07-01\nleft_on = 2025-06-30"),
            "entity BETA-RD: left_on 2025-06-30 is outside its participation",
        ),
        (
            ("starts_on = 2025-01-01", "starts_on = 2025-01-02"),
            "starts_on: 2025-01-02 must be the first day of a month",
        ),
        (
            ("ends_on = 2027-12-31", "ends_on = 2027-12-30"),
            "ends_on: 2027-12-30 must be the last day of a month after starts_on",
        ),
        (
            ('id = "ALPHA"\ncompany = "ALPHA"', 'id = "ALPHA"\ncompany = "ALPHA"\nshare = "0.5"'),
            "entity ALPHA: share is only used with split = 'fixed'",
        ),
        (
            (
                'id = "BETA-RD"\ncompany = "BETA"\nscope = "work_unit"\nunit = "RD"',
                'id = "BETA-RD"\ncompany = "ALPHA"\nscope = "work_unit"\nunit = "RD"',
            ),
            "entities: ALPHA takes part as a whole company and as a part of it; choose one",
        ),
        (
            (
                'id = "BETA-RD"\ncompany = "BETA"\nscope = "work_unit"\nunit = "RD"',
                'id = "BETA-RD"\ncompany = "MEGA"\nscope = "establishment"\nunit = "LYON"',
            ),
            "entities: MEGA names the same unit twice",
        ),
        (
            ('figures = ["completion"', 'figures = ["Quality", "completion"'),
            "figures: 'Quality' must be lower_snake_case",
        ),
        (
            ("15000 * achievement(completion, 0.6, 1.0)", "15000 * progress(completion)"),
            "formula: prior() and progress() are not available in a project formula",
        ),
    ],
)
def test_project_agreement_errors_name_the_field(change, message):
    text = project_toml().replace(*change)
    assert text != project_toml()
    with pytest.raises(UserError) as info:
        load_project_toml(text, Parameters.default(), "project.toml")
    assert message in str(info.value) and str(info.value).startswith("project.toml: project.")


def test_project_toml_is_one_project_table_and_has_entities():
    for text, message in (
        (project_toml() + "\n[other]\nx = 1\n", "project.toml: expected one [project] table, not [other]"),
        ('[projet]\nid = "ATLAS"\n', "project.toml: expected one [project] table, not [projet]"),
        (
            project_toml().split("[[project.entities]]")[0] + "entities = []\n",
            "entities: a project has at least one",
        ),
        (
            project_toml("fixed", shares=("0", "0.5", "0.5")),
            "entity ALPHA: share 0 must be above 0 and at most 1",
        ),
    ):
        with pytest.raises(UserError, match=re.escape(message)):
            load_project_toml(text, Parameters.default(), "project.toml")


# the company's side, [schemes.interessement_projet] of company.toml: refused at load, one line, exit 2
PARTICIPATION_REFUSED = {
    "4 months of seniority": (
        (
            'reliquat = "keep"\n[[schemes.interessement_projet',
            'reliquat = "keep"\nseniority_months = 4\n[[schemes.interessement_projet',
        ),
        "seniority_months: 4 is over the legal maximum of 3 months (LAW I-13)",
    ),
    "sub-pools of 90 %": (
        ('criterion = "salary"\nshare = "1"\n', 'criterion = "salary"\nshare = "0.9"\n', 2),
        "distribution: the shares add up to 0.9, not 1 (100 %)",
    ),
    "one criterion twice": (
        (
            'criterion = "salary"\nshare = "1"\n',
            'criterion = "salary"\nshare = "0.5"\n[[schemes.interessement_projet.participations.distribution]]\n'
            'criterion = "salary"\nshare = "0.5"\n',
            2,
        ),
        "distribution: one sub-pool per criterion, at least one (LAW I-21, I-22)",
    ),
    "the same entity twice": (
        ("", "", 0),
        "participations: the same project entity appears twice",
    ),
    "a coordinator key that is no key": (
        ('entity = "ALPHA"\n', 'entity = "ALPHA"\ncoordinator_key = "not-a-key"\n'),
        "coordinator_key: not an Ed25519 public key",
    ),
}


@pytest.mark.parametrize("case", list(PARTICIPATION_REFUSED))
def test_a_companys_participation_is_checked_at_load(tmp_path, example, case):
    from helpers.hostile import attempt

    (old, new, *nth), words = PARTICIPATION_REFUSED[case]
    toml = example / "ALPHA" / "company.toml"
    text = toml.read_text(encoding="utf-8")
    if not old:  # the participation given twice
        text += text[text.index("[[schemes.interessement_projet.participations]]") :]
    else:
        head, sep, tail = text.rpartition(old) if nth == [2] else text.partition(old)
        assert sep, old
        text = head + new + tail
    toml.write_text(text, encoding="utf-8")
    db = tmp_path / "alpha.db"
    Ledger.create(db).close()
    line = attempt(case, db, "load", str(example / "ALPHA"))
    assert "company.toml: schemes.interessement_projet." in line and words in line, line


def test_fixed_shares_must_add_up_and_are_prorated_by_days_of_participation():
    with pytest.raises(UserError, match=r"fixed shares add up to 0\.9"):
        load_project_toml(project_toml("fixed", shares=("0.5", "0.3", "0.1")), Parameters.default(), "p")
    ag = agreement("fixed")
    st_ = build(ag, YEAR, FIGURES, {}, ISSUED)
    # BETA-RD takes part 184 of 365 days: weights 0.5 x 365, 0.3 x 365, 0.2 x 184
    w = {e["entity"]: e["weight"] for e in st_["entities"]}
    assert w == {"ALPHA": 500_000 * 365, "MEGA-LYON": 300_000 * 365, "BETA-RD": 200_000 * 184}
    assert sum(e["pool_cents"] for e in st_["entities"]) == POOL


def test_an_entity_before_it_joins_has_no_part_of_the_period():
    ag = agreement(period_months=6)
    first = Period.parse("2025-01-01..2025-06-30")
    st_ = build(ag, first, FIGURES, _fake_measures(first, beta=False), ISSUED)
    beta = next(e for e in st_["entities"] if e["entity"] == "BETA-RD")
    assert beta["window"] is None and beta["weight"] == 0 and beta["pool_cents"] == 0
    assert sum(e["pool_cents"] for e in st_["entities"]) == POOL


def test_a_company_without_its_own_intéressement_agreement_cannot_take_part(tmp_path, example):
    # P-1: a classic agreement is a prerequisite of intéressement de projet
    toml_path = example / "MEGA" / "company.toml"
    text = toml_path.read_text(encoding="utf-8")
    start, end = text.index("[schemes.interessement]"), text.index("[[schemes.interessement_projet")
    toml_path.write_text(text[:start] + text[end:], encoding="utf-8")
    r = run("--db", str(tmp_path / "x.db"), "load", str(example / "MEGA"), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "[schemes.interessement_projet]: the company also needs [schemes.interessement]" in r.stderr


# -- properties ---------------------------------------------------------------------------------------------


@given(
    days=st.lists(st.integers(0, 200_000), min_size=3, max_size=3),
    figures=st.tuples(
        st.decimals("0", "1.2", places=3), st.integers(0, 200), st.decimals("0.8", "1", places=3)
    ),
)
@settings(max_examples=60, deadline=None)
def test_cents_are_conserved_across_entities(days, figures):
    ag = agreement()
    measures = _fake_measures()
    for (entity, m), d in zip(sorted(measures.items()), days, strict=True):
        measures[entity] = Measure(m.entity, m.company, m.window, d, m.payroll_cents)
    figs = {"completion": figures[0], "delay_days": Decimal(figures[1]), "quality": figures[2]}
    statement = build(ag, YEAR, figs, measures, ISSUED)
    pools = [e["pool_cents"] for e in statement["entities"]]
    assert sum(pools) + statement["undistributed_cents"] == statement["pool_cents"] >= 0
    total = sum(e["weight"] for e in statement["entities"])
    assert statement["undistributed_cents"] == (statement["pool_cents"] if total == 0 else 0)
    for e in statement["entities"]:
        if total:
            exact = Decimal(statement["pool_cents"]) * e["weight"] / total
            assert abs(e["pool_cents"] - exact) < 1
    verify(statement, Parameters.default())


@given(
    alpha_rcai=st.integers(0, 300_000),
    mega_rcai=st.integers(0, 60_000),
    completion=st.decimals("0.6", "1", places=2),
    projet_first=st.booleans(),
)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_combined_caps_are_never_exceeded_whatever_the_order(
    tmp_path_factory, alpha_rcai, mega_rcai, completion, projet_first
):
    tmp = tmp_path_factory.mktemp("order")
    example = tmp / "example"
    write_example(example)
    for cid, rcai in (("ALPHA", alpha_rcai), ("MEGA", mega_rcai)):
        path = example / cid / "events.jsonl"
        text = path.read_text(encoding="utf-8")
        old = f'"rcai":"{CLASSIC_RCAI[cid]}"'
        assert old in text
        path.write_text(text.replace(old, f'"rcai":"{rcai}"'), encoding="utf-8")
    bus, ledger = shared(tmp, example)
    for cid in COMPANIES:
        close_year(bus, example, cid, classic=False)
    statement = statement_from(
        dict.fromkeys(COMPANIES, ledger), agreement(), figures=dict(FIGURES, completion=completion)
    )
    if projet_first:
        publish_statement(bus, statement)
    for cid in COMPANIES:
        classic_results(bus, example, cid)
    if not projet_first:
        publish_statement(bus, statement)
    classic, projet = amounts(ledger, "interessement"), amounts(ledger, "interessement_projet")
    for key in classic.keys() | projet.keys():
        assert classic.get(key, 0) + projet.get(key, 0) <= CAP_2025
    for c in COMPANIES:
        payroll = sum(m * _months(start) for _, m, _, _, start, _ in PEOPLE[c])
        total = sum(v for (co, _), v in classic.items() if co == c) + sum(
            v for (co, _), v in projet.items() if co == c
        )
        assert total <= payroll // 5
    assert audit_verify(ledger, bus.host.schemes).ok


# -- the command line, both set-ups ------------------------------------------------------------------------


@pytest.fixture
def in_process():
    """Run `paybonus` in this process (faster than a subprocess); restores the logging set-up afterwards."""
    from paybonus.cli import main

    saved = structlog.get_config()

    def call(*args: str) -> int:
        return main(list(args))

    yield call
    structlog.configure(**saved)


def test_cli_shared_and_separate_ledgers_give_the_same_cents(tmp_path, example, in_process, capsys):
    p = str(example / "project.toml")
    results = str(example / "results-2025.json")
    issued = ("--issued-at", "2026-03-02T09:00:00+01:00")
    shared_db = str(tmp_path / "shared.db")
    assert in_process("--db", shared_db, "init") == 0
    for cid in COMPANIES:
        assert in_process("--db", shared_db, "load", str(example / cid)) == 0
        assert in_process("--db", shared_db, "publish", str(example / cid / "events.jsonl")) == 0
    st_shared = tmp_path / "statement-shared.json"
    assert (
        in_process("--db", shared_db, "project", "statement", p, results, "-o", str(st_shared), *issued) == 0
    )
    assert in_process("--db", shared_db, "project", "import", str(st_shared)) == 0
    measures = []
    for cid in COMPANIES:
        db = str(tmp_path / f"{cid}.db")
        assert in_process("--db", db, "init") == 0
        assert in_process("--db", db, "load", str(example / cid)) == 0
        assert in_process("--db", db, "publish", str(example / cid / "events.jsonl")) == 0
        m = tmp_path / f"measures-{cid}.json"
        assert in_process("--db", db, "project", "measure", p, "--period", "2025", "-o", str(m)) == 0
        measures += ["--measures", str(m)]
    st_own = tmp_path / "statement.json"
    coord = str(tmp_path / "coordinator.db")
    assert (
        in_process("--db", coord, "project", "statement", p, results, *measures, "-o", str(st_own), *issued)
        == 0
    )
    assert st_own.read_bytes() == st_shared.read_bytes()
    merged = {}
    for cid in COMPANIES:
        db = tmp_path / f"{cid}.db"
        assert in_process("--db", str(db), "project", "import", str(st_own)) == 0
        lg = Ledger.open(db)
        merged.update(amounts(lg, "interessement_projet"))
        lg.close()
    lg = Ledger.open(shared_db)
    assert merged == amounts(lg, "interessement_projet") and len(merged) == 7
    lg.close()
    capsys.readouterr()
    assert in_process("--db", shared_db, "project", "show", "ATLAS", "--format", "json") == 0
    view = json.loads(capsys.readouterr().out)
    assert {r["entity"]: r["distributed_cents"] for r in view} == {
        "ALPHA": 305_409,
        "MEGA-LYON": 636_541,
        "BETA-RD": 266_824,
    }
    for emp in (e for people in PEOPLE.values() for e, *_ in people):
        assert f'"{emp}"' not in json.dumps(view)  # the project view holds per-entity totals only
    # importing again changes nothing
    before = file_hash(Path(shared_db))
    assert in_process("--db", shared_db, "project", "import", str(st_shared)) == 0
    assert in_process("--db", shared_db, "audit", "verify") == 0
    assert "already recorded" in capsys.readouterr().out
    assert before != "" and Path(shared_db).exists()


def test_cli_refuses_a_tampered_statement_with_one_line_and_the_ledger_untouched(tmp_path, example):
    db = tmp_path / "alpha.db"
    # the ledger in this process; the three refusals below from real processes
    assert run_here("--db", str(db), "init", cwd=tmp_path).returncode == 0
    assert run_here("--db", str(db), "load", str(example / "ALPHA"), cwd=tmp_path).returncode == 0
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    statement["entities"][0]["pool_cents"] += 1_000_00
    path = tmp_path / "statement.json"
    path.write_text(json.dumps(statement), encoding="utf-8")
    before = file_hash(db)
    r = run("--db", str(db), "project", "import", str(path), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"{path}: hash: the content does not match its hash" in r.stderr
    assert file_hash(db) == before
    # the same statement published as a raw event is checked the same way
    event = statement_event(build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED), "ALPHA").to_dict()
    event["payload"]["statement"]["figures"]["quality"] = "0.99"
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(event) + "\n", encoding="utf-8")
    r = run("--db", str(db), "publish", str(events), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert f"{events}:1: hash: the content does not match its hash" in r.stderr
    assert file_hash(db) == before
    bad = tmp_path / "project.toml"
    bad.write_text(project_toml().replace("ends_on = 2027-12-31", "ends_on = 2031-12-31"), encoding="utf-8")
    r = run("--db", str(db), "project", "check", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and "(LAW P-3)" in r.stderr and r.stderr.count("\n") == 1


def test_cli_measure_waits_for_the_close_of_the_pay_period(tmp_path, example, in_process, capsys):
    db = str(tmp_path / "alpha.db")
    assert in_process("--db", db, "init") == 0
    assert in_process("--db", db, "load", str(example / "ALPHA")) == 0
    assert (
        in_process("--db", db, "project", "measure", str(example / "project.toml"), "--period", "2025") == 2
    )
    assert "the pay period ending 2025-12-31 is not closed" in capsys.readouterr().err


# -- helpers ------------------------------------------------------------------------------------------------


def _measures(statement: dict) -> dict[str, Measure]:
    return {
        e["entity"]: Measure(
            e["entity"],
            e["company"],
            Period.parse(f"{e['window']['start']}..{e['window']['end']}"),
            e.get("headcount_days"),
            e.get("payroll_cents"),
        )
        for e in statement["entities"]
        if e["window"]
    }


def _fake_measures(period: Period = YEAR, beta: bool = True) -> dict[str, Measure]:
    ag = agreement()
    out = {}
    sizes = {"ALPHA": (1401, 40_000_000), "MEGA-LYON": (730, 8_040_000), "BETA-RD": (306, 3_720_000)}
    for e in ag.entities:
        window = ag.window(e, period)
        if window is None or (e.id == "BETA-RD" and not beta):
            continue
        out[e.id] = Measure(e.id, e.company, window, *sizes[e.id])
    return out


def _months(start: str) -> int:
    """Months paid in 2025 from a contract start (the example pays whole months from the first of the month)."""
    y, m = int(start[:4]), int(start[5:7])
    return 12 if y < 2025 else 13 - m


# -- periods that differ from the exercise, payment, corrections --------------------------------------------


def test_a_project_period_counts_in_the_exercise_it_ends_in(tmp_path, example):
    # P-3: the project's periods may differ from the fiscal years. ALPHA closes its books on 30 June: the project
    # year 2025 ends in its exercise 2025-07-01..2026-06-30, so its classic intéressement of the exercise that
    # ended on 30 June 2025 does not take the combined room (I-34), and the company cap counts the payroll of
    # that exercise up to the end of the project period, July to December 2025 (I-20)
    text = company_toml("ALPHA").replace("headcount = 60", 'headcount = 60\nfiscal_year_start = "07-01"')
    bus, ledger = shared(tmp_path, example)
    load_company(ledger, example, "ALPHA", text)
    for cid in COMPANIES:
        close_year(bus, example, cid, classic=cid != "ALPHA")
    from paybonus.fixtures.pytest_plugin import EventFactory

    bus.publish(
        EventFactory("ALPHA").results_published("2024-07-01..2025-06-30", {"rcai": 200_000}, id="A-ex-2025")
    )
    classic = amounts(ledger, "interessement")
    assert classic[("ALPHA", "A1")] > 0
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()))
    s = projet_summary(ledger, "ALPHA")
    assert s["exercise"] == "2025-07-01..2026-06-30" and s["already_in_exercise_cents"] == 0
    assert s["payroll_cents"] == 6 * (2_500_000 + 300_000 + 300_000 + 280_000)
    projet = amounts(ledger, "interessement_projet")
    assert projet[("ALPHA", "A1")] > 0  # a fresh exercise: A1's room is whole again
    row = next(r for r in ledger.entitlements.rows("ALPHA", "interessement_projet") if r["employee"] == "A1")
    # cap of that exercise: 75 % of the PASS averaged over its months (6 x 47 100 + 6 x 48 060) / 12 (I-32)
    assert ledger.entitlements.explanation(row)["inputs"]["individual_cap_cents"] == 3_568_500


def test_a_late_payment_of_project_intéressement_bears_interest(tmp_path, example):
    # I-39 by P-5: a 12-month project period is paid by the end of the 5th month (31 May 2026); later, interest
    # at 1.33 x TMOP in force on the payment date (I-40). The 2025-S2 TMOP (a test value) comes from the host.
    extra = tmp_path / "tmop.toml"
    extra.write_text(
        '[tmop]\nlabel = "TMOP"\nunit = "rate"\nsource = "test"\n'
        'values = [{ semester = "2025-S2", jo = 2026-02-10, from = 2026-02-11, value = "0.0300" }]\n',
        encoding="utf-8",
    )
    ledger = Ledger.create(tmp_path / "l.db")
    for cid in COMPANIES:
        load_company(ledger, example, cid)
    bus = EventBus(ledger, load_plugins(entry_points=False), Parameters.default().with_file(extra))
    for cid in COMPANIES:
        close_year(bus, example, cid)
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()))
    row = next(r for r in ledger.entitlements.rows("MEGA", "interessement_projet") if r["employee"] == "M1")
    assert row["due_date"] == "2026-05-31"
    from datetime import date

    from paybonus.fixtures.pytest_plugin import EventFactory

    pay = EventFactory("MEGA").payment_recorded(row["id"], row["amount_cents"], date(2026, 6, 30))
    assert all(d.status == "completed" for d in bus.publish(pay).dispatches)
    interest = [
        r for r in ledger.entitlements.rows("MEGA", "interessement_projet") if r["kind"] == "interest"
    ]
    # 332 521 cents x 1.33 x 3 % x 30 / 365 = 1 090.4 -> 10.90 €
    assert [(r["corrects"], r["amount_cents"]) for r in interest] == [(row["id"], 1090)]
    assert audit_verify(ledger, bus.host.schemes).ok


def test_a_restated_statement_records_corrections_equal_to_a_fresh_computation(tmp_path, example):
    bus, ledger = shared(tmp_path, example)
    fresh_bus, fresh = shared(tmp_path, example, "fresh.db")
    for cid in COMPANIES:
        close_year(bus, example, cid)
        close_year(fresh_bus, example, cid)
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()))
    better = dict(FIGURES, completion=Decimal("1"))
    later = statement_from(dict.fromkeys(COMPANIES, ledger), agreement(), figures=better)
    later = build(agreement(), YEAR, better, _measures(later), ISSUED.replace(month=5))
    publish_statement(bus, later, suffix="-r")
    publish_statement(fresh_bus, later)
    assert amounts(ledger, "interessement_projet") == amounts(fresh, "interessement_projet")
    corrections = [
        r for r in ledger.entitlements.rows(scheme="interessement_projet") if r["kind"] == "correction"
    ]
    assert corrections and all(r["corrects"] for r in corrections)
    # publishing the first statement again changes nothing: the latest statement of the period wins
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()), suffix="-again")
    assert amounts(ledger, "interessement_projet") == amounts(fresh, "interessement_projet")


def test_the_statement_waits_for_the_close_of_the_entitys_last_pay_month(tmp_path, example):
    # out of order: the statement arrives before December is closed; the close completes the computation
    bus, ledger = shared(tmp_path, example)
    lines = (example / "BETA" / "events.jsonl").read_text(encoding="utf-8").splitlines()

    for cid in ("ALPHA", "MEGA"):
        close_year(bus, example, cid)
    bus.publish_all(
        bus.host.event_types.read_jsonl(
            "BETA", [x for x in lines if "2025-12" not in x and "results" not in x]
        )
    )
    statement = statement_from(dict.fromkeys(COMPANIES, ledger), agreement())
    publish_statement(bus, statement)
    assert not [k for k in amounts(ledger, "interessement_projet") if k[0] == "BETA"]
    bus.publish_all(bus.host.event_types.read_jsonl("BETA", [x for x in lines if "2025-12" in x]))
    beta = {k: v for k, v in amounts(ledger, "interessement_projet").items() if k[0] == "BETA"}
    assert sum(beta.values()) == 266_824


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path


@given(
    data=st.data(),
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10**12),
        st.text(max_size=12),
        st.lists(st.integers(), max_size=2),
    ),
    rehash=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_any_change_to_a_statement_is_refused_with_a_value_error(data, value, rehash):
    # a fuzzer: whatever a leaf becomes, verify raises ValueError (one line for the user), never anything else
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    changed = copy.deepcopy(statement)
    path = data.draw(st.sampled_from(sorted(_leaves(changed), key=str)))
    node = changed
    for k in path[:-1]:
        node = node[k]
    if node[path[-1]] == value:
        return
    node[path[-1]] = value
    if rehash:
        changed["hash"] = content_hash(changed)
    try:
        verify(changed, Parameters.default())
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:  # only the hash itself, put back by re-hashing, or a new issue time, can pass
        assert rehash and path[0] in ("hash", "issued_at"), path


def test_payroll_key_and_only_the_measure_the_key_uses_leaves_the_company(tmp_path, example):
    # split by payroll: gross salaries of each entity over its window (I-19: AP indemnities excluded);
    # ALPHA 400 000 €, MEGA-LYON 2 x 12 months = 80 400 €, BETA-RD July-December 22 800 + 14 400 = 37 200 €
    bus, ledger = shared(tmp_path, example)
    for cid in COMPANIES:
        close_year(bus, example, cid)
    by_payroll = statement_from(dict.fromkeys(COMPANIES, ledger), agreement("payroll"))
    w = {e["entity"]: e["weight"] for e in by_payroll["entities"]}
    assert w == {"ALPHA": 40_000_000, "MEGA-LYON": 8_040_000, "BETA-RD": 3_720_000}
    assert all("headcount_days" not in e for e in by_payroll["entities"])
    by_headcount = statement_from(dict.fromkeys(COMPANIES, ledger), agreement())
    assert all("payroll_cents" not in e for e in by_headcount["entities"])  # no payroll disclosed
    from paybonus.plugins.interessement.projet.statement import measures_file

    ag = agreement()
    m = measures_file(ag, YEAR, list(_measures(by_headcount).values()))
    assert {x["payroll_cents"] for x in m["measures"]} == {None}


def test_import_warns_when_a_company_of_the_statement_does_not_take_part_in_its_configuration(
    tmp_path, example, in_process, capsys
):
    toml_path = example / "MEGA" / "company.toml"
    text = toml_path.read_text(encoding="utf-8")
    toml_path.write_text(text[: text.index("[[schemes.interessement_projet")], encoding="utf-8")
    db = str(tmp_path / "mega.db")
    assert in_process("--db", db, "init") == 0
    assert in_process("--db", db, "load", str(example / "MEGA")) == 0
    statement = tmp_path / "statement.json"
    statement.write_text(
        json.dumps(build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)), encoding="utf-8"
    )
    capsys.readouterr()
    assert in_process("--db", db, "project", "import", str(statement)) == 0
    got = capsys.readouterr()
    assert "warning: MEGA has no [[schemes.interessement_projet.participations]] for ATLAS" in got.err
    assert "MEGA: statement recorded, no dispatch" in got.out


def test_project_demo_runs_the_shipped_example_end_to_end(tmp_path, monkeypatch, in_process, capsys):
    monkeypatch.chdir(tmp_path)
    assert in_process("project", "demo") == 0
    got = capsys.readouterr().out
    assert "audit: OK" in got and "MEGA-LYON" in got and "6\u202f365,41 €" in got
    assert (tmp_path / "paybonus-project-demo.db").is_file()
    assert (tmp_path / "paybonus-project-demo.statement.json").is_file()


def test_project_demo_goes_to_the_global_db_and_never_forces_it(tmp_path, monkeypatch, in_process, capsys):
    """`paybonus --db x.db project demo` left the example in paybonus-project-demo.db, ignoring --db, as `demo` did;
    `--force` with the global --db (which may name the production ledger) is refused, nothing replaced."""
    monkeypatch.chdir(tmp_path)
    assert in_process("--db", "x.db", "project", "demo") == 0
    assert (tmp_path / "x.db").is_file() and not (tmp_path / "paybonus-project-demo.db").exists()
    before = (tmp_path / "x.db").stat().st_mtime_ns
    capsys.readouterr()
    assert in_process("--db", "x.db", "project", "demo", "--force") == 2
    assert "--force: replaces only a ledger --demo-db names" in capsys.readouterr().err
    assert (tmp_path / "x.db").stat().st_mtime_ns == before


def test_two_entities_of_one_company_share_its_20_percent_cap(tmp_path, example):
    # MEGA takes part with two establishments; its classic intéressement leaves 3 000.00 € of its 20 % (I-20):
    # the entities are computed in id order in one dispatch and the second only gets what the first left
    project = example / "project.toml"
    text = project.read_text(encoding="utf-8")
    project.write_text(
        text
        + '\n[[project.entities]]\nid = "MEGA-LILLE"\ncompany = "MEGA"\nscope = "establishment"\nunit = "LILLE"\n',
        encoding="utf-8",
    )
    ag = load_project_toml(project.read_text(encoding="utf-8"), Parameters.default(), "project.toml")
    mega = company_toml("MEGA")
    block = mega[mega.index("[[schemes.interessement_projet.participations]]") :]
    load_toml = mega + "\n" + block.replace('entity = "MEGA-LYON"', 'entity = "MEGA-LILLE"')
    bus, ledger = shared(tmp_path, example)
    load_company(ledger, example, "MEGA", load_toml)
    for cid in COMPANIES:
        close_year(bus, example, cid, classic=cid != "MEGA")
    from paybonus.fixtures.pytest_plugin import EventFactory

    room = 300_000
    bus.publish(
        EventFactory("MEGA").results_published("2025", {"rcai": (2_568_000 - room) // 100}, id="MEGA-r")
    )
    statement = statement_from(dict.fromkeys(COMPANIES, ledger), ag)
    pools = {e["entity"]: e["pool_cents"] for e in statement["entities"]}
    assert pools["MEGA-LILLE"] + pools["MEGA-LYON"] > room
    publish_statement(bus, statement)
    projet = {k: v for k, v in amounts(ledger, "interessement_projet").items() if k[0] == "MEGA"}
    assert sum(projet.values()) == room  # the first entity takes the room, the second what is left
    lille, lyon = projet.get(("MEGA", "M3"), 0), projet.get(("MEGA", "M1"), 0) + projet.get(("MEGA", "M2"), 0)
    assert lille == min(room, pools["MEGA-LILLE"]) and lyon == room - lille
    assert audit_verify(ledger, bus.host.schemes).ok


def test_a_company_that_trusts_its_coordinator_imports_only_what_that_key_signed(tmp_path, example):
    # the proof issue: project statements are signed by their issuer, and an import checks the issuer's key
    from paybonus.plugins.interessement.projet.statement import sign
    from paybonus.signing import new_key, public_text

    coordinator, intruder = new_key(tmp_path / "coordinator.pem"), new_key(tmp_path / "intruder.pem")
    toml = example / "ALPHA" / "company.toml"
    text = toml.read_text(encoding="utf-8")
    marker = "[[schemes.interessement_projet.participations]]\n"
    toml.write_text(
        text.replace(marker, marker + f'coordinator_key = "{public_text(coordinator)}"\n', 1),
        encoding="utf-8",
    )
    db = tmp_path / "alpha.db"
    assert run_here("--db", str(db), "init", cwd=tmp_path).returncode == 0
    assert run_here("--db", str(db), "load", str(example / "ALPHA"), cwd=tmp_path).returncode == 0
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    before = file_hash(db)

    def attempt(data, name, command=run_here):  # the refusals in this process, the import in a real one
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return command("--db", str(db), "project", "import", str(path), cwd=tmp_path)

    unsigned = attempt(statement, "unsigned.json")
    assert unsigned.returncode == 2 and "not signed" in unsigned.stderr and unsigned.stderr.count("\n") == 1
    forged = dict(statement, entities=[dict(e) for e in statement["entities"]])
    forged["entities"][0]["pool_cents"] += (
        1  # restated by someone else, re-hashed and signed with his own key
    )
    from paybonus.plugins.interessement.projet.statement import content_hash

    forged["hash"] = content_hash(forged)
    other = attempt(sign(forged, intruder), "intruder.json")
    assert other.returncode == 2 and other.stderr.count("\n") == 1
    other_key = attempt(sign(statement, intruder), "other-key.json")
    assert other_key.returncode == 2 and "not by the coordinator's key" in other_key.stderr
    signed = sign(statement, coordinator)
    tampered = dict(signed, issued_at="2026-03-03T09:00:00+01:00")
    assert attempt(tampered, "tampered.json").returncode == 2
    assert file_hash(db) == before
    good = attempt(signed, "signed.json", run)
    assert good.returncode == 0, good.stderr
    assert "ALPHA: statement recorded" in good.stdout


def test_a_recomputation_of_a_project_period_records_the_differences_as_corrections(tmp_path, example):
    # CHANGELOG 1.1.0: asked again under the same rules, nothing is recorded; after MEGA changes its criterion to
    # uniform, the differences are corrections citing the request; asking twice adds nothing
    bus, ledger = shared(tmp_path, example)
    for cid in COMPANIES:
        close_year(bus, example, cid)
    publish_statement(bus, statement_from(dict.fromkeys(COMPANIES, ledger), agreement()))
    before = {r["id"]: r["amount_cents"] for r in ledger.entitlements.rows("MEGA", "interessement_projet")}

    def ask(id):
        line = json.dumps(
            {
                "id": id,
                "type": "recomputation_requested",
                "company": "MEGA",
                "occurred_at": "2026-07-01T09:00:00+02:00",
                "payload": {"scheme": "interessement_projet", "period": "2025", "reason": "check"},
            }
        )
        out = bus.publish_all(bus.host.event_types.read_jsonl("r.jsonl", [line]))
        assert all(d.status == "completed" for o in out for d in o.dispatches)

    ask("same-rules")
    assert {r["id"] for r in ledger.entitlements.rows("MEGA", "interessement_projet")} == set(before)
    text = (example / "MEGA" / "company.toml").read_text(encoding="utf-8")
    head, _, part = text.partition("[[schemes.interessement_projet.participations]]")
    part = part.replace('criterion = "salary"', 'criterion = "uniform"')
    load_company(ledger, example, "MEGA", f"{head}[[schemes.interessement_projet.participations]]{part}")
    ask("uniform-now")
    rows = ledger.entitlements.rows("MEGA", "interessement_projet")
    new = [r for r in rows if r["id"] not in before]
    assert new and all(r["kind"] == "correction" and r["corrects"] in before for r in new)
    assert all(
        ledger.entitlements.explanation(r)["inputs"]["recomputation"]["request"] == "uniform-now" for r in new
    )
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["employee"]] = totals.get(r["employee"], 0) + r["amount_cents"]
    assert abs(totals["M1"] - totals["M2"]) <= 1 and sum(totals.values()) == sum(before.values())  # uniform
    assert all(ledger.entitlements.get(i)["amount_cents"] == c for i, c in before.items())  # nothing edited
    ask("uniform-again")
    assert len(ledger.entitlements.rows("MEGA", "interessement_projet")) == len(rows)
    assert audit_verify(ledger, bus.host.schemes).ok


# -- what the project's files must be: measures, figures, signatures (each refusal names its field) -----------


def _measures_file(**changes):
    from paybonus.plugins.interessement.projet.statement import measures_file

    data = measures_file(agreement(), YEAR, list(_fake_measures().values()))
    return {**data, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "format: not a measures file"),
        ({"format": "paybonus-statement-v1"}, "format: not a measures file"),
        ("project=NEPTUNE", "project: 'NEPTUNE', not 'ATLAS'"),
        ("agreement_digest=0", "agreement_digest: measured under another version of the project agreement"),
        ("period=2026-01-01..2026-12-31", "period: 2026-01-01..2026-12-31, not 2025-01-01..2025-12-31"),
        ("measures=bad", "measures[0]."),
    ],
)
def test_a_measures_file_is_read_only_for_its_project_agreement_and_period(data, message):
    from paybonus.plugins.interessement.projet.statement import read_measures

    if isinstance(data, str):
        key, _, value = data.partition("=")
        data = _measures_file(**{key: [{"entity": "ALPHA"}] if value == "bad" else value})
    with pytest.raises(ValueError, match=re.escape(message)):
        read_measures(data, agreement(), YEAR)
    assert [m.entity for m in read_measures(_measures_file(), agreement(), YEAR)] == [
        "ALPHA",
        "MEGA-LYON",
        "BETA-RD",
    ]


def test_a_statement_is_built_only_for_a_period_and_figures_of_its_agreement_and_from_whole_measures():
    from paybonus.plugins.interessement.projet.statement import Measure

    half = Period.parse("2025-01-01..2025-06-30")
    with pytest.raises(
        ValueError, match=re.escape("period: 2025-01-01..2025-06-30 is not a calculation period of ATLAS")
    ):
        build(agreement(), half, FIGURES, _fake_measures(), ISSUED)
    with pytest.raises(ValueError, match="figures: 'turnover' is not a figure of the project agreement"):
        build(agreement(), YEAR, {**FIGURES, "turnover": Decimal(1)}, _fake_measures(), ISSUED)
    hollow = {**_fake_measures(), "ALPHA": Measure("ALPHA", "ALPHA", YEAR, None, 40_000_000)}
    with pytest.raises(ValueError, match="entity ALPHA: the measure has no headcount_days"):
        build(agreement(), YEAR, FIGURES, hollow, ISSUED)


def test_a_signature_must_be_whole_a_key_and_match(tmp_path):
    from paybonus import signing
    from paybonus.plugins.interessement.projet.statement import check_signature, sign

    key = signing.new_key(tmp_path / "k.pem")
    statement = build(agreement(), YEAR, FIGURES, _fake_measures(), ISSUED)
    signed = sign(statement, key)
    assert check_signature(signed, signing.public_text(key)) == signing.key_id(signing.public_text(key))
    for sig, message in (
        ("yes", "signature: malformed (expected public_key and value)"),
        ({"public_key": "not-a-key", "value": "x"}, "signature.public_key:"),
        ({**signed["signature"], "value": signed["signature"]["value"][::-1]}, "signature: does not match"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            check_signature({**signed, "signature": sig}, None)
    with pytest.raises(ValueError, match="agreement: missing"):
        forged = {k: v for k, v in statement.items() if k != "agreement"}
        verify({**forged, "hash": content_hash(forged)}, Parameters.default())
