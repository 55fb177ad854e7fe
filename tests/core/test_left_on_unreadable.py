"""Review of 7753f0a (`deadlines.left_on`): a departure date stored in a form that does not parse (a ledger written
by hand or by an older tool; `audit verify` names it) left the deadlines and the statements as they were: the
leaver is still gone (I-45), and the other employees' statements are written. `left_on` turned the stored text
into a date and raised on it, stopping `paybonus deadlines` and every statement of the company."""

import sqlite3
from datetime import date

import pytest
from helpers.companies import close_year, company, person, toml, world
from helpers.statements import sample_ledger
from paybonus import Paybonus
from paybonus.calendar import Period
from paybonus.deadlines import left_on, scan
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters

UNREADABLE = ["null", '"30/06/2025"', '"2025-06-30T00:00:00"', '"soon"']


def unreadable(path, value):
    """The stored employee_left payloads' left_on replaced by `value` (JSON), as a hand-edited ledger would be."""
    con = sqlite3.connect(path)
    with con:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{name}"')
        con.execute(
            "UPDATE events SET payload = json_set(payload, '$.left_on', json(?)) WHERE type = 'employee_left'",
            (value,),
        )
    con.close()


@pytest.mark.parametrize("value", UNREADABLE)
def test_an_unreadable_departure_date_leaves_the_leaver_gone(tmp_path, value):  # I-45
    people = [person("A", 300_000), person("B", 300_000, end="2025-06-30")]
    bus, ledger = world(tmp_path, company(people, toml(distribution={"presence": "1"}, headcount=10)))
    close_year(bus, rcai=5_000)
    bus.publish(EventFactory("ACME").employee_left("B", date(2025, 6, 30), forwarding_address="Lyon"))
    unreadable(ledger.path, value)
    on = date(2027, 6, 1)
    assert set(left_on(ledger, on)) == {("ACME", "B")}
    items = scan(ledger, on, 0, Parameters.default(), None)
    assert [i.employee for i in items if i.kind == "cdc_transfer"] == ["B"]


def test_an_unreadable_departure_date_does_not_stop_the_others_statements(tmp_path):  # I-44
    db = sample_ledger(tmp_path / "l.db")  # E0014 left on 30 November 2025
    unreadable(db, "null")
    with Paybonus.open(db) as app:
        (st,) = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=date(2026, 4, 15),
            channel="post",
            employee="E0001",
        )
    assert st.content["employee"]["left_on"] is None
