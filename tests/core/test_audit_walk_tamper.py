"""Tampers aimed at verify's fifth pass (docs/performance.md, "verify's CPU, fifth pass"): the dispatches' digests
take their rows' ids from the walk of the entitlements, the payments' check reads only the rows not plainly due and
unpaid, and the contracts' and absences' parts are digested from SQLite's own JSON. Each tamper below must still be
named by `audit verify`, through the in-process walk and through the worker processes' walk."""

import shutil
import unicodedata

import pytest
from helpers.statements import sample_ledger as published_sample
from paybonus import Paybonus
from paybonus import plugins as testplugins_unused  # noqa: F401 - the built-in families are what is audited


@pytest.fixture(scope="module")
def sample_ledger(tmp_path_factory):
    path = published_sample(tmp_path_factory.mktemp("sample") / "ledger.db")
    with Paybonus.open(path) as app:
        rep = app.verify()
        assert rep.ok, rep.problems
    return path


@pytest.fixture(params=["in-process", "workers"])
def app(request, sample_ledger, tmp_path, monkeypatch):
    path = tmp_path / "ledger.db"
    shutil.copy(sample_ledger, path)
    if request.param == "workers":  # the walk of slices the worker processes recomputed
        from paybonus import audit_rows

        monkeypatch.setattr(audit_rows, "PARALLEL_MIN_ROWS", 1)
        monkeypatch.setenv(audit_rows.PROCESSES_ENV, "2")
    with Paybonus.open(path) as a:
        yield a


def problems(app):
    return [str(p) for p in app.verify().problems]


def sql(app, *statements, args=()):
    for s in statements:
        app.ledger.conn.execute(s, args)


def dispatches_with_rows(app, n=2, scheme=None):
    """(company, event_id, scheme) of n completed dispatches holding at least two rows (of `scheme`, if given)."""
    where = "" if scheme is None else f" AND scheme = '{scheme}'"
    return app.ledger.conn.execute(
        f"SELECT company, event_id, scheme FROM entitlements WHERE 1 = 1{where} GROUP BY 1, 2, 3 "
        f"HAVING COUNT(*) > 1 ORDER BY MIN(seq) LIMIT {n}"
    ).fetchall()


def named(found, company, event_id, scheme):
    return (
        f"dispatch {event_id}/{scheme} ({company}): its row, findings or entitlements differ from its audit entry "
        "(altered)" in found
    )


def first_id(app, company, event_id, scheme):
    return app.ledger.conn.execute(
        "SELECT id FROM entitlements WHERE company = ? AND event_id = ? AND scheme = ? ORDER BY seq LIMIT 1",
        (company, event_id, scheme),
    ).fetchone()[0]


def test_the_untouched_copy_verifies(app):
    assert problems(app) == []


@pytest.mark.parametrize("column", ["event_id", "scheme"])
def test_a_row_moved_to_another_dispatch_names_both(app, column):
    sql(app, "DROP TRIGGER entitlements_immutable", "PRAGMA foreign_keys = OFF")
    if column == "event_id":
        (c1, e1, s1), (c2, e2, s2) = [d for d in dispatches_with_rows(app, 20) if d[2] == "prime_nao"][:2]
    else:
        pairs = app.ledger.conn.execute(
            "SELECT a.company, a.event_id, a.scheme, b.scheme FROM dispatches a JOIN dispatches b ON "
            "a.company = b.company AND a.event_id = b.event_id AND a.scheme < b.scheme WHERE a.status = "
            "'completed' AND b.status = 'completed' AND EXISTS (SELECT 1 FROM entitlements e WHERE e.company = "
            "a.company AND e.event_id = a.event_id AND e.scheme = a.scheme) LIMIT 1"
        ).fetchone()
        if pairs is None:
            pytest.skip("no event with two completed dispatches in the sample")
        c1, e1, s1, s2 = pairs
        c2, e2 = c1, e1
    moved = first_id(app, c1, e1, s1)
    sql(
        app,
        f"UPDATE entitlements SET {column} = ? WHERE id = ?",
        args=(e2 if column == "event_id" else s2, moved),
    )
    found = problems(app)
    assert named(found, c1, e1, s1)
    assert named(found, c2, e2, s2)


