"""The red team of 2026-12-03: each bad input ends with one line naming where and what, exit 2, nothing written."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import shared
from helpers.hostile import attempt, cli, ledger_digest


def _sample_with(tmp_path, old: str, new: str):
    """The shared sample DSN deposit with the first line `old` replaced by `new`."""
    text = shared("data", "dsn", "sample_dsn_P25V01.dsn").read_bytes().decode("cp1252")
    assert old + "\n" in text, old
    f = tmp_path / "bad.dsn"
    f.write_text(text.replace(old + "\n", new + "\n", 1), encoding="cp1252")
    return f


@pytest.mark.parametrize("quota", ["1_151.67", "+151.67", "1.5167e2", "NaN"])
def test_a_dsn_number_python_reads_but_a_dsn_never_writes_is_refused_at_its_line(work, tmp_path, quota):
    """Decimal() took '1_151.67' as 1151.67 hours and '1.5167e2' as 151.67: a DSN writes digits with a dot."""
    f = _sample_with(tmp_path, "S21.G00.40.013,'151.67'", f"S21.G00.40.013,'{quota}'")
    line = attempt(
        f"DSN quota {quota}", work.db, "dsn", str(f), "--company", "DURAND", "--company-dir", str(tmp_path)
    )
    assert "bad.dsn:130: S21.G00.40.013:" in line and "not a number" in line


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # the absence starts the day after the last day worked: 31 December 9999 + 1 day was an OverflowError
        ("S21.G00.60.002,'27112025'", "S21.G00.60.002,'31129999'"),
        ("S21.G00.60.003,'18122025'", "S21.G00.60.003,'31129999'"),
        # a contract ended in the year 1: an employee_left event `publish` refuses, with the id ...-E1-10101
        ("S21.G00.62.001,'18122025'", "S21.G00.62.001,'01010001'"),
        ("S21.G00.62.001,'18122025'", "S21.G00.62.001,'31121899'"),
    ],
)
def test_a_dsn_date_outside_the_years_1900_to_2199_is_refused(work, tmp_path, old, new):
    f = _sample_with(tmp_path, old, new)
    out = tmp_path / "out"
    line = attempt(
        f"DSN {new}", work.db, "dsn", str(f), "--company", "DURAND", "--events", str(tmp_path / "ev.jsonl"),
        "--company-dir", str(out),
    )  # fmt: skip
    assert "bad.dsn:" in line and new.split(",")[0] in line and "1900 to 2199" in line
    assert not (tmp_path / "ev.jsonl").exists() and not out.exists()


@pytest.mark.parametrize("matricule", ["E 001", "É001", "E" * 65, "A..B", "-001", "00/01"])
def test_a_matricule_that_is_not_an_employee_id_is_refused_at_its_line(work, tmp_path, matricule):
    """The matricule becomes the employee id: one with a space or an accent gave employee_left events whose id
    `publish` refused and an employees.csv `load` refused, each naming a file the command had written, not the
    DSN line."""
    f = _sample_with(tmp_path, "S21.G00.30.019,'00005'", f"S21.G00.30.019,'{matricule}'")
    line = attempt(
        f"DSN matricule {matricule!r}", work.db, "dsn", str(f), "--company", "DURAND", "--events",
        str(tmp_path / "ev.jsonl"),
    )  # fmt: skip
    assert "bad.dsn:280: S21.G00.30.019:" in line and "not an employee id" in line
    assert not (tmp_path / "ev.jsonl").exists()


STATEMENTS = (
    "statements",
    "--company",
    "DURAND",
    "--period",
    "2025",
    "--issued-on",
    "2026-04-15",
    "--channel",
    "email",
)


@pytest.mark.parametrize(
    "events",
    ["{d}/st", "{d}/st/", "{d}/st/DURAND-interessement-20250101-E0001.html"],
    ids=["folder", "slash", "a statement"],
)
def test_statements_events_naming_the_out_folder_or_a_statement_is_refused_before_writing(work, events):
    """`--events` naming the --out folder wrote the 30 statements, then failed (exit 2, "Is a directory") with
    the statements on disk; naming one of the statements (--force) replaced that statement with the events."""
    st = work.dir / "st"
    if "html" in events:
        st.mkdir()
    events = events.format(d=work.dir)
    line = attempt(
        "statements --events in --out", work.db, *STATEMENTS, "--out", str(st), "--events", events, "--force"
    )
    assert "--events" in line and "--out" in line
    assert not st.exists() or not any(st.iterdir())


@pytest.mark.parametrize(
    "args",
    [
        ("export", "--out", "{db}", "--force"),
        (*STATEMENTS, "--out", "{d}/st", "--events", "{db}", "--force"),
        ("dsn", "{dsn}", "--company", "DURAND", "--events", "{db}", "--force"),
        ("dsn", "{dsn}", "--company", "DURAND", "--absences", "{db}", "--force"),
        ("audit", "checkpoint", "--key", "{key}", "--out", "{db}"),  # no --force needed: it replaced any file
        ("audit", "checkpoint", "--key", "{key}", "--out", "{other}"),  # another ledger
        ("audit", "checkpoint", "--key", "{key}", "--out", "{key}"),  # the signing key itself
        ("export", "--out", "{key}", "--force"),
    ],
    ids=[
        "export",
        "statements --events",
        "dsn --events",
        "dsn --absences",
        "checkpoint",
        "another ledger",
        "checkpoint over its key",
        "export over a key",
    ],
)
def test_an_output_naming_a_ledger_or_a_key_is_refused(work, args):
    """`export --out paybonus.db --force` replaced the ledger with a CSV, and `audit checkpoint --out paybonus.db`
    (no --force) replaced it with the checkpoint of the ledger it had just read: the audit trail gone, exit 0.
    `audit checkpoint --key k.pem --out k.pem` replaced the signing key with the checkpoint it signed."""
    key = work.dir / "k.pem"
    assert cli("audit", "keygen", "--out", str(key))[0] == 0
    other = work.dir / "other.db"
    other.write_bytes(work.fresh.read_bytes())
    dsn = shared("data", "dsn", "sample_dsn_P25V01.dsn")
    args = tuple(a.format(d=work.dir, db=work.db, key=key, other=other, dsn=dsn) for a in args)
    before = ledger_digest(other), key.read_bytes()
    line = attempt(" ".join(args[:2]), work.db, *args)
    assert "is a SQLite database" in line or "is a private key" in line
    assert (ledger_digest(other), key.read_bytes()) == before
    assert not (work.dir / "st").exists()


def test_an_unterminated_string_in_an_event_reads_once_at(work):
    """json's message ends with "at" ("Unterminated string starting at"): the line said "starting at at column 8"."""
    events = work.file("cut.jsonl", '{"id": "cut\n')
    line = attempt("cut JSON", work.db, "publish", str(events))
    assert line.endswith("cut.jsonl:1: malformed JSON (Unterminated string starting at column 8)"), line


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("E0002,illness,2025-05-16,2025-05-25", "2025-05-16..2025-05-25 overlaps"),  # the same row twice
        ("E0002,illness,2025-05-20,2025-05-30", "2025-05-20..2025-05-30 overlaps"),
        ("E0002,illness,2025-05-01,2025-12-31", "2025-05-01..2025-12-31 overlaps"),  # around it
    ],
)
def test_an_absence_overlapping_another_of_its_kind_is_refused(work, row, fragment):
    """Each row's days were taken off the presence: a row given twice (two exports appended, a DSN stoppage
    declared again with another start) took E0002's illness days off twice, 1 346,67 € became 1 334,92 €."""
    p = work.company / "absences.csv"
    p.write_text(p.read_text(encoding="utf-8") + row + "\n", encoding="utf-8")
    line = attempt(f"absence {row}", work.fresh, "load", str(work.company))
    assert "absences.csv:15:" in line and fragment in line and "absences.csv:2" in line


