"""How the SQLite ledger stores: page size of a new ledger, the indexes a close writes (docs/performance.md)."""

import sqlite3

import sqlite_utils
from paybonus.store import Ledger
from paybonus.store.ledger import PAGE_SIZE
from paybonus.store.schema import migrations


def test_a_new_ledger_has_large_pages_and_an_existing_one_keeps_its_own(tmp_path):
    new = Ledger.create(tmp_path / "new.db")
    assert new.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 8192
    new.close()
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrations.apply(sqlite_utils.Database(conn, execute_plugins=False))
    conn.close()
    for opened in (Ledger.open(tmp_path / "old.db"), Ledger.create(tmp_path / "old.db")):
        assert opened.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        opened.close()


def test_the_audit_log_indexes_parameter_sets_only(tmp_path):
    """An entry per entitlement in an index on (action, ref) went to a random place (its ref is a hash): only the
    `params.recorded` entries are indexed, and the query about them uses that index."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.apply(
        sqlite_utils.Database(conn, execute_plugins=False), stop_before="m011_audit_index_of_parameter_sets"
    )
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'idx_audit_log_action_ref'").fetchone()
    conn.close()
    ledger = Ledger.open(path)
    assert ledger.migrated == ["m011_audit_index_of_parameter_sets"]
    indexes = {
        r[0]: r[1]
        for r in ledger.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'audit_log' AND type = 'index'"
        )
    }
    assert "idx_audit_log_action_ref" not in indexes
    assert "WHERE action = 'params.recorded'" in indexes["idx_audit_log_params"]
    plan = ledger.conn.execute(
        "EXPLAIN QUERY PLAN SELECT 1 FROM audit_log WHERE company = ? AND action = 'params.recorded' AND ref = ?",
        ("C", "d"),
    ).fetchall()
    assert "idx_audit_log_params" in plan[0][3]
    ledger.close()
