# ruff: noqa  (a measurement script kept as run for issue 17's growth pass: not product code)
"""The publish of a prepared ledger (`python -m paybonus.bench prepare N 1 FOLDER`), timed per step, with a fixed
clock and a digest of every row. Usage: growth17.py PREPARED SCRATCH [--digest] [--steps] [--trace] [--status]

PREPARED's bench.db is copied into SCRATCH (never its -wal or -shm), then its events are published in this
process as `paybonus bench` does. Prints one JSON line: wall and CPU seconds (user, system) of the publish, peak
RSS, load average, entitlements; with --steps, CPU seconds of each step (innermost step charged, exclusive:
each scheme's compute per event type, the population read, recording per scheme, events, gc); with --status,
SQLite's counters of the writing connection (cache hits, misses, writes, spills); with --trace, the statements
run (counted by their text); with --digest, a sha256 of every column of every row of the ledger's tables."""

import ctypes
import gc
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

prepared, scratch = Path(sys.argv[1]), Path(sys.argv[2])
flags = set(sys.argv[3:])
scratch.mkdir(parents=True, exist_ok=True)
for suffix in ("", "-wal", "-shm"):
    (scratch / f"bench.db{suffix}").unlink(missing_ok=True)
shutil.copyfile(prepared / "bench.db", scratch / "bench.db")

from paybonus import EventBus, Ledger, load_plugins
from paybonus.logs import configure

configure("json", "error")
FIX = datetime(2027, 1, 1, tzinfo=UTC)


def db_status(conn, op):
    """sqlite3_db_status of a Python connection (CPython 3.11: the sqlite3* follows the object's header)."""
    lib = ctypes.CDLL("libsqlite3.so.0")
    db = ctypes.c_void_p.from_address(id(conn) + 16).value
    cur, hi = ctypes.c_int(), ctypes.c_int()
    lib.sqlite3_db_status(ctypes.c_void_p(db), op, ctypes.byref(cur), ctypes.byref(hi), 0)
    return cur.value


STATUS = {"hit": 7, "miss": 8, "write": 9, "spill": 12}  # SQLITE_DBSTATUS_CACHE_*

# -- steps: CPU charged to the innermost step running -----------------------------------------------------
cpu_of: defaultdict = defaultdict(float)
calls: Counter = Counter()
stack = ["other"]
last = [0.0]
clock = time.process_time


def enter(tag):
    now = clock()
    cpu_of[stack[-1]] += now - last[0]
    last[0] = now
    stack.append(tag)
    calls[tag] += 1


def leave():
    now = clock()
    cpu_of[stack[-1]] += now - last[0]
    last[0] = now
    stack.pop()


def wrap(cls, name, tag_of):
    orig = getattr(cls, name)

    def wrapped(*a, **k):
        enter(tag_of(*a, **k))
        try:
            return orig(*a, **k)
        finally:
            leave()

    setattr(cls, name, wrapped)


rows_of: Counter = Counter()
rows_at: dict = {}
made: Counter = Counter()  # rows made for each executemany's table (--fine)
ENT = "python: make entitlements rows"
transactions: list = []


def sqlite_status():
    return {k: db_status(ledger.conn, v) for k, v in STATUS.items()}


if "--steps" in flags:
    from paybonus.bus import EventBus as B
    from paybonus.caches import Populations
    from paybonus.store.ledger import Ledger as L

    wrap(B, "_compute", lambda self, event, scheme, *a, **k: f"compute {scheme.name} {event.type}")
    wrap(Populations, "population", lambda *a, **k: "population read")
    wrap(L, "_record_dispatch", lambda self, d, *a, **k: f"record {d.scheme}")
    wrap(L, "record_event", lambda *a, **k: "record event")
    wrap(L, "version", lambda *a, **k: "version")
    orig_rd = L._record_dispatch

    def counted(self, d, *a, **k):
        out = orig_rd(self, d, *a, **k)
        if out is not None:
            rows_of[d.scheme] += len(out[1])
        return out

    L._record_dispatch = counted  # the wrapped one: its step is kept
    from paybonus.store.audit_log import AuditLog
    from paybonus.store.entitlements import Entitlements
    from paybonus.store.reader import LedgerReader

    wrap(B, "admit", lambda *a, **k: "admit")
    wrap(AuditLog, "append", lambda *a, **k: "audit append")
    wrap(Entitlements, "insert", lambda *a, **k: "insert entitlements (rows made in it)")
    wrap(LedgerReader, "events", lambda *a, **k: "reader events")
    wrap(LedgerReader, "entitlements", lambda *a, **k: "reader entitlements")
    orig_write = L.write

    depth = [0]

    class Tagged:
        def __init__(self, cm):
            self.cm = cm

        def __enter__(self):
            enter("write begin")
            try:
                return self.cm.__enter__()
            finally:
                leave()
                depth[0] += 1
                if "--transactions" in flags and depth[0] == 1:
                    self.before = (dict(cpu_of), made[ENT], sqlite_status(), dict(calls))

        def __exit__(self, *exc):
            enter("write commit")
            try:
                return self.cm.__exit__(*exc)
            finally:
                leave()
                depth[0] -= 1
                if "--transactions" in flags and hasattr(self, "before"):
                    cpu0, rows0, st0, calls0 = self.before
                    n = made[ENT] - rows0
                    if n >= 1000:
                        st = sqlite_status()
                        transactions.append(
                            {
                                "rows": n,
                                "schemes": "+".join(
                                    sorted(
                                        k[7:]
                                        for k in calls
                                        if k.startswith("record ") and calls[k] != calls0.get(k, 0)
                                    )
                                ),
                                "cpu": {
                                    k: round(v - cpu0.get(k, 0.0), 3)
                                    for k, v in cpu_of.items()
                                    if v - cpu0.get(k, 0.0) > 0.005
                                },
                                "sqlite": {k: st[k] - st0[k] for k in st},
                            }
                        )

    L.write = lambda self, *c: Tagged(orig_write(self, *c))

    def on_gc(phase, info):
        if phase == "start":
            enter(f"gc gen{info['generation']}" + (f" in {stack[-1]}" if info["generation"] == 2 else ""))
        else:
            leave()

    gc.callbacks.append(on_gc)

