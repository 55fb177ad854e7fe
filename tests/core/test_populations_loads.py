"""A worker's message reads its company's payroll load time once (`Populations.loads_held`)."""

from types import SimpleNamespace

from paybonus.caches import Populations


class _Reader:
    def __init__(self) -> None:
        self.asked = 0
        self.at = "t1"

    def loaded_at(self, company: str) -> str:
        self.asked += 1
        return self.at


class _Host:
    def payroll_source(self, company, reader):
        return SimpleNamespace(
            population=lambda cid, period: SimpleNamespace(employees=[cid, period, reader.at])
        )


def test_the_load_time_is_read_once_while_held_and_at_every_population_outside():
    pops, reader, host = Populations(), _Reader(), _Host()
    company = SimpleNamespace(id="ACME")
    pops.population(host, reader, company, "2026")
    pops.population(host, reader, company, "2026")
    assert reader.asked == 2  # outside: read every time (another process may load the payroll)
    with pops.loads_held():
        with pops.loads_held():  # re-entrant
            first = pops.population(host, reader, company, "2026")
            pops.population(host, reader, company, "2025")
        assert pops.population(host, reader, company, "2026") is first
    assert reader.asked == 3
    reader.at = "t2"  # a new load, after the hold: seen
    assert pops.population(host, reader, company, "2026") is not first
    assert reader.asked == 4
