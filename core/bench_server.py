"""`paybonus bench --workers N --db postgresql://... --source nats://...`: the broker path against the embedded one.

The same synthetic companies and year of events run twice or more, measured together: once published by one
process into a SQLite ledger (`paybonus publish`), then, for each worker count, sent to a NATS stream and recorded
by that many `paybonus worker` processes into one PostgreSQL ledger. A broker run is timed from the first event
sent until the stream is empty and nothing is unacknowledged (sending overlaps recording, as in production);
workers are started and ready before. Each broker run gets a fresh schema of the database and a fresh stream,
both removed afterwards. The helpers here also drive the fault suite (tests/core/test_faults.py).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import UserError


def synthetic(employees: int, companies: int, seed: int = 1) -> tuple[list[Any], list[str]]:
    """Companies (CompanyData) and their events (JSON lines, in time order), as `paybonus bench` makes them."""
    from paybonus.events import canonical_json

    from .bench import synthetic_companies

    datas, lines = [], []
    for g in synthetic_companies(employees, companies, seed):
        datas.append(g.data)
        lines += [(e["occurred_at"], canonical_json(e)) for e in g.events]
    lines.sort(key=lambda x: x[0])
    return datas, [line for _, line in lines]


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def scratch_stream(url: str, **options: str) -> str:
    tag = uuid.uuid4().hex[:10]
    return with_query(url, stream=f"bench-{tag}", prefix=f"bench_{tag}", **options)


def delete_streams(url: str) -> None:
    import asyncio

    from .nats_source import Options, _connect

    async def drop() -> None:
        o = Options(url)
        nc = await _connect(o, "paybonus-bench")
        try:
            js = nc.jetstream()
            for name in (o.stream, f"{o.stream}_DEAD"):
                try:
                    await js.delete_stream(name)
                except Exception:  # already gone
                    continue
        finally:
            await nc.close()

    asyncio.run(drop())


WORKER = (sys.executable, "-m", "paybonus", "--log-format", "json", "--log-level", "info", "worker")


class Workers:
    """`paybonus worker` processes on one source and one ledger, their logs in `folder`."""

    def __init__(self, db: str, source: str, folder: Path, env: dict[str, str] | None = None) -> None:
        self.db, self.source, self.folder = db, source, folder
        self.env = {**os.environ, **(env or {})}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}

    def start(self, name: str) -> None:
        self.starts[name] = self.starts.get(name, 0) + 1
        log = (self.folder / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [*WORKER, "--source", self.source, "--db", self.db, "--id", name],
            stdout=log,
            stderr=log,
            env=self.env,
        )
        log.close()

    def ready(self, timeout: float = 60) -> None:
        """Wait until every running worker said it is ready (since its last start)."""
        deadline = time.monotonic() + timeout
        for name in self.procs:
            while self.log(name).count("worker.source.ready") < self.starts[name]:
                if self.procs[name].poll() is not None:
                    raise RuntimeError(f"worker {name} ended: {self.log(name)[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} is not ready: {self.log(name)[-2000:]}")
                time.sleep(0.05)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def records(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log(name).splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:  # a line cut by a SIGKILL
                    continue
        return out

    def kill(self, name: str) -> None:
        self.procs[name].kill()
        self.procs[name].wait(30)

    def stop_all(self, timeout: float = 60) -> list[int]:
        """SIGTERM to every running worker once it is ready (a worker restarted a moment ago may not have
        installed its handler yet, and would die of the signal): each finishes its message and exits 0."""
        deadline = time.monotonic() + timeout
        for name, p in self.procs.items():
            while (
                p.poll() is None
                and self.log(name).count("worker.source.ready") < self.starts[name]
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        return [p.wait(timeout) for p in self.procs.values()]


def drained(source: str) -> dict[str, Any]:
    from .nats_source import health

    return dict(health(source))


def wait_drained(source: str, timeout: float, poll: float = 0.2) -> dict[str, Any]:
    """Wait until the stream is empty (work-queue: every message acknowledged) and nothing is in flight."""
    deadline = time.monotonic() + timeout
    while True:
        h = drained(source)
        if h["messages"] == 0 and h["unacknowledged"] == 0:
            return h
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stream did not drain in {timeout:.0f} s: {h}")
        time.sleep(poll)


def sqlite_run(datas: Sequence[Any], lines: Sequence[str], folder: Path) -> dict[str, Any]:
    """The embedded reference: one process, one SQLite ledger, `publish` of every event."""
    from paybonus import EventBus, Ledger, load_plugins
    from paybonus.sources import store_company

    ledger = Ledger.create(folder / "reference.db")
    for d in datas:
        store_company(ledger, d)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    events = bus.host.event_types.read_jsonl("bench", lines)
    t, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    bus.publish_all(events)
    seconds = time.perf_counter() - t
    result = {
        "path": "sqlite, 1 process",
        "seconds": round(seconds, 3),
        "cpu_s": {"process": round(_cpu(resource.RUSAGE_SELF) - cpu, 1)},
        **_counts(ledger, len(events), seconds),
    }
    bus.close()
    ledger.close()
    return result


def broker_run(
    datas: Sequence[Any], lines: Sequence[str], workers: int, db: str, source: str, folder: Path
) -> dict[str, Any]:
    """`workers` worker processes over a fresh stream and a fresh schema; timed from the first event sent."""
    from paybonus import Ledger, load_plugins
    from paybonus.sources import store_company

    from .store.pg_schema import scratch_schema
    from .worker import feed

    host = load_plugins(entry_points=False)
    events = [e for _, e in host.event_types.read_jsonl("bench", lines)]
    with scratch_schema(db) as url:
        stream = scratch_stream(source)
        try:
            with Ledger.create(url) as ledger:
                for d in datas:
                    store_company(ledger, d)
            pool = Workers(url, stream, folder, {"PAYBONUS_PLUGINS": ""})
            feed(host, stream, events[:0])  # makes the stream and its consumers before the workers look
            children = _cpu(resource.RUSAGE_CHILDREN)
            since = _server_now(url)
            for i in range(workers):
                pool.start(f"bench-{workers}-{i}")
            try:
                pool.ready()
                t, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
                feed(host, stream, events)
                wait_drained(stream, timeout=3600)
                seconds = time.perf_counter() - t
                bench_cpu = _cpu(resource.RUSAGE_SELF) - cpu
                backends = _backends_cpu(url, since)
            finally:
                pool.stop_all()
            cpu_s = {
                # the workers' whole lives (start-up included), their PostgreSQL sessions' (None: not on this
                # host), this process's sending and polling
                "workers": round(_cpu(resource.RUSAGE_CHILDREN) - children, 1),
                "postgresql": None if backends is None else round(backends, 1),
                "bench": round(bench_cpu, 1),
            }
            with Ledger.open(url) as ledger:
                return {
                    "path": f"nats + postgresql, {workers} worker{'s' if workers > 1 else ''}",
                    "workers": workers,
                    "seconds": round(seconds, 3),
                    "cpu_s": cpu_s,
                    **_counts(ledger, len(events), seconds),
                }
        finally:
            delete_streams(stream)


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _server_now(url: str) -> Any:
    from .store.pg_backend import server_clock

    return server_clock(url)


def _backends_cpu(url: str, since: Any) -> float | None:
    """CPU seconds of the PostgreSQL sessions paybonus opened on this database since `since` (the workers'),
    read from /proc: None when the server is not on this host (or /proc cannot be read)."""
    from .store.pg_backend import sessions_since

    pids = sessions_since(url, since)
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return None
    return total if pids else None


def _counts(ledger: Any, events: int, seconds: float) -> dict[str, Any]:
    entitlements = ledger.entitlements.count()
    return {
        "events": events,
        "entitlements": entitlements,
        "events_per_s": round(events / seconds, 1),
        "entitlements_per_s": round(entitlements / seconds, 1),
        "failed_dispatches": len(ledger.dispatches.failed()),
        "net_cents": sum(int(r[3]) for r in ledger.entitlements.summary()),
    }


def run(employees: int, companies: int, workers: Sequence[int], db: str, source: str) -> dict[str, Any]:
    """The SQLite reference and one broker run per worker count, on the same companies and events."""
    from .logs import configure
    from .store.sql import is_url

    if not is_url(db):
        raise UserError("--db", "the broker bench writes into PostgreSQL: give a postgresql:// URL")
    configure("json", "error")
    datas, lines = synthetic(employees, companies)
    with tempfile.TemporaryDirectory(prefix="paybonus-bench-") as tmp:
        folder = Path(tmp)
        runs = [sqlite_run(datas, lines, folder)]
        for n in workers:
            runs.append(broker_run(datas, lines, n, db, source, folder))
    base = runs[0]["seconds"]
    one = next((r["seconds"] for r in runs if r.get("workers") == 1), None)
    for r in runs:
        r["vs_sqlite"] = round(base / r["seconds"], 2)
        r["vs_1_worker"] = round(one / r["seconds"], 2) if one else None
        r["same_cents"] = r["net_cents"] == runs[0]["net_cents"]
    return {"employees": employees, "companies": companies, "runs": runs}
