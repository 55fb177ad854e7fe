"""The red team of 2026-12-02: each bad input (an events file, a company file, a ledger, a library argument) ends
with one line naming where and what, exit 2 (a UserError in the library), the ledger untouched."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest
from helpers.hostile import attempt, cli, ledger_digest
from paybonus import Event, Paybonus, UserError
from paybonus.calendar import Period
from paybonus.convert import structure
from paybonus.events import EmployeeLeft, ResultsPublished
from paybonus.plugins.salary.prime_objectif import ObjectiveResults

AT = datetime(2026, 1, 5, 18, tzinfo=timezone(timedelta(hours=1)))

EVIDENCE = (
    '{"company":"DURAND","id":"DURAND-pmt-E0031-tutorat-2","occurred_at":"2025-03-01T09:00:00+01:00",'
    '"payload":{"approved":true,"approver":"APPROVER","criterion":"tutorat","employee":"E0031",'
    '"obtained_on":"2025-03-01","reference":"PMT-E0031-tutorat-2"},"type":"pmt_evidence_recorded"}\n'
)


@pytest.mark.parametrize("text", ["Resp \\ud800 technique", "\\udfff", "\\ud83d"])
def test_a_lone_surrogate_in_an_event_is_refused(work, text):
    """A JSON escape of half a surrogate pair ("\\ud800") was parsed into a string UTF-8 cannot write: the event's
    digest raised UnicodeEncodeError, a traceback."""
    events = work.file("surrogate.jsonl", EVIDENCE.replace("APPROVER", text))
    line = attempt("lone surrogate", work.db, "publish", str(events))
    assert "surrogate.jsonl:1:" in line and "half of a surrogate pair" in line


def test_a_surrogate_pair_is_one_character(work):
    events = work.file("pair.jsonl", EVIDENCE.replace("APPROVER", "Resp \\ud83d\\ude00"))
    code, out, err = cli("--db", str(work.db), "publish", str(events))
    assert code == 0 and "1 recorded" in out, err


def test_a_lone_surrogate_from_python_is_refused():
    with pytest.raises(ValueError, match="half of a surrogate pair"):
        structure("Resp \ud800", str)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('"employee":"E0031"', '"employee":"E0031","employee":"E0030"', "employee"),
        ('"company":"DURAND"', '"company":"DURAND","company":"DURAND"', "company"),  # even the same value
        ('"approved":true', '"approved":true,"approved":false', "approved"),
    ],
)
def test_a_key_given_twice_in_an_event_is_refused(work, old, new, key):
    """json kept the last of two values for one key without a word: which one the payroll meant is unknown (and
    another reader of the same line may keep the first)."""
    events = work.file("twice.jsonl", EVIDENCE.replace("APPROVER", "Resp").replace(old, new, 1))
    line = attempt(f"{key} twice", work.db, "publish", str(events))
    assert f"twice.jsonl:1: {key}: given twice" in line


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("payroll/2025-03.csv", "reconstituted\n", "reconstituted,gross\n"),
        ("employees.csv", "establishment\n", "establishment,contract_end\n"),
        ("absences.csv", "employee_id,kind,start,end", "employee_id,kind,start,end,end"),
    ],
)
def test_a_column_given_twice_is_refused(work, name, old, new):
    """csv's DictReader kept the last of two columns of one name without a word: a payroll file with `gross`
    twice was loaded with the second (here 99 999 € each), whatever the first said."""
    p = work.company / name
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[0]
    extra = {"gross": ",99999.00", "contract_end": ",", "end": ",2025-12-31"}[new.rsplit(",", 1)[1].strip()]
    body = [line.rstrip("\n") + extra + "\n" for line in lines[1:]]
    p.write_text(lines[0].replace(old, new) + "".join(body), encoding="utf-8")
    line = attempt(f"{name} column twice", work.fresh, "load", str(work.company))
    assert f"{name}:1: column" in line and "given twice" in line


def _ledger_rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("occurred_at", "payload", "what"),
    [
        (datetime(2026, 1, 5, 18), EmployeeLeft("E0031", date(2026, 1, 5)), "occurred_at: timestamp"),
        (AT, {"employe": "E0031", "left_on": "2026-01-05"}, "payload.employee: required field missing"),
        (AT, EmployeeLeft(31, date(2026, 1, 5)), "payload.employee: expected a string"),  # type: ignore[arg-type]
        (AT, EmployeeLeft("E0031", 20260105), "payload.left_on: expected a date"),  # type: ignore[arg-type]
        (AT, EmployeeLeft("E0031", date(2026, 1, 5), reason="\ud800"), "payload.reason: \\ud800 is half"),
        (
            "2026-01-05T18:00:00+01:00",
            EmployeeLeft("E0031", date(2026, 1, 5)),
            "occurred_at: expected a datetime",
        ),
    ],
)
def test_an_event_built_wrong_in_python_is_refused_before_it_is_recorded(work, occurred_at, payload, what):
    """An Event built in Python was recorded as given: a naive `occurred_at` (stored without its time zone, which
    no later comparison with the others' accepts), a payload dict (recorded, then the scheme failed on it: a dead
    letter `paybonus retry` could never clear), a field of the wrong type; a lone surrogate was a traceback."""
    before = ledger_digest(work.db)
    with Paybonus.open(work.db) as app, pytest.raises(UserError) as e:
        app.publish([Event("DURAND-left-E0031", "employee_left", "DURAND", occurred_at, payload)])
    assert e.value.where == "event DURAND-left-E0031" and str(e.value.what).startswith(what)
    assert ledger_digest(work.db) == before


@pytest.mark.parametrize(
    ("occurred_at", "payload", "what"),
    [
        (datetime(2026, 1, 5, 18), EmployeeLeft("E0031", date(2026, 1, 5)), "occurred_at: timestamp"),
        (AT, {"employe": "E0031", "left_on": "2026-01-05"}, "payload.employee: required field missing"),
    ],
)
def test_an_event_built_wrong_in_python_given_as_a_pair_is_refused_too(work, occurred_at, payload, what):
    """`publish` takes (where, event) pairs too (review finding): those not read by `read_events` were recorded
    unchecked, the naive time stored, the dict payload a dead letter. They are checked, named by their `where`."""
    before = ledger_digest(work.db)
    event = Event("DURAND-left-E0031", "employee_left", "DURAND", occurred_at, payload)
    with Paybonus.open(work.db) as app, pytest.raises(UserError) as e:
        app.publish([("mine", event)])
    assert e.value.where == "mine" and str(e.value.what).startswith(what)
    assert ledger_digest(work.db) == before


LEFT_LINE = (
    '{"id":"DURAND-left-E0031","type":"employee_left","company":"DURAND",'
    '"occurred_at":"2026-01-05T18:00:00+01:00","payload":{"employee":"E0031","left_on":"2026-01-05"}}\n'
)


def test_pairs_read_by_read_events_are_published_as_read(work, tmp_path):
    """Pairs of `read_events` were checked as their lines were read: published as they are, named by file and
    line if admission refuses one."""
    line = (
        '{"id":"DURAND-left-E0031","type":"employee_left","company":"DURAND",'
        '"occurred_at":"2026-01-05T18:00:00+01:00","payload":{"employee":"E0031","left_on":"2026-01-05"}}\n'
    )
    (tmp_path / "e.jsonl").write_text(line, encoding="utf-8")
    with Paybonus.open(work.db) as app:
        pairs = app.read_events(tmp_path / "e.jsonl")
        assert pairs[0][0].endswith("e.jsonl:1")
        summary = app.publish(pairs)
    assert [o.event_id for o in summary.outcomes] == ["DURAND-left-E0031"]


@pytest.mark.parametrize("how", ["+=", "append", "replace"])
def test_a_pair_built_in_python_added_to_read_events_is_checked_too(work, tmp_path, how):
    """The mark of a checked pair was the list `read_events` returned (review5): a pair built in Python added to
    it (`+=`, `append`) or put in place of one of its pairs was recorded unchecked, its naive time stored."""
    (tmp_path / "e.jsonl").write_text(LEFT_LINE, encoding="utf-8")
    before = ledger_digest(work.db)
    naive = Event(
        "DURAND-left-E0030",
        "employee_left",
        "DURAND",
        datetime(2026, 1, 5, 18),
        EmployeeLeft("E0030", date(2026, 1, 5)),
    )
    with Paybonus.open(work.db) as app, pytest.raises(UserError) as e:
        pairs = app.read_events(tmp_path / "e.jsonl")
        if how == "+=":
            pairs += [("mine", naive)]
        elif how == "append":
            pairs.append(("mine", naive))
        else:
            pairs[0] = ("mine", naive)
        app.publish(pairs)
    assert e.value.where == "mine" and str(e.value.what).startswith("occurred_at: timestamp")
    assert ledger_digest(work.db) == before


def test_read_pairs_are_not_checked_again_in_a_slice_or_one_by_one(work, tmp_path, monkeypatch):
    """A slice of `read_events`' list, or one pair of it (the worker's `_one_by_one`), is published as read."""
    (tmp_path / "e.jsonl").write_text(LEFT_LINE, encoding="utf-8")
    with Paybonus.open(work.db) as app:
        pairs = app.read_events(tmp_path / "e.jsonl")
        monkeypatch.setattr(app, "_as_read", lambda *a: pytest.fail("checked again"))
        assert app.publish(pairs[:1]).counts["recorded"] == 1
        assert app.publish([pairs[0]]).counts["duplicates"] == 1


YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))


@pytest.mark.parametrize(
    ("etype", "payload", "what"),
    [
        ("results_published", ResultsPublished(YEAR, ["rcai"]), "payload.figures: expected dict"),  # type: ignore[arg-type]
        (
            "objective_results",
            ObjectiveResults("P", YEAR, employees=None),
            "payload.employees: expected dict",
        ),  # type: ignore[arg-type]
        (
            "objective_results",
            ObjectiveResults("P", YEAR, employees={"E0031": [1]}),  # type: ignore[dict-item]
            "payload.employees: expected dict",
        ),
    ],
)
def test_an_event_built_in_python_with_a_dict_field_of_another_type_is_refused(work, etype, payload, what):
    """A payload field typed as a dict (figures, employees) given None or a list: writing the event as its JSON
    line ended `publish` in a traceback (AttributeError: no attribute 'items'), not a UserError naming the field."""
    before = ledger_digest(work.db)
    with Paybonus.open(work.db) as app, pytest.raises(UserError) as e:
        app.publish([Event("R", etype, "DURAND", AT, payload)])
    assert e.value.where == "event R" and str(e.value.what).startswith(what), e.value.what
    assert ledger_digest(work.db) == before


def test_an_event_built_in_python_with_its_fields_as_text_is_read_as_its_json_line(work):
    events = _ledger_rows(work.db)
    with Paybonus.open(work.db) as app:
        done = app.publish(
            [Event("L", "employee_left", "DURAND", AT, {"employee": "E0031", "left_on": "2026-01-05"})]
        )
        assert done.counts["recorded"] == 1 and not done.failed
        [stored] = [e for e in app.view.events("DURAND", "employee_left") if e.id == "L"]
    assert stored.payload == EmployeeLeft("E0031", date(2026, 1, 5))
    assert _ledger_rows(work.db) == events + 1


def _newer(db):
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('paybonus', 'm099_from_the_future', '2027-01-01')"
        )
    con.close()


@pytest.mark.parametrize(
    "args",
    [
        ("entitlements",),
        ("init",),
        ("publish", "EVENTS"),
        ("audit", "verify"),
    ],
)
def test_a_ledger_upgraded_by_a_newer_version_is_refused(work, args):
    """A ledger a newer paybonus upgraded (a migration this version does not know) was opened and written as if it
    were this version's: rows the newer schema does not expect, checks it added skipped."""
    _newer(work.db)
    args = tuple(str(work.company / "events.jsonl") if a == "EVENTS" else a for a in args)
    line = attempt(f"newer ledger {args[0]}", work.db, *args)
    assert "upgraded by a newer paybonus (its migration m099_from_the_future is unknown to paybonus" in line


