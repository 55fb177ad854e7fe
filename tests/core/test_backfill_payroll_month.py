"""The payroll month of rows `paybonus retry --backfill` records (docs/export.md): the month they are recorded in,
as a recomputation's go to the month of their event. Their own event's month is closed by then: a payroll
importing the export would put the money in a month no payroll runs again. A retry of a dispatch the event owed
(a failure, an interrupted run) computes what was due then: its rows keep their month."""

from datetime import UTC, date, datetime

import pytest
from helpers.cli import SCHEME, sample_copy
from paybonus import Paybonus
from paybonus.export import rows
from paybonus.params import Parameters

# the sample's December close occurred on 5 January 2026: prime_fin_annee (due 31 December) goes to January's payroll
ON_TIME = "2026-01"


def months(app):
    out = rows(app.ledger, Parameters.default(), date(2026, 12, 31), scheme="prime_fin_annee")
    return {r["payroll_month"] for r in out}


def test_backfilled_rows_go_to_the_payroll_of_the_month_they_are_recorded_in(tmp_path):
    company = sample_copy(tmp_path / "co", with_scheme=False)
    now = [datetime(2026, 2, 20, 9, tzinfo=UTC)]
    with Paybonus.create(tmp_path / "l.db", clock=lambda: now[0]) as app:
        app.load_company(company)
        app.publish(company / "events.jsonl")
        with (company / "company.toml").open("a", encoding="utf-8") as f:
            f.write(SCHEME)
        app.load_company(company)
        now[0] = datetime(2026, 3, 10, 9, tzinfo=UTC)  # the company decides in March to owe it for 2025
        assert [o.status for o in app.retry(scheme="prime_fin_annee", backfill=True)] == ["completed"] * 12
        assert months(app) == {"2026-03"}  # not January's payroll, closed since


@pytest.mark.parametrize(
    "retried_on",
    [
        datetime(2026, 1, 20, 9, tzinfo=UTC),  # within January, still open
        datetime(2026, 2, 3, 9, tzinfo=UTC),  # this fix leaves a retry's month as it was: only backfills move
    ],
)
def test_a_retried_failure_keeps_the_month_it_was_owed_in(tmp_path, monkeypatch, retried_on):
    company = sample_copy(tmp_path / "co")
    now = [datetime(2026, 1, 5, 18, tzinfo=UTC)]
    with Paybonus.create(tmp_path / "l.db", clock=lambda: now[0]) as app:
        app.load_company(company)
        handlers = app.host.schemes["prime_fin_annee"].handlers
        real = handlers["period_closed"]

        def broken(event, ctx):
            raise RuntimeError("down today")

        monkeypatch.setitem(handlers, "period_closed", broken)
        app.publish(company / "events.jsonl")
        monkeypatch.setitem(handlers, "period_closed", real)
        now[0] = retried_on
        assert {o.status for o in app.retry()} == {"completed"}
        assert months(app) == {ON_TIME}
        now[0] = datetime(2026, 3, 10, 9, tzinfo=UTC)
        assert app.retry() == [] and months(app) == {ON_TIME}
