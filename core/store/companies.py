"""Companies (their configuration as loaded) and their payroll inputs: contracts, pay lines and absences."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from paybonus.calendar import Period
from paybonus.payroll import Absence, AbsenceKind, Contract, EmployeeRecord, PayLine, Population

from .sql import select

CONTRACT_COLUMNS = ("employee", "start", "end", "category", "establishment", "display_name", "work_unit")
PAY_COLUMNS = (
    "employee",
    "month",
    "gross_cents",
    "base_cents",
    "contract_hours",
    "ap_hours",
    "ap_indemnity_cents",
    "reconstituted_cents",
)
ABSENCE_COLUMNS = ("employee", "kind", "start", "end")


class Companies:
    """The companies, contracts, pay_lines and absences tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- configuration ---------------------------------------------------------------------------------------

    def upsert(self, company: str, name: str, toml: str, at: str) -> None:
        digest = hashlib.sha256(toml.encode("utf-8")).hexdigest()
        self.conn.execute(
            "INSERT INTO companies (id, name, config_toml, config_digest, loaded_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, config_toml = excluded.config_toml, "
            "config_digest = excluded.config_digest, loaded_at = excluded.loaded_at",
            (company, name, toml, digest, at),
        )

    def toml(self, company: str) -> str | None:
        row = self.conn.execute("SELECT config_toml FROM companies WHERE id = ?", (company,)).fetchone()
        return row[0] if row else None

    def digest(self, company: str) -> str | None:
        """sha256 of the stored configuration: cheap to read, changes with every `load`."""
        row = self.conn.execute("SELECT config_digest FROM companies WHERE id = ?", (company,)).fetchone()
        return row[0] if row else None

    def loaded_at(self, company: str) -> str:
        row = self.conn.execute("SELECT loaded_at FROM companies WHERE id = ?", (company,)).fetchone()
        return row[0] if row else ""

    def ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM companies ORDER BY id")]

    def all(self) -> list[sqlite3.Row]:
        return select(self.conn, "SELECT * FROM companies ORDER BY id")

    # -- payroll inputs --------------------------------------------------------------------------------------

    def replace_payroll(
        self,
        company: str,
        contracts: Iterable[tuple[Any, ...]],
        pay_lines: Iterable[tuple[Any, ...]],
        absences: Iterable[tuple[Any, ...]],
    ) -> None:
        """Replace the company's payroll inputs (rows in the *_COLUMNS order), inside the caller's transaction."""
        for table in ("contracts", "pay_lines", "absences"):
            self.conn.execute(f"DELETE FROM {table} WHERE company = ?", (company,))
        for table, columns, data in (
            ("contracts", CONTRACT_COLUMNS, contracts),
            ("pay_lines", PAY_COLUMNS, pay_lines),
            ("absences", ABSENCE_COLUMNS, absences),
        ):
            cols = ", ".join(f'"{c}"' for c in ("company", *columns))
            marks = ", ".join("?" for _ in range(len(columns) + 1))
            self.conn.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})", ((company, *r) for r in data)
            )

    def contracts_during(self, company: str, start: str, end: str) -> Iterator[tuple[Any, ...]]:
        """(employee, start, end, category, establishment, work_unit) of every contract of anyone under contract
        at some point of start..end: earlier contracts count for seniority (I-13)."""
        return self.conn.execute(
            "SELECT employee, start, end, category, establishment, work_unit FROM contracts WHERE company = ? "
            "AND employee IN (SELECT employee FROM contracts WHERE company = ? AND start <= ? "
            "AND (end IS NULL OR end >= ?)) ORDER BY employee, start",
            (company, company, end, start),
        )

    def pay_lines_between(self, company: str, first_month: str, end: str) -> Iterator[tuple[Any, ...]]:
        """(employee, month, gross, base, hours, ap_hours, ap_indemnity, reconstituted) by employee and month."""
        return self.conn.execute(
            "SELECT employee, month, gross_cents, base_cents, contract_hours, ap_hours, ap_indemnity_cents, "
            "reconstituted_cents FROM pay_lines WHERE company = ? AND month >= ? AND month <= ? "
            "ORDER BY employee, month",
            (company, first_month, end),
        )

    def absences_during(self, company: str, start: str, end: str) -> Iterator[tuple[Any, ...]]:
        """(employee, kind, start, end) of the absences overlapping start..end."""
        return self.conn.execute(
            "SELECT employee, kind, start, end FROM absences WHERE company = ? AND start <= ? AND end >= ? "
            "ORDER BY employee, start",
            (company, end, start),
        )

    def display_name(self, company: str, employee: str) -> str:
        row = self.conn.execute(
            "SELECT display_name FROM contracts WHERE company = ? AND employee = ? AND display_name != '' LIMIT 1",
            (company, employee),
        ).fetchone()
        return str(row[0]) if row else ""

    def employees(self, company: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT employee FROM contracts WHERE company = ? ORDER BY employee", (company,)
            )
        ]


def population(companies: Companies, company: str, period: Period) -> Population:
    """Everyone under contract at some point of `period` (or paid in it), from the stored payroll inputs."""
    s, e = period.start.isoformat(), period.end.isoformat()
    contracts: dict[str, list[Contract]] = defaultdict(list)
    meta: dict[str, tuple[str, str, str]] = {}
    for emp, start, end, cat, est, unit in companies.contracts_during(company, s, e):
        contracts[emp].append(Contract(date.fromisoformat(start), date.fromisoformat(end) if end else None))
        meta[emp] = (cat or "", est or "", unit or "")
    pay: dict[str, list[PayLine]] = defaultdict(list)
    # a year of 200 000 people is 2.4 million lines: share the few distinct months and hours values
    months: dict[str, date] = {}
    decimals: dict[str, Decimal] = {}
    for emp, month, gross, base, hours, ap_h, ap_i, rec in companies.pay_lines_between(
        company, period.start.replace(day=1).isoformat(), e
    ):
        if month not in months:
            months[month] = date.fromisoformat(month)
        for text in (hours, ap_h):
            if text not in decimals:
                decimals[text] = Decimal(text)
        pay[emp].append(PayLine(months[month], gross, base, decimals[hours], decimals[ap_h], ap_i, rec))
    absences: dict[str, list[Absence]] = defaultdict(list)
    for emp, kind, start, end in companies.absences_during(company, s, e):
        absences[emp].append(Absence(AbsenceKind(kind), date.fromisoformat(start), date.fromisoformat(end)))
    ids = sorted(set(contracts) | set(pay))
    employees = tuple(
        EmployeeRecord(
            i,
            tuple(contracts.get(i, ())),
            tuple(pay.get(i, ())),
            tuple(absences.get(i, ())),
            *meta.get(i, ("", "", "")),
        )
        for i in ids
    )
    return Population(company, period, employees)
