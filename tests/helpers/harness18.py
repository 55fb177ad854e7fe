# ruff: noqa  (a measurement script kept as run for issue 18: not product code)
"""Worker.handle on the bench's messages without the broker, PG ledger; prints CPU ms/event of worker + PG,
and a digest of rows. Usage: harness18.py EMPLOYEES COMPANIES DBURL [sqlite]"""

import hashlib
import resource
import sys
import time

from paybonus import Ledger, load_plugins
from paybonus.bench_server import _backends_cpu, _server_now, synthetic
from paybonus.hooks.types import Delivery
from paybonus.sources import store_company
from paybonus.store.pg_schema import scratch_schema
from paybonus.worker import Worker, messages

emp, comp, db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
datas, lines = synthetic(emp, comp)
host = load_plugins(entry_points=False)
events = [e for _, e in host.event_types.read_jsonl("bench", lines)]
msgs = messages(events)


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


TABLES = ["events", "dispatches", "entitlements", "shared_explanations", "findings", "audit_log", "payments"]
with scratch_schema(db) as url:
    import uuid as _uuid

    from paybonus.store import pg_schema as _pgs

    class _FixedUuid:  # the ledger's id (the chains' genesis) fixed: the digest covers the hashes too
        @staticmethod
        def uuid4():
            return _uuid.UUID(int=18)

    _pgs.uuid = _FixedUuid
    with Ledger.create(url) as ledger:
        for d in datas:
            store_company(
                ledger,
                d,
                now=__import__("datetime").datetime(2026, 12, 31, tzinfo=__import__("datetime").UTC),
            )
    since = _server_now(url)  # before the worker's sessions open: the writer's session counted too
    w = Worker(url, host)
    from datetime import UTC, datetime

    FIX = datetime(2027, 1, 1, tzinfo=UTC)
    w._app.bus.clock = lambda: FIX
    pg0 = _backends_cpu(url, since) or 0.0  # the sessions' CPU so far (the worker's start): not counted
    import cProfile
    import os

    pr = cProfile.Profile(time.process_time) if os.environ.get("PROFILE") else None
    if pr:
        pr.enable()
    import collections

    from paybonus.store import pg as _pg

    SQLS = collections.Counter()
    if os.environ.get("COUNT"):
        _orig_e, _orig_m = _pg.PgCursor.execute, _pg.PgCursor.executemany

        def _e(self, sql, args=()):
            SQLS["E " + " ".join(sql.split())[:110]] += 1
            return _orig_e(self, sql, args)

        def _m(self, sql, rows):
            SQLS["M " + " ".join(sql.split())[:110]] += 1
            return _orig_m(self, sql, rows)

        _pg.PgCursor.execute, _pg.PgCursor.executemany = _e, _m
    t, c = time.perf_counter(), cpu()
    for company, mid, data in msgs:
        v = w.handle(Delivery(data=data, subject=f"x.{company}", message_id=mid))
        assert v.name == "ACK", v
    wall, wc = time.perf_counter() - t, cpu() - c
    if pr:
        pr.disable()
        pr.dump_stats(os.environ["PROFILE"])
    pg = _backends_cpu(url, since) - pg0
    for k, v in SQLS.most_common(40):
        print(f"{v / len(events):6.2f} {k}")
    n = len(events)
    print(
        f"events {n} msgs {len(msgs)} wall {wall:.2f} worker_cpu {wc:.2f} pg_cpu {pg:.2f} ms/event worker {wc / n * 1000:.3f} pg {pg / n * 1000:.3f} total {(wc + pg) / n * 1000:.3f}",
        flush=True,
    )
    w.close()
    if "--digest" in sys.argv:
        import psycopg

        h = hashlib.sha256()
        rowsout = open(os.environ["ROWS"], "w") if os.environ.get("ROWS") else None
        with Ledger.open(url) as led:
            pass
        conn = psycopg.connect(url)
        for t_ in TABLES:
            for row in conn.execute(
                f"SELECT * FROM {t_} ORDER BY seq"
                if t_ in ("events", "entitlements", "audit_log")
                else f"SELECT * FROM {t_} ORDER BY 1, 2, 3"
            ):
                h.update(repr(row).encode())
                if os.environ.get("ROWS"):
                    rowsout.write(t_ + " " + repr(row) + "\n")
        conn.close()
        print("digest", h.hexdigest()[:16], flush=True)
