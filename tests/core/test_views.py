"""The views for humans (migration m006_views_for_humans) say the same as the engine: euros, names, totals,
what is overdue, the choice windows open, explanations line by line."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from paybonus import Paybonus
from paybonus.fixtures import sample_dir
from paybonus.money import format_euros
from paybonus.params import Parameters
from paybonus.store.schema import OPTION_WINDOW_DAYS

VIEWS = (
    "employee_names",
    "entitlements_in_euros",
    "totals_by_scheme",
    "overdue",
    "choice_windows_open",
    "explanation_lines",
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("views") / "paybonus.db"
    with Paybonus.create(path) as a:
        a.load_company(sample_dir())
        a.publish(sample_dir() / "events.jsonl")
        yield a


def rows(app, sql, *args):
    cur = app.ledger.conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_every_view_exists_and_reads(app):
    names = {r["name"] for r in rows(app, "SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert set(VIEWS) <= names
    for v in VIEWS:
        rows(app, f"SELECT * FROM {v} LIMIT 1")


def test_entitlements_in_euros_has_every_entitlement_with_a_name_and_exact_euros(app):
    got = rows(app, "SELECT * FROM entitlements_in_euros")
    assert len(got) == app.ledger.entitlements.count() == 106
    assert all(r["employee_name"] and r["company_name"] == "Atelier Durand SAS" for r in got)
    assert all(r["amount_euros"] == format_euros(r["amount_cents"]) for r in got)
    assert {r["amount_euros"] for r in rows(app, "SELECT * FROM entitlements_in_euros")}


def test_the_euro_text_is_exact_for_negative_and_small_amounts(app):
    from paybonus.store.schema import _euros

    for cents in (0, 5, -5, 99, -100, 123456789, -123456701):
        text = app.ledger.conn.execute(f"SELECT {_euros(':c')}", {"c": cents}).fetchone()[0]
        assert text == format_euros(cents), cents


def test_totals_by_scheme_match_the_summary(app):
    totals = {
        r["scheme"]: (r["entitlements"], r["total_cents"])
        for r in rows(app, "SELECT * FROM totals_by_scheme")
    }
    summary = {s: (n, total) for s, _kind, n, total, _emps in app.summary()}
    assert totals == summary


def test_overdue_is_what_deadlines_calls_overdue_today(app):
    view = {r["entitlement"] for r in rows(app, "SELECT * FROM overdue")}
    engine = {i.entitlement for i in app.deadlines(date.today(), 0) if i.kind == "overdue"}
    assert view == engine


def test_choice_windows_open_follow_the_statements_and_the_choices(app, tmp_path):
    interessement = [e for e in app.entitlements(scheme="interessement")][:3]
    issued = date.today() - timedelta(days=3)
    lines = [
        {
            "id": f"st-{e.id}",
            "type": "statement_issued",
            "company": "DURAND",
            "occurred_at": f"{issued}T09:00:00+00:00",
            "payload": {"entitlement": e.id, "issued_on": issued.isoformat(), "channel": "email"},
        }
        for e in interessement
    ]
    lines.append(
        {
            "id": "choice-0",
            "type": "option_chosen",
            "company": "DURAND",
            "occurred_at": f"{date.today()}T09:00:00+00:00",
            "payload": {
                "entitlement": interessement[0].id,
                "chosen_on": date.today().isoformat(),
                "choice": "paid",
            },
        }
    )
    f = tmp_path / "st.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert not app.publish(f).failed
    open_ = rows(app, "SELECT * FROM choice_windows_open")
    assert {r["entitlement"] for r in open_} == {e.id for e in interessement[1:]}
    assert {r["window_closes_on"] for r in open_} == {(issued + timedelta(days=15)).isoformat()}
    engine = {i.entitlement for i in app.deadlines(date.today(), 30) if i.kind == "option_window"}
    assert engine == {r["entitlement"] for r in open_}


def test_the_window_in_the_view_is_the_legal_parameter():
    assert Parameters.default().value("option_window_days", date.today()) == OPTION_WINDOW_DAYS


def test_explanation_lines_give_back_the_stored_explanation(app):
    e = app.entitlements(scheme="interessement")[0]
    got = rows(
        app,
        "SELECT * FROM explanation_lines WHERE entitlement = ? ORDER BY section_order, position",
        e.id,
    )
    steps = [r["value"] for r in got if r["section"] == "step"]
    assert steps == list(e.explanation.steps)
    assert [r["name"] for r in got if r["section"] == "rule"] == list(e.explanation.rules)
    assert {r["name"] for r in got if r["section"] == "input"} == set(e.explanation.inputs)
