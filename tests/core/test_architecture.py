"""The house's rules that a reader cannot see at a glance: no SQL outside store/, a read-only view for plugins."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
SQL_CALL = re.compile(r"\.(execute|executemany|executescript)\(")
SQL_TEXT = re.compile(
    r"\b(SELECT .* FROM|INSERT INTO|DELETE FROM|UPDATE \w+ SET|CREATE (TABLE|INDEX|TRIGGER)|DROP (TABLE|TRIGGER))\b"
)


def product_files():
    for top in ("core", "hooks", "plugins", "fixtures"):
        for f in sorted((ROOT / top).rglob("*.py")):
            if "store" not in f.relative_to(ROOT).parts[:2]:
                yield f


def test_no_sql_outside_the_store():
    found = []
    for f in product_files():
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if SQL_CALL.search(line) or SQL_TEXT.search(line):
                found.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "SQL outside core/store/:\n" + "\n".join(found)


def test_the_sql_check_finds_sql(tmp_path):
    # the rule above can fail: the patterns match the statements the store itself is made of
    store = "\n".join(f.read_text(encoding="utf-8") for f in (ROOT / "core" / "store").glob("*.py"))
    assert SQL_CALL.search(store) and SQL_TEXT.search(store)


def test_plugins_read_through_a_connection_that_cannot_write(paybonus_bus, paybonus_ledger):
    import sqlite3

    from helpers.plugins import SCHEMES_TOML, FlatPlugin

    bus = paybonus_bus(FlatPlugin(), schemes_toml=SCHEMES_TOML.replace("[schemes.flaky]\n", ""))
    view = bus.reader
    conn = view._conn  # what a plugin could reach by poking at private attributes
    for statement in ("DROP TRIGGER audit_log_no_update", "DELETE FROM events", "CREATE TABLE x (a)"):
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
            conn.execute(statement)
    assert view.company("ACME") is not None
