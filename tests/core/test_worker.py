"""`paybonus worker` over NATS JetStream and PostgreSQL: the same ledger as `paybonus publish`, messages
acknowledged after their commit, dead letters after the last delivery, SIGTERM, `health`, `migrate`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from helpers.cli import run, run_here
from paybonus import Paybonus
from paybonus.fixtures import sample_dir
from paybonus.nats_source import dead_letters
from paybonus.store import Ledger


@pytest.fixture
def source(nats_server):
    """A stream of its own on the session's NATS server (short redelivery delay: a dead worker's message)."""
    tag = uuid.uuid4().hex[:10]
    return f"{nats_server.url}?stream=T{tag}&prefix=t{tag}&partitions=4&ack_wait=2"


PAYBONUS = (sys.executable, "-m", "paybonus", "--log-format", "json", "--log-level", "info")


def start_worker(db, source, tmp_path, *extra, name="w"):
    log = open(tmp_path / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [*PAYBONUS, "worker", "--source", source, "--db", db, "--id", name, *extra],
        stdout=log,
        stderr=log,
        env={**os.environ, "PAYBONUS_PLUGINS": os.environ.get("PAYBONUS_PLUGINS", "")},
    )


def health(db, source, tmp_path):
    """`paybonus health` in this process: polled every half second, a process each time cost more than the wait
    (health's own end-to-end tests are in test_nats_refusals.py)."""
    r = run_here("health", "--source", source, "--db", db, cwd=tmp_path)
    return r.returncode, json.loads(r.stdout) if r.stdout.strip().startswith("{") else r.stderr


def wait_drained(db, source, tmp_path, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, h = health(db, source, tmp_path)
        if code == 0 and h["source"]["messages"] == 0 and h["source"]["unacknowledged"] == 0:
            return h
        time.sleep(0.5)
    raise AssertionError(f"not drained: {h}")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_a_worker_records_what_publish_records_and_stops_on_sigterm(pg_url, source, tmp_path):
    assert run_here("--db", pg_url, "init", cwd=tmp_path).returncode == 0
    assert run_here("--db", pg_url, "load", str(sample_dir()), cwd=tmp_path).returncode == 0
    r = run(
        "publish", "--to", source, "--per-message", "10", str(sample_dir() / "events.jsonl"), cwd=tmp_path
    )
    assert r.returncode == 0 and r.stdout.startswith("24 events sent"), r.stderr
    w = start_worker(pg_url, source, tmp_path)
    h = wait_drained(pg_url, source, tmp_path)
    assert h["ok"] and h["ledger"]["backend"] == "postgresql" and h["source"]["pending"] == 0
    stop(w)
    logs = [
        json.loads(line) for line in (tmp_path / "w.log").read_text().splitlines() if line.startswith("{")
    ]
    done = [x for x in logs if x["event"] == "worker.message.recorded"]
    assert [x["events"] for x in done] == [10, 10, 4]  # one company's events, 10 to a message, in order
    assert all(x["worker"] == "w" and "lag" in x for x in done)
    assert logs[-1]["event"] == "worker.stopped" and logs[-1]["recorded"] == 24
    with Paybonus.create(tmp_path / "one.db") as lite, Paybonus.open(pg_url) as pg:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        assert pg.summary() == lite.summary()
        assert pg.verify().ok
    # published again: duplicates, acknowledged, nothing changes
    before = Ledger.open(pg_url).audit.heads()
    r = run("publish", "--to", source, str(sample_dir() / "events.jsonl"), cwd=tmp_path)
    w = start_worker(pg_url, source, tmp_path)
    wait_drained(pg_url, source, tmp_path)
    stop(w)
    assert Ledger.open(pg_url).audit.heads() == before


def test_a_message_that_keeps_failing_becomes_a_dead_letter_in_the_ledger_and_the_broker(
    pg_url, source, tmp_path
):
    assert run_here("--db", pg_url, "init", cwd=tmp_path).returncode == 0
    assert run_here("--db", pg_url, "load", str(sample_dir()), cwd=tmp_path).returncode == 0
    events = (sample_dir() / "events.jsonl").read_text().splitlines()
    bad = json.loads(events[0])
    bad["company"], bad["id"] = "NOBODY", "bad-1"
    (tmp_path / "e.jsonl").write_text(json.dumps(bad) + "\n" + events[0] + "\n")
    assert run_here("publish", "--to", source, str(tmp_path / "e.jsonl"), cwd=tmp_path).returncode == 0
    w = start_worker(pg_url, source, tmp_path, "--max-deliveries", "3")
    wait_drained(pg_url, source, tmp_path)
    stop(w)
    with Ledger.open(pg_url) as ledger:
        [dead] = ledger.dead_letters.all()
        assert dead["company"] == "NOBODY" and dead["deliveries"] == 3 and "NOBODY" in dead["error"]
        assert json.loads(bytes(dead["payload"]))["id"] == "bad-1"
        assert ledger.events.count() == 1  # the good one, behind it in another partition or after it
    [forwarded] = dead_letters(source)
    assert forwarded["data"]["id"] == "bad-1" and forwarded["headers"]["Paybonus-Deliveries"] == "3"


def test_migrate_copies_a_sqlite_ledger_and_verifies_the_copy(pg_url, tmp_path):
    with Paybonus.create(tmp_path / "l.db") as lite:
        lite.load_company(sample_dir())
        lite.publish(sample_dir() / "events.jsonl")
        heads = lite.heads()
    r = run("migrate", str(tmp_path / "l.db"), pg_url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "verified" in r.stdout and "same chain heads" in r.stdout
    with Paybonus.open(pg_url) as pg:
        assert pg.heads() == heads
        pg.publish(sample_dir() / "events.jsonl")  # and it goes on: duplicates
        assert pg.verify().ok
    r = run("migrate", str(tmp_path / "l.db"), pg_url, cwd=tmp_path)
    assert r.returncode == 2 and "not empty" in r.stderr


def test_bench_workers_measures_the_broker_path_against_sqlite_on_the_same_events(
    pg_database, nats_server, tmp_path
):
    r = run(
        "bench",
        "--workers",
        "1,2",
        "--db",
        pg_database,
        "--source",
        nats_server.url,
        "--sizes",
        "40",
        "--companies",
        "2",
        "--out",
        str(tmp_path / "b.json"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    runs = json.loads((tmp_path / "b.json").read_text())["runs"]
    assert [x["path"] for x in runs] == [
        "sqlite, 1 process",
        "nats + postgresql, 1 worker",
        "nats + postgresql, 2 workers",
    ]
    assert all(x["same_cents"] and x["events"] == runs[0]["events"] > 0 for x in runs)


def test_a_message_is_acknowledged_only_once_the_ledger_is_durable(tmp_path, monkeypatch):
    """The worker's ACK follows the flush of what the message committed; a failed flush means deliver again."""
    from paybonus import load_plugins
    from paybonus.hooks import Delivery, Verdict
    from paybonus.worker import Worker

    db = tmp_path / "ledger.db"
    with Paybonus.create(db) as app:
        app.load_company(sample_dir())
    line = (sample_dir() / "events.jsonl").read_text(encoding="utf-8").splitlines()[0].encode()
    calls = []

    def flush(self):
        calls.append(self.events.count())  # what is recorded when the flush is asked for
        raise OSError("disk gone")

    monkeypatch.setattr(Ledger, "make_durable", flush)
    worker = Worker(str(db), load_plugins(entry_points=False), source="test")
    assert worker.handle(Delivery(line, "t.events.0.DURAND", "m1")) is Verdict.RETRY
    assert calls == [1]  # published first, then flushed
    monkeypatch.setattr(Ledger, "make_durable", lambda self: calls.append("ok"))
    assert worker.handle(Delivery(line, "t.events.0.DURAND", "m1", deliveries=2)) is Verdict.ACK
    assert calls[-1] == "ok"
    worker.close()


def test_messages_carry_one_companys_events_in_order_within_their_bounds():
    from paybonus import load_plugins
    from paybonus.worker import messages

    host = load_plugins(entry_points=False)
    lines = (sample_dir() / "events.jsonl").read_text(encoding="utf-8").splitlines()
    mine = [e for _, e in host.event_types.read_jsonl("sample", lines)]
    other = [
        host.event_types.from_json(
            json.dumps({**json.loads(line), "company": "OTHER", "id": f"OTHER-{i}"}, separators=(",", ":"))
        )
        for i, line in enumerate(lines[:5])
    ]
    mixed = [e for pair in zip(mine, other, strict=False) for e in pair] + mine[len(other) :]
    out = messages(mixed, per_message=4)
    by_company = {}
    for company, message_id, data in out:
        events = [host.event_types.from_json(x) for x in data.decode().splitlines()]
        assert 1 <= len(events) <= 4 and {e.company for e in events} == {company}
        prefix = f"{company}/{events[0].id}"  # ids are unique per company: the message id names both
        assert message_id == prefix if len(events) == 1 else message_id.startswith(prefix + "+")
        by_company.setdefault(company, []).extend(events)
    assert by_company == {"DURAND": mine, "OTHER": other}  # nothing lost, each company's order kept
    assert len({m for _, m, _ in out}) == len(out)
    big = messages(mine, per_message=10_000)
    assert len(big) == 1 and len(messages(mine, per_message=1)) == len(mine)


def test_a_refused_event_in_a_message_waits_then_alone_becomes_a_dead_letter(tmp_path):
    """A message is one batch: refused whole (delivered again); on its last delivery each event is tried alone,
    the others are recorded and the refused one is kept as a dead letter."""
    from paybonus import load_plugins
    from paybonus.hooks import Delivery, Verdict
    from paybonus.worker import Worker

    db = tmp_path / "ledger.db"
    with Paybonus.create(db) as app:
        app.load_company(sample_dir())
    lines = (sample_dir() / "events.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    bad = {
        "company": "DURAND",
        "id": "DURAND-pay-nothing",
        "occurred_at": "2025-06-30T09:00:00+02:00",
        "payload": {"entitlement": "ENT-00000000000000000000", "amount_cents": 100, "paid_on": "2025-06-30"},
        "type": "payment_recorded",
    }
    data = "\n".join([lines[0], json.dumps(bad), lines[1]]).encode()
    worker = Worker(str(db), load_plugins(entry_points=False), source="test", max_deliveries=3)
    assert worker.handle(Delivery(data, "t.events.0.DURAND", "m1", deliveries=1)) is Verdict.RETRY
    with Ledger.open(db) as ledger:
        assert ledger.events.count() == 0  # refused whole: nothing written
    assert worker.handle(Delivery(data, "t.events.0.DURAND", "m1", deliveries=3)) is Verdict.DEAD
    worker.close()
    with Ledger.open(db) as ledger:
        assert ledger.events.count() == 2
        [dead] = ledger.dead_letters.all()
        assert json.loads(bytes(dead["payload"]))["id"] == "DURAND-pay-nothing"
        assert dead["message_id"] == "m1" and dead["deliveries"] == 3


def test_an_event_over_the_brokers_message_limit_is_one_line_and_nothing_is_sent(source, tmp_path):
    import asyncio

    import nats

    events = (sample_dir() / "events.jsonl").read_text().splitlines()
    [big] = [json.loads(e) for e in events if '"plan":"techniciens"' in e]
    big["id"] = (
        "DURAND-big"  # a large employer's objective results; the server's default max_payload is 1 MiB
    )
    big["payload"]["employees"] = {f"E{i:06d}": {"interventions": "153"} for i in range(60_000)}
    (tmp_path / "e.jsonl").write_text(events[0] + "\n" + json.dumps(big) + "\n")
    r = run("publish", "--to", source, str(tmp_path / "e.jsonl"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "event DURAND-big of company DURAND" in r.stderr
    assert "max_payload" in r.stderr and "nothing was sent" in r.stderr

    async def stored() -> int:
        nc = await nats.connect(source.split("?")[0])
        try:
            stream = source.split("stream=")[1].split("&")[0]
            return (await nc.jetstream().stream_info(stream)).state.messages
        except nats.js.errors.NotFoundError:  # refused before the stream was even created
            return 0
        finally:
            await nc.close()

    assert asyncio.run(stored()) == 0