def test_two_rows_swapped_between_dispatches_names_both(app):
    (c1, e1, s1), (c2, e2, s2) = [d for d in dispatches_with_rows(app, 20) if d[2] == "prime_nao"][:2]
    a, b = first_id(app, c1, e1, s1), first_id(app, c2, e2, s2)
    sql(app, "DROP TRIGGER entitlements_immutable", "PRAGMA foreign_keys = OFF")
    sql(app, "UPDATE entitlements SET event_id = ? WHERE id = ?", args=(e2, a))
    sql(app, "UPDATE entitlements SET event_id = ? WHERE id = ?", args=(e1, b))
    found = problems(app)
    assert named(found, c1, e1, s1) and named(found, c2, e2, s2)


def test_a_deleted_row_names_its_dispatch(app):
    (c1, e1, s1) = dispatches_with_rows(app, 1)[0]
    gone = first_id(app, c1, e1, s1)
    sql(app, "DROP TRIGGER entitlements_no_delete", "PRAGMA foreign_keys = OFF")
    sql(app, "DELETE FROM entitlements WHERE id = ?", args=(gone,))
    found = problems(app)
    assert named(found, c1, e1, s1)
    assert any(f"entitlement {gone} is missing" in p for p in found)


def test_the_last_row_deleted_names_its_dispatch(app):
    # the walk's last seq is then lower: nothing "recorded since" must hide the dispatch that lost it
    c1, e1, s1, gone = app.ledger.conn.execute(
        "SELECT company, event_id, scheme, id FROM entitlements ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    sql(app, "DROP TRIGGER entitlements_no_delete", "PRAGMA foreign_keys = OFF")
    sql(app, "DELETE FROM entitlements WHERE id = ?", args=(gone,))
    assert named(problems(app), c1, e1, s1)


def test_a_dispatchs_every_row_deleted_names_it(app):
    (c1, e1, s1) = dispatches_with_rows(app, 1)[0]
    sql(app, "DROP TRIGGER entitlements_no_delete", "PRAGMA foreign_keys = OFF")
    sql(
        app,
        "DELETE FROM entitlements WHERE company = ? AND event_id = ? AND scheme = ?",
        args=(c1, e1, s1),
    )
    assert named(problems(app), c1, e1, s1)


def test_a_row_copied_into_its_own_dispatch_names_it(app):
    (c1, e1, s1) = dispatches_with_rows(app, 1)[0]
    source = first_id(app, c1, e1, s1)
    sql(
        app,
        "INSERT INTO entitlements (id, scheme, scheme_version, company, employee, period_start, period_end, "
        "amount_cents, kind, social_regime, status, event_id, explanation, digest, recorded_at) SELECT "
        "'ENT-copy', scheme, scheme_version, company, employee, period_start, period_end, amount_cents, kind, "
        "social_regime, status, event_id, explanation, digest, recorded_at FROM entitlements WHERE id = ?",
        args=(source,),
    )
    found = problems(app)
    assert named(found, c1, e1, s1)


def test_a_row_given_an_empty_dispatch_names_it(app):
    # a completed dispatch with no rows: the walk has nothing of it; a forged row given to it must still count
    company, event_id, scheme = app.ledger.conn.execute(
        "SELECT company, event_id, scheme FROM dispatches d WHERE status = 'completed' AND NOT EXISTS (SELECT 1 "
        "FROM entitlements e WHERE e.company = d.company AND e.event_id = d.event_id AND e.scheme = d.scheme) "
        "LIMIT 1"
    ).fetchone()
    victim = app.ledger.conn.execute("SELECT id FROM entitlements ORDER BY seq LIMIT 1 OFFSET 3").fetchone()[
        0
    ]
    sql(app, "DROP TRIGGER entitlements_immutable", "PRAGMA foreign_keys = OFF")
    sql(
        app,
        "UPDATE entitlements SET event_id = ?, scheme = ?, company = ? WHERE id = ?",
        args=(event_id, scheme, company, victim),
    )
    assert named(problems(app), company, event_id, scheme)


@pytest.mark.parametrize("status", ["due ", "DUE", "Due", "", "paid", "due\x00"])
def test_a_status_edited_on_an_unpaid_row_is_named(app, status):
    # the payments' check reads the rows but those 'due' without payments (SQL); anything else must be read
    ent = app.ledger.conn.execute(
        "SELECT id FROM entitlements WHERE status = 'due' AND amount_cents > 0 AND id NOT IN "
        "(SELECT entitlement FROM payments) LIMIT 1"
    ).fetchone()[0]
    sql(app, "UPDATE entitlements SET status = ? WHERE id = ?", args=(status, ent))
    assert any(ent in p and "does not follow from its payments" in p for p in problems(app))


def _payroll_named(found, part):
    return f"company DURAND: payroll {part} differs from load 1 (rows altered, added or removed)" in found


@pytest.mark.parametrize(
    "table, column, edit",
    [
        ("contracts", "end", "COALESCE(\"end\" || ' ', '')"),  # NULL -> '' or a trailing space
        ("contracts", "start", "start || ' '"),
        ("contracts", "employee", "employee || char(0)"),
        ("contracts", "category", "CASE WHEN category IS NULL THEN 'null' ELSE NULL END"),
        ("contracts", "group_company", "COALESCE(group_company, '') || 'X'"),
        ("absences", "kind", "kind || char(0)"),
        ("absences", "end", "replace(\"end\", '-', '‐')"),  # a unicode hyphen
    ],
)
def test_a_contract_or_absence_edited_is_named(app, table, column, edit):
    sql(app, f"DROP TRIGGER IF EXISTS {table}_no_update")
    sql(
        app,
        f'UPDATE {table} SET "{column}" = {edit} WHERE rowid = (SELECT MIN(rowid) FROM {table} '
        "WHERE company = 'DURAND')",
    )
    assert _payroll_named(problems(app), table)


def test_an_employee_id_normalised_otherwise_is_named(app):
    # NFC and NFD of the same name look alike and compare equal after normalisation: the digest must not
    emp = "Zoé"
    nfd = unicodedata.normalize("NFD", emp)
    sql(app, "DROP TRIGGER IF EXISTS contracts_no_update")
    row = app.ledger.conn.execute("SELECT MIN(rowid) FROM contracts WHERE company = 'DURAND'").fetchone()[0]
    sql(app, "UPDATE contracts SET employee = ? WHERE rowid = ?", args=(emp, row))
    found = problems(app)
    assert _payroll_named(found, "contracts")
    copy_nfd = app.ledger.conn.execute(
        "SELECT COUNT(*) FROM contracts WHERE employee = ?", (nfd,)
    ).fetchone()[0]
    assert copy_nfd == 0


@pytest.mark.parametrize("column", ["dsn_block", "dsn_code", "due_date", "corrects"])
def test_a_null_made_a_nul_character_is_named(app, column):
    # a row's digest writes NULL as a NUL character: a NULL column set to the one-character text NUL digests as
    # before, and with the trigger put back nothing else tells (paybonus never writes a NUL into these columns)
    row = app.ledger.conn.execute(
        f"SELECT id, seq FROM entitlements WHERE {column} IS NULL ORDER BY seq LIMIT 1"
    ).fetchone()
    if row is None:
        pytest.skip(f"no row of the sample leaves {column} NULL")
    trigger = app.ledger.conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'entitlements_immutable'"
    ).fetchone()[0]
    sql(app, "DROP TRIGGER entitlements_immutable", "PRAGMA foreign_keys = OFF")
    sql(app, f"UPDATE entitlements SET {column} = char(0) WHERE id = ?", args=(row[0],))
    sql(app, trigger)
    assert f"entitlement {row[0]} (row {row[1]}): content differs from its audit entry (altered)" in problems(
        app
    )


