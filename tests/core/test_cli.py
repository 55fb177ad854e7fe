"""End-to-end: the `paybonus` command on the shipped sample company, with the example external plugin."""

import json
import shutil
from pathlib import Path

import pytest
from helpers.cli import file_hash, run, run_here, sample_copy
from paybonus.fixtures import sample_dir

N = sum(1 for line in (sample_dir() / "events.jsonl").read_text().splitlines() if line.strip())


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The sample company loaded by the command, once for the module (each test gets its own copy)."""
    cwd = tmp_path_factory.mktemp("loaded")
    company = sample_copy(cwd / "durand")
    assert run("init", cwd=cwd).returncode == 0
    r = run("load", str(company), cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd


@pytest.fixture
def world(loaded, tmp_path):
    shutil.copy2(loaded / "paybonus.db", tmp_path / "paybonus.db")
    company = shutil.copytree(loaded / "durand", tmp_path / "durand")
    return tmp_path, company


def test_plugins_lists_the_external_plugin_from_its_entry_point(tmp_path):
    r = run("plugins", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "prime_fin_annee" in r.stdout and "paybonus-prime-fin-annee" in r.stdout and "1.0.0" in r.stdout
    assert "register_schemes" in r.stdout
    r = run("plugins", cwd=tmp_path, env={"PAYBONUS_PLUGINS": "nothing_else"})
    assert "prime_fin_annee" not in r.stdout  # the allow-list limits what loads


def test_full_cycle(world):
    cwd, company = world
    r = run("publish", str(company / "events.jsonl"), cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert f"{N} events: {N} recorded" in r.stdout and "0 failed" in r.stdout
    rows = json.loads(run("entitlements", "--format", "json", cwd=cwd).stdout)
    assert {r["scheme"] for r in rows} == {
        "prime_fin_annee",
        "interessement",
        "prime_objectif",
        "prime_nao",
        "pmt",
    }
    rows = [r for r in rows if r["scheme"] == "prime_fin_annee"]
    assert len(rows) >= 30
    assert all(isinstance(r["amount_cents"], int) for r in rows)
    full_year = [r for r in rows if r["amount_cents"] == 80000]
    assert full_year, "employees present all year get the full 800.00"
    csv_out = run(
        "entitlements",
        "--format",
        "csv",
        "--scheme",
        "prime_fin_annee",
        "--employee",
        rows[0]["employee"],
        cwd=cwd,
    ).stdout.splitlines()
    assert csv_out[0].startswith("id,company,scheme,employee") and len(csv_out) == 2
    table = run("entitlements", "--period", "2025", cwd=cwd)
    assert table.returncode == 0 and "entitlements, total" in table.stdout
    ex = run("explain", rows[0]["id"], cwd=cwd)
    assert ex.returncode == 0 and "matches" in ex.stdout and "days_under_contract" in ex.stdout
    v = run("audit", "verify", cwd=cwd)
    assert v.returncode == 0 and "audit: OK" in v.stdout
    # publishing the same file again changes nothing
    before = run("entitlements", "--format", "json", cwd=cwd).stdout
    r = run("publish", str(company / "events.jsonl"), cwd=cwd)
    assert f"0 recorded, {N} already known" in r.stdout
    assert run("entitlements", "--format", "json", cwd=cwd).stdout == before


def test_events_from_standard_input(world):
    cwd, company = world
    r = run("publish", "-", cwd=cwd, input=(company / "events.jsonl").read_text())
    assert r.returncode == 0 and f"{N} recorded" in r.stdout


def test_tampering_makes_audit_verify_exit_1_naming_the_row(world):
    import sqlite3

    cwd, company = world
    run("publish", str(company / "events.jsonl"), cwd=cwd)
    conn = sqlite3.connect(cwd / "paybonus.db")
    target = conn.execute("SELECT id FROM entitlements LIMIT 1 OFFSET 4").fetchone()[0]
    conn.execute("DROP TRIGGER entitlements_immutable")
    conn.execute("UPDATE entitlements SET amount_cents = amount_cents * 2 WHERE id = ?", (target,))
    conn.commit()
    conn.close()
    r = run("audit", "verify", cwd=cwd)
    assert r.returncode == 1
    assert f"entitlement {target}" in r.stderr and "Traceback" not in r.stderr


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    for f in fragments:
        assert f in lines[0], lines[0]


def usage_error(r, command, *fragments):
    """click's usage error, as one line like the others: the command, the error, where to find help (exit 2)."""
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {command}".rstrip()), r.stderr
    assert lines[0].endswith(f"(see paybonus {command + ' ' if command else ''}-h)"), r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    assert "Traceback" not in r.stderr


