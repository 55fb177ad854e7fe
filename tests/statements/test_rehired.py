"""A leaver hired again: his statement states the departure true on its date of issue, as the deadlines see it
(`paybonus.deadlines.left_on`, I-45): none while he is under contract again, the end of his latest contract once
it ended, his first departure while his new contract has not begun (I-44)."""

from datetime import date

import pytest
from helpers.statements import sample_ledger
from paybonus import Paybonus
from paybonus.calendar import Period
from paybonus.fixtures.pytest_plugin import EventFactory

ISSUED = date(2026, 4, 15)  # E0014 left Atelier Durand on 30 November 2025 (the sample's leaver)
LEFT = "Vous avez quitté Atelier Durand SAS le"


def statement(tmp_path, contract, left_again=None):
    db = sample_ledger(tmp_path / "l.db", contracts=f"E0014,Zoé David,{contract},technicien,siege\n")
    with Paybonus.open(db) as app:
        if left_again is not None:  # the employee_left of his second contract, once the payroll sent it
            app.publish([EventFactory("DURAND").employee_left("E0014", left_again, id="left-again")])
        (st,) = app.statements(
            "DURAND",
            Period.parse("2025"),
            "interessement",
            issued_on=ISSUED,
            channel="post",
            employee="E0014",
        )
    return st


def said(st):
    """The statement's HTML with plain spaces."""
    return " ".join(st.html().replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.mark.parametrize(
    ("contract", "left_on"),
    [
        ("2026-02-01,", None),  # under contract again on the date of issue
        ("2026-01-05,2026-06-30", None),  # his new contract ends after the date of issue
        ("2026-01-05,2026-04-15", None),  # ... on that very day: he is still under contract
        ("2026-01-05,2026-03-31", "2026-03-31"),  # it ended, its employee_left not in the ledger yet
        ("2026-04-16,", "2025-11-30"),  # hired again only after the date of issue: still gone that day
    ],
)
def test_a_rehired_employees_statement_states_his_departure_true_on_its_date(tmp_path, contract, left_on):
    st = statement(tmp_path, contract)
    assert st.content["employee"]["left_on"] == left_on
    if left_on is None:
        assert LEFT not in said(st) and "Caisse des dépôts" not in said(st)
    else:
        day = {"2026-03-31": "31 mars 2026", "2025-11-30": "30 novembre 2025"}[left_on]
        assert f"{LEFT} {day}" in said(st)


def test_a_rehired_employee_who_left_again_states_his_second_departure(tmp_path):
    st = statement(tmp_path, "2026-01-05,2026-03-31", left_again=date(2026, 3, 31))
    assert st.content["employee"]["left_on"] == "2026-03-31"
    assert f"{LEFT} 31 mars 2026" in said(st)
