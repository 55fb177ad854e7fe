"""Migration m005's work on a ledger made by paybonus 0.x: open a chain for each company, keep its inputs."""

from __future__ import annotations

import sqlite3

from .audit_log import AuditLog
from .companies import Companies, parts_of


def open_chains_of_migrated_companies(conn: sqlite3.Connection) -> None:
    """Migration m005: each company of a 0.x ledger gets its chain, opened on the frozen chain's head, and its
    current configuration and payroll kept as its first versions (what later dispatches will have read)."""
    at = conn.execute("SELECT COALESCE(MAX(at), '') FROM audit_log_v1").fetchone()[0]
    companies, audit = Companies(conn), AuditLog(conn)
    for company in companies.ids():
        toml = companies.toml(company) or ""
        config = companies.record_config(company, toml, at)
        contracts = conn.execute(
            "SELECT employee, start, end, category, establishment, display_name, work_unit FROM contracts "
            "WHERE company = ?",
            (company,),
        ).fetchall()
        pay = conn.execute(
            "SELECT employee, month, gross_cents, base_cents, contract_hours, ap_hours, ap_indemnity_cents, "
            "reconstituted_cents FROM pay_lines WHERE company = ?",
            (company,),
        ).fetchall()
        absences = conn.execute(
            "SELECT employee, kind, start, end FROM absences WHERE company = ?", (company,)
        ).fetchall()
        n, digest = companies.record_load(company, config, parts_of(contracts, pay, absences), at)
        audit.append(
            company, at, [("config.loaded", company, config), ("payroll.loaded", f"{company}/{n}", digest)]
        )
