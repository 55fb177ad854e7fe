"""Red team of 2026-12-02 (cents12): an integer-cent amount written `100.00`, `1e2` or `100.0` was read as 100 cents.

Whoever writes `100.00` for an amount in cents almost surely meant euros (10 000 cents): a JSON number with a
decimal point or an exponent is refused for an integer field, with one line naming the file, line and field,
exit 2, and the ledger untouched. `true` is no 1 either. A JSON integer (`100`) is read as before.

Entry points: an events file and standard input (`paybonus publish`), a broker message (the worker reads it with
the same `read_jsonl`), an Event built in Python (`Paybonus.publish`), `company.toml`'s integer keys, the
`--params` file's cents and counts, and the intéressement de projet measures and statement files.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from helpers.hostile import attempt, cli, ledger_digest
from helpers.projects import ISSUED, YEAR, agreement
from paybonus import Event, Paybonus, UserError
from paybonus.events import PaymentRecorded
from paybonus.host import load_plugins
from paybonus.params import Parameters
from paybonus.plugins.interessement.projet.statement import (
    Measure,
    build,
    content_hash,
    read_measures,
    verify,
)

NOT_INTEGERS = ["100.00", "100.0", "1e2", "1E2", "1.0e2", "100.5", "-0.0", "true"]
AT = datetime(2026, 2, 1, 10, tzinfo=timezone(timedelta(hours=1)))


def line(type_: str, payload: dict, id_: str = "cents-1") -> str:
    """One event as a JSON line; a payload value given as `RAW(text)` is written as that JSON text as is."""
    raw = {k: f"@raw-{k}@" if isinstance(v, RAW) else v for k, v in payload.items()}
    text = json.dumps(
        {
            "id": id_,
            "type": type_,
            "company": "DURAND",
            "occurred_at": "2026-02-01T10:00:00+01:00",
            "payload": raw,
        }
    )
    for key, value in payload.items():
        if isinstance(value, RAW):
            text = text.replace(f'"@raw-{key}@"', value.text, 1)
    return text + "\n"


class RAW:
    def __init__(self, text: str) -> None:
        self.text = text


def supplement(amount: str) -> str:
    return line(
        "supplement_decided", {"exercise": "2025", "amount_cents": RAW(amount), "decided_on": "2026-02-01"}
    )


# -- the command, end to end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", NOT_INTEGERS)
def test_a_supplement_of_100_00_cents_is_refused_not_recorded_as_100_cents(work, amount):
    """Before: `"amount_cents": 100.00` was read as 100 cents, recorded and distributed (30 entitlements, exit 0)."""
    f = work.file("supplement.jsonl", supplement(amount))
    before = ledger_digest(work.db)
    code, out, err = cli("--db", str(work.db), "publish", str(f))
    assert code == 2, (code, out, err)
    assert ledger_digest(work.db) == before
    errors = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    shown = "True" if amount == "true" else str(Decimal(amount))
    assert errors[0].startswith(
        f"error: {f}:1: payload.amount_cents: expected an integer number of cents, got {shown}"
    ), errors[0]


def test_the_one_line_says_what_100_00_euros_would_be_in_cents(work):
    f = work.file("supplement.jsonl", supplement("100.00"))
    message = attempt("supplement 100.00", work.db, "publish", str(f))
    assert message == (
        f"error: {f}:1: payload.amount_cents: expected an integer number of cents, got 100.00 (a number with a "
        "decimal point or an exponent; 100.00 € is 10000 cents)"
    )


def test_standard_input_is_read_the_same(work):
    message = attempt("supplement 1e2 on stdin", work.db, "publish", "-", stdin=supplement("1e2"))
    assert message.startswith(
        "error: -:1: payload.amount_cents: expected an integer number of cents, got 1E+2"
    )
    assert message.endswith("(a number with a decimal point or an exponent; 100.00 € is 10000 cents)")


def test_the_real_command_refuses_100_00_cents_with_exit_2(work):
    """End to end, in its own process: exit 2, one line on stderr, nothing recorded."""
    from helpers.cli import run

    f = work.file("supplement.jsonl", supplement("100.00"))
    before = ledger_digest(work.db)
    r = run("--db", str(work.db), "--log-level", "error", "publish", str(f), cwd=work.dir)
    assert r.returncode == 2, r
    assert r.stderr.strip().splitlines() == [
        f"error: {f}:1: payload.amount_cents: expected an integer number of cents, got 100.00 (a number with a "
        "decimal point or an exponent; 100.00 € is 10000 cents)"
    ], r.stderr
    assert ledger_digest(work.db) == before


def test_a_json_integer_is_still_read_as_cents(work):
    f = work.file("supplement.jsonl", supplement("10000"))
    code, out, err = cli("--db", str(work.db), "publish", str(f))
    assert code == 0 and "1 recorded" in out, err


@pytest.mark.parametrize(
    ("type_", "payload", "field"),
    [
        (
            "payment_recorded",
            {"entitlement": "ENT-x", "amount_cents": RAW("100.00"), "paid_on": "2026-02-01"},
            "amount_cents",
        ),
        (
            "option_chosen",
            {
                "entitlement": "ENT-x",
                "choice": "split",
                "chosen_on": "2026-02-01",
                "placed_cents": RAW("5e3"),
            },
            "placed_cents",
        ),
        (
            "interessement_advance_granted",
            {
                "employee": "E0004",
                "period": "2025",
                "amount_cents": RAW("100.0"),
                "pay_on": "2025-06-30",
                "consented_on": "2025-06-01",
            },
            "amount_cents",
        ),
        (
            "interessement_overpayment_recovered",
            {
                "entitlement": "ENT-x",
                "amount_cents": RAW("100"),
                "recovered_on": "2026-02-01",
                "net_pay_cents": RAW("180000.00"),
            },
            "net_pay_cents",
        ),
    ],
)
def test_every_cents_field_of_an_event_refuses_a_decimal(work, type_, payload, field):
    f = work.file("cents.jsonl", line(type_, payload))
    message = attempt(f"{type_} {field}", work.db, "publish", str(f))
    assert f"cents.jsonl:1: payload.{field}: expected an integer number of cents, got " in message, message


# -- each entry point, as a unit --------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", NOT_INTEGERS)
def test_read_jsonl_refuses_a_decimal_for_cents(amount):
    """The one reader of events: `publish` (a file, standard input) and the worker's broker messages."""
    types = load_plugins(entry_points=False).event_types
    with pytest.raises(UserError) as info:
        types.read_jsonl("message m-1", supplement(amount))
    assert info.value.where == "message m-1:1"
    assert "payload.amount_cents: expected an integer number of cents" in str(info.value)


