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


def law_tmop_table():
    """LAW 0.5's TMOP table: {semester: rate} (percent strings, e.g. '−0.02 %')."""
    text = shared("domain", "LAW.md").read_text(encoding="utf-8")
    section = text[text.index("### 0.5") : text.index("## 1.")]
    rows = re.findall(r"^\s*\| (20\d\d) \| (−?[\d.]+) % \| (−?[\d.]+) % \|", section, re.M)
    out = {}
    for year, s1, s2 in rows:
        for half, pct in (("S1", s1), ("S2", s2)):
            out[f"{year}-{half}"] = Decimal(pct.replace("−", "-")) / 100
    return out


def test_tmop_table_is_law_05_semester_by_semester():
    # LAW 0.5: 24 half-years 2012-S1 to 2023-S2, each value as compiled from the JO avis
    law = law_tmop_table()
    assert len(law) == 24
    shipped = {v.semester: v.value for v in P.parameter("tmop").values}
    assert shipped == law


def test_a_tmop_is_in_force_from_the_day_after_its_jo_notice():
    # LAW 0.5 (Ooreka 2020): in force the day after the avis; avis JO 16/09/2015 (2015-S1, 0.96 %)
    assert P.get("tmop", date(2015, 9, 16)).semester == "2014-S2"
    v = P.get("tmop", date(2015, 9, 17))
    assert (v.semester, v.value, v.jo, v.estimated) == (
        "2015-S1",
        Decimal("0.0096"),
        date(2015, 9, 16),
        False,
    )
    # an estimated JO date is said so, in the cited form too
    assert P.get("tmop", date(2023, 8, 30)).cite()["estimated"] is True
    assert P.of_semester("tmop", "2021-S1").value == Decimal("0.0020")
    assert P.of_semester("tmop", "2024-S1") is None  # not compiled: the user adds it (LAW 0.5)


def test_host_file_adds_values(tmp_path):
    f = tmp_path / "extra.toml"
    f.write_text(
        '[tmop]\nunit = "rate"\nsource = "avis JO"\n'
        'values = [{ semester = "2024-S1", jo = 2024-09-10, from = 2024-09-11, value = "0.0401" },\n'
        '  { semester = "2023-S2", jo = 2024-02-01, from = 2024-02-02, value = "0.0337" }]\n'
    )
    p = P.with_file(f)
    assert p.value("tmop", date(2024, 9, 11)) == Decimal("0.0401")
    assert p.get("tmop", date(2024, 2, 2)).jo == date(2024, 2, 1)  # the estimated 2023-S2 row is replaced
    assert p.value("tmop", date(2023, 8, 1)) == Decimal("0.0251")  # the shipped values stay
    f.write_text('[tmop]\nunit = "rate"\nsource = "x"\nvalues = [{ from = 2024-01-01, value = "0.04" }]\n')
    with pytest.raises(UserError, match="each value names its semester"):  # the former form, refused clearly
        P.with_file(f)
    f.write_text('[tmop]\nunit = "rate"\nsource = "x"\nvalues = [{ from = 2024-01-01, value = 0.04 }]\n')
    with pytest.raises(UserError, match="never a float"):
        P.with_file(f)
    f.write_text(
        '[tmop]\nunit = "rate"\nsource = "x"\nvalues = [{ from = 2024-07-05, semester = "2024-S1", jo = 2024-07-04 }]\n'
    )
    with pytest.raises(
        UserError, match=r'no value: write one, e.g. value = "0.20"'
    ):  # it said "never a float"
        P.with_file(f)
    f.write_text('[pmss]\nunit = "cents"\nsource = "x"\nvalues = [{ from = 2027-01-01, value = 0.04 }]\n')
    with pytest.raises(UserError, match="must be an integer"):
        P.with_file(f)


