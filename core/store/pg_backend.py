"""A ledger in PostgreSQL: the same `Ledger`, verbs, repositories and guarantees as on SQLite.

What differs is kept here: connecting by URL, the migrations of `pg_schema`, and the write lock. SQLite has one
writer at a time; here writers of different companies run in parallel and writers of one company serialise on a
transaction-scoped advisory lock keyed by the company (`pg_advisory_xact_lock(hashtextextended(company, 0))`),
taken at the start of each write transaction and released by its commit or rollback, so a crashed worker never
leaves it held. Whole-ledger writers (a replay seed, a migration) take the exclusive form of one global key that
company writers hold shared. Under READ COMMITTED each statement after the lock sees every commit made before it:
the version check, the chain head and the duplicate checks read what the previous holder wrote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from paybonus.errors import UserError

from . import pg_schema
from .pg import PgConnection
from .sql import redacted


class PgBackend:
    """What a ledger in PostgreSQL does its own way; `Ledger` delegates to it when opened on a URL."""

    name = "postgresql"

    def __init__(self, conn: PgConnection, url: str) -> None:
        self.conn = conn
        self.url = url
        self.held: str | None = None  # the company whose lock this session holds between transactions

    @contextmanager
    def holding(self, company: str) -> Iterator[None]:
        """Hold the company's lock (and the shared global one) for this session, across transactions: a worker
        recording one message of the company. Its write transactions for it then take no lock of their own, and
        no other writer of the company can come between them. Released at the end (or with the connection)."""
        self.conn.execute(
            "SELECT pg_advisory_lock_shared(?), pg_advisory_lock(hashtextextended(?, 0))",
            (pg_schema.MIGRATION_LOCK, company),
        )
        self.held = company
        try:
            yield
        finally:
            self.held = None
            with contextlib.suppress(psycopg.Error):  # else the connection is gone, and its locks with it
                self.conn.execute(
                    "SELECT pg_advisory_unlock(hashtextextended(?, 0)), pg_advisory_unlock_shared(?)",
                    (company, pg_schema.MIGRATION_LOCK),
                )

    @classmethod
    def connect(cls, url: str, create: bool) -> tuple[PgBackend, list[str]]:
        """Connect, check it is a ledger (or make one, `create`), apply pending migrations."""
        conn = PgConnection(url)
        try:
            has, schema, role = conn.execute(
                "SELECT to_regclass('audit_log') IS NOT NULL, current_schema(), current_user"
            ).fetchone()
            if schema is None:  # the search path names no schema this role may use (or none that exists)
                raise UserError(
                    redacted(url),
                    f"no schema of the search path is open to role {role}: the ledger's owner opens it with "
                    "`paybonus grant` (or create the schema)",
                )
            if not has and not create:
                raise UserError(
                    redacted(url),
                    "not a paybonus ledger (no audit_log table); create one with `paybonus init`",
                )
            if not has and create:  # refuse a schema that holds someone else's tables: nothing added to it
                others = [
                    r[0]
                    for r in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "AND tablename <> 'paybonus_migrations' ORDER BY tablename LIMIT 3"
                    )
                ]
                if others:
                    raise UserError(
                        redacted(url),
                        f"not a paybonus ledger: schema {schema} holds other tables ({', '.join(others)}); "
                        "init a ledger in a new database or an empty schema",
                    )
            todo = pg_schema.pending(conn) if has else []
            owner = pg_schema.owner_if_not_me(conn) if todo else None
            if owner is not None:
                raise UserError(
                    redacted(url),
                    f"{len(todo)} pending migration{'s' if len(todo) > 1 else ''} ({', '.join(todo)}): "
                    f"the ledger's owner (role {owner}) must apply them first, with `paybonus init`",
                )
            migrated = pg_schema.apply(conn)
        except psycopg.Error as exc:
            conn.close()
            raise UserError(redacted(url), f"cannot use this database ({str(exc).splitlines()[0]})") from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, url), migrated

    def pending_migrations(self) -> list[str]:
        return pg_schema.pending(self.conn)

    @contextmanager
    def transaction(self, companies: Sequence[str]) -> Iterator[None]:
        """A write transaction holding the advisory lock of each company it writes for (all: none named).

        A company's, in pipeline mode: a statement whose result is not read (an INSERT, an UPDATE) is sent without waiting for
        its answer, and goes with the next one that is read, or with the COMMIT. BEGIN and the lock make one round
        trip (the lock is held before the caller's block begins); the writes of a dispatch and its COMMIT, one or
        two. An error of a statement sent ahead is raised at the next read or at the COMMIT, still inside the
        transaction (rolled back)."""
        # a whole-ledger writer (none named: a migration, a copy) may COPY, which pipeline mode refuses
        with self.conn.pipelined_transaction() if companies else self.conn.transaction():
            if companies and self.held is not None and set(companies) == {self.held}:
                pass  # held for the session (`holding`): taken before this transaction began
            elif companies:  # one statement, one round trip; one order for all: no deadlock
                keys = sorted(set(companies))
                locks = ", ".join("pg_advisory_xact_lock(hashtextextended(?, 0))" for _ in keys)
                self.conn.execute(
                    f"SELECT pg_advisory_xact_lock_shared(?), {locks}", (pg_schema.MIGRATION_LOCK, *keys)
                ).fetchone()  # waits: the lock is held when the caller's block begins (it may compute under it)
            else:
                self.conn.execute("SELECT pg_advisory_xact_lock(?)", (pg_schema.MIGRATION_LOCK,)).fetchone()
            yield

    def defer_durability(self) -> None:
        """Commits of this session return before their write-ahead log is flushed (`synchronous_commit = off`).
        A server crash can lose only the last ones, never half of one, and never one that a later durable
        commit depends on: the log is flushed in order."""
        self.conn.execute("SET synchronous_commit = off")

    def make_durable(self) -> None:
        """Flush the write-ahead log up to now: a transaction that takes a transaction id commits durably
        (`synchronous_commit` on for it), and its flush covers every commit written before it."""
        with self.conn.pipelined_transaction():  # one round trip
            self.conn.execute("SET LOCAL synchronous_commit = on")
            self.conn.execute("SELECT pg_logical_emit_message(true, 'paybonus', 'durable')")

    # -- what the verifier reads about the database itself --------------------------------------------------

    def integrity(self) -> list[tuple[str]]:
        """PostgreSQL checks its pages itself (and data checksums, when the cluster has them): nothing to ask."""
        return [("ok",)]

    def schema(self) -> dict[tuple[str, str], str]:
        return _schema_of(self.conn, "current_schema()")

    def expected_schema(self) -> dict[tuple[str, str], str]:
        """The schema this version makes, built in the session's temporary schema inside a transaction rolled
        back: any role that may read the ledger can build it (TEMP, which PUBLIC has), none needs CREATE. Its
        triggers call the ledger's own functions (functions are never looked up in pg_temp), by name."""
        global _EXPECTED
        if _EXPECTED is None:
            try:
                with self.conn.transaction():
                    self.conn.execute("SET LOCAL client_min_messages = warning")  # "will be a temporary view"
                    self.conn.execute(
                        "SELECT set_config('search_path', 'pg_temp, ' || quote_ident(current_schema()), true)"
                    )
                    for _, fn in pg_schema.MIGRATIONS:
                        fn(self.conn)
                    _EXPECTED = _schema_of(self.conn, "pg_my_temp_schema()::regnamespace::text")
                    raise psycopg.Rollback
            except psycopg.Error as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise UserError(redacted(self.url), f"cannot build the expected schema ({first})") from None
        return _EXPECTED


_EXPECTED: dict[tuple[str, str], str] | None = None


def server_clock(url: str) -> Any:
    """The server's clock now (`paybonus bench --workers`: the sessions opened after it are the workers')."""
    conn = PgConnection(url)
    try:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]
    finally:
        conn.close()