def test_read_jsonl_keeps_a_json_integer():
    types = load_plugins(entry_points=False).event_types
    [(_, event)] = types.read_jsonl("e.jsonl", supplement("10000"))
    assert event.payload.amount_cents == 10000 and type(event.payload.amount_cents) is int


@pytest.mark.parametrize("amount", [Decimal("100"), Decimal("100.00"), Decimal("1E+2"), True, 100.0])
def test_an_event_built_in_python_refuses_a_non_integer_amount(work, amount):
    """`Paybonus.publish` checks an Event built in Python as its JSON line would be: Decimal('100') is no int."""
    before = ledger_digest(work.db)
    app = Paybonus.open(work.db)
    try:
        event = Event("p-1", "payment_recorded", "DURAND", AT, PaymentRecorded("ENT-x", amount, AT.date()))
        with pytest.raises(
            UserError, match=r"^event p-1: payload\.amount_cents: expected an integer number of"
        ):
            app.publish([event])
    finally:
        app.close()
    assert ledger_digest(work.db) == before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("seniority_months = 3", "seniority_months = 3.0"),
        ("seniority_months = 3", "seniority_months = 3e0"),
        ("seniority_months = 3", "seniority_months = true"),
        ("headcount = 32", "headcount = 32.0"),
    ],
)
def test_company_toml_integer_keys_refuse_a_decimal(work, old, new):
    """TOML reads `3.0` as a float: it was refused already; kept so."""
    message = attempt(new, work.fresh, "load", str(work.toml(old, new)))
    assert "company.toml" in message and "expected an integer" in message, message


CENTS = '[pass_annual]\nlabel = "PASS"\nunit = "cents"\nlaw = "LAW 0.1"\nsource = "test"\n'


@pytest.mark.parametrize("value", ["4806000.0", "4.806e6", "true", '"4806000"'])
def test_params_cents_refuse_a_decimal(work, value):
    p = work.file("params.toml", CENTS + f"values = [{{ from = 2026-01-01, value = {value} }}]\n")
    message = attempt(value, work.db, "--params", str(p), "entitlements", "--company", "DURAND")
    assert "params.toml: [pass_annual] values[0]: a cents value must be an integer" in message, message


def _measures_file(payroll: object) -> dict:
    ag = agreement("payroll")
    e = ag.entities[0]
    window = ag.window(e, YEAR)
    assert window is not None
    return {
        "format": "paybonus-project-measures/1",
        "project": ag.id,
        "agreement_digest": ag.digest(),
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "measures": [
            {
                "entity": e.id,
                "company": e.company,
                "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
                "headcount_days": None,
                "payroll_cents": payroll,
            }
        ],
    }


