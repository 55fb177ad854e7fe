"""The audit log: one append-only hash chain per company.

Entry n of a company's chain: (company, n, at, action, ref, digest, prev_hash, hash) with
hash = sha256(prev_hash | company | n | at | action | ref | digest). `digest` is the sha256 of what the entry
vouches for (an event, an entitlement, a dispatch, a payroll load, a configuration, a parameter set). A chain
starts from a genesis hash bound to the ledger's id and the company, with a `chain.opened` entry anchored to the
head of the frozen 0.x chain (`audit_log_v1`) when there was one. Triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

from attrs import frozen

from .sql import streamed

GENESIS = "0" * 64
OPENED = "chain.opened"


def chain_hash(prev_hash: str, company: str, n: int, at: str, action: str, ref: str, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{company}|{n}|{at}|{action}|{ref}|{digest}".encode()).hexdigest()


def genesis(ledger_id: str, company: str) -> str:
    """The hash a company's chain starts from: bound to this ledger and this company."""
    return hashlib.sha256(f"paybonus-chain|{ledger_id}|{company}".encode()).hexdigest()


def legacy_chain_hash(prev_hash: str, seq: int, at: str, action: str, ref: str, digest: str) -> str:
    """The hash of an entry of the frozen global chain of paybonus 0.x."""
    return hashlib.sha256(f"{prev_hash}|{seq}|{at}|{action}|{ref}|{digest}".encode()).hexdigest()


@frozen
class Head:
    n: int
    hash: str

    @property
    def seq(self) -> int:  # the name of 0.x, kept for callers that log it
        return self.n


@frozen
class AuditEntry:
    company: str
    n: int
    at: str
    action: str
    ref: str
    digest: str
    prev_hash: str
    hash: str


