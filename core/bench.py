"""`paybonus bench`: throughput on synthetic companies, against a raw-SQLite floor measured in the same run.

Each size runs in fresh processes (so that each peak RSS is the work's own): generate the company (every built-in
scheme) and load its payroll; publish its year of events; verify the audit trail (a process of its own, as a user
runs `paybonus audit verify`, with its worker processes), and replay it (another). The run's peak RSS is the
largest of these processes' peaks (the verifier's: the larger of its own and its largest worker's). The floor is the time plain `sqlite3`
`executemany` takes to write the same rows (events, entitlements, audit entries, dispatches) in one
transaction into tables of the same shape, without paybonus. Results and method: docs/performance.md.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def synthetic_companies(employees: int, companies: int, seed: int = 1) -> Iterator[Any]:
    """The bench's companies (`GeneratedCompany`: every built-in scheme, results that fund a pool), one at a time:
    `employees` shared between `companies`."""
    from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate

    per = max(1, employees // companies)
    for i in range(companies):
        yield generate(
            f"C{i:04d}",
            employees=per,
            seed=seed + i,
            schemes_toml=SAMPLE_SCHEMES,
            salary_schemes=True,
            results=_results(per),
            csv_rows=False,
        )


def prepare(employees: int, companies: int, folder: Path, seed: int = 1) -> dict[str, float]:
    """Generate the companies (every built-in scheme), load their payroll, write their events. Timed."""
    from paybonus import Ledger
    from paybonus.events import canonical_json
    from paybonus.sources import store_company

    phases: dict[str, float] = {"generate": 0.0, "load": 0.0}
    ledger = Ledger.create(folder / "bench.db")
    lines: list[tuple[str, str]] = []
    made = synthetic_companies(employees, companies, seed)
    while True:
        t = time.perf_counter()
        g = next(made, None)
        phases["generate"] += time.perf_counter() - t
        if g is None:
            break
        t = time.perf_counter()
        store_company(ledger, g.data)
        phases["load"] += time.perf_counter() - t
        lines += [(e["occurred_at"], canonical_json(e)) for e in g.events]
        del g
    ledger.close()
    lines.sort(key=lambda x: x[0])
    (folder / "events.jsonl").write_text("".join(line + "\n" for _, line in lines), encoding="utf-8")
    return phases


def measure(folder: Path, replay: bool = True) -> dict[str, Any]:
    """Publish the prepared events, then verify the audit trail (and replay it) each in a fresh process, as a user
    runs `paybonus audit verify`, then measure the floor. The run's peak RSS is the largest of the processes'
    peaks: this one's during the publish, the verifier's or its largest worker's, the replay's."""
    import gc

    from paybonus import EventBus, Ledger, load_plugins
    from paybonus.logs import configure
    from paybonus.store.floor import floor_seconds

    configure("json", "error")
    ledger = Ledger.open(folder / "bench.db")
    bus = EventBus(ledger, load_plugins(entry_points=False))
    phases: dict[str, float] = {}
    t, cpu = time.perf_counter(), time.process_time()
    events = bus.host.event_types.read_jsonl("bench", (folder / "events.jsonl").read_text(encoding="utf-8"))
    bus.publish_all(events)
    phases["publish"] = time.perf_counter() - t
    publish_cpu = time.process_time() - cpu  # on a busy machine, the CPU seconds say more than the wall clock
    publish_peak = own_peak_mib()  # before the floor reads every row back
    n_events = len(events)
    bus.close()
    del bus, events  # the publish's engine and cached populations are not held while the others run
    gc.collect()
    checked = _child("verify", str(folder))
    phases["verify"] = checked["verify_s"]
    peaks = {"publish_peak_rss_mib": publish_peak, "verify_peak_rss_mib": checked["peak_rss_mib"]}
    replayed = None
    if replay:
        replayed = _child("replay", str(folder))
        phases["replay"] = replayed["replay_s"]
        peaks["replay_peak_rss_mib"] = replayed["peak_rss_mib"]
    counts = {
        "events": n_events,
        "entitlements": ledger.entitlements.count(),
        "audit_entries": checked["entries"],
        "failed_dispatches": len(ledger.dispatches.failed()),
    }
    floor = floor_seconds(ledger.conn, folder)
    ledger.close()
    return {
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
        "floor_s": round(floor, 3),
        "publish_over_floor": round(phases["publish"] / floor, 2) if floor else None,
        "publish_cpu_s": round(publish_cpu, 3),
        "verify_cpu_s": checked["cpu_s"],
        "events_per_s": round(counts["events"] / phases["publish"], 1),
        "entitlements_per_s": round(counts["entitlements"] / phases["publish"], 1),
        **{k: round(v, 1) for k, v in peaks.items()},
        "peak_rss_mib": round(max(peaks.values()), 1),
        "db_mib": round((folder / "bench.db").stat().st_size / 2**20, 1),
        "audit_ok": checked["ok"] and (replayed is None or replayed["ok"]),
        **counts,
    }


def verify_alone(folder: Path) -> dict[str, Any]:
    """`audit verify` of the published ledger, in this fresh process: its time, its CPU seconds and its peak RSS,
    each with its worker processes' (the peak: the larger of this process's and its largest worker's)."""
    from paybonus import EventBus, Ledger, load_plugins
    from paybonus.audit import verify
    from paybonus.logs import configure

    configure("json", "error")
    ledger = Ledger.open(folder / "bench.db")
    bus = EventBus(ledger, load_plugins(entry_points=False))
    cpu = _cpu_s()
    t = time.perf_counter()
    rep = verify(ledger, bus.host.schemes, params=bus.params)
    elapsed = time.perf_counter() - t
    cpu = _cpu_s() - cpu
    peak = max(own_peak_mib(), _peak_mib(resource.RUSAGE_CHILDREN))
    bus.close()
    ledger.close()
    return {
        "verify_s": elapsed,
        "cpu_s": round(cpu, 3),
        "peak_rss_mib": peak,
        "entries": rep.entries,
        "ok": rep.ok,
    }


