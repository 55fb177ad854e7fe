"""Review of 7bd84b5 (prime NAO: the close of a later instalment brings the earlier ones up to the award, N-1).

A payroll loaded part by part (as a vendor does) must end with the same totals per person as the same payroll loaded
at once: the instalments are shares of one award (N-1)."""

import json

import pytest
from attrs import evolve
from helpers.companies import close, company, nao, person, world
from paybonus.fixtures.pytest_plugin import EventFactory


def by_emp(ledger, scheme):
    out = {}
    for r in ledger.entitlements.rows(scheme=scheme):
        out[r["employee"]] = out.get(r["employee"], 0) + r["amount_cents"]
    return out


SPLIT2 = 'instalments = [{ date = 2025-06-30, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]\n'
SPLIT3 = (
    'instalments = [{ date = 2025-04-30, share = "0.3" }, { date = 2025-08-31, share = "0.3" }, '
    '{ date = 2025-12-31, share = "0.4" }]\n'
)


def upto(data, month: str):
    """The company's payroll as loaded by the end of `month` (pay lines of the months before)."""
    return evolve(data, pay_lines=[p for p in data.pay_lines if p[1] <= f"{month}-31"])


def reference(tmp_path, people, award):
    bus, ledger = world(tmp_path, company(people, nao(award)))
    close(bus)
    return by_emp(ledger, "prime_nao")


def recompute_event(bus, id="recompute-nao-2025", reason="accord amended"):
    line = json.dumps(
        {
            "id": id,
            "type": "recomputation_requested",
            "company": "ACME",
            "occurred_at": "2025-10-01T09:00:00+02:00",
            "payload": {"scheme": "prime_nao", "period": "2025", "reason": reason},
        }
    )
    return bus.publish_all(bus.host.event_types.read_jsonl("r.jsonl", [line]))


def verify_and_replay(bus, ledger):
    from paybonus.audit import verify
    from paybonus.replay import replay

    assert ledger.dispatches.failed() == []
    assert verify(ledger, bus.host.schemes).ok
    rep = replay(ledger, bus.host)
    assert rep.problems == []


AWARDS = {
    "flat": 'flat = "600.00"\n',
    "percent": 'percent_of_gross = "0.02"\n',
    "seniority": 'seniority = [[0, "100.00"], [3, "250.00"], [10, "400.00"]]\n',
    "present_on": 'flat = "600.00"\npresent_on = 2025-12-31\nmin_presence_days = 100\n',
    "coef": 'flat = "333.33"\npercent_of_gross = "0.013"\ncategories = { cadre = "1.5", etam = "0.7" }\n',
}


@pytest.mark.parametrize("kind", sorted(AWARDS))
@pytest.mark.parametrize("split", ["one", "two", "three"])
def test_loaded_month_by_month_gives_the_totals_of_loaded_at_once(tmp_path, kind, split):
    award = AWARDS[kind] + {"one": "", "two": SPLIT2, "three": SPLIT3}[split]
    people = [
        person("A", 250_000, category="cadre"),
        person("B", 180_033, start="2014-03-01", category="etam", hours="100.00"),
        person("H", 210_017, start="2025-07-01", category="cadre"),  # hired between instalments
        person("L", 199_999, start="2021-05-01", end="2025-09-15"),  # left between instalments
    ]
    expected = reference(tmp_path, people, award)
    full = company(people, nao(award))
    # the vendor's months: the leaver's end and the hire are known only from the load that contains them
    early = [person("A", 250_000, category="cadre"), people[1], person("L", 199_999, start="2021-05-01")]
    bus, ledger = world(tmp_path, upto(company(early, nao(award)), "2025-04"))
    close(bus, range(1, 5))
    store_company_(ledger, upto(company(early, nao(award)), "2025-08"))
    close(bus, range(5, 9))
    store_company_(ledger, full)
    close(bus, range(9, 13))
    # (a leaver excluded by present_on: his earlier instalments taken back, 0 in all)
    assert {k: v for k, v in by_emp(ledger, "prime_nao").items() if v} == expected
    verify_and_replay(bus, ledger)