class AuditLog:
    """Reads and appends the chains; appends happen inside the caller's write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # heads this write transaction appended (or read under its lock): the next append of the same company in
        # it continues from there without reading the head again. Only the ledger's writer, holding the
        # company's lock for the whole transaction, could have moved them; forgotten when it ends (`forget`)
        self._tx_heads: dict[str, Head] = {}
        self.held: str | None = None  # a company whose lock the writer holds across transactions (kept head)

    def forget(self, keep_held: bool = False) -> None:
        """A write transaction begins or ends: the heads it knew are no longer known, but for the company whose
        lock the writer holds across transactions (`Ledger.holding`) when `keep_held` (a commit, or a new
        transaction after one: no other writer can have appended in between)."""
        kept = self._tx_heads.get(self.held) if keep_held and self.held is not None else None
        self._tx_heads.clear()
        if kept is not None and self.held is not None:
            self._tx_heads[self.held] = kept

    def known_head(self, company: str, head: Head) -> None:
        """The head of a company's chain as a statement of the current write transaction read it, after the
        transaction took the company's lock (`Ledger._version_and_head`)."""
        self._tx_heads[company] = head

    def ledger_id(self) -> str:
        row = self.conn.execute("SELECT value FROM ledger_meta WHERE key = 'ledger_id'").fetchone()
        return str(row[0])

    def head(self, company: str) -> Head:
        row = self.conn.execute(
            "SELECT n, hash FROM audit_log WHERE company = ? ORDER BY n DESC LIMIT 1", (company,)
        ).fetchone()
        return Head(row[0], row[1]) if row else Head(0, genesis(self.ledger_id(), company))

    def heads(self) -> dict[str, Head]:
        """Every company's head."""
        return {
            company: Head(n, hsh)
            for company, n, hsh in self.conn.execute(
                "SELECT a.company, a.n, a.hash FROM audit_log a JOIN (SELECT company, MAX(n) AS n FROM audit_log "
                "GROUP BY company) m ON m.company = a.company AND m.n = a.n ORDER BY a.company"
            )
        }

    def legacy_head(self) -> Head:
        row = self.conn.execute("SELECT seq, hash FROM audit_log_v1 ORDER BY seq DESC LIMIT 1").fetchone()
        return Head(row[0], row[1]) if row else Head(0, GENESIS)

    def append(self, company: str, at: str, entries: Iterable[tuple[str, str, str]]) -> Head:
        """Append (action, ref, digest) entries to a company's chain in one batch (streamed: `entries` may be a
        dispatch's hundreds of thousands); a new chain opens first. Each hash is `chain_hash`'s."""
        h = self._tx_heads.get(company) or self.head(company)
        if h.n == 0:
            entries = chain([(OPENED, "audit_log_v1", self.legacy_head().hash)], entries)
        head: list[Any] = [h.n, h.hash]  # where the chain stands once the rows were written

        def rows() -> Iterator[tuple[str, int, str, str, str, str, str, str]]:
            n, prev = head
            sha256, mid = hashlib.sha256, f"|{company}|"
            for action, ref, digest in entries:
                n += 1
                hsh = sha256(f"{prev}{mid}{n}|{at}|{action}|{ref}|{digest}".encode()).hexdigest()
                yield (company, n, at, action, ref, digest, prev, hsh)
                prev = hsh
            head[:] = n, prev

        self.conn.executemany(
            "INSERT INTO audit_log (company, n, at, action, ref, digest, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
        out = self._tx_heads[company] = Head(head[0], head[1])
        return out

    def entries(self, company: str | None = None) -> Iterator[AuditEntry]:
        """Entries by company, then position (streamed)."""
        sql = "SELECT company, n, at, action, ref, digest, prev_hash, hash FROM audit_log"
        args: tuple[str, ...] = ()
        if company is not None:
            sql, args = sql + " WHERE company = ?", (company,)
        for row in streamed(self.conn, sql + " ORDER BY company, n", args, named=False):
            yield AuditEntry(*row)

    def entry_tuples(self) -> Iterable[tuple[str, int, str, str, str, str, str, str]]:
        """`entries()` of every chain as plain tuples (company, n, at, action, ref, digest, prev_hash, hash)."""
        return streamed(
            self.conn,
            "SELECT company, n, at, action, ref, digest, prev_hash, hash FROM audit_log ORDER BY company, n",
            named=False,
        )

    def entry(self, company: str, n: int) -> AuditEntry | None:
        row = self.conn.execute(
            "SELECT company, n, at, action, ref, digest, prev_hash, hash FROM audit_log WHERE company = ? AND n = ?",
            (company, n),
        ).fetchone()
        return AuditEntry(*row) if row else None

    def configs_at_events(
        self, company: str | None = None
    ) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
        """(company, event id) -> digest of the configuration in force when the event was recorded: the last
        `config.loaded` entry before the event's `event.recorded` entry in its company's chain; and each company's
        first `config.loaded` digest: the configuration migration m005 kept when it opened the chain of a ledger
        of paybonus 0.x, the one in force for the events recorded before the chains (they have no entry here).
        Of one company if given."""
        out: dict[tuple[str, str], str] = {}
        current: dict[str, str] = {}
        first: dict[str, str] = {}
        where, args = ("company = ? AND ", (company,)) if company is not None else ("", ())
        for c, action, ref, digest in self.conn.execute(
            "SELECT company, action, ref, digest FROM audit_log"
            f" WHERE {where}action IN ('config.loaded', 'event.recorded') ORDER BY company, n",
            args,
        ):
            if action == "config.loaded":
                current[c] = digest
                first.setdefault(c, digest)
            elif c in current:
                out[(c, ref)] = current[c]
        return out, first

    def actions_in_order(self) -> Iterator[tuple[str, str, str, str]]:
        """(action, company, ref, at) of every entry of every chain, in the order they were written."""
        return streamed(self.conn, "SELECT action, company, ref, at FROM audit_log ORDER BY seq", named=False)

    def legacy_entries(self) -> Iterator[tuple[int, str, str, str, str, str, str]]:
        """(seq, at, action, ref, digest, prev_hash, hash) of the frozen 0.x chain."""
        return self.conn.execute(
            "SELECT seq, at, action, ref, digest, prev_hash, hash FROM audit_log_v1 ORDER BY seq"
        )

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