def test_absences_of_one_kind_that_follow_each_other_are_loaded(work):
    p = work.company / "absences.csv"
    p.write_text(p.read_text(encoding="utf-8") + "E0002,illness,2025-05-26,2025-05-30\n", encoding="utf-8")
    assert cli("--db", str(work.fresh), "load", str(work.company))[0] == 0


@pytest.mark.parametrize(
    ("name", "old", "new", "fragment"),
    [
        # a contract from the year 20: 2005 years of seniority, the top of every seniority table (NAO, D-12)
        ("employees.csv", "E0002,Emma Garcia,2020-11-01", "E0002,Emma Garcia,0020-11-01", "employees.csv:3:"),
        ("employees.csv", "E0002,Emma Garcia,2020-11-01,", "E0002,Emma Garcia,2020-11-01,2925-12-31", ":3:"),
        ("absences.csv", "E0002,illness,2025-05-16,2025-05-25", "E0002,illness,1025-05-16,2025-05-25", ":2:"),
    ],
)
def test_a_csv_date_outside_the_years_1900_to_2199_is_refused(work, name, old, new, fragment):
    """Events and company.toml refuse such dates; the CSV files loaded them without a word."""
    p = work.company / name
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = attempt(f"{name} {new}", work.fresh, "load", str(work.company))
    assert fragment in line and "1900 to 2199" in line