def store_company_(ledger, data):
    from paybonus.sources import store_company

    store_company(ledger, data)


def test_two_instalments_in_one_closed_month_are_not_counted_twice(tmp_path):
    # two instalments whose dates fall in one pay period: its close computes both; bringing the first "up to the
    # award" before it is recorded must not give its principals a second time
    award = 'flat = "600.00"\ninstalments = [{ date = 2025-12-15, share = "0.5" }, { date = 2025-12-31, share = "0.5" }]\n'
    bus, ledger = world(tmp_path, company([person("A", 250_000)], nao(award)))
    close(bus)
    assert ledger.dispatches.failed() == []
    assert by_emp(ledger, "prime_nao") == {"A": 60_000}


def test_instalments_listed_out_of_date_order_still_add_up(tmp_path):
    # the award's instalments are not required to be listed in date order; the earlier instalment (listed second)
    # must still be brought up to the award by the later one's close
    award = 'flat = "600.00"\ninstalments = [{ date = 2025-12-31, share = "0.5" }, { date = 2025-06-30, share = "0.5" }]\n'
    people = [person("A", 250_000), person("H", 250_000, start="2025-07-01")]
    expected = reference(tmp_path, people, award)
    assert expected == {"A": 60_000, "H": 30_246}
    bus, ledger = world(tmp_path, upto(company([person("A", 250_000)], nao(award)), "2025-06"))
    close(bus, range(1, 7))
    store_company_(ledger, company(people, nao(award)))
    close(bus, range(7, 13))
    assert by_emp(ledger, "prime_nao") == expected


def test_earlier_month_closed_again_then_later_close_counts_the_difference_once(tmp_path):
    award = 'percent_of_gross = "0.02"\n' + SPLIT2
    people = [person("A", 250_000), person("B", 125_000, hours="75.84")]
    full = company(people, nao(award))
    bus, ledger = world(tmp_path, upto(full, "2025-06"))
    close(bus, range(1, 7))
    # June's payroll corrected (B at full time) and June closed again
    changed = company([person("A", 250_000), person("B", 250_000)], nao(award))
    store_company_(ledger, upto(changed, "2025-06"))
    bus.publish(EventFactory("ACME").period_closed("2025-06", id="close-2025-06-again"))
    store_company_(ledger, changed)
    close(bus, range(7, 13))
    assert by_emp(ledger, "prime_nao") == reference(
        tmp_path, [person("A", 250_000), person("B", 250_000)], award
    )
    # and a recomputation then a December closed again change nothing more
    recompute_event(bus)
    bus.publish(EventFactory("ACME").period_closed("2025-12", id="close-2025-12-again"))
    assert by_emp(ledger, "prime_nao") == {"A": 60_000, "B": 60_000}
    verify_and_replay(bus, ledger)


def test_the_correction_of_an_earlier_instalment_says_which_close_and_why(tmp_path):
    # the December close (its first) corrects the June instalment: the explanation must not say the pay period was
    # closed again (it was not), and must say which instalment's close brought it up to the award
    award = 'percent_of_gross = "0.02"\n' + SPLIT2
    full = company([person("A", 250_000)], nao(award))
    bus, ledger = world(tmp_path, upto(full, "2025-06"))
    close(bus, range(1, 7))
    store_company_(ledger, full)
    close(bus, range(7, 13))
    [fix] = [r for r in ledger.entitlements.rows(scheme="prime_nao") if r["kind"] == "correction"]
    expl = ledger.entitlements.explanation(fix)
    why = expl["inputs"]["recomputation"]
    assert why["request"] == "close-2025-12-01..2025-12-31"
    assert "closed again" not in why["reason"], why