PASS = '[pass_annual]\nlabel = "PASS"\nunit = "cents"\nlaw = "LAW 0.1"\nsource = "test"\n'
TMOP = (
    '[tmop]\nlabel = "TMOP"\nunit = "rate"\nlaw = "LAW 0.5"\nsource = "test"\n'
    'values = [{ semester = "2026-S1", jo = JO, from = FROM, value = "0.03" }]\n'
)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (PASS + "values = [{ from = 2027-01-01T00:00:00, value = 4900000 }]\n", "'from' must be a date"),
        (
            PASS + "values = [{ from = 2027-01-01 00:00:00+01:00, value = 4900000 }]\n",
            "'from' must be a date",
        ),
        (
            PASS + "values = [{ from = 2027-01-01, until = 2027-12-31T23:59:59, value = 4900000 }]\n",
            "'until' must be a date",
        ),
        (TMOP.replace("JO", "2026-09-10T12:00:00").replace("FROM", "2026-09-11"), "'jo' must be a date"),
    ],
)
def test_a_legal_parameter_dated_with_a_time_is_refused(work, text, what):
    """TOML has date-times: a `from` written 2027-01-01T00:00:00 passed the check for a date (a datetime is a date
    in Python) and the first comparison with a day ended in a TypeError traceback."""
    p = work.file("params.toml", text)
    line = attempt("params datetime", work.db, "--params", str(p), "entitlements", "--company", "DURAND")
    assert "params.toml: [" in line and what in line


