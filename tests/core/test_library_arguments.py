"""The library called as a payroll product would, with the wrong types and edge values (docs/library.md): a
caller's mistake is a UserError naming the argument, never a TypeError from deep inside, and never an empty answer
that looks like "nothing to pay"."""

from datetime import date, datetime

import pytest
from helpers.statements import sample_ledger
from paybonus import Paybonus, UserError
from paybonus.calendar import Period


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with Paybonus.open(sample_ledger(tmp_path_factory.mktemp("lib") / "l.db")) as app:
        yield app


@pytest.mark.parametrize("month", ["2026-13", "202605", "2026-5", "", date(2026, 5, 1), "1899-12"])
def test_a_payroll_month_that_is_not_yyyy_mm_is_refused_not_an_empty_export(app, month):
    # the command refused it; the library answered [] (a payroll run with no bonus at all)
    with pytest.raises(UserError) as e:
        app.export(date(2026, 6, 1), company="DURAND", payroll_month=month)
    assert e.value.where == "--payroll-month"
    assert len(app.export(date(2026, 6, 1), company="DURAND", payroll_month="2026-05")) == 30


@pytest.mark.parametrize("call", ["export", "deadlines", "check_deadlines"])
def test_a_day_given_as_text_is_refused_and_a_datetime_counts_as_its_day(app, call):
    with pytest.raises(UserError) as e:
        getattr(app, call)("2026-06-01")
    assert (e.value.where, e.value.what) == ("--as-of", "expected a datetime.date, got str '2026-06-01'")
    if call != "check_deadlines":  # it records notices
        assert getattr(app, call)(datetime(2026, 6, 1, 12)) == getattr(app, call)(date(2026, 6, 1))


def test_a_period_may_be_given_as_its_text_and_anything_else_is_refused(app):
    assert app.entitlements(period="2025") == app.entitlements(period=Period.parse("2025"))
    assert app.entitlement_rows(period="2025-05") == app.entitlement_rows(period=Period.parse("2025-05"))
    for bad, what in ((2025, "expected a Period"), ("2025-13", "month must be in 1..12")):
        with pytest.raises(UserError) as e:
            app.entitlements(period=bad)
        assert e.value.where == "--period" and what in e.value.what
    [st] = app.statements(
        "DURAND", "2025", "interessement", issued_on=date(2026, 4, 15), channel="email", employee="E0001"
    )
    assert st.content["employee"]["id"] == "E0001"
    with pytest.raises(UserError) as e:
        app.statements("DURAND", "2025", "interessement", issued_on="2026-04-15", channel="email")
    assert e.value.where == "--issued-on"


def test_filters_of_the_wrong_type_or_naming_nobody_are_refused(app):
    for kwargs, where in (
        ({"company": 123}, "--company"),
        ({"scheme": ["interessement"]}, "--scheme"),
        ({"employee": ["E0001"]}, "--employee"),
        ({"employee": "E9999"}, "--employee"),  # entitlement_rows refused it; entitlements answered []
    ):
        for call in (app.entitlements, app.entitlement_rows):
            with pytest.raises(UserError) as e:
                call(**kwargs)
            assert e.value.where == where


def test_publishing_something_else_than_events_names_the_item(app):
    for events, where in ((None, "events"), ([{"id": "x"}], "events[1]"), ({"id": "x"}, "events")):
        with pytest.raises(UserError) as e:
            app.publish(events)
        assert e.value.where == where


def test_statements_issued_before_the_period_is_over_are_refused_as_by_the_command(app):
    for day in (date(2025, 6, 1), date(2025, 12, 31)):
        with pytest.raises(UserError) as e:
            app.statements("DURAND", "2025", "interessement", issued_on=day, channel="email")
        assert e.value.where == "--issued-on" and "is not after the period" in e.value.what