def test_someone_dropped_from_a_reload_is_not_clawed_back_by_a_later_close(tmp_path):
    # a reload that no longer lists someone (a vendor's file of the current staff): nothing says he is not
    # entitled; a later instalment's close must not silently take back an instalment already paid
    award = 'flat = "600.00"\n' + SPLIT2
    bus, ledger = world(
        tmp_path, upto(company([person("A", 250_000), person("D", 250_000)], nao(award)), "2025-06")
    )
    close(bus, range(1, 7))
    assert by_emp(ledger, "prime_nao") == {"A": 30_000, "D": 30_000}
    store_company_(ledger, company([person("A", 250_000)], nao(award)))
    close(bus, range(7, 13))
    negative = [r for r in ledger.entitlements.rows(scheme="prime_nao") if r["amount_cents"] < 0]
    assert negative == [], [(r["employee"], r["amount_cents"], r["event_id"]) for r in negative]
    # said, as a count: the company decides (a recomputation it asks for takes it back)
    said = [r[0] for r in ledger.conn.execute("SELECT message FROM findings WHERE rule = 'N-1'")]
    assert any("beneficiaries of instalment 1 no longer in the payroll loaded now: 1;" in m for m in said), (
        said
    )


def test_two_instalments_of_one_month_closed_again_and_an_earlier_one_brought_up_once(tmp_path):
    # June, then two in December: the December close brings June up once (not once per December instalment); the
    # December closed again after a change corrects each instalment once
    award = (
        'flat = "600.00"\ninstalments = [{ date = 2025-06-30, share = "0.4" }, '
        '{ date = 2025-12-15, share = "0.3" }, { date = 2025-12-31, share = "0.3" }]\n'
    )
    people = [person("A", 250_000), person("H", 250_000, start="2025-07-01")]
    bus, ledger = world(tmp_path, upto(company([person("A", 250_000)], nao(award)), "2025-06"))
    close(bus, range(1, 7))
    store_company_(ledger, company(people, nao(award)))
    close(bus, range(7, 13))
    assert ledger.dispatches.failed() == []
    assert by_emp(ledger, "prime_nao") == reference(tmp_path, people, award)
    half = [person("A", 250_000), person("H", 125_000, start="2025-07-01", hours="75.84")]
    store_company_(ledger, company(half, nao(award)))
    bus.publish(EventFactory("ACME").period_closed("2025-12", id="close-2025-12-again"))
    assert ledger.dispatches.failed() == []
    assert by_emp(ledger, "prime_nao") == reference(tmp_path, half, award)
    verify_and_replay(bus, ledger)


def test_a_recomputation_takes_back_each_instalment_of_someone_dropped_citing_its_principal(tmp_path):
    # the recorded instalments are summed as they are read (not held, issue 17): someone no longer entitled still
    # gets, for each instalment, a negative correction of what he was given, referencing that instalment's
    # principal and keeping its explanation's inputs (N-1); the others' amounts are unchanged
    award = 'flat = "600.00"\n' + SPLIT3
    people = [person("A", 250_000), person("D", 250_000), person("E", 250_000)]
    bus, ledger = world(tmp_path, company(people, nao(award)))
    close(bus)
    principals = {
        (r["employee"], ledger.entitlements.explanation(r)["inputs"]["instalment"]): r["id"]
        for r in ledger.entitlements.rows(scheme="prime_nao")
        if r["employee"] == "D"
    }
    store_company_(ledger, company([person("A", 250_000), person("E", 250_000)], nao(award)))
    recompute_event(bus)
    taken = [r for r in ledger.entitlements.rows(scheme="prime_nao") if r["amount_cents"] < 0]
    assert sorted((r["employee"], r["amount_cents"]) for r in taken) == [
        ("D", -24_000),
        ("D", -18_000),
        ("D", -18_000),
    ]
    expl = {r["corrects"]: ledger.entitlements.explanation(r) for r in taken}
    assert sorted(expl) == sorted(principals.values())  # one per instalment, each citing its own principal
    for (_, n), principal in principals.items():
        assert expl[principal]["inputs"]["instalment"] == n and expl[principal]["inputs"]["award"]
        assert expl[principal]["steps"][0] == "no longer entitled under the installed rules"
    assert by_emp(ledger, "prime_nao") == {"A": 60_000, "D": 0, "E": 60_000}
    # recovered by the payroll of the request's month (October), never due before it: April's and August's
    # instalments are not overdue the day they are taken back; December's keeps its own date
    assert sorted(r["due_date"] for r in taken) == ["2025-10-31", "2025-10-31", "2025-12-31"]
    verify_and_replay(bus, ledger)