BAD_EVENTS = {
    "malformed": ('{"id": "x", "type": ', ["bad.jsonl:1", "malformed JSON"]),
    "unknown_type": (
        '{"id":"x","type":"bonus_paid","company":"DURAND","occurred_at":"2026-01-01T00:00:00Z","payload":{}}',
        ["bad.jsonl:1", "unknown event type 'bonus_paid'"],
    ),
    "missing_field": (
        '{"id":"x","type":"period_closed","company":"DURAND","payload":{"period":"2025-01"}}',
        ["bad.jsonl:1", "occurred_at: required field missing"],
    ),
    "unknown_company": (
        '{"id":"x","type":"period_closed","company":"NOPE","occurred_at":"2026-01-01T00:00:00Z","payload":{"period":"2025-01"}}',
        ["bad.jsonl:1", "unknown company 'NOPE'"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_EVENTS))
def test_bad_events_exit_2_with_one_line_and_leave_the_database_byte_identical(world, case):
    cwd, company = world
    run_here("publish", str(company / "events.jsonl"), cwd=cwd)
    line, fragments = BAD_EVENTS[case]
    good = (company / "events.jsonl").read_text().splitlines()[0]
    (cwd / "bad.jsonl").write_text(line + "\n" + good.replace("DURAND-close", "DURAND-new") + "\n")
    (cwd / "bad.jsonl").write_text(line + "\n")
    db = cwd / "paybonus.db"
    before = file_hash(db)
    one_line_error(run_here("publish", "bad.jsonl", cwd=cwd), *fragments)
    assert file_hash(db) == before


def test_bad_line_after_good_ones_writes_nothing(world):
    cwd, company = world
    lines = (company / "events.jsonl").read_text().splitlines()
    (cwd / "mixed.jsonl").write_text("\n".join([*lines[:5], BAD_EVENTS["unknown_company"][0]]) + "\n")
    before = file_hash(cwd / "paybonus.db")
    one_line_error(run_here("publish", "mixed.jsonl", cwd=cwd), "mixed.jsonl:6")
    assert file_hash(cwd / "paybonus.db") == before


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "fragments"),
    [
        ("payroll/2025-03.csv", ",151.67", ",-151.67", ["2025-03.csv:2", "contract_hours"]),
        ("employees.csv", "2022-04-01", "2022-13-01", ["employees.csv:2", "contract_start", "not a date"]),
        (
            "company.toml",
            'fiscal_year_start = "01-01"',
            'fiscal_year_start = "01-01"\ncolour = "red"',
            ["company.toml", "colour"],
        ),
        (
            "company.toml",
            'amount = "800.00"',
            'amount = "huit cents"',
            ["company.toml", "schemes.prime_fin_annee.amount"],
        ),
        (
            "company.toml",
            "[schemes.prime_fin_annee]",
            "[schemes.prime_mystere]",
            ["no installed scheme", "prime_mystere"],
        ),
        ("absences.csv", ",illness,", ",flu,", ["absences.csv:2", "kind: 'flu'"]),
    ],
)
def test_bad_company_files_exit_2_and_leave_the_database_byte_identical(world, file, old, new, fragments):
    cwd, company = world
    edit(company / file, old, new)
    before = file_hash(cwd / "paybonus.db")
    one_line_error(run_here("load", str(company), cwd=cwd), *fragments)
    assert file_hash(cwd / "paybonus.db") == before