@pytest.mark.parametrize("value", ["0_04", "+0.04", "\u0660.04", " 0.04", "NaN"])
def test_a_rate_python_reads_but_no_one_writes_is_refused(tmp_path, value):
    """Decimal() took '0_04' as 4 (a TMOP of 400 %), '+0.04' and Arabic-Indic digits as 0.04."""
    f = tmp_path / "extra.toml"
    row = f'semester = "2024-S1", jo = 2024-09-10, from = 2024-09-11, value = "{value}"'
    f.write_text(f'[tmop]\nunit = "rate"\nsource = "x"\nvalues = [{{ {row} }}]\n', encoding="utf-8")
    with pytest.raises(UserError, match="is not a decimal number in ASCII digits") as info:
        P.with_file(f)
    assert str(info.value).startswith(f"{f}: [tmop] values[0]") and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            'semester = "2024-S1", jo = 2024-09-10, from = 2024-09-10',
            "from 2024-09-10 must be the day after jo",
        ),
        ('semester = "2024-S1", from = 2024-09-10', "give 'jo'"),
        ('semester = "2024-S1", from = 2024-06-01, estimated = true', "is not after the end of its semester"),
        ('semester = "2024-S3", from = 2024-09-10, estimated = true', "is not a half-year"),
        ('semester = "2024-S1", jo = 2024-09-10, from = 2024-09-11, estimated = true', "not both"),
        ('semester = "2024-S1", jo = 2024-09-10, from = 2024-09-11, util = 2025-01-01', "unknown key 'util'"),
        ('semester = "2024-S1", jo = 2023-09-10, from = 2023-09-11', "is not after the end of its semester"),
        ('semester = "2024-S1", jo = 2024-01-10, from = 2024-01-11', "is not after the end of its semester"),
    ],
)
def test_a_bad_tmop_row_is_refused_with_one_line(tmp_path, row, message):
    f = tmp_path / "bad.toml"
    f.write_text(f'[tmop]\nunit = "rate"\nsource = "x"\nvalues = [{{ {row}, value = "0.01" }}]\n')
    with pytest.raises(UserError, match=message) as info:
        P.with_file(f)
    assert str(info.value).startswith(f"{f}: [tmop] values[0]") and "\n" not in str(info.value)


def test_a_semester_in_force_before_an_earlier_one_is_refused(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(
        '[tmop]\nunit = "rate"\nsource = "x"\n'
        'values = [{ semester = "2024-S1", jo = 2024-01-02, from = 2024-01-03, value = "0.01" }]\n'
    )
    with pytest.raises(UserError, match="is not after the end of its semester"):
        P.with_file(f)
    f.write_text(
        '[tmop]\nunit = "rate"\nsource = "x"\n'
        'values = [{ semester = "2023-S2", jo = 2024-08-01, from = 2024-08-02, value = "0.01" },\n'
        '  { semester = "2024-S1", jo = 2024-07-10, from = 2024-07-11, value = "0.01" }]\n'
    )
    with pytest.raises(UserError, match=r"2024-S1 is in force from 2024-07-11, not after 2023-S2"):
        P.with_file(f)


@pytest.mark.parametrize(
    "parts", [("domain", "LAW.md"), ("data", "dsn", "sample_dsn_P25V01.dsn"), ("data", "dsn", "LICENSE")]
)
def test_the_shipped_copies_of_the_domain_reference_are_current(parts):
    """tests/data holds copies of ../shared so that a fresh clone runs every test; where ../shared is beside the
    project (CI, a developer's machine) the copy must be the same bytes."""
    from conftest import SHARED, fixture_copy

    copy = fixture_copy(*parts)
    assert copy.stat().st_size > 0
    original = SHARED.joinpath(*parts)
    if original.exists():
        assert copy.read_bytes() == original.read_bytes(), (
            f"refresh tests/data from ../shared/{'/'.join(parts)}"
        )


def _with(tmp_path, text: str) -> Parameters:
    f = tmp_path / "p.toml"
    f.write_text(text)
    return P.with_file(f)


def test_changes_since_a_recorded_set_are_values_changed_or_removed_never_values_added(tmp_path):
    # what `audit verify` notes about amounts computed under parameters that have changed since
    head = '[test_param]\nunit = "cents"\nsource = "test"\n'
    recorded = _with(
        tmp_path,
        head + "values = [{ from = 2030-01-01, value = 100 }, { from = 2031-01-01, value = 200 }]\n"
        '[gone_param]\nunit = "count"\nsource = "test"\nvalues = [{ from = 2030-01-01, value = 1 }]\n',
    )
    now = _with(
        tmp_path, head + "values = [{ from = 2030-01-01, value = 150 }, { from = 2032-01-01, value = 300 }]\n"
    )
    assert now.changes_from(recorded) == [
        "gone_param: no longer known",
        "test_param from 2030-01-01: 100 was recorded, 150 now",
        "test_param from 2031-01-01: 200 was recorded, no such value now",
    ]
    assert recorded.changes_from(recorded) == []


def test_segments_end_where_a_value_stops_and_none_is_known_after_its_end(tmp_path):
    p = _with(
        tmp_path,
        '[test_param]\nunit = "cents"\nsource = "test"\n'
        "values = [{ from = 2030-01-01, until = 2030-03-31, value = 1 }, { from = 2030-07-01, value = 2 }]\n",
    )
    assert [(a, b, v.value) for a, b, v in p.segments("test_param", date(2030, 1, 1), date(2030, 3, 31))] == [
        (date(2030, 1, 1), date(2030, 3, 31), 1)
    ]
    with pytest.raises(LookupError, match="no value of test_param"):  # the gap from April to June
        p.segments("test_param", date(2030, 1, 1), date(2030, 12, 31))