def sessions_since(url: str, since: Any) -> list[int]:
    """Process ids of the sessions paybonus opened on this database since `since` (writers and readers)."""
    conn = PgConnection(url)
    try:
        return [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_start >= ? "
                "AND application_name IN ('paybonus', 'paybonus-reader') AND pid <> pg_backend_pid()",
                (since,),
            )
        ]
    finally:
        conn.close()


def _schema_of(conn: PgConnection, schema: str) -> dict[tuple[str, str], str]:
    """(type, name) -> definition: a table's columns (name, type, not null, default), an enabled trigger's
    table, timing and function, an index's definition. `schema` is an SQL expression naming the schema (temporary
    tables included)."""
    out: dict[tuple[str, str], str] = {}
    cols: dict[str, list[str]] = {}
    for table, name, kind, nullable in conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        f"WHERE table_schema = {schema} AND table_name::text IN (SELECT c.relname::text FROM pg_class c "
        f"JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = {schema} AND c.relkind IN ('r', 'p')) "
        "ORDER BY table_name, ordinal_position"
    ):
        cols.setdefault(table, []).append(f"{name} {kind} {nullable}")
    for table, parts in cols.items():
        out[("table", table)] = ";".join(parts)
    for name, table, enabled, definition in conn.execute(
        "SELECT t.tgname, c.relname, t.tgenabled, p.proname || ' ' || t.tgtype || ' ' || "
        "encode(t.tgargs, 'escape') FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace s ON s.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
        f"WHERE NOT t.tgisinternal AND s.nspname = {schema}"
    ):
        out[("trigger", name)] = f"{table} {definition}" if enabled != "D" else f"{table} disabled"
    # an index's definition without its table's schema (the expected one is built in a temporary schema): the
    # schema's name removed as pg_get_indexdef writes it, quoted (a pattern of non-blanks missed "Paie 2026"), the
    # session's temporary one as `pg_temp`; those of the tables' own keys too (`…_pkey`): a dropped key is a
    # dropped unique index
    for name, definition in conn.execute(
        "SELECT d.name, replace(replace(d.def, ' ON ONLY ' || d.qual || '.', ' ON ONLY '), ' ON ' || d.qual || '.', "
        "' ON ') FROM (SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def, CASE WHEN s.oid = "
        "pg_my_temp_schema() THEN 'pg_temp' ELSE quote_ident(s.nspname) END AS qual FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace s ON s.oid = i.relnamespace "
        f"WHERE s.nspname = {schema}) d"
    ):
        out[("index", name)] = definition
    return out
