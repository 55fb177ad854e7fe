"""Reading DSN files: the real-shaped sample of ../shared/data/dsn (three FCTU declarations in an envelope)."""

from __future__ import annotations

import json

import pytest
from conftest import shared
from helpers.cli import run, run_here
from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus import dsn, load_plugins
from paybonus.errors import UserError
from paybonus.sources import read_company_dir

SAMPLE = ("data", "dsn", "sample_dsn_P25V01.dsn")


def sample_text() -> str:
    return dsn.read_text(shared(*SAMPLE).read_bytes())


def test_the_sample_deposit_gives_departures_and_absences():
    declarations = dsn.parse(sample_text(), "sample.dsn")
    # three declarations of nature 07 (FCTU), each of the line count its S90.G00.90.001 states (161, 155, 107)
    assert [d.nature for d in declarations] == ["07", "07", "07"]
    assert [p.matricule for d in declarations for p in d.individuals] == ["00001", "00005", "00061"]
    assert [p.establishment for d in declarations for p in d.individuals] == ["00022", "00013", "00033"]
    events = dsn.departures(declarations, "TEST")
    # S21.G00.62: 091 unfitness dismissal, 043 rupture conventionnelle, 031 end of a fixed-term contract (DSN.md)
    assert [(e["payload"]["employee"], e["payload"]["left_on"], e["payload"]["reason"]) for e in events] == [
        ("00001", "2025-12-18", "091"),
        ("00005", "2025-12-18", "043"),
        ("00061", "2025-12-23", "031"),
    ]
    host = load_plugins(entry_points=False)
    for e in events:
        host.event_types.from_dict(e)  # valid employee_left events, ready for `paybonus publish`
    # S21.G00.60: the absence starts the day after the last day worked and ends the day before the return
    # (S21.G00.60.010) or on the planned end; 01 illness, 03 paternity; S21.G00.65 501 unpaid leave
    assert dsn.absence_rows(declarations) == [
        {"employee_id": "00001", "kind": "illness", "start": "2025-09-09", "end": "2025-11-26"},
        {"employee_id": "00001", "kind": "unpaid_leave", "start": "2025-11-27", "end": "2025-11-27"},
        {"employee_id": "00001", "kind": "illness", "start": "2025-11-28", "end": "2025-12-18"},
        {"employee_id": "00005", "kind": "paternity", "start": "2025-10-10", "end": "2025-11-02"},
    ]


def test_nothing_personal_leaves_the_reader():
    text = sample_text()
    out = json.dumps(dsn.departures(dsn.parse(text, "s"), "TEST")) + json.dumps(
        dsn.absence_rows(dsn.parse(text, "s"))
    )
    for personal in ("1234567890123", "NOM_TEST", "PRENOM_TEST", "26031999", "RUE"):
        assert personal in text and personal not in out


def test_windows_1252_files_read_the_same():
    text = sample_text()
    cp = dsn.read_text(text.replace("\ufffd", "é").encode("cp1252"))
    assert dsn.absence_rows(dsn.parse(cp, "cp")) == dsn.absence_rows(dsn.parse(text, "utf8"))


def test_a_later_declaration_updates_an_absence_s_end():
    # the same stoppage declared again later, with the employee back earlier than planned
    text = sample_text()
    declarations = dsn.parse(text, "s")
    again = dsn.parse(text.replace("S21.G00.60.010,'27112025'", "S21.G00.60.010,'20112025'"), "t")
    rows = dsn.absence_rows([*declarations, *again])
    assert rows[0] == {"employee_id": "00001", "kind": "illness", "start": "2025-09-09", "end": "2025-11-19"}


