"""Bad input, fuzzed: every case ends with exit 0 or 2 and one line, never a traceback; a 2 writes nothing."""

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
from decimal import Decimal

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus.cli import main
from paybonus.fixtures import sample_dir
from paybonus.formulas import Formula, FormulaError

EXAMPLES = int(os.environ.get("PAYBONUS_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def cli(*args):
    """Run the command in this process; returns (exit code, stderr)."""
    saved = structlog.get_config()
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(args))
    except SystemExit as exc:  # pragma: no cover - main() returns codes; a SystemExit would be a bug
        code = exc.code
    finally:
        structlog.configure(**saved)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(sample_dir(), d / "company")
    db = str(d / "pristine.db")
    assert cli("--db", db, "init")[0] == 0
    assert cli("--db", db, "load", str(d / "company"))[0] == 0
    assert cli("--db", db, "publish", str(d / "company" / "events.jsonl"))[0] == 0
    return d


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def check_outcome(code, err, db, before):
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert digest(db) == before


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
BASE_EVENT = {
    "id": "fz-1",
    "type": "period_closed",
    "company": "DURAND",
    "occurred_at": "2026-02-05T18:00:00+01:00",
    "payload": {"period": {"start": "2026-01-01", "end": "2026-01-31"}},
}


@st.composite
def bad_event_lines(draw):
    kind = draw(st.sampled_from(["mutate", "drop", "add", "text", "type"]))
    e = json.loads(json.dumps(BASE_EVENT))
    if kind == "text":
        return draw(st.text(max_size=80)).replace("\n", " ") or "{"
    if kind == "drop":
        e.pop(draw(st.sampled_from(sorted(e))))
    elif kind == "add":
        e[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    elif kind == "type":
        e["type"] = draw(
            st.sampled_from(
                [
                    "payment_recorded",
                    "results_published",
                    "employee_left",
                    "option_chosen",
                    "statement_issued",
                    "objective_results",
                    "pmt_evidence_recorded",
                    "bogus",
                ]
            )
        )
        e["payload"] = draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "period",
                        "entitlement",
                        "amount_cents",
                        "paid_on",
                        "figures",
                        "employee",
                        "left_on",
                        "plan",
                        "criterion",
                        "choice",
                    ]
                ),
                json_values,
                max_size=4,
            )
        )
    else:
        path = draw(
            st.sampled_from(
                ["id", "company", "occurred_at", "payload", "payload.period", "payload.period.start"]
            )
        )
        target, *rest = path.split(".")
        if not rest:
            e[target] = draw(json_values)
        elif len(rest) == 1:
            e["payload"][rest[0]] = draw(json_values)
        else:
            e["payload"]["period"]["start"] = draw(json_values)
    return json.dumps(e)


@FUZZ
@given(bad_event_lines())
def test_fuzzed_events(pristine, line):
    db = pristine / "work.db"
    shutil.copy(pristine / "pristine.db", db)
    (pristine / "fuzz.jsonl").write_text(line + "\n", encoding="utf-8")
    before = digest(db)
    code, err = cli("--db", str(db), "publish", str(pristine / "fuzz.jsonl"))
    check_outcome(code, err, db, before)


AGREEMENT_KEYS = [
    "formula",
    "period_months",
    "seniority_months",
    "reliquat",
    "starts_on",
    "part_time",
    "figures",
    "presence_conditions",
    "prorate_cap_by_presence",
    "signed_on",
    "colour",
]
toml_values = st.one_of(
    st.integers(-5, 40).map(str),
    st.sampled_from(
        [
            '"keep"',
            '"redistribute"',
            "true",
            "2025-13-01",
            "2025-02-01",
            '["x"]',
            '"0.5"',
            "[]",
            "\"__import__('os')\"",
            '"rcai ** 99999"',
            '"' + "max(0, " * 60 + "1" + ")" * 60 + '"',
            '"9' + "9" * 60 + '"',
            '"rcai.__class__"',
            '"[x for x in (1,)]"',
            '"lambda: 1"',
        ]
    ),
    st.text(alphabet="abcrai_()+-*/.0123456789 ,[]", max_size=30).map(lambda t: json.dumps(t)),
)


