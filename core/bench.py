"""`paybonus bench`: throughput on synthetic companies, against a raw-SQLite floor measured in the same run.

Each size runs in a fresh process (so that peak RSS is its own): generate the company (every built-in scheme),
load its payroll, publish its year of events, verify the audit trail. The floor is the time plain `sqlite3`
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

FLOOR_TABLES = ("events", "entitlements", "audit_log", "dispatches", "findings", "payments")


def run_one(employees: int, companies: int = 1, seed: int = 1) -> dict[str, Any]:
    """One measured run in this process. Returns phases (seconds), counts, throughput and peak RSS."""
    from paybonus import EventBus, Ledger, load_plugins
    from paybonus.audit import verify
    from paybonus.bus import read_events
    from paybonus.events import canonical_json
    from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate
    from paybonus.logs import configure
    from paybonus.sources import store_company

    configure("json", "error")
    tmp = Path(tempfile.mkdtemp(prefix="paybonus-bench-"))
    phases: dict[str, float] = {}
    t = time.perf_counter()
    per = max(1, employees // companies)
    gens = [
        generate(
            f"C{i:04d}",
            employees=per,
            seed=seed + i,
            schemes_toml=SAMPLE_SCHEMES,
            salary_schemes=True,
            results=_results(per),
        )
        for i in range(companies)
    ]
    phases["generate"] = time.perf_counter() - t
    ledger = Ledger.create(tmp / "bench.db")
    t = time.perf_counter()
    for g in gens:
        store_company(ledger, g.data)
    phases["load"] = time.perf_counter() - t
    bus = EventBus(ledger, load_plugins(entry_points=False))
    lines = [canonical_json(e) for g in gens for e in sorted(g.events, key=lambda e: e["occurred_at"])]
    del gens
    t = time.perf_counter()
    events = read_events(bus.host, "bench", lines)
    bus.publish_all(events)
    phases["publish"] = time.perf_counter() - t
    t = time.perf_counter()
    rep = verify(ledger, bus.host.schemes)
    phases["verify"] = time.perf_counter() - t
    counts = {
        "events": len(events),
        "entitlements": ledger.conn.execute("SELECT COUNT(*) FROM entitlements").fetchone()[0],
        "audit_entries": rep.entries,
        "failed_dispatches": len(ledger.failed_dispatches()),
    }
    floor = _floor(ledger, tmp)
    ledger.close()
    size = (tmp / "bench.db").stat().st_size
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return {
        "employees": employees,
        "companies": companies,
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
        "floor_s": round(floor, 3),
        "publish_over_floor": round(phases["publish"] / floor, 2) if floor else None,
        "events_per_s": round(counts["events"] / phases["publish"], 1),
        "entitlements_per_s": round(counts["entitlements"] / phases["publish"], 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "db_mib": round(size / 2**20, 1),
        "audit_ok": rep.ok,
        **counts,
    }


def _floor(ledger: Any, tmp: Path) -> float:
    """Seconds plain sqlite3 takes to write the rows the publish wrote, in one transaction (same shape, WAL)."""
    target = sqlite3.connect(tmp / "floor.db", isolation_level=None)
    target.execute("PRAGMA journal_mode = WAL")
    batches = []
    for table in FLOOR_TABLES:
        cols = [r[1] for r in ledger.conn.execute(f"PRAGMA table_info({table})")]
        target.execute(f"CREATE TABLE {table} ({', '.join(cols)})")
        rows = ledger.conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
        batches.append((f"INSERT INTO {table} VALUES ({', '.join('?' for _ in cols)})", rows))
    t = time.perf_counter()
    target.execute("BEGIN")
    for sql, rows in batches:
        target.executemany(sql, rows)
    target.execute("COMMIT")
    elapsed = time.perf_counter() - t
    target.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp / "floor.db") + suffix).unlink(missing_ok=True)
    return elapsed


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


def run_in_subprocess(employees: int, companies: int = 1) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "paybonus.bench", str(employees), str(companies)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench run failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


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


if __name__ == "__main__":  # one measured run: python -m paybonus.bench EMPLOYEES [COMPANIES]
    print(json.dumps(run_one(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)))
