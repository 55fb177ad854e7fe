"""`paybonus grant`: the second lock of append-only history on PostgreSQL, beside the triggers (docs/deploy.md).

Throwaway roles: an owner (not a superuser) that creates the ledger, a writer that records through it, a reader.
The writer runs what workers and `publish/load/retry` run, and `audit verify` passes; yet it can neither change
history nor switch the triggers off, and the reader can only read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import structlog
from helpers.cli import run, run_here
from paybonus import Paybonus
from paybonus.cli import main
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir
from paybonus.store import Ledger
from psycopg import sql
from psycopg.errors import InsufficientPrivilege


def as_role(url: str, role: str) -> str:
    """The same ledger URL, connecting as `role` (trust authentication)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.fixture
def roles(pg_url):
    """{'owner', 'writer', 'reader', 'other'} -> (role name, ledger URL as that role); the owner owns the test's
    schema and has made the ledger in it. Every role is dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = {k: f"pb_{k}_{tag}" for k in ("writer", "reader", "other", "owner")}
    admin = psycopg.connect(pg_url, autocommit=True)
    schema = admin.execute("SELECT current_schema()").fetchone()[0]
    for name in names.values():
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    admin.execute(
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), sql.Identifier(names["owner"]))
    )
    urls = {k: (n, as_role(pg_url, n)) for k, n in names.items()}
    Ledger.create(urls["owner"][1]).close()
    yield urls
    for name in names.values():  # the owner last: the others' privileges go with DROP OWNED BY
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
    admin.close()


def grant(tmp_path, url, *args):
    """`paybonus --db URL grant ARGS`, in this process: its exit code, stdout and stderr."""
    saved = structlog.get_config()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(tmp_path), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--db", url, "grant", *args])
        finally:
            structlog.configure(**saved)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_grant_gives_the_writer_and_the_reader_their_privileges(roles, tmp_path):
    (writer, _), (reader, _), (_, owner_url) = roles["writer"], roles["reader"], roles["owner"]
    r = grant(tmp_path, owner_url, "--writer", writer, "--reader", reader)
    assert r.returncode == 0, r.stderr
    assert (
        f"writer {writer}: UPDATE on companies; UPDATE on dispatches; UPDATE (status) on entitlements"
        in r.stdout
    )
    assert f"reader {reader}: USAGE on schema" in r.stdout and r.stderr == ""
    dry = grant(tmp_path, owner_url, "--writer", writer, "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("BEGIN;\nREVOKE ALL ON SCHEMA")
    assert 'GRANT UPDATE ("status") ON TABLE ' in dry.stdout and "TRUNCATE" not in dry.stdout
    assert dry.stdout.rstrip().endswith("COMMIT;")


def test_a_writer_records_loads_and_verifies_but_cannot_change_history(roles, tmp_path):
    (writer, writer_url), (_, owner_url) = roles["writer"], roles["owner"]
    assert grant(tmp_path, owner_url, "--writer", writer).returncode == 0
    with Paybonus.open(writer_url) as app:
        app.load_company(sample_dir())
        app.load_company(sample_dir())  # a second load replaces the payroll: DELETE, the companies upsert
        assert not app.publish(sample_dir() / "events.jsonl").failed
        ent = app.entitlements(scheme="interessement")[0]
        pay = {
            "id": "pay-1",
            "type": "payment_recorded",
            "company": "DURAND",
            "occurred_at": "2026-05-20T10:00:00+02:00",
            "payload": {"entitlement": ent.id, "amount_cents": ent.amount_cents, "paid_on": "2026-05-20"},
        }
        (tmp_path / "pay.jsonl").write_text(json.dumps(pay) + "\n")
        assert not app.publish(tmp_path / "pay.jsonl").failed  # a payment: UPDATE entitlements SET status
        assert len(app.entitlements()) == 106
        assert (
            app.ledger.conn.execute("SELECT status FROM entitlements WHERE id = ?", (ent.id,)).fetchone()[0]
            == "paid"
        )
        rep = app.verify()
        assert rep.ok, rep.problems
    for args in (("deadlines", "--as-of", "2026-06-01", "--check"), ("retry",), ("audit", "verify")):
        r = run("--db", writer_url, *args, cwd=tmp_path)
        assert r.returncode == 0, (args, r.stderr)

    conn = psycopg.connect(writer_url, autocommit=True)
    history = {
        "events": "digest",
        "audit_log": "hash",
        "payments": "amount_cents",
        "entitlements": "amount_cents",
        "parameter_sets": "document",
        "shared_explanations": "body",
    }
    refused = [
        statement
        for table, column in history.items()
        for statement in (
            f"UPDATE {table} SET {column} = {column}",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
        )
    ] + [
        "ALTER TABLE events DISABLE TRIGGER events_no_update",
        "ALTER TABLE payments DISABLE TRIGGER ALL",
        "DROP TRIGGER entitlements_immutable ON entitlements",
        "ALTER TABLE events ADD COLUMN x int",
        "CREATE TABLE mine (a int)",
        "SET session_replication_role = replica",
        "INSERT INTO paybonus_migrations (name) VALUES ('m999')",
        "DELETE FROM companies",
    ]
    for statement in refused:
        with pytest.raises(InsufficientPrivilege):
            conn.execute(statement)
    conn.execute("UPDATE entitlements SET status = status WHERE seq = 1")  # the one column it may update
    conn.close()


def test_a_reader_reads_and_verifies_and_writes_nothing(roles, tmp_path):
    (reader, reader_url), (_, owner_url) = roles["reader"], roles["owner"]
    with Paybonus.open(owner_url) as app:
        app.load_company(sample_dir())
        app.publish(sample_dir() / "events.jsonl")
    assert grant(tmp_path, owner_url, "--reader", reader).returncode == 0
    with Paybonus.open(reader_url) as app:
        assert len(app.entitlements()) == 106
        assert app.verify().ok
    conn = psycopg.connect(reader_url, autocommit=True)
    assert conn.execute("SELECT COUNT(*) FROM entitlements_in_euros").fetchone()[0] == 106
    for statement in (
        "INSERT INTO ledger_meta (key, value) VALUES ('x', 'y')",
        "INSERT INTO companies (id, name, config_toml, config_digest, loaded_at) VALUES ('X', 'x', '', '', '')",
        "UPDATE entitlements SET status = status",
        "DELETE FROM contracts",
        "CREATE TABLE mine (a int)",
    ):
        with pytest.raises(InsufficientPrivilege):
            conn.execute(statement)
    conn.close()
    for args in (
        ("entitlements", "--format", "json"),
        ("export", "--company", "DURAND"),
        ("statements", "--company", "DURAND", "--period", "2025", "--issued-on", "2026-04-15"),
        ("audit", "verify"),
    ):
        extra = ("--channel", "email", "--out", str(tmp_path / "st")) if args[0] == "statements" else ()
        r = run("--db", reader_url, *args, *extra, cwd=tmp_path)
        assert r.returncode == 0, (args, r.stderr)
    r = run("--db", reader_url, "load", str(sample_dir()), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "PostgreSQL refused this role (permission denied for table companies)" in r.stderr


def privileges(owner_url, role):
    with psycopg.connect(owner_url) as c:
        return c.execute(
            "SELECT string_agg(relname || ':' || privilege_type, ',' ORDER BY relname, privilege_type) FROM pg_class "
            "CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p (privilege_type) "
            "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' "
            "AND has_table_privilege(%s, oid, privilege_type)",
            (role,),
        ).fetchone()[0]


def test_grant_refuses_in_one_line_and_changes_nothing(roles, pg_url, tmp_path):
    (writer, writer_url), (reader, reader_url), (owner, owner_url) = (
        roles["writer"],
        roles["reader"],
        roles["owner"],
    )
    (other, _) = roles["other"]
    admin = psycopg.connect(pg_url, autocommit=True)
    superuser = admin.execute("SELECT current_user").fetchone()[0]
    admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(owner), sql.Identifier(other)))
    admin.close()
    cases = [
        ((str(tmp_path / "l.db"), "--writer", writer), "grants are PostgreSQL's"),
        ((owner_url, "--writer", "pb_nobody_here"), "no role 'pb_nobody_here'"),
        ((owner_url, "--writer", owner), "owns the ledger's tables"),
        ((owner_url, "--writer", other), "owns the ledger's tables"),  # a member of the owner
        ((owner_url, "--reader", superuser), "is a superuser"),
        ((owner_url, "--writer", writer, "--reader", writer), "the same role"),
        ((owner_url,), "name a --writer role"),
        ((writer_url, "--reader", reader), f"no schema of the search path is open to role {writer}"),
        ((owner_url, "--writer", writer, "--reader", "pb_nobody_here"), "no role"),  # nothing half done
    ]
    for (url, *args), message in cases:
        r = grant(tmp_path, url, *args)
        assert r.returncode == 2 and r.stdout == "", (args, r.stdout)
        assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert privileges(owner_url, writer) is None and privileges(owner_url, reader) is None
    assert grant(tmp_path, owner_url, "--reader", reader).returncode == 0
    r = grant(tmp_path, reader_url, "--writer", writer)  # a role that may open the ledger, but owns nothing
    assert (
        r.returncode == 2
        and r.stderr == f"error: grant: run it as the ledger's owner (role {owner}), not as {reader}\n"
    )
    assert privileges(owner_url, writer) is None


def test_grant_refuses_a_role_that_may_make_itself_the_owner_or_switch_the_triggers_off(
    roles, pg_url, tmp_path
):
    """Red team, December 2026: a writer with CREATEROLE was accepted, then ran `GRANT owner TO itself; SET ROLE
    owner; ALTER TABLE events DISABLE TRIGGER USER`. Each such power is refused in one line, nothing granted."""
    (other, other_url), (owner, owner_url) = roles["other"], roles["owner"]
    admin = psycopg.connect(pg_url, autocommit=True)
    schema = admin.execute("SELECT current_schema()").fetchone()[0]
    version = admin.execute("SHOW server_version_num").fetchone()[0]
    role, schema_id = sql.Identifier(other), sql.Identifier(schema)
    powerful = sql.Identifier(f"{other}_cr")
    powers = [
        (
            sql.SQL("ALTER ROLE {} CREATEROLE").format(role),
            sql.SQL("ALTER ROLE {} NOCREATEROLE").format(role),
            "has CREATEROLE",
        ),
        (  # inherited: SET ROLE to a CREATEROLE role (re-check of the red team)
            sql.SQL("CREATE ROLE {} CREATEROLE; GRANT {} TO {}").format(powerful, powerful, role),
            sql.SQL("REVOKE {} FROM {}; DROP ROLE {}").format(powerful, role, powerful),
            f"is a member of {other}_cr",
        ),
        (
            sql.SQL("GRANT pg_execute_server_program TO {}").format(role),
            sql.SQL("REVOKE pg_execute_server_program FROM {}").format(role),
            "is a member of pg_execute_server_program",
        ),
        (
            sql.SQL("ALTER SCHEMA {} OWNER TO {}; GRANT USAGE ON SCHEMA {} TO {}").format(
                schema_id, role, schema_id, sql.Identifier(owner)
            ),
            sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(schema_id, sql.Identifier(owner)),
            f"owns schema {schema}",
        ),
    ]
    if int(version) >= 150000:
        powers.append(
            (
                sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}").format(role),
                sql.SQL("REVOKE SET ON PARAMETER session_replication_role FROM {}").format(role),
                "may SET session_replication_role",
            )
        )
    try:
        for give, take_back, message in powers:
            admin.execute(give)
            try:
                for option in ("--writer", "--reader"):
                    r = grant(tmp_path, owner_url, option, other)
                    assert r.returncode == 2 and r.stdout == "", (message, r.stdout, r.stderr)
                    assert r.stderr.count("\n") == 1 and f"role {other!r} {message}" in r.stderr, r.stderr
                    assert privileges(owner_url, other) is None
            finally:
                admin.execute(take_back)
        admin.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(role))
        with psycopg.connect(other_url, autocommit=True) as c:  # what the refusal prevents (PostgreSQL < 16)
            if int(version) < 160000:
                c.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(owner), role))
                c.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
                c.execute("ALTER TABLE events DISABLE TRIGGER USER")
                c.execute("ALTER TABLE events ENABLE TRIGGER USER")
                c.execute("RESET ROLE")
                c.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(owner), role))
        admin.execute(sql.SQL("ALTER ROLE {} NOCREATEROLE").format(role))
        assert grant(tmp_path, owner_url, "--writer", other).returncode == 0  # without them: granted
    finally:
        admin.close()


def test_the_writer_ends_with_exactly_its_grants_and_leaks_are_named(roles, pg_url, tmp_path):
    (writer, _), (_, owner_url) = roles["writer"], roles["owner"]
    with psycopg.connect(owner_url, autocommit=True) as c:
        c.execute(sql.SQL("GRANT ALL ON events, entitlements TO {}").format(sql.Identifier(writer)))
    assert "events:TRUNCATE" in privileges(owner_url, writer)
    dry = grant(tmp_path, owner_url, "--writer", writer, "--dry-run")
    assert "events:TRUNCATE" in privileges(owner_url, writer)  # a dry run grants and revokes nothing
    with psycopg.connect(owner_url, autocommit=True) as c:
        c.execute(dry.stdout)  # what it printed is the SQL it runs
    granted = privileges(owner_url, writer)
    assert (
        "events:TRUNCATE" not in granted
        and "events:UPDATE" not in granted
        and "entitlements:UPDATE" not in granted
    )
    assert "contracts:DELETE" in granted and "companies:UPDATE" in granted and "events:INSERT" in granted
    assert grant(tmp_path, owner_url, "--writer", writer).returncode == 0
    assert privileges(owner_url, writer) == granted
    with psycopg.connect(owner_url, autocommit=True) as c:  # a leak grant cannot revoke: PUBLIC
        c.execute("GRANT TRUNCATE ON payments TO PUBLIC")
    r = grant(tmp_path, owner_url, "--writer", writer)
    assert r.returncode == 1
    assert f"warning: {writer} may still TRUNCATE on payments (through PUBLIC" in r.stderr


def test_pending_migrations_tell_a_writer_that_the_owner_must_migrate(roles, tmp_path):
    (writer, writer_url), (owner, owner_url) = roles["writer"], roles["owner"]
    assert grant(tmp_path, owner_url, "--writer", writer).returncode == 0
    with psycopg.connect(owner_url, autocommit=True) as c:
        last = c.execute("SELECT name FROM paybonus_migrations ORDER BY applied_at DESC, name DESC LIMIT 1")
        name = last.fetchone()[0]
        c.execute("DELETE FROM paybonus_migrations WHERE name = %s", (name,))  # as if paybonus was upgraded
    with pytest.raises(
        UserError, match=f"1 pending migration \\({name}\\): the ledger's owner \\(role {owner}\\)"
    ):
        Ledger.open(writer_url)
    r = run("--db", writer_url, "entitlements", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "must apply them first" in r.stderr


def test_a_worker_records_the_broker_s_events_as_the_writer(roles, nats_server, tmp_path):
    (writer, writer_url), (_, owner_url) = roles["writer"], roles["owner"]
    assert grant(tmp_path, owner_url, "--writer", writer).returncode == 0
    tag = uuid.uuid4().hex[:10]
    source = f"{nats_server.url}?stream=T{tag}&prefix=t{tag}&partitions=4&ack_wait=2"
    # the set-up and the polls of health in this process (a process every half second cost more than the wait);
    # the worker, the point of the test, is a real process
    assert run_here("--db", writer_url, "load", str(sample_dir()), cwd=tmp_path).returncode == 0
    assert (
        run_here("publish", "--to", source, str(sample_dir() / "events.jsonl"), cwd=tmp_path).returncode == 0
    )
    log = open(tmp_path / "w.log", "a")  # noqa: SIM115 - closed with the process
    worker = subprocess.Popen(
        [sys.executable, "-m", "paybonus", "worker", "--source", source, "--db", writer_url, "--id", "w"],
        stdout=log,
        stderr=log,
        env={**os.environ, "PAYBONUS_PLUGINS": os.environ.get("PAYBONUS_PLUGINS", "")},
    )
    try:
        deadline, h = time.monotonic() + 120, {}
        while time.monotonic() < deadline:
            r = run_here("health", "--source", source, "--db", writer_url, cwd=tmp_path)
            h = json.loads(r.stdout) if r.stdout.startswith("{") else {}
            if h.get("ok") and h["source"]["messages"] == 0 and h["source"]["unacknowledged"] == 0:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"not drained: {h} {(tmp_path / 'w.log').read_text()[-2000:]}")
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)
        log.close()
    assert code == 0, (tmp_path / "w.log").read_text()[-2000:]
    assert h["source"]["dead_letters"] == 0 and h["ledger"]["dead_letters"] == 0
    with Paybonus.open(writer_url) as app:
        assert len(app.entitlements()) == 106 and app.verify().ok