def test_a_payroll_file_of_a_year_outside_1900_to_2199_is_refused(work):
    (work.company / "payroll" / "0025-01.csv").write_bytes(
        (work.company / "payroll" / "2025-01.csv").read_bytes()
    )
    line = attempt("payroll/0025-01.csv", work.fresh, "load", str(work.company))
    assert "0025-01.csv" in line and "1900 to 2199" in line


def test_a_negative_dsn_working_time_quota_is_refused_at_its_line(work, tmp_path):
    """A negative quotité (S21.G00.40.013) was written to payroll/YYYY-MM.csv as contract_hours, which `load` then
    refused, naming that file rather than the DSN line."""
    f = _sample_with(tmp_path, "S21.G00.40.013,'151.67'", "S21.G00.40.013,'-151.67'")
    line = attempt(
        "DSN quota -151.67",
        work.db,
        "dsn",
        str(f),
        "--company",
        "DURAND",
        "--company-dir",
        str(tmp_path / "o"),
    )
    assert "bad.dsn:130: S21.G00.40.013:" in line and "negative" in line


@pytest.mark.parametrize(
    ("command", "target"),
    [("statement", "project.toml"), ("statement", "results-2025.json"), ("measure", "project.toml")],
)
def test_project_output_naming_one_of_its_inputs_is_refused(work, command, target):
    """`project statement project.toml results.json -o results.json` replaced the results with the statement
    (exit 0), and `-o project.toml` the agreement itself."""
    from paybonus.fixtures import sample_dir

    project = work.dir / "project"
    shutil.copytree(sample_dir().parent / "project_sample", project)
    before = (project / target).read_bytes()
    args = (
        ("statement", str(project / "project.toml"), str(project / "results-2025.json"))
        if command == "statement"
        else ("measure", str(project / "project.toml"), "--period", "2025")
    )
    line = attempt(f"project {command} -o {target}", work.db, "project", *args, "-o", str(project / target))
    assert "--output" in line and "is an input" in line
    assert (project / target).read_bytes() == before


@pytest.mark.parametrize("option", ["--events", "--absences"])
def test_dsn_output_naming_its_input_is_refused(work, tmp_path, option):
    """`paybonus dsn d.dsn --events d.dsn --force` read the declaration, then wrote the events over it."""
    f = _sample_with(tmp_path, "S21.G00.30.019,'00005'", "S21.G00.30.019,'00005'")
    before = f.read_bytes()
    line = attempt(
        "dsn output = input", work.db, "dsn", str(f), "--company", "DURAND", option, str(f), "--force"
    )
    assert option in line and "is an input" in line and f.read_bytes() == before


