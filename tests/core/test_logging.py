"""Logs carry stable event names and ids, never names, NIR, salaries or per-person amounts."""

import json
import sqlite3

from helpers.cli import run, sample_copy
from paybonus.logs import redact_personal_data


def test_a_whole_demo_run_logs_no_personal_data(tmp_path):
    company = sample_copy(tmp_path / "durand")
    env = {}
    assert run("init", cwd=tmp_path).returncode == 0
    logs = []
    for args in (
        ["load", str(company)],
        ["publish", str(company / "events.jsonl")],
        ["audit", "verify"],
        ["entitlements", "--format", "json"],
    ):
        r = run("--log-format", "json", "--log-level", "debug", *args, cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stderr
        logs += [line for line in r.stderr.splitlines() if line.startswith("{")]
    events = [json.loads(line) for line in logs]
    names = {e["event"] for e in events}
    assert {"bus.event.recorded", "bus.dispatch.completed", "audit.chain.head", "company.loaded"} <= names
    text = "\n".join(logs)
    conn = sqlite3.connect(tmp_path / "paybonus.db")
    people = [r[0] for r in conn.execute("SELECT DISTINCT display_name FROM contracts")]
    amounts = [
        r[0]
        for r in conn.execute("SELECT DISTINCT amount_cents FROM entitlements WHERE amount_cents >= 1000")
    ]
    salaries = [
        r[0] for r in conn.execute("SELECT DISTINCT gross_cents FROM pay_lines WHERE gross_cents >= 1000")
    ]
    assert people and amounts and salaries
    for name in people:
        assert name not in text and name.split()[-1] not in text
    for cents in amounts + salaries:
        for form in (str(cents), f"{cents // 100}.{cents % 100:02d}"):
            assert f'"{form}"' not in text and f":{form}," not in text and f":{form}}}" not in text, form
    for e in events:
        assert all(
            k in {"event", "level", "timestamp"} or not k.endswith(("cents", "salary", "name")) for k in e
        )


def test_the_processor_drops_personal_keys_and_masks_nir():
    out = redact_personal_data(
        None,
        "info",
        {
            "event": "x",
            "employee": "E1",
            "amount_cents": 5,
            "display_name": "Léa",
            "gross": 3,
            "count": 2,
            "note": "NIR 1850578006048 22 given",
            "base_salary": 1,
            "scheme_name": "ok",
        },
    )
    assert out == {
        "event": "x",
        "employee": "E1",
        "count": 2,
        "note": "NIR [NIR] 22 given",
        "scheme_name": "ok",
    }


EMBEDDED = """
import sys, tempfile
from pathlib import Path
{setup}
from paybonus import Paybonus
from paybonus.fixtures import sample_dir

with tempfile.TemporaryDirectory() as tmp, Paybonus.create(Path(tmp) / "l.db") as app:
    app.load_company(sample_dir())
    app.publish(sample_dir() / "events.jsonl")
    app.check_deadlines(__import__("datetime").date(2027, 1, 1))
print("DONE")
"""


def _embedded(tmp_path, setup: str):
    import subprocess
    import sys

    f = tmp_path / "host.py"
    f.write_text(EMBEDDED.format(setup=setup), encoding="utf-8")
    return subprocess.run([sys.executable, str(f)], capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_the_library_is_silent_when_the_host_configures_no_logging(tmp_path):
    r = _embedded(tmp_path, "")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "DONE\n" and r.stderr == ""


def test_a_host_that_configures_standard_logging_receives_the_events(tmp_path):
    r = _embedded(tmp_path, "import logging; logging.basicConfig(level=logging.INFO, stream=sys.stderr)")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "DONE\n"
    assert "INFO:paybonus.bus:bus.event.recorded" in r.stderr
    assert "WARNING:paybonus.deadlines:deadline.overdue" in r.stderr
    assert "amount_cents" not in r.stderr and "Durand" not in r.stderr


def test_a_host_that_configures_structlog_receives_the_events(tmp_path):
    setup = (
        "import structlog; structlog.configure(processors=[structlog.processors.JSONRenderer()], "
        "logger_factory=structlog.PrintLoggerFactory(sys.stderr))"
    )
    r = _embedded(tmp_path, setup)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "DONE\n"
    names = {json.loads(line)["event"] for line in r.stderr.splitlines()}
    assert {"bus.event.recorded", "bus.dispatch.completed", "deadline.overdue"} <= names


def test_configured_lines_are_structlogs_own_and_a_host_may_configure_it_again():
    """paybonus's loggers run configure()'s processors themselves (no bound logger per line): the same lines as
    structlog would print; a level below the configured one builds nothing; a host that configures structlog
    afterwards receives the events in its own pipeline."""
    import io

    import structlog
    from paybonus import logs

    buf = io.StringIO()
    logs.configure("json", "info", stream=buf)
    log = logs.get_logger("paybonus.test")
    log.debug("test.hidden", company="C")
    log.info("test.shown", company="C", salary=123, note="1850575123456")
    structlog.get_logger("paybonus.test").info("test.shown", company="C", salary=123, note="1850575123456")
    ours, theirs = (json.loads(line) for line in buf.getvalue().splitlines())
    assert ours.pop("timestamp") and theirs.pop("timestamp")
    assert ours == theirs == {"company": "C", "event": "test.shown", "level": "info", "note": "[NIR]"}
    seen = []
    structlog.configure(processors=[lambda _l, _m, d: seen.append(dict(d)) or ""])
    log.info("test.host", company="C")
    assert seen == [{"company": "C", "event": "test.host"}]
