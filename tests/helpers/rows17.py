# ruff: noqa  (a measurement script kept as run for issue 17's recording pass: not product code)
"""Recording's per-row Python, apart from SQLite: a prepared ledger's year published (as growth17.py does, fixed
clock), the results of every dispatch of at least 300 drafts kept, then their rows made again without writing them.
Usage: rows17.py PREPARED SCRATCH [REPEATS]

Prints one JSON line: dispatches and rows kept, a digest of every row made (ids, digests, explanation texts, the
shared parts: equal between two versions that make the same rows), and CPU microseconds a row (the least of
REPEATS, default 5) of: the scheme's drafts alone (`drafts`: built lazily by the scheme), the drafts checked and
made into columns (`cols`: `EventBus._draft_columns`: checks, id, explanation text) and whole rows (`rows`:
`store.entitlements.new_rows`, the digest). cols - drafts and rows - drafts are the core's own per-row Python."""

import hashlib
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

prepared, scratch = Path(sys.argv[1]), Path(sys.argv[2])
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
scratch.mkdir(parents=True, exist_ok=True)
for suffix in ("", "-wal", "-shm"):
    (scratch / f"bench.db{suffix}").unlink(missing_ok=True)
shutil.copyfile(prepared / "bench.db", scratch / "bench.db")

from paybonus import EventBus, Ledger, load_plugins
from paybonus.bus import EventBus as Bus
from paybonus.logs import configure

configure("json", "error")
FIX = datetime(2027, 1, 1, tzinfo=UTC)
kept = []
compute = Bus._compute


def keeping(self, event, scheme, *a, **k):
    result = compute(self, event, scheme, *a, **k)
    if len(result.entitlements) >= 300:
        kept.append((event, scheme, result))
    return result


Bus._compute = keeping
ledger = Ledger.open(scratch / "bench.db")
bus = EventBus(ledger, load_plugins(entry_points=False), clock=lambda: FIX)
bus.publish_all(
    bus.host.event_types.read_jsonl("bench", (prepared / "events.jsonl").read_text(encoding="utf-8"))
)
Bus._compute = compute
at = FIX.isoformat()
n = sum(len(r.entitlements) for _, _, r in kept)


def drafts():
    for _, _, r in kept:
        for _ in r.entitlements:
            pass


def cols():
    for e, s, r in kept:
        for _ in bus._draft_columns(e, s, r, {}):
            pass


def rows():
    for e, s, r in kept:
        for _ in bus._rows(e, s, r, at, {}):
            pass


h = hashlib.sha256()
for e, s, r in kept:
    shared: dict = {}
    for row in bus._rows(e, s, r, at, shared):
        h.update(repr(row).encode())
    h.update(repr(sorted(shared.items())).encode())
out = {"dispatches": len(kept), "rows": n, "rows_digest": h.hexdigest()[:16]}
for name, f in (("drafts", drafts), ("cols", cols), ("rows", rows)):
    best = []
    for _ in range(reps):
        t = time.process_time()
        f()
        best.append(time.process_time() - t)
    out[name + "_us_row"] = round(min(best) / n * 1e6, 3)
print(json.dumps(out))