def test_group_contracts_and_new_pay_columns_load_and_are_checked(world):
    # D-12: a contract with a sister company (seniority only) must not overlap this company's; I-18, I-19:
    # caisse CP indemnities and the subject part of an AP indemnity are amounts, never negative
    cwd, company = world
    emp = company / "employees.csv"
    emp.write_text(
        emp.read_text()
        .replace("category,establishment", "category,establishment,group_company")
        .replace(",cadre,siege\n", ",cadre,siege,\n", 1)
        + "E0001,,2019-01-01,2022-03-31,,,SISTER\n"
    )
    pay = company / "payroll" / "2025-03.csv"
    pay.write_text(
        pay.read_text()
        .replace("reconstituted\n", "reconstituted,cp_caisse,ap_subject\n")
        .replace("E0001,4130.00,4130.00,151.67,,,", "E0001,4130.00,4130.00,151.67,,,,120.00,")
    )
    r = run_here("load", str(company), cwd=cwd)
    assert r.returncode == 0, r.stderr
    emp.write_text(emp.read_text().replace("2022-03-31,,,SISTER", "2022-04-01,,,SISTER"))
    before = file_hash(cwd / "paybonus.db")
    one_line_error(run_here("load", str(company), cwd=cwd), "employees.csv", "overlapping contracts")
    assert file_hash(cwd / "paybonus.db") == before
    emp.write_text(emp.read_text().replace("2022-04-01,,,SISTER", "2022-03-31,,,SISTER"))
    pay.write_text(pay.read_text().replace(",120.00,", ",-120.00,"))
    one_line_error(run_here("load", str(company), cwd=cwd), "2025-03.csv:2", "cp_caisse", "negative")
    assert file_hash(cwd / "paybonus.db") == before


def test_negative_salary_is_refused(world):
    cwd, company = world
    pay = company / "payroll" / "2025-02.csv"
    lines = pay.read_text().splitlines()
    cells = lines[3].split(",")
    cells[1] = "-" + cells[1]
    lines[3] = ",".join(cells)
    pay.write_text("\n".join(lines) + "\n")
    before = file_hash(cwd / "paybonus.db")
    one_line_error(run_here("load", str(company), cwd=cwd), "2025-02.csv:4", "gross", "negative")
    assert file_hash(cwd / "paybonus.db") == before


def test_user_errors_without_a_ledger(tmp_path):
    one_line_error(run("publish", "x.jsonl", cwd=tmp_path), "x.jsonl", "cannot read")
    (tmp_path / "e.jsonl").write_text("")
    one_line_error(run("publish", "e.jsonl", cwd=tmp_path), "paybonus.db", "paybonus init")
    assert not (tmp_path / "paybonus.db").exists()
    usage_error(run("explain", "ENT-x", "--db", "x", cwd=tmp_path), "explain", "no such option")
    usage_error(run("frobnicate", cwd=tmp_path), "", "no such command")
    (tmp_path / "junk.db").write_text("not sqlite")
    one_line_error(run("--db", "junk.db", "audit", "verify", cwd=tmp_path), "junk.db")


def test_explain_unknown_id(world):
    cwd, _ = world
    one_line_error(run_here("explain", "ENT-nope", cwd=cwd), "no entitlement 'ENT-nope'")


def test_explain_shows_what_was_paid_and_what_a_payment_may_still_record(world, tmp_path):
    # a payment above what is still due is refused with "`paybonus explain ID` shows what is due": it must
    cwd, company = world
    assert run_here("publish", str(company / "events.jsonl"), cwd=cwd).returncode == 0
    rows = json.loads(
        run_here(
            "entitlements", "--employee", "E0005", "--scheme", "interessement", "--format", "json", cwd=cwd
        ).stdout
    )
    ent = rows[0]["id"]
    payment = {"entitlement": ent, "amount_cents": 100_000, "paid_on": "2026-05-20", "mode": "paid"}
    line = {
        "id": "pay-1",
        "type": "payment_recorded",
        "company": "DURAND",
        "occurred_at": "2026-05-20T18:00:00+02:00",
        "payload": payment,
    }
    (tmp_path / "pay.jsonl").write_text(json.dumps(line) + "\n")
    assert run_here("publish", str(tmp_path / "pay.jsonl"), cwd=cwd).returncode == 0
    r = run_here("explain", ent, cwd=cwd)
    assert r.returncode == 0, r.stderr
    shown = r.stdout.replace("\u202f", " ").replace("\xa0", " ")  # French spaces made plain
    assert "paid 1 000,00 €  still due 468,48 €" in shown, r.stdout
    assert json.loads(run_here("explain", ent, "--format", "json", cwd=cwd).stdout)["paid_cents"] == 100_000


