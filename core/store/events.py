"""Events: recorded once under their company and id (two companies may use one id), never changed. `employee` and `entitlement` are the payload's, as
columns, so that no query needs JSON functions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from attrs import frozen

from .sql import chunks, each_in, select, streamed


@frozen
class EventRecord:
    """An event as stored: its envelope, its payload as canonical JSON, and its digest."""

    id: str
    type: str
    company: str
    occurred_at: str
    payload: str
    digest: str
    employee: str | None = None
    entitlement: str | None = None


class Events:
    """The events table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # while the writer holds one company's lock across transactions (`Ledger.holding`), nobody else records
        # its events: its ids read as not recorded need not be read again before they are inserted, and an event
        # this session inserted meanwhile has no dispatch but those this session wrote
        self.held: str | None = None
        self._absent: set[str] = set()  # held company's ids read as not recorded (and not inserted since)
        self._new: set[str] = set()  # ids of the held company this session inserted

    def hold(self, company: str | None) -> None:
        """Start (a company) or end (None) a held lock: what was learnt under another one is forgotten."""
        self.held = company
        self._absent.clear()
        self._new.clear()

    def recorded_while_held(self, company: str, event_id: str) -> bool:
        """The event was inserted by this session while it held the company's lock (the transaction may not have
        committed: callers only use it to skip a read whose answer this session alone can change)."""
        return company == self.held and event_id in self._new

    def insert(self, e: EventRecord, recorded_at: str) -> None:
        if e.company == self.held:
            self._absent.discard(e.id)  # read again if asked: a rollback would un-insert it
            self._new.add(e.id)
        self.conn.execute(
            "INSERT INTO events (id, type, company, occurred_at, payload, digest, recorded_at, employee, entitlement) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                e.id,
                e.type,
                e.company,
                e.occurred_at,
                e.payload,
                e.digest,
                recorded_at,
                e.employee,
                e.entitlement,
            ),
        )

    def digest(self, company: str, event_id: str) -> str | None:
        """The digest of the company's event of this id (None: not recorded)."""
        if company == self.held and event_id in self._absent:
            return None  # read as absent under the held lock, and not inserted since: nobody else can have
        row = self.conn.execute(
            "SELECT digest FROM events WHERE id = ? AND company = ?", (event_id, company)
        ).fetchone()
        return row[0] if row else None

    def digests(self, company: str, ids: Sequence[str]) -> dict[str, str]:
        """id -> digest of the company's events of these ids that are recorded (one statement per 500 ids: an
        admission asks once for a batch, not once an event)."""
        out: dict[str, str] = {}
        for part in chunks(list(dict.fromkeys(ids))):
            marks = ", ".join("?" for _ in part)
            out.update(
                self.conn.execute(
                    f"SELECT id, digest FROM events WHERE company = ? AND id IN ({marks})", [company, *part]
                ).fetchall()
            )
        if company == self.held:
            self._absent.update(i for i in ids if i not in out)
        return out

    def get(self, company: str, event_id: str) -> sqlite3.Row | None:
        """The company's event of this id."""
        found = select(self.conn, "SELECT * FROM events WHERE id = ? AND company = ?", [event_id, company])
        return found[0] if found else None

    def companies_of(self, event_id: str) -> list[str]:
        """The companies that recorded an event of this id (several may: ids are unique per company)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT company FROM events WHERE id = ? ORDER BY company", (event_id,)
            )
        ]

    def months(self, company: str | None = None) -> dict[tuple[str, str], str]:
        """(company, id) -> the month (YYYY-MM, as written in its `occurred_at`) of every event (of one company)."""
        sql, args = "SELECT company, id, substr(occurred_at, 1, 7) FROM events", []
        if company is not None:
            sql += " WHERE company = ?"
            args.append(company)
        return {(r[0], r[1]): r[2] for r in self.conn.execute(sql, args)}

    def ids(self, company: str, type: str, employee: str | None = None) -> list[str]:
        """Ids of a company's events of one type (about one employee), in recording order."""
        sql, args = "SELECT id FROM events WHERE company = ? AND type = ?", [company, type]
        if employee is not None:
            sql += " AND employee = ?"
            args.append(employee)
        return [r[0] for r in self.conn.execute(sql + " ORDER BY seq", args)]

    def of_type(self, company: str, type: str, employee: str | None = None) -> list[sqlite3.Row]:
        """A company's events of one type (about one employee), in recording order."""
        sql, args = "SELECT * FROM events WHERE company = ? AND type = ?", [company, type]
        if employee is not None:
            sql += " AND employee = ?"
            args.append(employee)
        return select(self.conn, sql + " ORDER BY seq", args)

    def get_many(self, company: str, ids: Sequence[str]) -> list[sqlite3.Row]:
        """The company's events of these ids."""
        out: list[sqlite3.Row] = []
        for part in chunks(ids):
            marks = ", ".join("?" for _ in part)
            out += select(
                self.conn, f"SELECT * FROM events WHERE company = ? AND id IN ({marks})", [company, *part]
            )
        return out

    def all(self, company: str | None = None, type: str | None = None) -> list[sqlite3.Row]:
        """Every event (of a company, of a type), in recording order."""
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if company is not None:
            sql += " AND company = ?"
            args.append(company)
        if type is not None:
            sql += " AND type = ?"
            args.append(type)
        return select(self.conn, sql + " ORDER BY seq", args)

    def by_type(self, type: str, company: str | None = None) -> list[sqlite3.Row]:
        """Every event of one type (of one company), in recording order."""
        if company is None:
            return select(self.conn, "SELECT * FROM events WHERE type = ? ORDER BY seq", [type])
        return select(
            self.conn, "SELECT * FROM events WHERE company = ? AND type = ? ORDER BY seq", [company, type]
        )

    def stream(self) -> Iterable[sqlite3.Row]:
        return streamed(self.conn, "SELECT * FROM events ORDER BY seq")

    def kinds(self) -> Iterable[tuple[str, str, str]]:
        """(id, type, company) of every event, in recording order (streamed): `stream()` without the rest."""
        return streamed(self.conn, "SELECT id, type, company FROM events ORDER BY seq", named=False)

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def count_without(self, company: str, types: Sequence[str], scheme: str) -> int:
        """How many events of these types the company recorded that have no dispatch to `scheme`."""
        if not types:
            return 0
        marks = ", ".join("?" * len(types))
        sql = (
            f"SELECT COUNT(*) FROM events e WHERE e.company = ? AND e.type IN ({marks}) AND NOT EXISTS "
            "(SELECT 1 FROM dispatches d WHERE d.company = e.company AND d.event_id = e.id AND d.scheme = ?)"
        )
        return int(self.conn.execute(sql, (company, *types, scheme)).fetchone()[0])

    def about(self, entitlement: str, type: str) -> list[sqlite3.Row]:
        """Events of one type about an entitlement (payments, statements, choices), in recording order."""
        return select(
            self.conn,
            "SELECT * FROM events WHERE entitlement = ? AND type = ? ORDER BY seq",
            [entitlement, type],
        )

    def payloads_about(self, entitlements: Sequence[str], type: str) -> dict[str, list[str]]:
        """The stored payloads of the events of one type about each of `entitlements` that has any, in recording
        order (`about` of many, in a query per 500)."""
        out: dict[str, list[str]] = {}
        sql = (
            "SELECT entitlement, payload FROM events WHERE entitlement IN ({marks}) AND type = ? ORDER BY seq"
        )
        for ent, payload in each_in(self.conn, sql, entitlements, [type]):
            out.setdefault(ent, []).append(payload)
        return out

    def subjects(self, type: str) -> set[tuple[str, str]]:
        """(company, employee) pairs of the events of one type (e.g. the leavers)."""
        return {
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT DISTINCT company, employee FROM events WHERE type = ? AND employee IS NOT NULL",
                (type,),
            )
        }

    def entitlements_with(self, type: str, company: str | None = None) -> set[str]:
        """Entitlements some event of this type (of one company) is about (e.g. those with a recorded choice)."""
        sql, args = (
            "SELECT DISTINCT entitlement FROM events WHERE type = ? AND entitlement IS NOT NULL",
            [type],
        )
        if company is not None:
            sql += " AND company = ?"
            args.append(company)
        return {r[0] for r in self.conn.execute(sql, args)}