@pytest.mark.parametrize(
    "values",
    [
        "{ from = 2027-01-01, value = 4900000 }, { from = 2027-01-01, value = 9900000 }",
        "{ from = 2026-01-01, value = 4806000 }, { from = 2026-01-01, until = 2026-06-30, value = 4806000 }",
    ],
)
def test_two_values_of_a_legal_parameter_from_one_day_are_refused(work, values):
    """Two values of the PASS from the same day in one `--params` file: the last one was used without a word (a
    PASS of 99 000 € for 2027 raises every cap computed from it), whichever the vendor meant."""
    p = work.file("params.toml", PASS + f"values = [{values}]\n")
    line = attempt("params from twice", work.db, "--params", str(p), "entitlements", "--company", "DURAND")
    assert "params.toml: [pass_annual]" in line and "given twice" in line


def test_a_demo_ledger_of_a_newer_version_is_named_so_not_called_no_ledger(work):
    """`paybonus demo` on its own ledger left by a newer paybonus said it "holds (not a paybonus ledger)": it is a
    ledger, of a newer version, and --force replaces it."""
    _newer(work.db)
    line = attempt("demo on a newer ledger", work.db, "demo", "--db", str(work.db))
    assert (
        "upgraded by a newer paybonus" in line and "--force" in line and "not a paybonus ledger" not in line
    )


def test_a_long_key_given_twice_is_named_in_one_short_line():
    """The key of a repeated pair is shown shortened and escaped: a 5 000-character key or one holding a newline
    gave a message as long, or of two lines (review finding)."""
    from paybonus.parsing import load_json

    for key in ("k" * 5000, "a\nb"):
        with pytest.raises(ValueError) as e:
            load_json(
                f'{{"{key.encode("unicode_escape").decode()}": 1, "{key.encode("unicode_escape").decode()}": 2}}'
            )
        assert "\n" not in str(e.value) and len(str(e.value)) < 120
