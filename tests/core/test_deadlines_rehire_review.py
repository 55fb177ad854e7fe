"""Review of 0c4a78c/b5604c1 (deadlines: a leaver hired again is not flagged for the Caisse des dépôts, I-45)."""

from datetime import date

import pytest
from attrs import evolve
from helpers.companies import close_year, company, person, toml, world
from paybonus.deadlines import scan
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters


def items(ledger, as_of):
    return sorted(scan(ledger, as_of, 0, Parameters.default(), None), key=lambda i: (i.kind, i.employee))


def _world(tmp_path):
    people = [person("A", 300_000), person("B", 300_000, end="2025-06-30")]
    data = company(people, toml(distribution={"presence": "1"}, headcount=10))
    bus, ledger = world(tmp_path, data)
    close_year(bus, rcai=5_000)
    bus.publish(EventFactory("ACME").employee_left("B", date(2025, 6, 30), forwarding_address="Lyon"))
    return bus, ledger, data


def cdc(ledger, on=date(2027, 6, 1)):
    return [i.employee for i in items(ledger, on) if i.kind == "cdc_transfer"]


def test_left_hired_again_and_left_again_with_its_event_is_flagged(tmp_path):  # I-45
    from paybonus.sources import store_company

    bus, ledger, data = _world(tmp_path)
    store_company(
        ledger, evolve(data, contracts=[*data.contracts, ("B", "2026-01-01", "2026-12-31", "", "", "")])
    )
    bus.publish(
        EventFactory("ACME").employee_left("B", date(2026, 12, 31), forwarding_address="Lyon", id="left-2")
    )
    assert cdc(ledger) == ["B"]


@pytest.mark.parametrize(("end", "flagged"), [("2027-05-31", True), ("2027-06-01", False)])
def test_hired_again_under_a_contract_ended_by_then_is_a_leaver_again(tmp_path, end, flagged):  # I-45
    # the second contract's end is in employees.csv (data that always exists), its employee_left not (yet) in the
    # ledger: on 1 June 2027 B is no longer on the payroll, as unreachable as after his first departure
    from paybonus.sources import store_company

    _bus, ledger, data = _world(tmp_path)
    store_company(ledger, evolve(data, contracts=[*data.contracts, ("B", "2026-01-01", end, "", "", "")]))
    assert cdc(ledger) == (["B"] if flagged else [])
