"""PostgreSQL under the repositories: a psycopg 3 connection that speaks the few words of `sqlite3` they use.

The repositories keep one SQL text for both backends (standard SQL with `?` placeholders). This adapter makes
the few differences disappear at one place: `?` becomes `%s`, `INSERT OR IGNORE` becomes `ON CONFLICT DO
NOTHING`, rows are addressable by index and by column name (as `sqlite3.Row`), and an integral `numeric` (what
PostgreSQL's SUM of a bigint gives) comes back as an int, never a Decimal or a float. Connections run in
autocommit; `transaction()` opens an explicit one (the ledger's write verbs).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from functools import lru_cache
from itertools import count, islice
from typing import Any, ClassVar

import psycopg
from paybonus.errors import UserError
from psycopg import pq
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import NumericLoader

from .sql import redacted


class Row(tuple):
    """A result row: a tuple that also answers `row["column"]` and `keys()`, as `sqlite3.Row` does. One subclass
    per set of column names (`_row_class`) carries the names: a row is then only a tuple, made in C."""

    __slots__ = ()
    _names: ClassVar[dict[str, int]] = {}  # set by each subclass (`_row_class`)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[bytes, ...]) -> type[Row]:
    named = {(n or b"").decode(): i for i, n in enumerate(names)}  # a COPY's result has columns, no names
    return type("Row", (Row,), {"__slots__": (), "_names": named})


def _rows(cursor: Any) -> Any:
    """psycopg's row factory: the row class of the result's column names (read from the result itself, which
    is cheaper than building `cursor.description`)."""
    res = cursor.pgresult
    if res is None or not res.nfields:
        return Row
    return _row_class(tuple(res.fname(i) for i in range(res.nfields)))


class _IntegralNumeric(NumericLoader):
    """SUM(bigint) is a numeric: an int when it is whole (cents always are)."""

    def load(self, data: Any) -> Any:
        d = super().load(data)
        return int(d) if isinstance(d, Decimal) and d == d.to_integral_value() else d


@lru_cache(maxsize=2048)
def translate(sql: str, with_args: bool) -> str:
    """SQLite's dialect of the repositories, as PostgreSQL reads it."""
    if sql.lstrip().upper().startswith("INSERT OR IGNORE"):
        sql = re.sub(r"INSERT OR IGNORE", "INSERT", sql, count=1, flags=re.I) + " ON CONFLICT DO NOTHING"
    if with_args:
        sql = sql.replace("%", "%%").replace("?", "%s")
    return sql


@lru_cache(maxsize=2048)
def is_write(sql: str) -> bool:
    """An INSERT, UPDATE or DELETE that returns no rows: its cursor has nothing a caller could read."""
    head = sql.lstrip()[:6].upper()
    return head in ("INSERT", "UPDATE", "DELETE") and "RETURNING" not in sql.upper()


# the tables a write transaction adds many rows to at once (a dispatch's entitlements, audit entries, findings,
# shared parts): their columns are text and integers only, which JSON carries exactly
JSON_ROWS_TABLES = frozenset({"entitlements", "audit_log", "findings", "shared_explanations"})
STREAM_ROWS = 2000  # rows a server-side cursor fetches at a time (`PgConnection.stream`)
_STREAMS = count(1)  # its names, unique in the process (a cursor's name is unique in its session)
JSON_ROWS_CHUNK = 1000  # rows a statement, at most (a dispatch's rows are streamed: its memory stays bounded)
# lower-case names only: the JSON's keys are the names as written, which SQL folds to lower case unquoted (a
# capitalised name would match no column and be read as NULL); anything else takes the one-row-a-statement path
_SIMPLE_INSERT = re.compile(
    r"((?i:INSERT(?: OR IGNORE)? INTO)) ([a-z_][a-z0-9_]*) \(([a-z_][a-z0-9_]*(?:, [a-z_][a-z0-9_]*)*)\)"
    r" (?i:VALUES) \(\?(?:, \?)*\)"
)


@lru_cache(maxsize=256)
def json_rows_insert(sql: str) -> str | None:
    """`INSERT INTO t (a, b) VALUES (?, ?)` of a table of JSON_ROWS_TABLES as one statement for many rows: the
    rows come as one JSON array of objects, read into the table's row type by `json_populate_recordset`, in their
    order (the identity columns numbered as one INSERT a row would). None for any other statement."""
    m = _SIMPLE_INSERT.fullmatch(sql.strip())
    if m is None or m.group(2) not in JSON_ROWS_TABLES:
        return None
    verb, table, cols = m.group(1), m.group(2), m.group(3)
    return translate(
        f"{verb} {table} ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{table}, ?)", True
    )


def json_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The rows as JSON arrays of objects (column -> value), JSON_ROWS_CHUNK rows each."""
    it = iter(rows)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    while chunk := list(islice(it, JSON_ROWS_CHUNK)):
        objects = [dict(zip(columns, r, strict=True)) for r in chunk]
        if _orjson_dumps is not None and all(type(v) in _PLAIN for r in chunk for v in r):
            # texts, integers and NULLs only: orjson writes what json does, in about half the time (an integer
            # beyond 64 bits, a lone surrogate: orjson refuses, and json writes it or raises as it always did)
            try:
                text = _orjson_dumps(objects).decode()
            except TypeError:
                text = dumps(objects)
        else:  # anything else (a float, a bool, a date...) is written, or refused, as json always did
            text = dumps(objects)
        if "\\u0000" in text and any(isinstance(v, str) and "\x00" in v for r in chunk for v in r):
            # refused as a bound parameter is (PostgreSQL's JSON error would quote the rows around it)
            raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        yield text


_PLAIN = frozenset({str, int, type(None)})  # the values orjson and json write alike (`json_rows`)
_orjson_dumps: Any
try:
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - orjson is a dependency; json alone writes the same rows, slower
    _orjson_dumps = None


class _PipelineExitNotice(logging.Filter):
    """A write transaction that failed in pipeline mode ends its pipeline with the same error again, which
    psycopg logs as a warning ("error ignored terminating ..."): the error itself is what the caller reports."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_PipelineExitNotice())