def test_a_ledger_in_a_folder_that_cannot_be_written_says_so(work, tmp_path):
    """A ledger copied to read-only media (an auditor's copy) was reported "not a paybonus ledger (unable to open
    database file)": SQLite could not create its journal beside it, the file itself was fine."""
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(work.db, folder / "ledger.db")
    folder.chmod(0o555)
    frozen = False
    try:
        if os.access(folder, os.W_OK):  # root: permissions do not stop it, an immutable folder does
            frozen = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
            if not frozen:
                pytest.skip("cannot make a folder read-only here")
        line = attempt("read-only folder", folder / "ledger.db", "entitlements")
        assert "not a paybonus ledger" not in line and "is not writable" in line and str(folder) in line
    finally:
        if frozen:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.parametrize(
    "formula",
    [
        "brackets(rcai, [[150000, 0.15], [0, 0], [50000, 0.10]])",  # rows in another order
        "step(rcai, [[0, 0], [50000, 100], [50000, 200]])",  # a bound twice
        "0.5 * brackets(rcai, [[0, 0], [-1 * 50000, 0.1]])",
    ],
)
def test_a_formula_table_whose_bounds_do_not_increase_is_refused_at_load(work, formula):
    """It loaded (and `lint` found nothing), then every results_published failed at compute time, a dead letter:
    "brackets: the bounds of the table must increase"."""
    company = work.toml(
        'formula = "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])"', f'formula = "{formula}"'
    )
    line = attempt("unsorted table", work.fresh, "load", str(company))
    assert "schemes.interessement.formula" in line and "the bounds of the table must increase" in line


@pytest.mark.parametrize("period", ["2025-01", "2025-03-01..2026-02-28", "2025-01-01..2025-06-30"])
def test_objective_results_for_a_period_that_is_not_one_of_the_plan_s_are_refused(work, period):
    """An annual plan's results for a month were recorded, then failed at compute time ("the plan's periods are
    annual"): a dead letter no retry could clear, the event being in the ledger for good (exit 1)."""
    results = (
        '{"id":"obj-month","type":"objective_results","company":"DURAND","occurred_at":"2026-01-12T10:00:00+01:00",'
        f'"payload":{{"employees":{{"E0004":{{"interventions":"153"}}}},"figures":{{}},"period":"{period}",'
        '"plan":"techniciens"}}\n'
    )
    line = attempt(f"objectives for {period}", work.db, "publish", str(work.file("obj.jsonl", results)))
    assert "obj.jsonl:1: payload.period:" in line and "annual" in line and "2025-01-01..2025-12-31" in line


def test_objective_results_for_the_plan_s_period_are_recorded(work):
    results = (
        '{"id":"obj-2026","type":"objective_results","company":"DURAND","occurred_at":"2027-01-12T10:00:00+01:00",'
        '"payload":{"employees":{"E0004":{"interventions":"153"}},"figures":{},"period":"2026","plan":"techniciens"}}\n'
    )
    code, out, err = cli("--db", str(work.db), "publish", str(work.file("obj.jsonl", results)))
    assert code == 0 and "1 recorded" in out, err


def test_audit_replay_with_a_plugin_not_loaded_reports_it(work, monkeypatch):
    """`PAYBONUS_PLUGINS=interessement paybonus audit verify --replay` (an auditor's machine without one plugin)
    ended in a traceback: "ValueError: type: unknown event type 'pmt_evidence_recorded'". The dispatches of the
    missing schemes are reported as problems, as `audit verify` without --replay does (exit 1)."""
    monkeypatch.setenv("PAYBONUS_PLUGINS", "interessement")
    before = ledger_digest(work.db)
    code, out, err = cli("--db", str(work.db), "audit", "verify", "--replay")
    assert code == 1 and "Traceback" not in err, err
    assert "scheme 'pmt' is not installed" in out + err or "scheme 'prime_nao' is not installed" in out + err
    assert ledger_digest(work.db) == before