@pytest.mark.parametrize("payroll", [Decimal("40000000.0"), Decimal("4E+7"), True])
def test_project_measures_refuse_a_decimal_for_cents(payroll):
    with pytest.raises(
        ValueError, match=r"measures\[0\]\.payroll_cents: expected an integer number of cents"
    ):
        read_measures(_measures_file(payroll), agreement("payroll"), YEAR)
    assert (
        read_measures(_measures_file(40_000_000), agreement("payroll"), YEAR)[0].payroll_cents == 40_000_000
    )


def _statement() -> dict:
    ag = agreement()
    sizes = {"ALPHA": (1401, 40_000_000), "MEGA-LYON": (730, 8_040_000), "BETA-RD": (306, 3_720_000)}
    measures = {}
    for e in ag.entities:
        window = ag.window(e, YEAR)
        if window is not None:
            measures[e.id] = Measure(e.id, e.company, window, *sizes[e.id])
    figures = {"completion": Decimal("0.9"), "delay_days": Decimal("15"), "quality": Decimal("0.95")}
    return build(ag, YEAR, figures, measures, ISSUED)


@pytest.mark.parametrize(
    ("key", "value"),
    [("pool_cents", lambda v: Decimal(v).quantize(Decimal("0.01"))), ("weight", lambda v: Decimal(f"{v}.0"))],
)
def test_a_rehashed_project_statement_with_decimal_cents_is_refused(key, value):
    """`verify` compared the statement with its recomputation by `==`, and Decimal('2125000.00') == 2125000: a
    statement written with decimals (re-hashed) was accepted, its parts Decimals."""
    forged = copy.deepcopy(_statement())
    forged["entities"][0][key] = value(forged["entities"][0][key])
    forged["hash"] = content_hash(forged)
    with pytest.raises(
        ValueError,
        match=rf"^entities\[0\]\.{key}: expected an integer( number of cents)?, got [0-9.]+ \(a number with a decimal",
    ):
        verify(forged, Parameters.default())


def test_a_rehashed_project_statement_with_false_for_0_is_refused():
    forged = _statement()
    assert forged["undistributed_cents"] == 0
    forged["undistributed_cents"] = False
    forged["hash"] = content_hash(forged)
    with pytest.raises(
        ValueError, match=r"^undistributed_cents: expected an integer number of cents, got False$"
    ):
        verify(forged, Parameters.default())


def test_project_import_refuses_a_decimal_pool_in_one_line(work):
    forged = _statement()
    forged["entities"][0]["pool_cents"] = Decimal(forged["entities"][0]["pool_cents"]).quantize(
        Decimal("0.01")
    )
    forged["hash"] = content_hash(forged)
    from paybonus.events import canonical_json

    text = canonical_json(forged)
    entity = json.loads(text)["entities"][0]
    text = text.replace(json.dumps(entity["pool_cents"]), entity["pool_cents"], 1)  # 2125000.00, unquoted
    f = work.file("statement.json", text)
    message = attempt("project statement 2125000.00", work.db, "project", "import", str(f))
    assert message == (
        f"error: {f}: entities[0].pool_cents: expected an integer number of cents, got {entity['pool_cents']} (a "
        f"number with a decimal point or an exponent; {entity['pool_cents']} € is "
        f"{int(Decimal(entity['pool_cents']) * 100)} cents)"
    ), message


# -- DSN: its amounts are euros with decimals (DSN.md), read as they were; its line count is an integer ---------


@pytest.mark.parametrize("count", ["\u00b2", "\u0661\u0666\u0661", "161.0", "1.61e2", "+161", " 161"])
def test_a_dsn_line_count_not_in_ascii_digits_is_refused_in_one_line(work, count):
    """S90.G00.90.001 (the declaration's line count): '²' passed `str.isdigit()` and `int()` raised, a traceback;
    '١٦١' (Arabic-Indic digits) was read as 161."""
    from pathlib import Path

    sample = Path(__file__).parents[1] / "data" / "dsn" / "sample_dsn_P25V01.dsn"
    text = sample.read_text(encoding="utf-8")
    assert "S90.G00.90.001,'161'" in text
    f = work.file("bad.dsn", text.replace("S90.G00.90.001,'161'", f"S90.G00.90.001,'{count}'", 1))
    message = attempt(f"DSN count {count!r}", work.db, "dsn", str(f), "--company", "DURAND")
    assert "bad.dsn:" in message and "S90.G00.90.001: the declaration has 161 lines, it says" in message