for f in flags:
    if f.startswith("--cache="):  # the writer's page cache (KiB), for the measurement
        import paybonus.store.ledger as _ledger_module

        _ledger_module.CACHE_KIB = int(f.split("=")[1])
for f in flags:
    if f.startswith("--chunk="):  # the experiment: a dispatch's rows made, then inserted, N at a time
        from itertools import islice

        from paybonus.store import entitlements as _entitlements_module

        _n = int(f.split("=")[1])

        def _chunked(self, rows, _n=_n):
            it = iter(rows)
            while chunk := list(islice(it, _n)):
                self.conn.executemany(_entitlements_module._INSERT, chunk)

        _entitlements_module.Entitlements.insert = _chunked
ledger = Ledger.open(scratch / "bench.db")
bus = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIX)
statements: Counter = Counter()


class Rows:
    """The rows an executemany is given, made under their own step (the Python of the rows, not SQLite's)."""

    def __init__(self, tag, rows):
        self.tag, self.rows = tag, iter(rows)

    def __iter__(self):
        return self

    def __next__(self):
        enter(self.tag)
        try:
            row = next(self.rows)
        finally:
            leave()
        made[self.tag] += 1
        return row


class Conn:
    def __init__(self, conn, what):
        self._conn, self._what = conn, what

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def executemany(self, sql, rows):
        enter(f"sqlite: insert {self._what}")
        try:
            return self._conn.executemany(sql, Rows(f"python: make {self._what} rows", rows))
        finally:
            leave()


if "--fine" in flags:
    ledger.entitlements.conn = Conn(ledger.conn, "entitlements")
    ledger.audit.conn = Conn(ledger.conn, "audit")
if "--trace" in flags:
    ledger.conn.set_trace_callback(lambda s: statements.update([" ".join(s.split())[:140]]))
opcodes: Counter = (
    Counter()
)  # --opcodes: SQLite's virtual-machine steps (thousands) per statement, by its text
stmt_calls: Counter = Counter()
if "--opcodes" in flags:
    import re

    _literal = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
    current = {}

    def watch(conn, who):
        def traced(sql):
            key = who + " " + _literal.sub("?", " ".join(sql.split()))[:120]
            current[who] = key
            stmt_calls[key] += 1

        def step():
            opcodes[current.get(who, who + " ?")] += 1
            return 0

        conn.set_trace_callback(traced)
        conn.set_progress_handler(step, 1000)

    watch(ledger.conn, "W")
    watch(bus.reader._conn, "R")


text = (prepared / "events.jsonl").read_text(encoding="utf-8")
cpu_of.clear()
calls.clear()
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
last[0] = clock()
enter("read events")  # timed, as `paybonus bench` times it
events = bus.host.event_types.read_jsonl("bench", text)
leave()
prof = None
for f in flags:
    if f.startswith("--cprofile="):  # call counts per function (the CPU figures are then the profiler's)
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
bus.publish_all(events)
if prof is not None:
    prof.disable()
    prof.dump_stats([f for f in flags if f.startswith("--cprofile=")][0].split("=", 1)[1])
wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
cpu_of[stack[-1]] += clock() - last[0]
out = {
    "wall_s": round(wall, 3),
    "cpu_s": round(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, 3),
    "user_s": round(r1.ru_utime - r0.ru_utime, 3),
    "sys_s": round(r1.ru_stime - r0.ru_stime, 3),
    "peak_mib": round(r1.ru_maxrss / 1024, 1),
    "load": os.getloadavg()[0],
    "entitlements": ledger.entitlements.count(),
    "inblock": r1.ru_inblock - r0.ru_inblock,
    "oublock": r1.ru_oublock - r0.ru_oublock,
}
if "--status" in flags:
    out["sqlite"] = {k: db_status(ledger.conn, v) for k, v in STATUS.items()}
if "--steps" in flags:
    out["steps"] = {k: [round(v, 3), calls[k]] for k, v in sorted(cpu_of.items(), key=lambda kv: -kv[1])}
    out["rows"] = dict(rows_of)
if transactions:
    out["transactions"] = transactions
if opcodes:
    out["opcodes"] = [[k, v, stmt_calls[k]] for k, v in opcodes.most_common(40)]
if "--trace" in flags:
    out["statements"] = statements.most_common(60)
bus.close()
ledger.close()
if "--digest" in flags:
    h = hashlib.sha256()
    conn = sqlite3.connect(scratch / "bench.db")
    for table in (
        "events",
        "dispatches",
        "entitlements",
        "shared_explanations",
        "findings",
        "audit_log",
        "parameter_sets",
        "payments",
    ):
        h.update(table.encode())
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            h.update(repr(row).encode())
    conn.close()
    out["digest"] = h.hexdigest()[:16]
print(json.dumps(out), flush=True)