def test_on_postgresql_rows_moved_and_statuses_edited_are_named(pg_url):
    # the walk and the payments' SQL on the other backend: COLLATE "C" text, identity seq, its own triggers
    import psycopg

    published_sample(pg_url)
    with Paybonus.open(pg_url) as app:
        assert app.verify().ok
    with psycopg.connect(pg_url, autocommit=True) as c:
        (c1, e1, s1, moved), (c2, e2, s2, _) = c.execute(
            "SELECT company, event_id, scheme, MIN(id) FROM entitlements WHERE scheme = 'prime_nao' "
            "GROUP BY 1, 2, 3 ORDER BY 2 LIMIT 2"
        ).fetchall()
        unpaid = c.execute(
            "SELECT id FROM entitlements WHERE status = 'due' AND amount_cents > 0 AND id NOT IN "
            "(SELECT entitlement FROM payments) ORDER BY seq LIMIT 1"
        ).fetchone()[0]
        c.execute("ALTER TABLE entitlements DISABLE TRIGGER USER")
        c.execute("UPDATE entitlements SET event_id = %s WHERE id = %s", (e2, moved))
        c.execute("UPDATE entitlements SET status = 'due ' WHERE id = %s", (unpaid,))
    with Paybonus.open(pg_url) as app:
        found = [str(p) for p in app.verify().problems]
    assert named(found, c1, e1, s1) and named(found, c2, e2, s2)
    assert any(unpaid in p and "does not follow from its payments" in p for p in found)
