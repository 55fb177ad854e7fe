"""Fuzzers that would have found issue 13: deep nesting, huge and special numbers, Unicode separators, ids with
path characters, plugins that hang, exit or write. Every case is refused cleanly (one line, exit 2, ledger
unchanged) or accepted with nothing failing later; never a traceback.

CI runs a fixed small budget (PAYBONUS_FUZZ_EXAMPLES, default 15 per fuzzer); `pytest -m heavy` runs the same
fuzzers with PAYBONUS_FUZZ_HEAVY examples (default 400).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.hostile import fuzz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("PAYBONUS_FUZZ_EXAMPLES", "15"))
HEAVY = int(os.environ.get("PAYBONUS_FUZZ_HEAVY", "400"))
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
CI = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=QUIET, derandomize=True)
LONG = settings(max_examples=HEAVY, deadline=None, suppress_health_check=QUIET)


@contextmanager
def copy_of(pristine: Path, db: str = "loaded.db") -> Iterator[Path]:
    """A fresh copy of the company directory and of a ledger, for one example."""
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(pristine / "company", Path(d) / "company")
        shutil.copy(pristine / db, Path(d) / "ledger.db")
        yield Path(d)


# -- strategies -------------------------------------------------------------------------------------------------

SPECIAL_NUMBERS = st.sampled_from(
    [
        "1e999999",
        "-1e999999",
        "1E+400",
        "1e-999999",
        "NaN",
        "-NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "0x10",
        "0o17",
        "0b101",
        "1_000",
        " 12 ",
        "1,5",
        "٣",
        "１２",
        "",
        "-0",
        "0e0",
        "1e15",
        "999999999999999",
        "1000000000000000",
        "0.0000000000000000001",
        "9" * 400,
        "9" * 5000,
        "1." + "1" * 40,
        "--1",
        "+1",
    ]
)
numbers = st.one_of(
    SPECIAL_NUMBERS,
    st.integers(-(2**70), 2**70).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
SEPARATORS = [
    "\u2028",
    "\u2029",
    "\u0085",
    "\ufeff",
    "\r\n",
    "\r",
    "\x00",
    "\x1b",
    "\u200b",
    "\ud800"[:0] + "\x0c",
]
PATH_CHARS = st.text(alphabet="./\\:@-_aZ09 é\u2028", min_size=1, max_size=12)


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def event(type_: str, payload: object, id_: str = "fz-1", company: str = "DURAND") -> dict[str, object]:
    return {
        "id": id_,
        "type": type_,
        "company": company,
        "occurred_at": "2026-02-05T18:00:00+01:00",
        "payload": payload,
    }


def events_with_number(draw_number: str, where: str) -> str:
    """An event line with a hostile number at one of the places numbers go."""
    if where == "figure":
        e = event("results_published", {"period": "2025", "figures": {"rcai": "X"}})
    elif where == "objective":
        e = event(
            "objective_results",
            {"plan": "techniciens", "period": "2025", "employees": {"E0004": {"interventions": "X"}}},
        )
    elif where == "supplement":
        e = event("supplement_decided", {"exercise": "2025", "amount_cents": 0, "decided_on": "2026-05-01"})
    else:
        e = event("payment_recorded", {"entitlement": "x", "amount_cents": 0, "paid_on": "2026-05-01"})
    text = json.dumps(e)
    if where in ("figure", "objective"):
        return text.replace('"X"', json.dumps(draw_number))
    raw = draw_number.strip() or "0"  # the number as a JSON number token, whatever it holds
    return text.replace('"amount_cents": 0', f'"amount_cents": {raw}')


# -- fuzzers ----------------------------------------------------------------------------------------------------


def _deep(pristine, depth, kind, target):
    with copy_of(pristine) as d:
        db = d / "ledger.db"
        if target == "events":
            line = (
                json.dumps(event("period_closed", {"period": "2026-01"}))[:-1]
                + ',"x":'
                + nested(depth, kind)
                + "}"
            )
            (d / "e.jsonl").write_text(line + "\n")
            fuzz(f"events nested {depth} {kind}", db, "publish", str(d / "e.jsonl"))
        elif target == "company":
            toml = d / "company" / "company.toml"
            toml.write_text(
                toml.read_text() + "\n[statement.wording]\nintro = " + nested(depth, "array") + "\n"
            )
            fuzz(f"company.toml nested {depth}", db, "load", str(d / "company"))
        elif target == "lint":
            toml = d / "company" / "company.toml"
            toml.write_text("x = " + nested(depth, "array") + "\n")
            fuzz(f"lint nested {depth}", db, "lint", str(d / "company"))
        else:
            (d / "p.toml").write_text("[pass_annual]\nvalues = " + nested(depth, "array") + "\n")
            fuzz(
                f"--params nested {depth}",
                db,
                "--params",
                str(d / "p.toml"),
                "entitlements",
                "--company",
                "DURAND",
            )


deep_cases = (
    st.integers(1, 200_000),
    st.sampled_from(["array", "object"]),
    st.sampled_from(["events", "company", "lint", "params"]),
)


@CI
@given(*deep_cases)
def test_fuzz_deep_nesting(pristine, depth, kind, target):
    _deep(pristine, depth, kind, target)


@pytest.mark.heavy
@LONG
@given(*deep_cases)
def test_fuzz_deep_nesting_heavy(pristine, depth, kind, target):
    _deep(pristine, depth, kind, target)


def _numbers(pristine, number, where):
    with copy_of(pristine) as d:
        db = d / "ledger.db"
        if where in ("figure", "objective", "supplement", "payment"):
            (d / "e.jsonl").write_text(events_with_number(number, where) + "\n")
            fuzz(f"{where} {number[:30]!r}", db, "publish", str(d / "e.jsonl"))
            return
        company = d / "company"
        if where == "gross":
            f = company / "payroll" / "2025-03.csv"
            rows = f.read_text().splitlines()
            cells = rows[1].split(",")
            cells[1] = json.dumps(number)  # a quoted CSV cell
            rows[1] = ",".join(cells)
            f.write_text("\n".join(rows) + "\n")
        else:
            old = {
                "nao_flat": 'flat = "150.00"',
                "pmt_points": "points = 10\n",
                "validity": "validity_months = 36",
            }[where]
            key = old.split(" =")[0]
            toml = company / "company.toml"
            toml.write_text(toml.read_text().replace(old, f"{key} = {json.dumps(number)}\n", 1))
        fuzz(f"{where} {number[:30]!r}", d / "ledger.db", "load", str(company))


number_cases = (
    numbers,
    st.sampled_from(
        ["figure", "objective", "supplement", "payment", "gross", "nao_flat", "pmt_points", "validity"]
    ),
)


@CI
@given(*number_cases)
def test_fuzz_huge_and_special_numbers(pristine, number, where):
    _numbers(pristine, number, where)


@pytest.mark.heavy
@LONG
@given(*number_cases)
def test_fuzz_huge_and_special_numbers_heavy(pristine, number, where):
    _numbers(pristine, number, where)


def _separators(pristine, target, positions, sep):
    with copy_of(pristine, "fresh.db") as d:
        company = d / "company"
        path = {
            "events": company / "events.jsonl",
            "toml": company / "company.toml",
            "employees": company / "employees.csv",
            "payroll": company / "payroll" / "2025-06.csv",
        }[target]
        text = path.read_text(encoding="utf-8")
        for p in sorted(positions, reverse=True):
            i = p % (len(text) + 1)
            text = text[:i] + sep + text[i:]
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        args = ("publish", str(path)) if target == "events" else ("load", str(company))
        fuzz(f"{sep!r} in {target}", d / "ledger.db", *args)


separator_cases = (
    st.sampled_from(["events", "toml", "employees", "payroll"]),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4),
    st.sampled_from(SEPARATORS),
)


@CI
@given(*separator_cases)
def test_fuzz_unicode_separators_bom_crlf(pristine, target, positions, sep):
    _separators(pristine, target, positions, sep)


@pytest.mark.heavy
@LONG
@given(*separator_cases)
def test_fuzz_unicode_separators_bom_crlf_heavy(pristine, target, positions, sep):
    _separators(pristine, target, positions, sep)


def _ids(pristine, ident, where):
    from paybonus.events import is_name_id

    with copy_of(pristine, "fresh.db") as d:
        company = d / "company"
        db = d / "ledger.db"
        if where == "company":
            toml = company / "company.toml"
            toml.write_text(toml.read_text().replace('id = "DURAND"', f"id = {json.dumps(ident)}", 1))
            code = fuzz(f"company id {ident!r}", db, "load", str(company))
            assert code == 2 or is_name_id(ident)
        elif where == "employee":
            f = company / "employees.csv"
            f.write_text(f.read_text() + f'"{ident}",X,2024-01-01,,ouvrier,siege\n'.replace('""', '"'))
            code = fuzz(f"employee id {ident!r}", db, "load", str(company))
            assert code == 2 or is_name_id(ident.strip())  # a CSV cell is read stripped
        else:
            e = event(
                "period_closed",
                {"period": "2026-01"},
                id_=ident if where == "event" else "fz-1",
                company=ident if where == "event_company" else "DURAND",
            )
            (d / "e.jsonl").write_text(json.dumps(e) + "\n")
            code = fuzz(f"{where} {ident!r}", db, "publish", str(d / "e.jsonl"))
            assert code == 2 or where == "event"


id_cases = (PATH_CHARS, st.sampled_from(["company", "employee", "event", "event_company"]))


@CI
@given(*id_cases)
def test_fuzz_ids_with_path_characters(pristine, ident, where):
    _ids(pristine, ident, where)


@pytest.mark.heavy
@LONG
@given(*id_cases)
def test_fuzz_ids_with_path_characters_heavy(pristine, ident, where):
    _ids(pristine, ident, where)


PLUGIN_MODES = {
    "compute": [
        "ok",
        "hang",
        "hang_swallow",
        "exit0",
        "exit3",
        "interrupt",
        "write",
        "huge",
        "not_int",
        "bad_result",
        "personal",
    ],
    "notify": ["ok", "hang", "exit"],
    "recompute": ["ok", "hang", "exit"],
    "register": ["ok", "int", "list_of_int", "string", "exit"],
}
plugin_cases = st.sampled_from(sorted(PLUGIN_MODES)).flatmap(
    lambda hook: st.tuples(st.just(hook), st.sampled_from(PLUGIN_MODES[hook]))
)


def _plugin(guest, hook, mode):
    from helpers.hostile import cli, count
    from helpers.hostile_plugin import MODE

    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "ledger.db"
        shutil.copy(guest.fresh, db)
        MODE.update({"compute": "ok", "notify": "ok", "recompute": "ok", "register": "ok"})
        MODE[hook] = mode
        try:
            code, out, err = cli("--db", str(db), "publish", str(guest.company / "events.jsonl"))
            ok = "Traceback" not in err
            if hook == "compute":
                ok = ok and (code == 0 if mode == "ok" else code == 1 and "retry" in err)
                dead = json.loads(cli("--db", str(db), "failures", "--format", "json")[1])
                ok = ok and {x["scheme"] for x in dead} <= {"hostile"}
            elif hook == "recompute":
                vcode, _vout, verr = cli("--db", str(db), "audit", "verify")
                ok = ok and code == 0 and vcode == (0 if mode == "ok" else 1) and "Traceback" not in verr
            else:
                ok = ok and code == 0
        finally:
            MODE.update({"compute": "ok", "notify": "ok", "recompute": "ok", "register": "ok"})
        count(f"plugin {hook} {mode}", ok, f"exit {code}: {err[-300:]}", kind="fuzz")
        assert ok, (hook, mode, code, out, err)


@settings(max_examples=max(4, EXAMPLES // 3), deadline=None, suppress_health_check=QUIET, derandomize=True)
@given(plugin_cases)
def test_fuzz_plugins_that_hang_exit_or_write(guest, case):
    _plugin(guest, *case)


@pytest.mark.heavy
@settings(max_examples=max(40, HEAVY // 10), deadline=None, suppress_health_check=QUIET)
@given(plugin_cases)
def test_fuzz_plugins_that_hang_exit_or_write_heavy(guest, case):
    _plugin(guest, *case)


STORED = [
    "",
    "[",
    "{]",
    "7",
    '"x"',
    "[1, 2]",
    "null",
    '{"a": 1}',
    "9" * 400,
    "\u2028",
    "{}",
    "[[[[[[[[]]]]]]]]",
]


def _stored(pristine, data):
    """A ledger altered outside paybonus (any text column of any row): `audit verify` reports it, exit 1, never a
    traceback (a malformed stored payload used to crash it)."""
    import sqlite3

    from helpers.hostile import cli, count

    with copy_of(pristine) as d:
        db = d / "ledger.db"
        con = sqlite3.connect(db)
        with con:
            for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                con.execute(f'DROP TRIGGER "{name}"')
            tables = [
                r[0]
                for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            table = data.draw(st.sampled_from(sorted(tables)))
            cols = [
                r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if r[2].upper() in ("TEXT", "")
            ]
            n = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if not cols or not n:
                return
            col = data.draw(st.sampled_from(cols))
            value = data.draw(st.sampled_from(STORED))
            rowid = data.draw(st.integers(1, n))
            con.execute(f'UPDATE "{table}" SET "{col}" = ? WHERE rowid = ?', (value, rowid))
        con.close()
        code, out, err = cli("--db", str(db), "audit", "verify")
        ok = code in (0, 1, 2) and "Traceback" not in err
        count(f"stored {table}.{col} = {value[:20]!r}", ok, f"exit {code}: {err[-300:]}", kind="fuzz")
        assert ok, (table, col, value, out, err)


@CI
@given(st.data())
def test_fuzz_a_ledger_altered_outside_paybonus(pristine, data):
    _stored(pristine, data)


@pytest.mark.heavy
@LONG
@given(st.data())
def test_fuzz_a_ledger_altered_outside_paybonus_heavy(pristine, data):
    _stored(pristine, data)