def test_the_examples_of_explain_use_ids_as_the_ledger_writes_them(tmp_path):
    r = run_here("explain", "-h", cwd=tmp_path)
    assert "paybonus explain ENT-" in r.stdout and "interessement:DURAND" not in r.stdout


def test_demo_prints_a_summary_and_leaves_a_database(tmp_path):
    r = run("demo", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"published {N} events" in r.stdout and "audit: OK" in r.stdout and "interessement" in r.stdout
    assert (tmp_path / "paybonus-demo.db").is_file()
    assert run("--db", "paybonus-demo.db", "audit", "verify", cwd=tmp_path).returncode == 0


def test_the_global_db_option_places_the_demo_ledger(tmp_path):
    """`paybonus --db x.db demo` left paybonus-demo.db and ignored --db (red-team finding): the demo's own --db wins,
    the global one given on the command line comes next (not $PAYBONUS_DB: a production ledger is no demo's)."""
    assert run_here("--db", "x.db", "demo", cwd=tmp_path).returncode == 0
    assert (tmp_path / "x.db").is_file() and not (tmp_path / "paybonus-demo.db").exists()
    assert run_here("--db", "x.db", "demo", "--db", "y.db", cwd=tmp_path).returncode == 0
    assert (tmp_path / "y.db").is_file()
    assert run_here("demo", cwd=tmp_path, env={"PAYBONUS_DB": "z.db"}).returncode == 0
    assert (tmp_path / "paybonus-demo.db").is_file() and not (tmp_path / "z.db").exists()


def test_the_demo_does_not_force_a_ledger_the_global_db_names(tmp_path):
    """`--force` replaces a ledger holding other companies: with the global --db (an alias or wrapper may give it
    the production ledger) it is refused, nothing replaced; the demo's own --db may be forced (review finding)."""
    assert run_here("--db", "x.db", "demo", cwd=tmp_path).returncode == 0
    before = (tmp_path / "x.db").stat().st_mtime_ns
    r = run_here("--db", "x.db", "demo", "--force", cwd=tmp_path)
    assert r.returncode == 2 and "--force: replaces only a ledger the demo's own --db names" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and (tmp_path / "x.db").stat().st_mtime_ns == before
    assert run_here("demo", "--db", "x.db", "--force", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("where", ["global", "own"])
def test_the_demo_refuses_a_postgresql_url_without_naming_its_password(tmp_path, where):
    """A PostgreSQL URL read as a file path lost a slash and showed its password in the error (review5): now that
    the global --db places the demo, `paybonus --db "$URL" demo` is one mistyped command away."""
    url = "postgresql://bob:s3cret@127.0.0.1:1/x"
    args = ("--db", url, "demo") if where == "global" else ("demo", "--db", url)
    r = run_here(*args, cwd=tmp_path)
    assert r.returncode == 2 and "s3cret" not in r.stdout + r.stderr
    assert "postgresql://bob:***@127.0.0.1:1/x: a demo makes a SQLite ledger" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path):
    from paybonus import __version__

    r = run("--version", cwd=tmp_path)
    assert r.returncode == 0 and __version__ in r.stdout


def test_after_the_computation_from_the_command_line(world):
    cwd, company = world
    run("publish", str(company / "events.jsonl"), cwd=cwd)
    rows = json.loads(run("entitlements", "--format", "json", "--scheme", "interessement", cwd=cwd).stdout)
    ent = rows[0]
    over = {
        "id": "pay-1",
        "type": "payment_recorded",
        "company": "DURAND",
        "occurred_at": "2026-05-20T10:00:00+02:00",
        "payload": {
            "entitlement": ent["id"],
            "amount_cents": ent["amount_cents"] + 1,
            "paid_on": "2026-05-20",
        },
    }
    (cwd / "pay.jsonl").write_text(json.dumps(over) + "\n")
    before = file_hash(cwd / "paybonus.db")
    one_line_error(run_here("publish", "pay.jsonl", cwd=cwd), "pay.jsonl:1", "more than is still due")
    assert file_hash(cwd / "paybonus.db") == before
    over["payload"]["amount_cents"] = ent["amount_cents"]
    (cwd / "pay.jsonl").write_text(json.dumps(over) + "\n")
    assert run("publish", "pay.jsonl", cwd=cwd).returncode == 0
    # one statement per beneficiary in HTML (30 PDFs took 2 minutes of fpdf2 layout under coverage), and one in
    # PDF: the same command, the PDF branch and its seal checked by `notice verify` below
    r = run(
        "statements",
        "--company",
        "DURAND",
        "--period",
        "2025",
        "--out",
        "st",
        "--issued-on",
        "2026-04-01",
        "--channel",
        "post",
        "--events",
        "issued.jsonl",
        cwd=cwd,
    )
    assert r.returncode == 0, r.stderr
    files = sorted((cwd / "st").glob("*.html"))
    assert len(files) == len({row["employee"] for row in rows})
    pdf = ("--employee", ent["employee"], "--format", "pdf", "--out", "pdf", "--issued-on", "2026-04-01")
    r = run("statements", "--company", "DURAND", "--period", "2025", *pdf, "--channel", "post", cwd=cwd)
    assert r.returncode == 0, r.stderr
    files += sorted((cwd / "pdf").glob("*.pdf"))
    assert len(files) == len({row["employee"] for row in rows}) + 1 and files[-1].read_bytes().startswith(
        b"%PDF"
    )
    issued = [json.loads(x)["payload"] for x in (cwd / "issued.jsonl").read_text().splitlines()]
    assert {(p["issued_on"], p["channel"]) for p in issued} == {("2026-04-01", "post")}  # as given
    common = ("statements", "--company", "DURAND", "--out", "none", "--issued-on", "2026-04-01")
    salary = run_here(
        *common, "--period", "2025", "--channel", "post", "--scheme", "prime_fin_annee", cwd=cwd
    )
    one_line_error(salary, "--scheme: prime_fin_annee is a salary-type bonus", "goes on the payslip")
    one_line_error(
        run_here(*common, "--period", "2024", "--channel", "post", cwd=cwd), "--period", "2025-01-01"
    )
    nobody = run_here(*common, "--period", "2025", "--channel", "post", "--employee", "E9999", cwd=cwd)
    one_line_error(nobody, "--employee: E9999 has no interessement entitlement")
    usage = run_here(*common, "--period", "2025", cwd=cwd)  # a usage error: one line too
    usage_error(usage, "statements", "--channel: required, not given")
    assert not (cwd / "none").exists()
    assert run("notice", "verify", *map(str, files), cwd=cwd).returncode == 0
    assert run("publish", "issued.jsonl", cwd=cwd).returncode == 0
    d = run("deadlines", "--as-of", "2026-04-10", "--format", "json", cwd=cwd)
    kinds = {x["kind"] for x in json.loads(d.stdout)}
    assert "option_window" in kinds
    exp = run("export", "--format", "csv", "--payroll-month", "2026-05", cwd=cwd)
    assert exp.returncode == 0 and exp.stdout.startswith("company,employee,entitlement")
    one_line_error(run_here("export", "--payroll-month", "May", cwd=cwd), "--payroll-month", "YYYY-MM")
    one_line_error(run_here("deadlines", "--as-of", "tomorrow", cwd=cwd), "--as-of")
    (cwd / "junk.html").write_text("<html>nothing</html>")
    one_line_error(run_here("notice", "verify", "junk.html", cwd=cwd), "no paybonus seal")
    assert run("audit", "verify", cwd=cwd).returncode == 0
