"""The audit log's table: an append-only hash chain of (seq, at, action, ref, digest, prev_hash, hash).

hash = sha256(prev_hash | seq | at | action | ref | digest). `digest` is the sha256 of what the entry vouches for
(an event's canonical JSON, an entitlement's immutable columns, a dispatch outcome, a payroll load).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator

from attrs import frozen

GENESIS = "0" * 64


def chain_hash(prev_hash: str, seq: int, at: str, action: str, ref: str, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{seq}|{at}|{action}|{ref}|{digest}".encode()).hexdigest()


@frozen
class Head:
    seq: int
    hash: str


@frozen
class AuditEntry:
    seq: int
    at: str
    action: str
    ref: str
    digest: str
    prev_hash: str
    hash: str


class AuditLog:
    """Reads and appends the chain; appends happen inside the caller's write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def head(self) -> Head:
        row = self.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return Head(row[0], row[1]) if row else Head(0, GENESIS)

    def append(self, at: str, entries: Iterable[tuple[str, str, str]]) -> Head:
        """Append (action, ref, digest) entries in one batch. Returns the new head."""
        h = self.head()
        seq, prev = h.seq, h.hash
        rows = []
        for action, ref, digest in entries:
            seq += 1
            hsh = chain_hash(prev, seq, at, action, ref, digest)
            rows.append((seq, at, action, ref, digest, prev, hsh))
            prev = hsh
        self.conn.executemany(
            "INSERT INTO audit_log (seq, at, action, ref, digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return Head(seq, prev)

    def entries(self) -> Iterator[AuditEntry]:
        """Every entry, in order (streamed)."""
        for row in self.conn.execute(
            "SELECT seq, at, action, ref, digest, prev_hash, hash FROM audit_log ORDER BY seq"
        ):
            yield AuditEntry(*row)