def replay_alone(folder: Path) -> dict[str, Any]:
    """`audit verify --replay`'s replay of the published ledger, in this fresh process: its time and peak RSS."""
    from paybonus import EventBus, Ledger, load_plugins
    from paybonus.logs import configure
    from paybonus.replay import replay

    configure("json", "error")
    ledger = Ledger.open(folder / "bench.db")
    bus = EventBus(ledger, load_plugins(entry_points=False))
    t = time.perf_counter()
    replayed = replay(ledger, bus.host)
    elapsed = time.perf_counter() - t
    peak = max(own_peak_mib(), _peak_mib(resource.RUSAGE_CHILDREN))
    bus.close()
    ledger.close()
    return {"replay_s": elapsed, "peak_rss_mib": peak, "ok": not replayed.problems}


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def own_peak_mib() -> float:
    """This process's peak RSS since it started (MiB). Linux's `VmHWM`, not getrusage's: a process started by
    `subprocess` (vfork, then exec) inherits its parent's peak in `ru_maxrss`, so a verifier started by the
    publish's process reported the publish's peak as its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_mib(resource.RUSAGE_SELF)  # not Linux: what getrusage says


def _cpu_s() -> float:
    """CPU seconds of this process and of its children that ended (a verifier's workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run(employees: int, companies: int = 1, replay: bool = True) -> dict[str, Any]:
    """A whole measured run: preparation and measurement each in a fresh process."""
    folder = Path(tempfile.mkdtemp(prefix="paybonus-bench-"))
    try:
        prep = _child("prepare", str(employees), str(companies), str(folder))
        result = _child("measure", str(folder), "replay" if replay else "no-replay")
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    result["phases_s"] = {**{k: round(v, 3) for k, v in prep.items()}, **result["phases_s"]}
    return {"employees": employees, "companies": companies, **result}


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "paybonus.bench", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench {args[0]} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _results(employees: int) -> dict[str, str]:
    """Published figures scaled to the company, with a positive result (so intéressement has a pool)."""
    payroll = employees * 36_000
    return {
        "rcai": str(payroll // 20),
        "chiffre_affaires": str(payroll * 3),
        "valeur_ajoutee": str(payroll * 3 // 2),
        "rsp": "0",
        "effectif": str(employees),
        "frais_personnel": str(payroll * 14 // 10),
        "marge_brute": str(payroll),
        "resultat_exploitation": str(payroll // 15),
    }


# the targets of docs/performance.md: (run, employees, companies) -> {figure: limit}
TARGETS: dict[tuple[str, int, int], dict[str, float]] = {
    ("large employer", 200_000, 1): {
        "publish_s": 30,
        "publish_over_floor": 2,
        "publish_peak_rss_mib": 1024,
        "peak_rss_mib": 1024,
        "verify_s": 10,
    },
    ("vendor month", 250_000, 2_000): {"publish_s": 40, "publish_over_floor": 2.5, "peak_rss_mib": 1024},
}
GROWTH = (25_000, 200_000, 8.5)  # publish time may grow at most 8.5 x for 8 x the staff


def figure(r: dict[str, Any], name: str) -> float:
    return float(r["phases_s"][name[:-2]] if name in ("publish_s", "verify_s") else r[name])


def verdicts(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(target, limit, measured, met | MISSED) for every target whose runs are in `results`."""
    out = []
    for r in results:
        for name, limit in TARGETS.get((r["run"], r["employees"], r["companies"]), {}).items():
            if name == "publish_peak_rss_mib" and name not in r:  # results of a bench before it was measured
                continue
            got = figure(r, name)
            out.append(
                (f"{r['run']} {r['employees']:,}: {name}", f"<= {limit:g}", f"{got:g}", _met(got <= limit))
            )
    small, large, limit = GROWTH
    by_size = {r["employees"]: r for r in results if r["companies"] == 1}
    if small in by_size and large in by_size:
        grew = by_size[large]["phases_s"]["publish"] / by_size[small]["phases_s"]["publish"]
        out.append(
            (f"growth {small:,} -> {large:,}: publish x", f"<= {limit:g}", f"{grew:.2f}", _met(grew <= limit))
        )
    return out


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def plan(quick: bool) -> Iterator[tuple[str, int, int]]:
    if quick:
        yield ("growth", 2_000, 1)
        yield ("growth", 4_000, 1)
        yield ("vendor month", 4_000, 40)
        return
    for n in (25_000, 50_000, 100_000, 200_000):
        yield ("growth" if n < 200_000 else "large employer", n, 1)
    yield ("vendor month", 250_000, 2_000)


USAGE = (  # the steps `paybonus bench` runs, each in its own process
    "usage: python -m paybonus.bench prepare N COMPANIES FOLDER | measure FOLDER [replay|no-replay]"
    " | verify FOLDER | replay FOLDER | N [COMPANIES]"
)


def _main(argv: list[str]) -> dict[str, Any]:
    """One step of `paybonus bench`, named by `argv` (internal: `paybonus bench` is the command to run)."""
    match argv:
        case ["prepare", n, companies, folder] if n.isdigit() and companies.isdigit():
            return prepare(int(n), int(companies), Path(folder))
        case ["verify", folder]:
            return verify_alone(Path(folder))
        case ["replay", folder]:
            return replay_alone(Path(folder))
        case ["measure", folder, *rest] if rest in ([], ["replay"], ["no-replay"]):
            return measure(Path(folder), replay=rest != ["no-replay"])
        case [n, *companies] if n.isdigit() and len(companies) <= 1 and all(c.isdigit() for c in companies):
            return run(int(n), int(companies[0]) if companies else 1)
    print(USAGE, file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    from paybonus.errors import UserError

    try:
        print(json.dumps(_main(sys.argv[1:])))
    except UserError as exc:  # a step asked of a folder that is not there, a ledger it cannot open: one line
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
