"""The read-only side of the ledger, on a connection SQLite opens read-only: what plugins receive.

It implements `paybonus.hooks.LedgerView`. Events never change, so each is parsed once per reader.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from paybonus.calendar import Period
from paybonus.errors import UserError
from paybonus.events import Event, EventTypes
from paybonus.hooks.types import CompanyInfo, RecordedEntitlement
from paybonus.payroll import Population

from .companies import Companies, population
from .dispatches import Dispatches
from .entitlements import Entitlements
from .events import Events
from .payments import Payments
from .sql import is_url, needs_server_extra

MMAP_BYTES = 2**30  # the ledger file mapped by a reader, at most


class LedgerReader:
    """Reads a ledger; cannot write (the connection is read-only and `query_only`)."""

    def __init__(self, conn: sqlite3.Connection, path: str, event_types: EventTypes | None = None) -> None:
        self.path = path
        self._conn = conn
        self._events = Events(conn)
        self._entitlements = Entitlements(conn)
        self._payments = Payments(conn)
        self._companies = Companies(conn)
        self.event_types = event_types or EventTypes()
        self._parsed: dict[tuple[str, str], Event[Any]] = {}  # (company, id): ids are unique per company
        self._configurations: dict[str, tuple[str, dict[str, Any]]] | None = None  # `configurations_kept`
        self._pending: Sequence[Event[Any]] = ()  # events shown as recorded, last (`pending`)
        self._snapshot_lock = threading.Lock()  # one population's snapshot at a time (`_snapshot`)

    @classmethod
    def open(cls, path: str, event_types: EventTypes | None = None) -> LedgerReader:
        if is_url(path):  # a PostgreSQL ledger: its own connection, read-only transactions
            needs_server_extra(path)
            from .pg import PgConnection

            return cls(PgConnection(path, read_only=True, application="paybonus-reader"), path, event_types)  # type: ignore[arg-type]
        try:
            # usable from the thread a plugin computes in; SQLite serialises access to one connection
            conn = sqlite3.connect(
                f"file:{quote(path)}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA cache_size = -65536")
            conn.execute(
                f"PRAGMA mmap_size = {MMAP_BYTES}"
            )  # pages read in place: its cache empties at each commit
        except sqlite3.Error as exc:
            raise UserError(path, f"cannot open the ledger to read ({exc})") from None
        return cls(conn, path, event_types)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def pending(self, events: Sequence[Event[Any]]) -> Iterator[None]:
        """Show `events` (not recorded, of companies that have not recorded their ids) as if they had just been
        recorded, in this order, after every recorded one: a worker holding their company's lock computes their
        dispatches before the one transaction that records the events and what was computed (an event's recording
        writes nothing else a computation can read: no payment comes this way)."""
        self._pending = events
        try:
            yield
        finally:
            self._pending = ()

    # -- LedgerView --------------------------------------------------------------------------------------

    def company(self, company: str) -> CompanyInfo | None:
        """The company's [company] table as loaded, or None for an unknown company."""
        from paybonus.config import parse_company_toml

        toml = self._companies.toml(company)
        if toml is None:
            return None
        return parse_company_toml(toml, f"company {company} (stored)").info

    def configuration(self, company: str) -> dict[str, Any]:
        """The company's `company.toml` as loaded (its [company] and [schemes.*] tables; empty if unknown)."""
        toml = self._companies.toml(company)
        if not toml:
            return {}
        if self._configurations is None:
            return tomllib.loads(toml)
        kept = self._configurations.get(company)
        if kept is None or kept[0] != toml:
            kept = (toml, tomllib.loads(toml))
            self._configurations[company] = kept
        return copy.deepcopy(kept[1])  # the caller's own: a plugin may change what it receives

    @contextmanager
    def configurations_kept(self) -> Iterator[None]:
        """While inside, `configuration` parses each company's text once (admission: an event type's check may
        ask for it once per event, a vendor's file holds thousands of companies' events). What is kept (about
        15 KiB a company) is let go at the end."""
        if self._configurations is not None:
            yield
            return
        self._configurations = {}
        try:
            yield
        finally:
            self._configurations = None

    def events(self, company: str, type: str, employee: str | None = None) -> list[Event[Any]]:
        """A company's recorded events of one type (about one employee), in recording order."""
        ids = self._events.ids(company, type, employee)
        missing = [i for i in ids if (company, i) not in self._parsed]
        if missing:
            for row in self._events.get_many(company, missing):
                self._parsed[(company, row["id"])] = self.event_from_row(row)
        found = [self._parsed[(company, i)] for i in ids]
        shown = [
            e
            for e in self._pending
            if e.company == company
            and e.type == type
            and (employee is None or e.subject("employee") == employee)
        ]
        if shown:
            recorded = set(ids)  # one recorded meanwhile (by another publisher) is shown once, as recorded
            found += [e for e in shown if e.id not in recorded]
        return found

    def entitlements(
        self,
        company: str,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> list[RecordedEntitlement]:
        """A company's recorded entitlements (whose period overlaps `period`), in recording order."""
        return list(self.iter_entitlements(company, scheme, period, employee))

    def iter_entitlements(
        self,
        company: str,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> Iterator[RecordedEntitlement]:
        """`entitlements`, one at a time as they are read: what the caller does not keep is not held."""
        recorded = self._entitlements.recorded
        for row in self._entitlements.each_row(company, scheme, period, employee):
            yield recorded(row)

    def entitlement(self, entitlement_id: str) -> RecordedEntitlement | None:
        row = self._entitlements.get(entitlement_id)
        return self._entitlements.recorded(row) if row is not None else None

    def paid_cents(self, entitlement_id: str) -> int:
        return self._payments.paid_cents(entitlement_id)

    def payroll(self, company: str, period: Period) -> Population:
        """The payroll `paybonus load` stored: everyone under contract during `period`, with pay and absences."""
        with self._snapshot():
            pop = population(self._companies, company, period)
        if isinstance(self._conn, sqlite3.Connection):
            # a year of 200 000 people is 230 MiB of pay-line pages, read once: unmapped now (SQLite maps the file
            # again at the next read, page by page), they leave the process's resident memory for the OS cache
            self._conn.execute("PRAGMA mmap_size = 0")
            self._conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        return pop

    # -- helpers -----------------------------------------------------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One view of the ledger for the statements inside (a population's contracts, each month's pay lines,
        absences): a payroll load committed meanwhile cannot mix two loads in one population. One at a time: the
        connection is shared with the thread a plugin computes in (the bus gives a computation abandoned past
        its time limit a reader of its own, but another host may not), and a second thread must neither read in
        the first one's snapshot nor have it ended under it. Inside a transaction already, that one's view."""
        with self._snapshot_lock:
            conn: Any = self._conn
            if conn.in_transaction:
                yield
                return
            sqlite = isinstance(conn, sqlite3.Connection)
            run = conn.execute if sqlite else conn.raw.execute
            run("BEGIN" if sqlite else "BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                yield
            finally:
                run("COMMIT")

    def loaded_at(self, company: str) -> str:
        """When the company's payroll was last loaded (what cached populations are keyed on)."""
        return self._companies.loaded_at(company)

    def event(self, company: str, event_id: str) -> Event[Any] | None:
        """One of the company's recorded events, by id (None if the company recorded none of that id)."""
        for e in self._pending:
            if e.company == company and e.id == event_id:
                return e
        row = self._events.get(company, event_id)
        return None if row is None else self.event_from_row(row)

    def dispatch_summary(self, event_id: str, scheme: str, company: str | None = None) -> Any:
        """The summary a scheme recorded for the company's event (canonical JSON text), or None. Without the
        company (the form of paybonus before event ids were per company): the first company's event of that id."""
        return Dispatches(self._conn).summary(company, event_id, scheme)

    def event_from_row(self, row: Any) -> Event[Any]:
        return self.event_types.from_dict(
            {
                "id": row["id"],
                "type": row["type"],
                "company": row["company"],
                "occurred_at": row["occurred_at"],
                "payload": json.loads(row["payload"]),
            }
        )
