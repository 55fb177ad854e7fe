# ruff: noqa  (a measurement script kept as run for issue 17's verify pass: not product code)
"""`audit verify` of a published ledger in this fresh process, as `core/bench.py`'s `verify_alone` runs it (every
problem listed). Usage: verify17.py DB [--timeline] [--problems]

Prints one JSON line: wall, CPU seconds (the verifier's and its workers'), load average before and after, peak RSS,
and `report`, a digest of the report (counts, heads, root, every problem and note), which A and B must share. With
--timeline: each check's start, end and thread CPU seconds, each thread's and worker's CPU and last active moment, and
the CPU used every 0.1 s; with --problems, the problems themselves."""

import hashlib
import json
import os
import resource
import sys
import threading
import time

db = sys.argv[1]
flags = set(sys.argv[2:])
from paybonus import EventBus, Ledger, load_plugins
from paybonus import audit, audit_rows
from paybonus.audit import verify
from paybonus.logs import configure

configure("json", "error")
T0 = [0.0]
marks = []


def now():
    return round(time.perf_counter() - T0[0], 2)


if "--timeline" in flags:

    def wrap(mod, name):
        orig = getattr(mod, name)

        def w(*a, **k):
            t = now()
            c = time.thread_time()
            try:
                return orig(*a, **k)
            finally:
                marks.append((name, threading.get_native_id(), t, now(), round(time.thread_time() - c, 2)))

        setattr(mod, name, w)

    for n in (
        "_check_sqlite",
        "_check_chains",
        "_check_events",
        "_check_shared_explanations",
        "_check_entitlements",
        "_check_dispatches",
        "_check_payments",
        "_check_notices",
        "_inputs_found",
        "_check_parameters",
        "_check_inputs",
        "_recompute_all",
    ):
        wrap(audit, n)
    procs = []
    orig_start = audit_rows.start

    def start(*a, **k):
        w = orig_start(*a, **k)
        if w is not None:
            procs.extend(p.pid for p in w.procs)
        return w

    audit_rows.start = start
    orig_integrity = Ledger.integrity

    def integrity(self):
        t, c = now(), time.thread_time()
        try:
            return orig_integrity(self)
        finally:
            marks.append(("integrity", threading.get_native_id(), t, now(), round(time.thread_time() - c, 2)))

    Ledger.integrity = integrity
    orig_result = audit_rows.Workers.result

    def result(self, i):
        t = now()
        try:
            return orig_result(self, i)
        finally:
            marks.append((f"wait slice {i}", threading.get_native_id(), t, now(), 0))

    audit_rows.Workers.result = result
    tick = os.sysconf("SC_CLK_TCK")
    seen_workers = {}

    util = []

    def cpu_of(path):
        with open(path) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / tick

    def monitor():
        me = threading.get_native_id()  # not counted: this thread
        last = {}
        prev_total, prev_t = None, None
        while True:
            total = 0.0
            t = now()
            for tid in os.listdir("/proc/self/task"):
                if int(tid) == me:
                    continue
                try:
                    c = cpu_of(f"/proc/self/task/{tid}/stat")
                except OSError:
                    continue
                total += c
                if last.get(("t", tid), (None,))[0] != c:
                    last[("t", tid)] = (c, t)
            for pid in list(procs):
                try:
                    c = cpu_of(f"/proc/{pid}/stat")
                except OSError:
                    continue
                total += c
                if last.get(("p", pid), (None,))[0] != c:
                    last[("p", pid)] = (c, t)
            if prev_total is not None and T0[0]:
                util.append((t, round((total - prev_total) / (t - prev_t + 1e-9), 2)))
            prev_total, prev_t = total, t
            seen_workers.clear()
            seen_workers.update({f"{k[0]}{k[1]}": v for k, v in last.items()})
            time.sleep(0.1)

    threading.Thread(target=monitor, daemon=True).start()

ledger = Ledger.open(db)
bus = EventBus(ledger, load_plugins(entry_points=False))
load0 = os.getloadavg()[0]


def cpu_s():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


c0 = cpu_s()
T0[0] = t = time.perf_counter()
rep = verify(ledger, bus.host.schemes, params=bus.params, max_problems=10**9)
wall = time.perf_counter() - t
c1 = cpu_s()
peak = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
text = repr(
    (
        rep.entries,
        rep.events,
        rep.entitlements,
        rep.recomputed,
        rep.dispatches,
        sorted((k, repr(v)) for k, v in rep.heads.items()),
        rep.root,
        rep.checkpoints,
        [(p.where, p.what) for p in rep.problems],
        rep.more,
        [(p.where, p.what) for p in rep.notes],
    )
)
out = {
    "code": os.path.dirname(audit.__file__),
    "wall_s": round(wall, 2),
    "cpu_s": round(c1[0] - c0[0] + c1[1] - c0[1], 2),
    "self_cpu_s": round(c1[0] - c0[0], 2),
    "workers_cpu_s": round(c1[1] - c0[1], 2),
    "load0": round(load0, 2),
    "load1": round(os.getloadavg()[0], 2),
    "peak_mib": round(peak),
    "workers_peak_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    "problems": len(rep.problems),
    "report": hashlib.sha256(text.encode()).hexdigest()[:16],
}
if "--timeline" in flags:
    out["marks"] = marks
    out["workers"] = seen_workers
    out["util"] = util
if "--problems" in flags:
    out["list"] = [str(p) for p in rep.problems]
print(json.dumps(out))