@pytest.mark.parametrize(
    "change",
    [
        ("S21.G00.60.001,'01'\nS21.G00.60.002,'08092025'", "S21.G00.60.001,'99'\nS21.G00.60.002,'08092025'"),
        ("S21.G00.60.010,'27112025'", "S21.G00.60.010,'09092025'"),
    ],
)
def test_a_later_declaration_cancelling_a_stoppage_or_back_the_next_day_withdraws_its_absence(change):
    # a stoppage cancelled (S21.G00.60.001 99) or corrected to a return the day after the last day worked in a later
    # declaration kept the earlier absence: the employee's presence (I-25) was reduced for days they worked
    text = sample_text()
    assert change[0] in text
    earlier = dsn.absence_rows(dsn.parse(text, "s"))
    later = dsn.absence_rows([*dsn.parse(text, "s"), *dsn.parse(text.replace(change[0], change[1], 1), "t")])
    gone = {"employee_id": "00001", "kind": "illness", "start": "2025-09-09", "end": "2025-11-26"}
    assert gone in earlier and gone not in later
    assert later == [row for row in earlier if row != gone]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("S21.G00.30.019,'00005'\n", ""),
            "sample.dsn:322: S90.G00.90.001: the declaration has 154 lines, it says '155'",
        ),
        (
            ("S21.G00.62.001,'18122025'", "S21.G00.62.001,'31022025'"),
            "S21.G00.62.001: '31022025' is not a date",
        ),
        (("S21.G00.60.002,'08092025'", "S21.G00.60.002,'2025-09-08'"), "is not a DSN date (DDMMYYYY)"),
        # a work stoppage whose return or planned end is not after its last day worked (a typo in a date) was
        # dropped without a word: the employee's absence, and the presence it reduces (I-25), silently lost
        (
            ("S21.G00.60.010,'27112025'", "S21.G00.60.010,'08092024'"),
            "sample.dsn:144: S21.G00.60.010: back at work on 2024-09-08, not after the last day worked 2025-09-08",
        ),
        (
            ("S21.G00.60.003,'18122025'", "S21.G00.60.003,'20112025'"),
            "sample.dsn:148: S21.G00.60.003: the stoppage ends (2025-11-20) before the last day worked 2025-11-27",
        ),
        (("S21.G00.40.001,'01062020'", "S21.G00.40.001;'01062020'"), "not a DSN line"),
        (("S90.G00.90.002,'1'\n", ""), "sample.dsn:168: a declaration starts before the previous one ended"),
    ],
)
def test_bad_dsn_is_refused_naming_the_line(change, message):
    text = sample_text()
    assert change[0] in text
    with pytest.raises(UserError) as info:
        dsn.parse(text.replace(change[0], change[1], 1), "sample.dsn")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_declaration_cut_short_is_refused():
    text = sample_text()
    cut = text[: text.rindex("S90.G00.90.002")]
    with pytest.raises(UserError, match="never ends"):
        dsn.parse(cut, "s")


def test_a_missing_matricule_is_refused_rather_than_using_the_nir():
    text = sample_text().replace("S21.G00.30.019,'00001'\n", "", 1)
    text = text.replace("S90.G00.90.001,'161'", "S90.G00.90.001,'160'", 1)
    with pytest.raises(UserError, match=r"S21.G00.30.019 \(matricule\) missing: .* never by the NIR"):
        dsn.parse(text, "s")


