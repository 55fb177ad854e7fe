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
    assert ledger.migrated == [
        "m011_audit_index_of_parameter_sets",
        "m012_event_ids_per_company",
        "m013_overdue_net_of_corrections",
    ]
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


def test_a_population_is_the_same_whatever_order_its_pay_lines_were_loaded_in(tmp_path):
    """The population reads pay lines in the order of their primary key (month, then employee: nothing to sort);
    each employee's lines still come in month order; equal amounts, and equal lines, are shared."""
    import random
    from datetime import date

    from attrs import evolve
    from paybonus.calendar import Period
    from paybonus.fixtures.pytest_plugin import make_company
    from paybonus.sources import store_company

    data = make_company(employees=30).data
    year = Period(date(2025, 1, 1), date(2025, 12, 31))
    pops = []
    for n, order in enumerate((sorted, lambda rows: random.Random(7).sample(rows, len(rows)))):
        ledger = Ledger.create(tmp_path / f"l{n}.db")
        store_company(ledger, evolve(data, pay_lines=order(list(data.pay_lines))))
        reader = ledger.reader()
        pops.append(reader.payroll(data.config.info.id, year))
        reader.close()
        ledger.close()
    assert pops[0] == pops[1]
    for emp in pops[1].employees:
        months = [p.month for p in emp.pay]
        assert months == sorted(months) and len(set(months)) == len(months)
    lines = [p for e in pops[1].employees for p in e.pay]
    assert len({id(p.gross_cents) for p in lines}) == len({p.gross_cents for p in lines})
    assert len({id(p) for p in lines}) == len(set(lines))  # equal lines: one object


def test_people_paid_the_same_share_their_pay_lines(tmp_path):
    from datetime import date

    from attrs import evolve
    from paybonus.calendar import Period
    from paybonus.fixtures.pytest_plugin import make_company
    from paybonus.sources import store_company

    data = make_company(employees=3).data
    first = [r for r in data.pay_lines if r[0] == "E0001"]
    twin = [("E0002", *r[1:]) for r in first]  # E0002 paid as E0001, month by month
    rows = [r for r in data.pay_lines if r[0] != "E0002"] + twin
    ledger = Ledger.create(tmp_path / "l.db")
    store_company(ledger, evolve(data, pay_lines=rows))
    reader = ledger.reader()
    pop = reader.payroll(data.config.info.id, Period(date(2025, 1, 1), date(2025, 12, 31)))
    reader.close()
    ledger.close()
    a, b = (e for e in pop.employees if e.id in ("E0001", "E0002"))
    assert a.pay == b.pay and len(a.pay) == len(first) > 0
    assert all(x is y for x, y in zip(a.pay, b.pay, strict=True))
