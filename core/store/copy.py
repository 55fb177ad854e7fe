"""`paybonus migrate`: a SQLite ledger copied, row for row, into an empty PostgreSQL ledger.

Every table is copied with COPY in one transaction (all or nothing, and verified before it commits), in an order that satisfies the foreign keys,
rows in their recording order with their sequence numbers, and the ledger's id (the chains' genesis is bound to
it). The frozen 0.x chain refuses inserts: its trigger is disabled inside that transaction only. Identity
sequences then continue after the copied rows. The caller verifies the copy (`audit verify` on it, and the same
row counts and chain heads as the source).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paybonus.errors import UserError

from .ledger import Ledger

ORDER = (
    "ledger_meta",
    "companies",
    "contracts",
    "pay_lines",
    "absences",
    "company_configs",
    "payroll_parts",
    "payroll_loads",
    "company_files",
    "parameter_sets",
    "events",
    "shared_explanations",
    "entitlements",
    "dispatches",
    "findings",
    "payments",
    "deadline_notices",
    "audit_log_v1",
    "audit_log",
    "message_dead_letters",
)
ORDERED_BY = {
    "findings": "rowid",
    "shared_explanations": "rowid",
    "contracts": "rowid",
    "absences": "rowid",
    "ledger_meta": "key",
}
SKIP = {"_sqlite_migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4"}


def tables_of(source: Ledger) -> list[str]:
    names = [r[0] for r in source.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    names = [n for n in names if n not in SKIP and not n.startswith("sqlite_")]
    known = [t for t in ORDER if t in names]
    return known + sorted(set(names) - set(known))


def copy_ledger(
    source: Ledger,
    target: Ledger,
    on_table: Callable[[str, int], None] | None = None,
    check: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Copy every row of `source` (SQLite) into `target` (an empty PostgreSQL ledger); rows per table. `check`
    runs on the copy inside the same transaction, before it commits: whatever it raises (and an interruption, or
    the process killed) rolls the whole copy back, leaving the target empty, so that the copy can be run again."""
    if target.server is None or source.server is not None:
        raise UserError(target.path, "migrate copies a SQLite ledger into a PostgreSQL one")
    if target.companies.ids() or target.events.count():
        raise UserError(target.path, "the target ledger is not empty: migrate into a new database")
    raw: Any = target.server.conn.raw
    counts: dict[str, int] = {}
    with target.write():
        for table in tables_of(source):
            target_cols = {
                r[0]
                for r in target.conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = ?",
                    (table,),
                )
            }
            if not target_cols:
                raise UserError(target.path, f"has no table {table}: upgrade paybonus on the PostgreSQL side")
            cols = [r[1] for r in source.conn.execute(f"PRAGMA table_info({table})") if r[1] in target_cols]
            quoted = ", ".join(f'"{c}"' for c in cols)
            if table == "ledger_meta":
                target.conn.execute("DELETE FROM ledger_meta")
            if table == "audit_log_v1":
                target.conn.execute("ALTER TABLE audit_log_v1 DISABLE TRIGGER audit_log_v1_no_insert")
            order = ORDERED_BY.get(table) or ("seq" if "seq" in cols else "rowid")
            n = 0
            with raw.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN") as cp:
                for row in source.conn.execute(f"SELECT {quoted} FROM {table} ORDER BY {order}"):
                    cp.write_row(row)
                    n += 1
            if table == "audit_log_v1":
                target.conn.execute("ALTER TABLE audit_log_v1 ENABLE TRIGGER audit_log_v1_no_insert")
            if "seq" in cols:
                target.conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), GREATEST(MAX(seq), 1), "
                    f"MAX(seq) IS NOT NULL) FROM {table}"
                )
            counts[table] = n
            if on_table:
                on_table(table, n)
        if check is not None:
            check(counts)
    return counts


def row_counts(ledger: Ledger, tables: list[str]) -> dict[str, int]:
    return {t: int(ledger.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
