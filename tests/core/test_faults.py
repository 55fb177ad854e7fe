"""Proof under faults (docs/deploy.md): three workers on one NATS stream over one PostgreSQL ledger, a year of
several companies, workers SIGKILLed at random points and restarted, the NATS server restarted under them; then
the same net cents per company, scheme, employee and period as one process writing SQLite, every chain valid,
nothing left unacknowledged, no dead letter.

The servers are the local ones when they answer, otherwise throwaway ones (never a skip); NATS is always a
server of this test's own, since it is restarted.
"""

from __future__ import annotations

import os
import random
import time

import pytest
from paybonus import Ledger, load_plugins
from paybonus.audit import verify
from paybonus.bench_server import Workers, drained, scratch_stream, sqlite_run, synthetic
from paybonus.sources import store_company
from paybonus.worker import feed

pytestmark = pytest.mark.slow

NET = (
    "SELECT company, scheme, employee, period_start, period_end, SUM(amount_cents) FROM entitlements "
    "GROUP BY company, scheme, employee, period_start, period_end"
)


def net_cents(ledger):
    return {tuple(r[:5]): int(r[5]) for r in ledger.conn.execute(NET)}


@pytest.fixture
def own_nats():
    from helpers.servers import Nats

    server = Nats(own=True)
    yield server
    server.stop()


def test_three_workers_killed_at_random_and_a_restarted_broker_give_the_one_process_ledger(
    pg_url, own_nats, tmp_path
):
    seed = int(os.environ.get("PAYBONUS_FAULT_SEED", str(random.randrange(10**6))))
    rng = random.Random(seed)
    datas, lines = synthetic(employees=160, companies=8, seed=3)
    reference = sqlite_run(datas, lines, tmp_path)
    with Ledger.open(tmp_path / "reference.db") as ref:
        expected = net_cents(ref)
    assert reference["failed_dispatches"] == 0 and expected

    with Ledger.create(pg_url) as ledger:
        for d in datas:
            store_company(ledger, d)
    host = load_plugins(entry_points=False)
    source = scratch_stream(own_nats.url, partitions="8", ack_wait="2")
    feed(host, source, [])  # the stream and its consumers
    pool = Workers(pg_url, source, tmp_path, {"PAYBONUS_PLUGINS": ""})
    names = ["w0", "w1", "w2"]
    for name in names:
        pool.start(name)
    pool.ready()
    events = [e for _, e in host.event_types.read_jsonl("year", lines)]
    feed(host, source, events, per_message=8)  # a company's events, 8 to a message: one batch each

    t0, kills, restarted, state = time.monotonic(), 0, False, None
    while time.monotonic() - t0 < 240:
        time.sleep(rng.uniform(0.2, 1.2))
        if kills < 6:
            victim = rng.choice(names)
            pool.kill(victim)  # SIGKILL: wherever it was (computing, committing, acknowledging)
            kills += 1
            pool.start(victim)
        if kills == 3 and not restarted:
            own_nats.restart()  # every worker loses its connection; JetStream keeps the stream on disk
            restarted = True
        try:
            state = drained(source)
        except Exception:  # the broker is restarting
            continue
        if kills >= 6 and state["messages"] == 0 and state["unacknowledged"] == 0:
            break
    assert state and state["messages"] == 0 and state["unacknowledged"] == 0, (seed, state)
    assert pool.stop_all() == [0, 0, 0]  # SIGTERM: each finishes cleanly

    with Ledger.open(pg_url) as pg:
        assert net_cents(pg) == expected, f"seed {seed}"
        rep = verify(pg, host.schemes)
        assert rep.ok, (seed, [str(p) for p in rep.problems][:5])
        assert pg.dead_letters.count() == 0 and pg.dispatches.failed() == []
        assert pg.events.count() == len(events)
    assert state["dead_letters"] == 0 and state["pending"] == 0
    recorded = sum(
        r["events"] for n in names for r in pool.records(n) if r.get("event") == "worker.message.recorded"
    )
    assert recorded >= len(events)  # every event at least once; more when a kill came after the commit
    print(
        f"fault suite: seed {seed}, {len(events)} events, {kills} kills, broker restarted, "
        f"{recorded - len(events)} events recorded again, {time.monotonic() - t0:.1f} s"
    )
