"""Dispatches (one per event and scheme: completed or failed, a dead letter) and the findings they recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from attrs import frozen

from .sql import select


@frozen
class FindingRow:
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

    def upsert(
        self,
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
        params, config, load = (
            (inputs.params_digest, inputs.config_digest, inputs.payroll_load)
            if inputs
            else (None, None, None)
        )
        self.conn.execute(
            "INSERT INTO dispatches (event_id, scheme, scheme_version, status, attempts, error, traceback, summary, "
            "entitlements, updated_at, params_digest, config_digest, payroll_load) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id, scheme) DO UPDATE "
            "SET scheme_version = excluded.scheme_version, status = excluded.status, attempts = excluded.attempts, "
            "error = excluded.error, traceback = excluded.traceback, summary = excluded.summary, "
            "entitlements = excluded.entitlements, updated_at = excluded.updated_at, "
            "params_digest = excluded.params_digest, config_digest = excluded.config_digest, "
            "payroll_load = excluded.payroll_load",
            (
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

    def get(self, event_id: str, scheme: str) -> sqlite3.Row | None:
        found = select(
            self.conn, "SELECT * FROM dispatches WHERE event_id = ? AND scheme = ?", [event_id, scheme]
        )
        return found[0] if found else None

    def params_used(self) -> list[str]:
        """Digests of the parameter sets dispatches computed with."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT params_digest FROM dispatches")]

    def all(self) -> list[sqlite3.Row]:
        return select(self.conn, "SELECT * FROM dispatches ORDER BY event_id, scheme")

    def add_findings(self, findings: Iterable[FindingRow]) -> None:
        self.conn.executemany(
            "INSERT INTO findings (event_id, scheme, level, rule, message, employee) VALUES (?, ?, ?, ?, ?, ?)",
            ((f.event_id, f.scheme, f.level, f.rule, f.message, f.employee) for f in findings),
        )

    def statuses(self, event_id: str) -> dict[str, str]:
        """scheme -> status of one event's dispatches."""
        return dict(
            self.conn.execute(
                "SELECT scheme, status FROM dispatches WHERE event_id = ?", (event_id,)
            ).fetchall()
        )

    def all_statuses(self) -> dict[str, dict[str, str]]:
        """event id -> scheme -> status, for every dispatch."""
        out: dict[str, dict[str, str]] = {}
        for event_id, scheme, status in self.conn.execute("SELECT event_id, scheme, status FROM dispatches"):
            out.setdefault(event_id, {})[scheme] = status
        return out

    def failed(self) -> list[sqlite3.Row]:
        """Failed dispatches (dead letters), in event order."""
        return select(
            self.conn,
            "SELECT d.*, e.seq FROM dispatches d JOIN events e ON e.id = d.event_id "
            "WHERE d.status = 'failed' ORDER BY e.seq, d.scheme",
        )

    def summary(self, event_id: str, scheme: str) -> Any:
        row = self.conn.execute(
            "SELECT summary FROM dispatches WHERE event_id = ? AND scheme = ?", (event_id, scheme)
        ).fetchone()
        return row[0] if row else None

    def findings(self, event_id: str | None = None, scheme: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM findings WHERE 1=1", []
        for col, val in (("event_id", event_id), ("scheme", scheme)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        return select(self.conn, sql + " ORDER BY rowid", args)
