"""Dispatches (one per event and scheme: completed or failed, a dead letter) and the findings they recorded. An
event is named by its company and its id (ids are unique per company)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from attrs import frozen

from .sql import select


@frozen
class FindingRow:
    company: str
    event_id: str
    scheme: str
    level: str
    rule: str
    message: str
    employee: str | None


class Dispatches:
    """The dispatches and findings tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.held: str | None = None  # a company whose lock the writer holds across transactions
        self._written: set[tuple[str, str]] = set()  # (event id, scheme) this session wrote for it meanwhile

    def hold(self, company: str | None) -> None:
        """Start (a company) or end (None) a held lock (`Ledger.holding`)."""
        self.held = company
        self._written.clear()

    def completed(self, company: str, event_id: str, scheme: str, new: bool = False) -> bool:
        """Whether the event's dispatch to `scheme` is recorded as completed. `new`: this session inserted the
        event while it held the company's lock (`Events.recorded_while_held`): only its own writes can have made
        a dispatch of it then, so unless it wrote one, the answer is no, without a statement (the "completed
        meanwhile" check of every dispatch a worker records)."""
        if new and company == self.held and (event_id, scheme) not in self._written:
            return False
        return self.statuses(company, event_id).get(scheme) == "completed"

    def upsert(
        self,
        company: str,
        event_id: str,
        scheme: str,
        scheme_version: str,
        status: str,
        attempts: int,
        error: str | None,
        traceback: str | None,
        summary: str | None,
        entitlements: int,
        at: str,
        inputs: Any,
    ) -> None:
        """Write a dispatch's row; `inputs` (a DispatchInputs, None for a failure) names what it computed from."""
        if company == self.held:
            self._written.add((event_id, scheme))  # before the commit: a rollback only costs a read later
        params, config, load = (
            (inputs.params_digest, inputs.config_digest, inputs.payroll_load)
            if inputs
            else (None, None, None)
        )
        self.conn.execute(
            "INSERT INTO dispatches (company, event_id, scheme, scheme_version, status, attempts, error, traceback, "
            "summary, entitlements, updated_at, params_digest, config_digest, payroll_load) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(company, event_id, scheme) DO UPDATE "
            "SET scheme_version = excluded.scheme_version, status = excluded.status, attempts = excluded.attempts, "
            "error = excluded.error, traceback = excluded.traceback, summary = excluded.summary, "
            "entitlements = excluded.entitlements, updated_at = excluded.updated_at, "
            "params_digest = excluded.params_digest, config_digest = excluded.config_digest, "
            "payroll_load = excluded.payroll_load",
            (
                company,
                event_id,
                scheme,
                scheme_version,
                status,
                attempts,
                error,
                traceback,
                summary,
                entitlements,
                at,
                params,
                config,
                load,
            ),
        )

    def get(self, company: str, event_id: str, scheme: str) -> sqlite3.Row | None:
        found = select(
            self.conn,
            "SELECT * FROM dispatches WHERE company = ? AND event_id = ? AND scheme = ?",
            [company, event_id, scheme],
        )
        return found[0] if found else None

    def params_used(self) -> list[str]:
        """Digests of the parameter sets dispatches computed with."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT params_digest FROM dispatches")]

    def all(self) -> list[sqlite3.Row]:
        return select(self.conn, "SELECT * FROM dispatches ORDER BY company, event_id, scheme")

    def add_findings(self, findings: Iterable[FindingRow]) -> None:
        self.conn.executemany(
            "INSERT INTO findings (company, event_id, scheme, level, rule, message, employee) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((f.company, f.event_id, f.scheme, f.level, f.rule, f.message, f.employee) for f in findings),
        )

    def statuses(self, company: str, event_id: str) -> dict[str, str]:
        """scheme -> status of one event's dispatches."""
        return dict(
            self.conn.execute(
                "SELECT scheme, status FROM dispatches WHERE company = ? AND event_id = ?",
                (company, event_id),
            ).fetchall()
        )

    def all_statuses(self) -> dict[tuple[str, str], dict[str, str]]:
        """(company, event id) -> scheme -> status, for every dispatch."""
        out: dict[tuple[str, str], dict[str, str]] = {}
        for company, event_id, scheme, status in self.conn.execute(
            "SELECT company, event_id, scheme, status FROM dispatches"
        ):
            out.setdefault((company, event_id), {})[scheme] = status
        return out

    def failed(self) -> list[sqlite3.Row]:
        """Failed dispatches (dead letters), in event order."""
        return select(
            self.conn,
            "SELECT d.*, e.seq FROM dispatches d JOIN events e ON e.id = d.event_id AND e.company = d.company "
            "WHERE d.status = 'failed' ORDER BY e.seq, d.scheme",
        )

    def summary(self, company: str | None, event_id: str, scheme: str) -> Any:
        """The summary of one dispatch (`company` None: of the first company's event of that id)."""
        sql, args = "SELECT summary FROM dispatches WHERE event_id = ? AND scheme = ?", [event_id, scheme]
        if company is not None:
            sql += " AND company = ?"
            args.append(company)
        row = self.conn.execute(sql + " ORDER BY company", args).fetchone()
        return row[0] if row else None

    def findings(
        self, company: str | None = None, event_id: str | None = None, scheme: str | None = None
    ) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM findings WHERE 1=1", []
        for col, val in (("company", company), ("event_id", event_id), ("scheme", scheme)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        return select(self.conn, sql + " ORDER BY rowid", args)
