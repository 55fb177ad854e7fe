"""Small helpers shared by the repositories."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any


def select(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Rows addressable by column name."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(sql, args).fetchall()


def streamed(conn: Any, sql: str, args: Sequence[Any] = (), named: bool = True) -> Iterator[Any]:
    """The rows of a large read as they are consumed: a SQLite cursor (rows addressable by name when `named`),
    or a PostgreSQL server-side cursor (`PgConnection.stream`), whose client holds a few thousand rows at a time
    instead of the whole result (psycopg's ordinary cursor fetches every row when the query is run)."""
    stream = getattr(conn, "stream", None)
    if stream is not None:
        return stream(sql, args)
    cur = conn.cursor()
    if named:
        cur.row_factory = sqlite3.Row
    return cur.execute(sql, args)


def each_in(conn: Any, sql: str, ids: Sequence[Any], after: Sequence[Any] = ()) -> Iterator[Any]:
    """The rows of `sql`, whose `IN ({marks})` takes `ids`, in a query per 500 ids (then `after`'s arguments): a read
    of many rows by id in a few round trips."""
    for part in chunks(ids):
        yield from conn.execute(sql.format(marks=", ".join("?" * len(part))), [*part, *after])


def chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """`items` in slices small enough for an IN (...) list."""
    return [items[i : i + size] for i in range(0, len(items), size)]


SCHEMES = ("postgresql://", "postgres://")


def is_url(target: object) -> bool:
    """A PostgreSQL URL (a ledger in a server) rather than the path of a SQLite file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


_PASSWORD = re.compile(r"(://[^:/@\s,]*):[^@\s/,]*@")  # scheme://user:password@
# nats://token@: the token is the secret
_TOKEN = re.compile(r"\b(nats|tls|wss?)://[^:/@\s,]+@", re.IGNORECASE)
# a URL's ?password=..., or a libpq keyword string's password=... / password = '...'
_SECRET_PARAM = re.compile(
    r"((?:^|[?&\s])(?:password|pass|token|secret|sslpassword|nkey|creds)\s*=\s*)('[^']*'|[^&\s]*)",
    re.IGNORECASE,
)


def redacted(text: str) -> str:
    """The text with every URL's password, token and secret query parameter masked, for messages and logs."""
    text = _PASSWORD.sub(r"\1:***@", text)
    text = _TOKEN.sub(lambda m: f"{m.group(1)}://***@", text)
    return _SECRET_PARAM.sub(r"\1***", text)


def needs_server_extra(url: str) -> None:
    """A PostgreSQL ledger needs psycopg: say how to install it, in one line."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from paybonus.errors import UserError

        raise UserError(
            redacted(url), "a PostgreSQL ledger needs psycopg: pip install 'paybonus[server]'"
        ) from None
