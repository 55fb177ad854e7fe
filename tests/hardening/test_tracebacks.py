"""Issue 13, "26 tracebacks": each input that ended in a traceback now ends with one line, exit 2, nothing
written (the ledger as it was)."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from conftest import shared
from helpers.hostile import attempt, cli

DEEP_TOML = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def test_deeply_nested_toml_in_company_toml(work):
    (work.company / "company.toml").write_text(
        (work.company / "company.toml").read_text() + "\n[statement.wording]\n" + DEEP_TOML
    )
    line = attempt("toml 5000 deep: load", work.db, "load", str(work.company))
    assert "company.toml" in line


def test_deeply_nested_toml_in_lint(work):
    (work.company / "company.toml").write_text(DEEP_TOML)
    attempt("toml 5000 deep: lint", work.db, "lint", str(work.company))


def test_deeply_nested_toml_in_params(work):
    p = work.file("params.toml", DEEP_TOML)
    line = attempt(
        "toml 5000 deep: --params", work.db, "--params", str(p), "entitlements", "--company", "DURAND"
    )
    assert "params.toml" in line


def test_csv_field_over_128_kib(work):
    f = work.company / "employees.csv"
    f.write_text(f.read_text() + 'E9999,"' + "x" * 200_000 + '",2024-01-01,,ouvrier,siege\n')
    line = attempt("csv field 200 KB", work.db, "load", str(work.company))
    assert "employees.csv:" in line


def test_binary_bytes_in_csv(work):
    f = work.company / "payroll" / "2025-03.csv"
    f.write_bytes(f.read_bytes() + b"E0001,\x00\x01\x02,1,1\n")
    attempt("NUL bytes in csv", work.db, "load", str(work.company))


def test_json_nested_100000_deep_in_events(work):
    event = (
        '{"id":"x","type":"period_closed","company":"DURAND","occurred_at":"2026-01-01T00:00:00Z","payload":'
    )
    p = work.file("deep.jsonl", event + "[" * 100_000 + "]" * 100_000 + "}\n")
    line = attempt("json 100000 deep", work.db, "publish", str(p))
    assert "deep.jsonl:1" in line


def test_dsn_amount_out_of_any_range(work, tmp_path):
    text = shared("data", "dsn", "sample_dsn_P25V01.dsn").read_bytes().decode("cp1252")
    text, n = re.subn(r"S21\.G00\.40\.013,'[^']*'", "S21.G00.40.013,'1E+999999'", text, count=1)
    assert n == 1
    f = tmp_path / "bad.dsn"
    f.write_text(text, encoding="cp1252")
    attempt(
        "DSN 1E+999999", work.db, "dsn", str(f), "--company", "DURAND", "--company-dir", str(tmp_path / "out")
    )


@pytest.mark.parametrize("figure", ['"abc"', "[1, 2]", '"1e999999"', "{ a = 1 }", "true"])
def test_bad_figures_in_a_lint_history(work, figure):
    history = "".join(
        f'\n[[schemes.interessement.history]]\nperiod = "{y}"\nfigures = {{ rcai = {figure} }}\n'
        for y in (2022, 2023, 2024)
    )
    text = (work.company / "company.toml").read_text()
    head, tail = text.split("[schemes.prime_objectif]", 1)
    (work.company / "company.toml").write_text(head + history + "\n[schemes.prime_objectif]" + tail)
    line = attempt(f"lint history figure {figure}", work.db, "lint", str(work.company))
    assert "history" in line


def test_malformed_stored_payload_in_audit_verify(work):
    con = sqlite3.connect(work.db)
    with con:
        con.execute("DROP TRIGGER IF EXISTS events_no_update")
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
            con.execute(f"DROP TRIGGER {name}")
        con.execute("UPDATE events SET payload = '[1, 2' WHERE type = 'payment_recorded' OR rowid = 1")
        con.execute("UPDATE events SET payload = '\"text\"' WHERE rowid = 2")
        con.execute("UPDATE events SET type = 'payment_recorded', payload = '[1, 2]' WHERE rowid = 3")
        con.execute("UPDATE events SET type = 'payment_recorded', payload = '{]' WHERE rowid = 4")
        con.execute("UPDATE events SET type = 'option_chosen', payload = '7' WHERE rowid = 5")
    con.close()
    code, _out, err = cli("--db", str(work.db), "audit", "verify")
    assert code == 1, err
    assert "Traceback" not in err


BROKEN_PARAMS = {
    "values is a list of a number": "[pass]\nvalues = [1]\n",
    "values is a string": '[pass]\nvalues = "abc"\n',
    "a NaN rate": '[csg_total]\nlabel = "CSG"\nunit = "rate"\nlaw = "LAW 0.3"\nsource = "x"\n'
    'values = [{ from = 2026-01-01, value = "NaN" }]\n',
    "deeply nested": DEEP_TOML,
}


@pytest.mark.parametrize("name", sorted(BROKEN_PARAMS))
def test_broken_params_files(work, name):
    p = work.file("params.toml", BROKEN_PARAMS[name])
    attempt(f"--params {name}", work.db, "--params", str(p), "entitlements", "--company", "DURAND")


def test_params_file_in_latin_1(work):
    p = work.file("params.toml", "# paramètres légaux\n".encode("latin-1"))
    attempt("--params latin-1", work.db, "--params", str(p), "entitlements", "--company", "DURAND")


def test_init_on_a_file_that_is_not_sqlite(work):
    f = work.file("notes.db", b"these are my notes, not a ledger\n" * 100)
    before = f.read_bytes()
    line = attempt("init on a text file", f, "init")
    assert "notes.db" in line
    assert f.read_bytes() == before


@pytest.mark.parametrize("literal", ["0x10", "0o17", "0b101", "1e3", "0x1F"])
def test_formula_literals_python_reads_otherwise(work, literal):
    work.toml(
        'formula = "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])"',
        f'formula = "rcai * 0 + {literal}"',
    )
    attempt(f"formula literal {literal}", work.fresh, "load", str(work.company))
    json.dumps(literal)


def _v1_seal(period, total="0", entries=""):
    import hashlib

    pairs = sorted(tuple(e.split("=", 1)) for e in entries.split(",") if "=" in e)
    h = hashlib.sha256("|".join(f"{i}={d}" for i, d in pairs).encode() + f"|{total}".encode()).hexdigest()
    return f"paybonus-seal-v1;DURAND;interessement;E0001;{period};{total};{entries};{h}"


@pytest.mark.parametrize(
    "seal",
    [
        _v1_seal("2025-02-30..x"),
        _v1_seal("2025"),
        _v1_seal("2025-01-01..2025-12-31", total="abc"),
        _v1_seal("9999-99-99..0000-00-00"),
    ],
)
def test_a_crafted_v1_seal_in_notice_verify(work, seal):
    html = work.file(
        "s.html", f'<html><head><meta name="paybonus-ledger" content="{seal}"></head><body></body></html>'
    )
    code, _out, err = cli("--db", str(work.db), "notice", "verify", str(html))
    assert code == 1 and "Traceback" not in err, err


@pytest.mark.parametrize(
    "content",
    [
        {"format": "paybonus-statement/1", "lines": []},
        {"format": "paybonus-statement/1", "lines": [{"x": 1}]},
        {"lines": 5},
    ],
)
def test_a_crafted_v2_content_whose_hash_matches_in_notice_verify(work, content):
    import hashlib

    from paybonus.statements.seal import canonical

    seal = "paybonus-seal-v2;" + hashlib.sha256(canonical(content)).hexdigest()
    html = work.file(
        "s.html",
        f'<html><head><meta name="paybonus-ledger" content="{seal}"></head><body>'
        f'<script type="application/json" id="paybonus-statement">{json.dumps(content)}</script></body></html>',
    )
    code, _out, err = cli("--db", str(work.db), "notice", "verify", str(html))
    assert code == 1 and "Traceback" not in err, err