@FUZZ
@given(st.sampled_from(AGREEMENT_KEYS), toml_values)
def test_fuzzed_company_configuration(pristine, key, value):
    company = pristine / "cfg"
    shutil.rmtree(company, ignore_errors=True)
    shutil.copytree(pristine / "company", company)
    text = (company / "company.toml").read_text(encoding="utf-8")
    head, rest = text.split("[schemes.interessement]\n", 1)
    lines = [line for line in rest.split("\n") if not line.startswith(f"{key} =")]
    (company / "company.toml").write_text(
        head + "[schemes.interessement]\n" + f"{key} = {value}\n" + "\n".join(lines), encoding="utf-8"
    )
    db = pristine / "work.db"
    shutil.copy(pristine / "pristine.db", db)
    before = digest(db)
    code, err = cli("--db", str(db), "load", str(company))
    check_outcome(code, err, db, before)
    loaded = code
    code, err = cli("--db", str(db), "lint", str(company))
    assert "Traceback" not in err
    if loaded == 2:  # refused by load: lint reports it (1, the rule broken or load's words) or refuses it (2)
        assert code in (1, 2), err
        if code == 2:
            assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    else:  # a configuration load accepts is judged (0 lawful, 1 findings), never refused
        assert code in (0, 1), err


@FUZZ
@given(
    st.integers(0, 30),
    st.integers(0, 6),
    st.text(max_size=12).map(lambda t: t.replace("\n", "").replace("\r", "")),
)
def test_fuzzed_payroll_cells(pristine, row, col, value):
    company = pristine / "pay"
    shutil.rmtree(company, ignore_errors=True)
    shutil.copytree(pristine / "company", company)
    f = company / "payroll" / "2025-06.csv"
    lines = f.read_text(encoding="utf-8").splitlines()
    r = 1 + row % (len(lines) - 1)
    cells = lines[r].split(",")
    cells[col % len(cells)] = value.replace(",", ";")
    lines[r] = ",".join(cells)
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = pristine / "work.db"
    shutil.copy(pristine / "pristine.db", db)
    before = digest(db)
    code, err = cli("--db", str(db), "load", str(company))
    check_outcome(code, err, db, before)


ATTACKS = [
    "__import__('os').system('echo pwned')",
    "open('/etc/passwd').read()",
    "rcai.__class__.__mro__",
    "(lambda: 1)()",
    "[x for x in range(10**9)]",
    "{x: 1 for x in [1]}",
    "rcai ** 10 ** 10",
    "9 ** 9 ** 9",
    "max(" * 500 + "1" + ")" * 500,
    "(" * 5000 + "1" + ")" * 5000,
    "1" * 10_000,
    "1" + "+1" * 3000,
    "rcai if 1 else eval",
    "getattr(rcai, 'x')",
    "globals()",
    "rcai @ rcai",
    "not_a_figure",
    "yield 1",
    "await rcai",
    "'a' * 10**9",
]


@pytest.mark.parametrize("src", ATTACKS, ids=range(len(ATTACKS)))
def test_formula_attacks_are_refused(src):
    with pytest.raises(FormulaError):
        Formula.parse(src, {"rcai"})


@settings(
    max_examples=EXAMPLES * 5, deadline=1000
)  # each case must end well within a second (a fuzzer guard)
@given(st.text(alphabet="rcai0123456789.+-*/()[], <>=!_ maxinstepbkd", max_size=200))
def test_fuzzed_formulas_parse_or_refuse_quickly(src):
    try:
        f = Formula.parse(src, {"rcai"})
    except FormulaError as exc:
        assert str(exc), src  # a refusal says why
        return
    figures = {"rcai": Decimal("123456.78")}
    try:
        value, trace = f.evaluate(figures, lambda n, k: Decimal(1))
    except FormulaError as exc:
        assert str(exc), src
        return
    # an accepted formula gives one finite exact amount, the same every time, and a trace of what it applied
    assert isinstance(value, Decimal) and value.is_finite(), (src, value)
    assert isinstance(trace, list) and all(isinstance(t, str) for t in trace)
    assert f.evaluate(figures, lambda n, k: Decimal(1))[0] == value


def test_formula_attacks_open_no_file_start_no_process_and_import_nothing():
    """The formula language is not Python: parsing and evaluating the attacks above leaves no trace in the
    interpreter (audit hooks see every file opened, process started, code executed or module imported)."""
    seen: list[str] = []
    watching = [False]
    watched = ("open", "os.system", "os.exec", "os.posix_spawn", "subprocess.Popen", "exec", "import")

    def hook(event, args):
        if watching[0] and event in watched:
            seen.append(event)

    Formula.parse("max(0, rcai)", {"rcai"}).evaluate({"rcai": Decimal(1)})  # whatever it imports, before
    sys.addaudithook(hook)  # cannot be removed: it only records while `watching`
    watching[0] = True
    try:
        for src in ATTACKS:
            with contextlib.suppress(FormulaError):
                Formula.parse(src, {"rcai"}).evaluate({"rcai": Decimal(1)}, lambda n, k: Decimal(1))
    finally:
        watching[0] = False
    assert seen == []