def test_cli_writes_events_and_absences_a_company_directory_loads(tmp_path):
    company = tmp_path / "TEST"
    company.mkdir()
    (company / "company.toml").write_text('[company]\nid = "TEST"\nname = "Test SAS"\n', encoding="utf-8")
    (company / "employees.csv").write_text(
        "employee_id,contract_start,contract_end,establishment\n00001,2020-06-01,2025-12-18,00022\n"
        "00005,2019-08-29,2025-12-18,00013\n00061,2025-12-01,2025-12-23,00033\n",
        encoding="utf-8",
    )
    r = run(
        "dsn",
        str(shared(*SAMPLE)),
        "--company",
        "TEST",
        "--events",
        str(tmp_path / "events.jsonl"),
        "--absences",
        str(company / "absences.csv"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "3 declarations, 3 employees: 3 departures, 4 absences" in r.stderr
    assert len(read_company_dir(company).absences) == 4
    # what the dsn command wrote loads and publishes (in this process: the dsn command above is the real one)
    db = str(tmp_path / "l.db")
    assert run_here("--db", db, "init", cwd=tmp_path).returncode == 0
    assert run_here("--db", db, "load", str(company), cwd=tmp_path).returncode == 0
    r = run_here("--db", db, "publish", str(tmp_path / "events.jsonl"), cwd=tmp_path)
    assert r.returncode == 0 and "3 events: 3 recorded" in r.stdout
    bad = tmp_path / "bad.dsn"
    bad.write_text(sample_text().replace("S90.G00.90.001,'107'", "S90.G00.90.001,'100'"), encoding="utf-8")
    r = run_here("dsn", str(bad), "--company", "TEST", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "it says '100'" in r.stderr


@given(data=st.data(), value=st.text(max_size=12))
@settings(max_examples=60, deadline=None)
def test_any_changed_value_gives_a_result_or_one_line(data, value):
    lines = sample_text().splitlines()
    n = data.draw(st.integers(0, len(lines) - 1))
    rubric = lines[n].split(",", 1)[0]
    lines[n] = f"{rubric},'{value}'" if data.draw(st.booleans()) else value
    try:
        dsn.absence_rows(dsn.parse("\n".join(lines), "fuzz.dsn"))
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.dsn")


def _declaration(month: str, people: list[list[tuple[str, str]]], nature: str = "01") -> str:
    """A minimal monthly declaration (month as MMYYYY) with the right S90.G00.90.001 line count."""
    lines = [
        ("S10.G00.00.001", "TESTPAIE"),
        ("S10.G00.00.006", "P26V01"),
        ("S20.G00.05.001", nature),
        ("S20.G00.05.005", f"01{month}"),
        ("S21.G00.06.001", "123456789"),
        ("S21.G00.11.001", "00022"),
    ]
    for person in people:
        lines += person
    lines += [("S90.G00.90.001", str(len(lines) + 2)), ("S90.G00.90.002", "1")]
    return "".join(f"{r},'{v}'\n" for r, v in lines)


def _person(matricule: str, start: str, unit: str, quota: str, pay: list[tuple[str, str, str]], extra=()):
    lines = [
        ("S21.G00.30.001", "2990175123456"),
        ("S21.G00.30.002", "NOM"),
        ("S21.G00.30.019", matricule),
        ("S21.G00.40.001", start),
        ("S21.G00.40.011", unit),
        ("S21.G00.40.013", quota),
    ]
    for kind, hours, amount in pay:
        lines += [("S21.G00.51.001", "01012025"), ("S21.G00.51.011", kind)]
        lines += [("S21.G00.51.012", hours)] if hours else []
        lines += [("S21.G00.51.013", amount)]
    return lines + list(extra)


def test_monthly_declarations_become_a_company_directory(tmp_path):
    # S21.G00.51: 001 gross, 010 base, 003 reconstituted, 019 activité partielle (hours, indemnity);
    # S21.G00.40.011 10 = quotité in hours, 20 = forfait jours (full time: the legal 151.67 h)
    files = []
    for m in range(1, 5):
        a_pay = [("001", "", "3000.00"), ("010", "", "3000.00")]
        if m == 3:
            a_pay = [
                ("001", "", "2600.00"),
                ("010", "", "3000.00"),
                ("003", "", "3000.00"),
                ("019", "20.00", "250.00"),
            ]
        people = [_person("100", "01012024", "10", "151.67", a_pay)]
        if m >= 2:
            extra = []
            if m == 3:  # maternity from 15 March (last day worked 14 March) to 30 June
                extra = [
                    ("S21.G00.60.001", "02"),
                    ("S21.G00.60.002", "14032025"),
                    ("S21.G00.60.003", "30062025"),
                ]
            if m == 4:  # resignation at the end of April
                extra = [("S21.G00.62.001", "30042025"), ("S21.G00.62.002", "059")]
            people.append(_person("200", "01022025", "20", "218", [("001", "", "4000.00")], extra))
        path = tmp_path / f"2025-{m:02d}.dsn"
        path.write_bytes(_declaration(f"{m:02d}2025", people).encode("cp1252"))
        files.append(str(path))
    company = tmp_path / "T"
    company.mkdir()
    (company / "company.toml").write_text('[company]\nid = "T"\nname = "T SAS"\n', encoding="utf-8")
    r = run(
        "dsn",
        *files,
        "--company",
        "T",
        "--company-dir",
        str(company),
        "--events",
        str(tmp_path / "e.jsonl"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    data = read_company_dir(company)
    assert sorted(c[:5] for c in data.contracts) == [
        ("100", "2024-01-01", None, "", "00022"),
        ("200", "2025-02-01", "2025-04-30", "", "00022"),
    ]
    pay = {(p[0], p[1]): p[2:8] for p in data.pay_lines}
    assert len(pay) == 4 + 3
    assert pay[("100", "2025-03-01")] == (260_000, 300_000, "151.67", "20.00", 25_000, 300_000)
    assert pay[("200", "2025-02-01")] == (400_000, 400_000, "151.67", "0.00", 0, None)
    assert data.absences == [("200", "maternity", "2025-03-15", "2025-06-30")]
    assert '"left_on":"2025-04-30"' in (tmp_path / "e.jsonl").read_text(encoding="utf-8")
    db = str(tmp_path / "t.db")
    assert run_here("--db", db, "init", cwd=tmp_path).returncode == 0
    r = run_here("--db", db, "load", str(company), cwd=tmp_path)
    assert r.returncode == 0 and "loaded T: 2 employees, 7 pay lines, 1 absence," in r.stdout, r.stderr


def test_a_negative_monthly_amount_is_refused_at_its_declaration():
    from paybonus.params import Parameters

    text = _declaration(
        "012025", [_person("100", "01012024", "10", "151.67", [("001", "", "100.00"), ("010", "", "-5.00")])]
    )
    with pytest.raises(UserError, match=r"m\.dsn:7: S21.G00.51 type 010: the total for 2025-01 is negative"):
        dsn.company_files(dsn.parse(text, "m.dsn"), Parameters.default())


def _without(text: str, rubric: str) -> str:
    """A declaration without its first `rubric` line, its S90.G00.90.001 line count kept right."""
    lines = text.splitlines()
    lines.remove(next(line for line in lines if line.startswith(rubric + ",")))
    count = next(i for i, line in enumerate(lines) if line.startswith("S90.G00.90.001,"))
    lines[count] = f"S90.G00.90.001,'{len(lines)}'"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("rubric", "message"),
    [
        # the contract block starts at its next rubric (S21.G00.40.011, line 10), the pay block at line 13
        ("S21.G00.40.001", "m.dsn:10: S21.G00.40.001 missing in its block"),
        ("S21.G00.51.011", "m.dsn:13: S21.G00.51.011 missing in its block"),
    ],
)
def test_a_rubric_missing_in_its_block_is_refused_at_the_block_s_line(rubric, message):
    text = _declaration("012025", [_person("100", "01012024", "10", "151.67", [("001", "", "100.00")])])
    with pytest.raises(UserError) as info:
        dsn.parse(_without(text, rubric), "m.dsn")
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("rubric", "message"),
    [
        ("S20.G00.05.005", "m.dsn:1: S20.G00.05.005 (the month a monthly declaration covers) missing"),
        ("S20.G00.05.001", "m.dsn:1: S20.G00.05.001 (nature of the declaration) missing"),
    ],
)
def test_a_monthly_declaration_without_its_month_or_nature_is_refused_not_its_pay_dropped(rubric, message):
    # either was read as "no monthly pay": --company-dir wrote employees.csv and no payroll/, exit code 0
    text = _declaration("012025", [_person("100", "01012024", "10", "151.67", [("001", "", "100.00")])])
    with pytest.raises(UserError) as info:
        dsn.parse(_without(text, rubric), "m.dsn")
    assert str(info.value) == message


def test_a_stoppage_running_across_monthly_declarations_gives_absences_load_accepts(tmp_path):
    """`load` refuses overlapping absences of one employee and kind (red team 2026-12-03): a sick leave declared
    again in each month's DSN (same last day worked, a later planned end, then the day back), an activité
    partielle declared month by month and a relapse after the return give one row each, which `load` reads."""

    def stoppage(last_worked, planned_end, back=None):
        lines = [("S21.G00.60.001", "01"), ("S21.G00.60.002", last_worked), ("S21.G00.60.003", planned_end)]
        return lines + ([("S21.G00.60.010", back)] if back else [])

    def partielle(start, end):
        return [("S21.G00.65.001", "602"), ("S21.G00.65.002", start), ("S21.G00.65.003", end)]

    blocks = {
        1: [*stoppage("10012025", "31012025"), *partielle("20012025", "31012025")],
        2: [*stoppage("10012025", "28022025"), *partielle("01022025", "28022025")],
        3: [*stoppage("10012025", "31032025", back="15032025"), *stoppage("20032025", "25032025")],
    }
    files = []
    for m, extra in blocks.items():
        path = tmp_path / f"2025-{m:02d}.dsn"
        person = _person("100", "01012024", "10", "151.67", [("001", "", "3000.00")], extra)
        path.write_bytes(_declaration(f"{m:02d}2025", [person]).encode("cp1252"))
        files.append(str(path))
    company = tmp_path / "T"
    company.mkdir()
    (company / "company.toml").write_text('[company]\nid = "T"\nname = "T SAS"\n', encoding="utf-8")
    r = run_here("dsn", *files, "--company", "T", "--company-dir", str(company), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert read_company_dir(company).absences == [
        ("100", "illness", "2025-01-11", "2025-03-14"),
        ("100", "activite_partielle", "2025-01-20", "2025-01-31"),
        ("100", "activite_partielle", "2025-02-01", "2025-02-28"),
        ("100", "illness", "2025-03-21", "2025-03-25"),
    ]