class PgCursor:
    """What the repositories do with a cursor: execute, fetch, iterate, read `description`."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur
        self.row_factory: Any = None  # rows are always addressable by name; kept for sqlite3's idiom

    def execute(self, sql: str, args: Sequence[Any] = ()) -> PgCursor:
        self._cur.execute(translate(sql, bool(args)), tuple(args) if args else None)
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        many = json_rows_insert(sql)
        if many is None:
            self._cur.executemany(translate(sql, True), rows)
        else:  # one statement (and one protocol message) a chunk of rows, not one a row
            columns = [c.strip() for c in sql[sql.index("(") + 1 : sql.index(")")].split(",")]
            for text in json_rows(columns, rows):
                self._cur.execute(many, (text,))
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur)

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class PgConnection:
    """A psycopg connection with the surface of `sqlite3.Connection` the store uses."""

    def __init__(self, url: str, read_only: bool = False, application: str = "paybonus") -> None:
        self.url = url
        try:
            self.raw = psycopg.connect(
                url, autocommit=True, row_factory=_rows, application_name=application, connect_timeout=10
            )
        except psycopg.Error as exc:
            raise UserError(redacted(url), f"cannot connect to PostgreSQL ({_first_line(exc)})") from None
        self.raw.adapters.register_loader("numeric", _IntegralNumeric)
        self._writer: PgCursor | None = None  # the cursor of writes (`_cursor_for`), made at the first one
        if read_only:
            self.raw.execute("SET default_transaction_read_only = on")

    def cursor(self) -> PgCursor:
        return PgCursor(self.raw.cursor())

    def _cursor_for(self, sql: str) -> PgCursor:
        """A write's cursor is this connection's one writing cursor: no caller reads a write's result (the store
        asks no row count, no RETURNING), so a statement may reuse the cursor of the last one; psycopg's cursor
        setup (a copy of the connection's adapters, its state) is then paid once a session, not once a write. A
        read gets a cursor of its own (its caller may still be reading another's rows). Beware: a write's cursor
        returned by `execute` is shared, so its `rowcount` is that of the connection's last write, which sqlite3
        would not show (a caller needing it must read it before the next write, or use a RETURNING)."""
        if not is_write(sql):
            return self.cursor()
        if self._writer is None:
            self._writer = self.cursor()
        return self._writer

    def execute(self, sql: str, args: Sequence[Any] = ()) -> PgCursor:
        return self._cursor_for(sql).execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        return self._cursor_for(sql).executemany(sql, rows)

    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of a read, fetched `STREAM_ROWS` at a time from a server-side cursor (`paybonus.store.sql.
        streamed`): an export or a verify of millions of rows holds a few thousand. WITH HOLD, so that it lives
        outside a transaction (autocommit) and across the writes a reader of it may make on this connection;
        closed when read to its end or dropped. In pipeline mode, which has no server-side cursor, an ordinary
        one."""
        if self.raw.info.pipeline_status != pq.PipelineStatus.OFF:
            yield from self.cursor().execute(sql, args)
            return
        cur = self.raw.cursor(name=f"paybonus_stream_{next(_STREAMS)}", withhold=True)
        cur.itersize = STREAM_ROWS
        try:
            cur.execute(translate(sql, bool(args)), tuple(args) if args else None)
            yield from cur
        finally:
            with suppress(psycopg.Error):  # the connection closed or broken first: the cursor went with it
                cur.close()

    def executescript(self, sql: str) -> None:
        self.raw.execute(sql.encode())

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """psycopg's pipeline mode: statements are sent without waiting; reading a result waits for it."""
        with self.raw.pipeline():
            yield

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.raw.transaction():
            yield

    @contextmanager
    def pipelined_transaction(self) -> Iterator[None]:
        """A transaction in pipeline mode answered by one Sync: BEGIN, the block's statements and COMMIT are sent
        as they come, and the COMMIT's answer is awaited with everything sent before it (a read inside the block
        waits for its own answer only). psycopg's `transaction()` inside a pipeline syncs when it begins, around
        the block and when it ends: four round trips a transaction instead of one. Any error (the block's, or a
        statement's, raised at a read or at the COMMIT) rolls the transaction back: a statement that failed in
        the pipeline made the server skip every later one, COMMIT included, until the Sync."""
        raw, committed = self.raw, False
        try:
            with raw.pipeline():  # its end syncs, and raises the transaction's first error, if any
                raw.execute("BEGIN")
                yield
                raw.execute("COMMIT")
            committed = True
        finally:
            if not committed:
                if raw.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    raw.execute("ROLLBACK")
                # a statement psycopg prepared inside the failed pipeline may never have reached the server (the
                # statements after an error are skipped) while psycopg keeps it as prepared: every later run of it
                # would fail ("prepared statement _pg3_1 does not exist"). Its manager forgets them all and sends
                # DEALLOCATE ALL before the next statement (psycopg has no public call for it).
                prepared = getattr(raw, "_prepared", None)
                if prepared is not None:
                    prepared.clear()

    def close(self) -> None:
        self.raw.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
