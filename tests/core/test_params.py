"""Dated legal parameters, checked against LAW.md's own tables (LAW 0.1, 0.2, 0.5)."""

import re
from datetime import date
from decimal import Decimal

import pytest
from conftest import shared
from paybonus.errors import UserError
from paybonus.params import Parameters

P = Parameters.default()


def law_pass_table():
    text = shared("domain", "LAW.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (20\d\d) \| ([\d ]+) \| ([\d ]+) \| ([\d ]+) \|", text, re.M)
    assert len(rows) == 12
    return [
        (int(y), int(a.replace(" ", "")), int(m.replace(" ", "")), int(c.replace(" ", "")))
        for y, a, m, c in rows
    ]


def test_pass_and_pmss_match_law_table_for_every_year():
    for year, annual, monthly, cap75 in law_pass_table():
        on = date(year, 6, 30)
        assert P.value("pass_annual", on) == annual * 100, year
        assert P.value("pmss", on) == monthly * 100, year
        # I-30: 75 % of PASS for exercises after 23/05/2019 (the table's computed column)
        if year >= 2020:
            assert (
                P.value("pass_annual", on) * P.value("interessement_individual_cap_rate", on) == cap75 * 100
            )


def test_smic_matches_law_table():
    text = shared("domain", "LAW.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (20\d\d-\d\d-\d\d) \| (\d+\.\d\d) \| ([\d ]+\.\d\d) \|", text, re.M)
    assert len(rows) >= 15
    for eff, hourly, monthly in rows:
        d = date.fromisoformat(eff)
        assert P.value("smic_hourly", d) == int(Decimal(hourly) * 100)
        assert P.value("smic_monthly", d) == int(Decimal(monthly.replace(" ", "")) * 100)


def test_rates_are_exact_decimals_with_sources():
    on = date(2025, 1, 1)
    assert P.value("csg_total", on) + P.value("crds", on) == Decimal("0.097")  # LAW 0.3
    assert P.value("csg_deductible", on) + P.value("csg_non_deductible", on) == P.value("csg_total", on)
    assert P.value("forfait_social_full", on) == Decimal("0.20")  # LAW 0.4
    assert P.value("interessement_individual_cap_rate", date(2019, 5, 23)) == Decimal("0.50")
    assert P.value("interessement_individual_cap_rate", date(2019, 5, 24)) == Decimal("0.75")
    for name in P.names():
        assert P.parameter(name).source


def test_tmop_is_known_only_where_the_source_gives_it():
    assert P.value("tmop", date(2023, 8, 1)) == Decimal("0.0337")
    with pytest.raises(LookupError, match="no value of tmop"):
        P.value("tmop", date(2024, 3, 1))  # unknown semester: never silently carried forward
    segs = P.segments("tmop", date(2023, 6, 1), date(2023, 7, 31))
    assert [(s.isoformat(), e.isoformat(), v.value) for s, e, v in segs] == [
        ("2023-06-01", "2023-06-30", Decimal("0.0314")),
        ("2023-07-01", "2023-07-31", Decimal("0.0337")),
    ]


def test_host_file_adds_values(tmp_path):
    f = tmp_path / "extra.toml"
    f.write_text(
        '[tmop]\nunit = "rate"\nsource = "avis JO"\nvalues = [{ from = 2024-01-01, until = 2024-06-30, value = "0.0401" }]\n'
    )
    p = P.with_file(f)
    assert p.value("tmop", date(2024, 3, 1)) == Decimal("0.0401")
    assert p.value("tmop", date(2023, 8, 1)) == Decimal("0.0337")  # the shipped values stay
    f.write_text('[tmop]\nunit = "rate"\nsource = "x"\nvalues = [{ from = 2024-01-01, value = 0.04 }]\n')
    with pytest.raises(UserError, match="never a float"):
        P.with_file(f)
