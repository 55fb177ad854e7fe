"""PostgreSQL under the repositories: a psycopg 3 connection that speaks the few words of `sqlite3` they use.

The repositories keep one SQL text for both backends (standard SQL with `?` placeholders). This adapter makes
the few differences disappear at one place: `?` becomes `%s`, `INSERT OR IGNORE` becomes `ON CONFLICT DO
NOTHING`, rows are addressable by index and by column name (as `sqlite3.Row`), and an integral `numeric` (what
PostgreSQL's SUM of a bigint gives) comes back as an int, never a Decimal or a float. Connections run in
autocommit; `transaction()` opens an explicit one (the ledger's write verbs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
from paybonus.errors import UserError
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
        self._cur.executemany(translate(sql, True), rows)
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
        if read_only:
            self.raw.execute("SET default_transaction_read_only = on")

    def cursor(self) -> PgCursor:
        return PgCursor(self.raw.cursor())

    def execute(self, sql: str, args: Sequence[Any] = ()) -> PgCursor:
        return self.cursor().execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        return self.cursor().executemany(sql, rows)

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

    def close(self) -> None:
        self.raw.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
