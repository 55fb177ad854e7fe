"""The SQLite schema of the ledger, as sqlite-utils migrations (applied in order, each once).

Tables are STRICT, so a money column (INTEGER cents) can never silently hold a REAL. History is append-only:
triggers refuse UPDATE and DELETE on events, the audit log and payments, and any change to an entitlement but
its status. A ledger made by an older paybonus is upgraded in place when it is opened.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils
from paybonus._version import __version__
from paybonus.errors import UserError
from sqlite_utils.migrations import Migrations

migrations = Migrations("paybonus")


def newer_migrations(db: sqlite_utils.Database) -> list[str]:
    """The migrations the ledger has that this version does not know: a newer paybonus upgraded it."""
    known = {m.name for m in migrations._migrations}
    return [m.name for m in migrations.applied(db) if m.name not in known]


def written_by_a_newer_version(newer: list[str]) -> str:
    """What a ledger upgraded by a newer paybonus is told: this version could write rows the newer schema does not
    expect, or skip what it now checks. (A PostgreSQL ledger's rolling upgrade keeps older workers on a newer
    schema when its migrations are additive: docs/deploy.md.)"""
    return (
        f"upgraded by a newer paybonus (its migration {newer[0]} is unknown to paybonus {__version__}): open it "
        "with that version or a later one"
    )


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    """The first schema: companies, payroll inputs, events, dispatches, entitlements, findings, audit log."""
    db.table("companies").create(
        {"id": str, "name": str, "config_toml": str, "config_digest": str, "loaded_at": str},
        pk="id",
        not_null={"name", "config_toml", "config_digest", "loaded_at"},
        strict=True,
    )
    db.table("contracts").create(
        {
            "company": str,
            "employee": str,
            "start": str,
            "end": str,
            "category": str,
            "establishment": str,
            "display_name": str,
        },
        not_null={"company", "employee", "start"},
        foreign_keys=[("company", "companies", "id")],
        strict=True,
    )
    db.table("contracts").create_index(["company", "employee"])
    db.table("pay_lines").create(
        {
            "company": str,
            "employee": str,
            "month": str,
            "gross_cents": int,
            "base_cents": int,
            "contract_hours": str,
            "ap_hours": str,
            "ap_indemnity_cents": int,
            "reconstituted_cents": int,
        },
        pk=("company", "month", "employee"),
        not_null={"gross_cents", "base_cents", "contract_hours", "ap_hours", "ap_indemnity_cents"},
        foreign_keys=[("company", "companies", "id")],
        strict=True,
    )
    db.table("absences").create(
        {"company": str, "employee": str, "kind": str, "start": str, "end": str},
        not_null={"company", "employee", "kind", "start", "end"},
        foreign_keys=[("company", "companies", "id")],
        strict=True,
    )
    db.table("absences").create_index(["company", "employee"])
    db.table("events").create(
        {
            "seq": int,
            "id": str,
            "type": str,
            "company": str,
            "occurred_at": str,
            "payload": str,
            "digest": str,
            "recorded_at": str,
        },
        pk="seq",
        not_null={"id", "type", "company", "occurred_at", "payload", "digest", "recorded_at"},
        foreign_keys=[("company", "companies", "id")],
        strict=True,
    )
    db.table("events").create_index(["id"], unique=True)
    db.table("events").create_index(["company", "type"])
    db.table("dispatches").create(
        {
            "event_id": str,
            "scheme": str,
            "scheme_version": str,
            "status": str,
            "attempts": int,
            "error": str,
            "traceback": str,
            "summary": str,
            "entitlements": int,
            "updated_at": str,
        },
        pk=("event_id", "scheme"),
        not_null={"scheme_version", "status", "attempts", "updated_at"},
        foreign_keys=[("event_id", "events", "id")],
        strict=True,
    )
    db.table("entitlements").create(
        {
            "seq": int,
            "id": str,
            "scheme": str,
            "scheme_version": str,
            "company": str,
            "employee": str,
            "period_start": str,
            "period_end": str,
            "amount_cents": int,
            "kind": str,
            "social_regime": str,
            "dsn_block": str,
            "dsn_code": str,
            "due_date": str,
            "status": str,
            "event_id": str,
            "corrects": str,
            "explanation": str,
            "digest": str,
            "recorded_at": str,
        },
        pk="seq",
        not_null={
            "id",
            "scheme",
            "scheme_version",
            "company",
            "employee",
            "period_start",
            "period_end",
            "amount_cents",
            "kind",
            "social_regime",
            "status",
            "event_id",
            "explanation",
            "digest",
            "recorded_at",
        },
        foreign_keys=[
            ("company", "companies", "id"),
            ("event_id", "events", "id"),
            ("corrects", "entitlements", "id"),
        ],
        strict=True,
    )
    db.table("entitlements").create_index(["id"], unique=True)
    db.table("entitlements").create_index(["company", "scheme", "period_start"])
    db.table("entitlements").create_index(["company", "employee"])
    db.table("findings").create(
        {"event_id": str, "scheme": str, "level": str, "rule": str, "message": str, "employee": str},
        not_null={"event_id", "scheme", "level", "rule", "message"},
        foreign_keys=[("event_id", "events", "id")],
        strict=True,
    )
    db.table("findings").create_index(["event_id", "scheme"])
    db.table("audit_log").create(
        {"seq": int, "at": str, "action": str, "ref": str, "digest": str, "prev_hash": str, "hash": str},
        pk="seq",
        not_null={"at", "action", "ref", "digest", "prev_hash", "hash"},
        strict=True,
    )
    # history is append-only: the audit log and the events never change; an entitlement's amount and identity
    # never change (only its status moves, as payments are recorded)
    db.executescript(
        """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER entitlements_no_delete BEFORE DELETE ON entitlements
        BEGIN SELECT RAISE(ABORT, 'entitlements are never deleted; record a correction'); END;
        CREATE TRIGGER entitlements_immutable BEFORE UPDATE ON entitlements
        WHEN NEW.id IS NOT OLD.id OR NEW.amount_cents IS NOT OLD.amount_cents OR NEW.employee IS NOT OLD.employee
          OR NEW.scheme IS NOT OLD.scheme OR NEW.scheme_version IS NOT OLD.scheme_version
          OR NEW.company IS NOT OLD.company OR NEW.period_start IS NOT OLD.period_start
          OR NEW.period_end IS NOT OLD.period_end OR NEW.kind IS NOT OLD.kind
          OR NEW.social_regime IS NOT OLD.social_regime OR NEW.due_date IS NOT OLD.due_date
          OR NEW.event_id IS NOT OLD.event_id OR NEW.corrects IS NOT OLD.corrects
          OR NEW.explanation IS NOT OLD.explanation OR NEW.digest IS NOT OLD.digest
          OR NEW.dsn_block IS NOT OLD.dsn_block OR NEW.dsn_code IS NOT OLD.dsn_code
        BEGIN SELECT RAISE(ABORT, 'an entitlement is immutable; record a correction'); END;
        """
    )


@migrations()
def m002_payments(db: sqlite_utils.Database) -> None:
    """Payments of entitlements, and the deadline notices the daily check has already given."""
    db.table("payments").create(
        {
            "seq": int,
            "event_id": str,
            "entitlement": str,
            "company": str,
            "amount_cents": int,
            "paid_on": str,
            "mode": str,
            "recorded_at": str,
        },
        pk="seq",
        not_null={"event_id", "entitlement", "company", "amount_cents", "paid_on", "mode", "recorded_at"},
        foreign_keys=[("event_id", "events", "id"), ("entitlement", "entitlements", "id")],
        strict=True,
    )
    db.table("payments").create_index(["entitlement"])
    db.table("deadline_notices").create(
        {"entitlement": str, "kind": str, "noticed_on": str, "recorded_at": str},
        pk=("entitlement", "kind"),
        not_null={"noticed_on", "recorded_at"},
        foreign_keys=[("entitlement", "entitlements", "id")],
        strict=True,
    )
    db.executescript(
        """
        CREATE TRIGGER payments_no_update BEFORE UPDATE ON payments
        BEGIN SELECT RAISE(ABORT, 'payments are append-only'); END;
        CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
        BEGIN SELECT RAISE(ABORT, 'payments are append-only'); END;
        """
    )


@migrations()
def m003_work_units(db: sqlite_utils.Database) -> None:
    """The work unit of each contract, for project intéressement entities (LAW P-1)."""
    db.execute("ALTER TABLE contracts ADD COLUMN work_unit TEXT NOT NULL DEFAULT ''")


@migrations()
def m004_event_subjects(db: sqlite_utils.Database) -> None:
    """The employee and the entitlement an event is about, as columns (no JSON functions in queries); indexes
    that make a company's latest entitlement and payment cheap to find (the version a computation read)."""
    db.execute("ALTER TABLE events ADD COLUMN employee TEXT")
    db.execute("ALTER TABLE events ADD COLUMN entitlement TEXT")
    db.executescript(
        """
        DROP TRIGGER events_no_update;
        UPDATE events SET employee = json_extract(payload, '$.employee'),
                          entitlement = json_extract(payload, '$.entitlement');
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE INDEX idx_events_company_employee ON events (company, employee);
        CREATE INDEX idx_events_entitlement ON events (entitlement, type);
        CREATE INDEX idx_entitlements_company_seq ON entitlements (company);
        CREATE INDEX idx_payments_company_seq ON payments (company);
        """
    )


@migrations()
def m005_proof(db: sqlite_utils.Database) -> None:
    """Everything an amount depends on, under one hash chain per company (docs/audit.md).

    The 0.x global chain is kept, frozen, as `audit_log_v1`; each company's chain opens with an entry anchored to
    its head. Configuration versions, payroll loads (each month's pay lines, the contracts, the absences) and the
    legal parameter sets are kept, append-only, so that any dispatch can be replayed from what it read.
    """
    import uuid

    db.executescript(
        """
        DROP TRIGGER audit_log_no_update;
        DROP TRIGGER audit_log_no_delete;
        ALTER TABLE audit_log RENAME TO audit_log_v1;
        CREATE TRIGGER audit_log_v1_no_insert BEFORE INSERT ON audit_log_v1
        BEGIN SELECT RAISE(ABORT, 'audit_log_v1 is the frozen chain of paybonus 0.x'); END;
        CREATE TRIGGER audit_log_v1_no_update BEFORE UPDATE ON audit_log_v1
        BEGIN SELECT RAISE(ABORT, 'audit_log_v1 is append-only'); END;
        CREATE TRIGGER audit_log_v1_no_delete BEFORE DELETE ON audit_log_v1
        BEGIN SELECT RAISE(ABORT, 'audit_log_v1 is append-only'); END;
        """
    )
    db.table("ledger_meta").create({"key": str, "value": str}, pk="key", not_null={"value"}, strict=True)
    db.table("ledger_meta").insert_all(
        [{"key": "ledger_id", "value": str(uuid.uuid4())}, {"key": "chain_format", "value": "2"}]
    )
    db.table("audit_log").create(
        {
            "seq": int,
            "company": str,
            "n": int,
            "at": str,
            "action": str,
            "ref": str,
            "digest": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={"company", "n", "at", "action", "ref", "digest", "prev_hash", "hash"},
        strict=True,
    )
    db.table("audit_log").create_index(["company", "n"], unique=True)
    db.table("audit_log").create_index(["action", "ref"])
    db.table("parameter_sets").create(
        {"digest": str, "document": str, "recorded_at": str}, pk="digest", not_null={"document"}, strict=True
    )
    db.table("company_configs").create(
        {"company": str, "digest": str, "toml": str, "recorded_at": str},
        pk=("company", "digest"),
        not_null={"toml", "recorded_at"},
        strict=True,
    )
    db.table("payroll_parts").create(
        {"company": str, "part": str, "digest": str, "rows": bytes, "recorded_at": str},
        pk=("company", "part", "digest"),
        not_null={"rows", "recorded_at"},
        strict=True,
    )
    db.table("payroll_loads").create(
        {"company": str, "n": int, "at": str, "config_digest": str, "parts": str, "digest": str},
        pk=("company", "n"),
        not_null={"at", "config_digest", "parts", "digest"},
        strict=True,
    )
    db.table("entitlements").create_index(["event_id", "scheme"])
    db.execute("ALTER TABLE dispatches ADD COLUMN params_digest TEXT")
    db.execute("ALTER TABLE dispatches ADD COLUMN config_digest TEXT")
    db.execute("ALTER TABLE dispatches ADD COLUMN payroll_load INTEGER")
    script = []
    for table in ("audit_log", "parameter_sets", "company_configs", "payroll_parts", "payroll_loads"):
        for verb in ("UPDATE", "DELETE"):
            script.append(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )
    db.executescript("\n".join(script))
    from .chains_of_0x import open_chains_of_migrated_companies

    open_chains_of_migrated_companies(db.conn)


# The choice window of an employee after the statement (I-38): params.toml `option_window_days`, 15 days since
# 2015. The view below states it; a test checks it against the parameter (a new value needs a new migration).
OPTION_WINDOW_DAYS = 15


def _euros(cents: str) -> str:
    """SQL for an exact decimal text of euros from integer cents ('-1234.05'): never a float."""
    return f"printf('%s%d.%02d', CASE WHEN {cents} < 0 THEN '-' ELSE '' END, abs({cents}) / 100, abs({cents}) % 100)"


@migrations()
def m006_views_for_humans(db: sqlite_utils.Database) -> None:
    """Views for people reading the ledger (datasette, sqlite3, a spreadsheet): names next to ids, euros next to
    cents, totals, what is overdue, the choice windows open, explanations line by line. Nothing is stored twice:
    they read the tables. docs/ledger.md describes every view and column."""
    db.executescript(
        f"""
        CREATE VIEW employee_names AS
        SELECT company, employee, display_name AS name, category, establishment, work_unit,
               MIN(start) AS first_contract_start, MAX(COALESCE("end", '9999-12-31')) AS last_contract_end
        FROM contracts GROUP BY company, employee;

        CREATE VIEW entitlements_in_euros AS
        SELECT e.id, e.company, c.name AS company_name, e.scheme, e.employee, n.name AS employee_name,
               e.period_start, e.period_end, e.kind AS entitlement_kind,
               {_euros("e.amount_cents")} AS amount_euros, e.amount_cents,
               COALESCE(p.paid, 0) AS paid_cents, e.amount_cents - COALESCE(p.paid, 0) AS outstanding_cents,
               {_euros("e.amount_cents - COALESCE(p.paid, 0)")} AS outstanding_euros,
               e.due_date, e.status AS payment_status, e.social_regime, e.dsn_block, e.dsn_code,
               e.corrects, e.event_id, e.recorded_at
        FROM entitlements e
        JOIN companies c ON c.id = e.company
        LEFT JOIN employee_names n ON n.company = e.company AND n.employee = e.employee
        LEFT JOIN (SELECT entitlement, SUM(amount_cents) AS paid FROM payments GROUP BY entitlement) p
          ON p.entitlement = e.id;

        CREATE VIEW totals_by_scheme AS
        SELECT company, company_name, scheme, period_start, period_end,
               COUNT(*) AS entitlements, COUNT(DISTINCT employee) AS employees,
               {_euros("SUM(amount_cents)")} AS total_euros, SUM(amount_cents) AS total_cents,
               SUM(paid_cents) AS paid_cents, SUM(outstanding_cents) AS outstanding_cents
        FROM entitlements_in_euros
        GROUP BY company, scheme, period_start, period_end;

        CREATE VIEW overdue AS
        SELECT id AS entitlement, company, employee, employee_name, scheme, due_date,
               CAST(julianday('now') - julianday(due_date) AS INTEGER) AS days_late,
               outstanding_euros, outstanding_cents, payment_status
        FROM entitlements_in_euros
        WHERE due_date IS NOT NULL AND due_date < date('now') AND outstanding_cents > 0;

        CREATE VIEW choice_windows_open AS
        SELECT w.entitlement, e.company, e.employee, e.employee_name, e.scheme, w.statement_issued_on,
               date(w.statement_issued_on, '+{OPTION_WINDOW_DAYS} days') AS window_closes_on,
               CAST(julianday(date(w.statement_issued_on, '+{OPTION_WINDOW_DAYS} days')) - julianday('now')
                    AS INTEGER) AS days_left,
               e.amount_euros, e.amount_cents
        FROM (SELECT entitlement, MIN(json_extract(payload, '$.issued_on')) AS statement_issued_on
              FROM events WHERE type = 'statement_issued' GROUP BY entitlement) w
        JOIN entitlements_in_euros e ON e.id = w.entitlement
        WHERE e.social_regime = 'epargne_salariale'
          AND NOT EXISTS (SELECT 1 FROM events o WHERE o.type = 'option_chosen' AND o.entitlement = w.entitlement)
          AND date('now') BETWEEN w.statement_issued_on
                              AND date(w.statement_issued_on, '+{OPTION_WINDOW_DAYS} days');

        CREATE VIEW explanation_lines AS
        SELECT e.id AS entitlement, 1 AS section_order, 'rule' AS section, r.key + 1 AS position,
               r.value AS name, NULL AS value
        FROM entitlements e, json_each(e.explanation, '$.rules') r
        UNION ALL
        SELECT e.id, 2, 'input', i.id, i.key,
               CASE WHEN i.type IN ('true', 'false') THEN i.type ELSE CAST(i.value AS TEXT) END
        FROM entitlements e, json_each(e.explanation, '$.inputs') i
        UNION ALL
        SELECT e.id, 3, 'parameter', q.id, q.key,
               CASE WHEN q.type IN ('true', 'false') THEN q.type ELSE CAST(q.value AS TEXT) END
        FROM entitlements e, json_each(e.explanation, '$.parameters') q
        UNION ALL
        SELECT e.id, 4, 'step', s.key + 1, NULL, s.value
        FROM entitlements e, json_each(e.explanation, '$.steps') s;
        """
    )


@migrations()
def m007_statement_company_files(db: sqlite_utils.Database) -> None:
    """The files a company's individual statements use (its logo, its own templates), stored by `load` with its
    configuration, so that statements are written from the ledger alone."""
    db.table("company_files").create(
        {"company": str, "name": str, "content": bytes, "digest": str},
        pk=("company", "name"),
        not_null={"content", "digest"},
        strict=True,
    )


@migrations()
def m008_group_contracts_and_payroll_bases(db: sqlite_utils.Database) -> None:
    """Contracts with another company of the group, counted for seniority only (docs/rules.md D-12); pay lines
    gain the caisse de congés payés indemnities and the part of the activité partielle indemnity subject to
    contributions, both in the 20 % base of intéressement (LAW I-18, I-19)."""
    db.execute("ALTER TABLE contracts ADD COLUMN group_company TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE pay_lines ADD COLUMN cp_caisse_cents INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE pay_lines ADD COLUMN ap_subject_cents INTEGER")
    db.executescript(  # the view of m006, without the contracts with another company of the group
        """
        DROP VIEW employee_names;
        CREATE VIEW employee_names AS
        SELECT company, employee, display_name AS name, category, establishment, work_unit,
               MIN(start) AS first_contract_start, MAX(COALESCE("end", '9999-12-31')) AS last_contract_end
        FROM contracts WHERE group_company = '' GROUP BY company, employee;
        """
    )
    from .companies import rekeep_payroll

    rekeep_payroll(db.conn)  # each company's payroll kept again with the new columns (docs/audit.md)


@migrations()
def m009_shared_explanations(db: sqlite_utils.Database) -> None:
    """What the entitlements of one computation share (the pool, its parameters and steps) kept once, under the
    sha256 of its text, which each entitlement's explanation names (docs/ledger.md); the view of explanations line
    by line shows both parts."""
    db.executescript(
        """
        CREATE TABLE shared_explanations (hash TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
        CREATE TRIGGER shared_explanations_no_update BEFORE UPDATE ON shared_explanations
        BEGIN SELECT RAISE(ABORT, 'shared explanations are append-only'); END;
        CREATE TRIGGER shared_explanations_no_delete BEFORE DELETE ON shared_explanations
        BEGIN SELECT RAISE(ABORT, 'shared explanations are append-only'); END;

        DROP VIEW explanation_lines;
        CREATE VIEW explanation_lines AS
        WITH parts AS (
          SELECT e.id AS entitlement, 0 AS part, x.body AS body
          FROM entitlements e JOIN shared_explanations x ON x.hash = json_extract(e.explanation, '$.shared')
          UNION ALL
          SELECT e.id, 1, e.explanation FROM entitlements e
        )
        SELECT p.entitlement, 1 AS section_order, 'rule' AS section, p.part * 1000000 + r.key + 1 AS position,
               r.value AS name, NULL AS value
        FROM parts p, json_each(p.body, '$.rules') r
        UNION ALL
        SELECT p.entitlement, 2, 'input', p.part * 1000000 + i.id, i.key,
               CASE WHEN i.type IN ('true', 'false') THEN i.type ELSE CAST(i.value AS TEXT) END
        FROM parts p, json_each(p.body, '$.inputs') i
        UNION ALL
        SELECT p.entitlement, 3, 'parameter', p.part * 1000000 + q.id, q.key,
               CASE WHEN q.type IN ('true', 'false') THEN q.type ELSE CAST(q.value AS TEXT) END
        FROM parts p, json_each(p.body, '$.parameters') q
        UNION ALL
        SELECT p.entitlement, 4, 'step', p.part * 1000000 + s.key + 1, NULL, s.value
        FROM parts p, json_each(p.body, '$.steps') s;
        """
    )


@migrations()
def m010_message_dead_letters(db: sqlite_utils.Database) -> None:
    """Messages an event source (`paybonus worker`) gave up on after its maximum number of deliveries, before
    anything of them was recorded: kept whole, append-only (docs/deploy.md)."""
    db.table("message_dead_letters").create(
        {
            "seq": int,
            "source": str,
            "subject": str,
            "message_id": str,
            "company": str,
            "deliveries": int,
            "error": str,
            "payload": bytes,
            "recorded_at": str,
        },
        pk="seq",
        not_null={"source", "subject", "deliveries", "error", "payload", "recorded_at"},
        strict=True,
    )
    db.execute(
        "CREATE TRIGGER message_dead_letters_no_update BEFORE UPDATE ON message_dead_letters "
        "BEGIN SELECT RAISE(ABORT, 'message_dead_letters is append-only'); END"
    )


@migrations()
def m011_audit_index_of_parameter_sets(db: sqlite_utils.Database) -> None:
    """The audit log's index on (action, ref) held an entry per entitlement, event and dispatch, at random places
    (their refs are hashes): at 200 000 employees it outgrew the page cache and made the close superlinear. The one
    query it served looks for a company's `params.recorded` entry: a partial index of those entries serves it."""
    db.executescript(
        """
        DROP INDEX IF EXISTS idx_audit_log_action_ref;
        CREATE INDEX idx_audit_log_params ON audit_log (company, ref) WHERE action = 'params.recorded';
        """
    )


# m012's tables: those that name an event, rebuilt so that they name it by (company, id). Columns, types and
# constraints are those of m001..m011 but for the event's key; `company` leads the key of dispatches and findings.
_EVENT_KEY = 'FOREIGN KEY ("event_id", "company") REFERENCES "events" ("id", "company")'
_REBUILT = {
    "dispatches": f"""
        CREATE TABLE "dispatches_m012" (
           "company" TEXT NOT NULL,
           "event_id" TEXT NOT NULL,
           "scheme" TEXT NOT NULL,
           "scheme_version" TEXT NOT NULL,
           "status" TEXT NOT NULL,
           "attempts" INTEGER NOT NULL,
           "error" TEXT,
           "traceback" TEXT,
           "summary" TEXT,
           "entitlements" INTEGER,
           "updated_at" TEXT NOT NULL,
           "params_digest" TEXT,
           "config_digest" TEXT,
           "payroll_load" INTEGER,
           PRIMARY KEY ("company", "event_id", "scheme"),
           {_EVENT_KEY}
        ) STRICT""",
    "findings": f"""
        CREATE TABLE "findings_m012" (
           "company" TEXT NOT NULL,
           "event_id" TEXT NOT NULL,
           "scheme" TEXT NOT NULL,
           "level" TEXT NOT NULL,
           "rule" TEXT NOT NULL,
           "message" TEXT NOT NULL,
           "employee" TEXT,
           {_EVENT_KEY}
        ) STRICT""",
    "entitlements": f"""
        CREATE TABLE "entitlements_m012" (
           "seq" INTEGER PRIMARY KEY,
           "id" TEXT NOT NULL,
           "scheme" TEXT NOT NULL,
           "scheme_version" TEXT NOT NULL,
           "company" TEXT NOT NULL REFERENCES "companies"("id"),
           "employee" TEXT NOT NULL,
           "period_start" TEXT NOT NULL,
           "period_end" TEXT NOT NULL,
           "amount_cents" INTEGER NOT NULL,
           "kind" TEXT NOT NULL,
           "social_regime" TEXT NOT NULL,
           "dsn_block" TEXT,
           "dsn_code" TEXT,
           "due_date" TEXT,
           "status" TEXT NOT NULL,
           "event_id" TEXT NOT NULL,
           "corrects" TEXT REFERENCES "entitlements"("id"),
           "explanation" TEXT NOT NULL,
           "digest" TEXT NOT NULL,
           "recorded_at" TEXT NOT NULL,
           {_EVENT_KEY}
        ) STRICT""",
    "payments": f"""
        CREATE TABLE "payments_m012" (
           "seq" INTEGER PRIMARY KEY,
           "event_id" TEXT NOT NULL,
           "entitlement" TEXT NOT NULL REFERENCES "entitlements"("id"),
           "company" TEXT NOT NULL,
           "amount_cents" INTEGER NOT NULL,
           "paid_on" TEXT NOT NULL,
           "mode" TEXT NOT NULL,
           "recorded_at" TEXT NOT NULL,
           {_EVENT_KEY}
        ) STRICT""",
}
# what each keeps of the old table, row for row (rowid included: findings come back in rowid order); dispatches
# and findings take their company from their event (ids were unique in the ledger until now)
_OF_EVENT = "(SELECT e.company FROM events e WHERE e.id = t.event_id)"
_COPIES = {
    "dispatches": (
        "company, event_id, scheme, scheme_version, status, attempts, error, traceback, summary, entitlements, "
        "updated_at, params_digest, config_digest, payroll_load",
        f"{_OF_EVENT}, event_id, scheme, scheme_version, status, attempts, error, traceback, summary, "
        "entitlements, updated_at, params_digest, config_digest, payroll_load",
    ),
    "findings": (
        "rowid, company, event_id, scheme, level, rule, message, employee",
        f"rowid, {_OF_EVENT}, event_id, scheme, level, rule, message, employee",
    ),
    "entitlements": ("*", "*"),
    "payments": ("*", "*"),
}


@migrations(transactional=False)
def m012_event_ids_per_company(db: sqlite_utils.Database) -> None:
    """An event is known by its company and its id: two companies may both publish `close-2026-01`. The unique
    index on events(id) becomes one on (id, company) (it also serves look-ups by id alone); dispatches and findings
    gain the company; every table naming an event names it by both. SQLite cannot change a table's keys: each is
    rebuilt (the documented procedure: foreign keys off, a new table, every row copied as it is, the old one
    dropped, the new one renamed, its indexes and triggers created again with their text, views too), in one
    transaction, checked with `foreign_key_check` before it commits. No row, digest or chain entry changes.
    Not in sqlite-utils' transaction (foreign keys cannot be switched off inside one): a run interrupted after
    its commit finds the work done."""
    conn = db.conn
    if conn.in_transaction:  # a connection in Python's implicit-transaction mode: close what it opened
        conn.commit()
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")  # checked under the write lock: another process may have just done it
        try:
            # done already when a run stopped after its commit, before sqlite-utils recorded it
            if "company" not in {r[1] for r in conn.execute("PRAGMA table_info(dispatches)")}:
                _rebuild_with_event_keys(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):  # rows paybonus never wrote: say so, change nothing
                raise UserError("ledger", f"cannot upgrade it to name events by company ({exc})") from None
            raise
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")


# What is still owed on each entitlement, net of the negative corrections that cut it: a cut is netted against
# everything it corrects — the principal (or advance) it references and that one's positive corrections, in
# recording order — not against the principal alone. A principal paid in full, then computed again up (a positive
# correction) and down (a cut referencing the principal), owes the raise less the cut, never the raise.
# Frozen with m013: a change is a new migration.
_NET_OUTSTANDING = """
SELECT t.id, t.left_cents - CASE WHEN t.to_absorb <= 0 THEN 0 WHEN t.to_absorb >= t.left_cents THEN t.left_cents
                                 ELSE t.to_absorb END AS net_cents
FROM (SELECT o.id, o.left_cents,
             -COALESCE(c.cut, 0) - COALESCE(SUM(CASE WHEN o.amount_cents > 0 THEN o.left_cents ELSE 0 END)
               OVER (PARTITION BY o.grp ORDER BY o.seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS to_absorb
      FROM (SELECT e.id, e.seq, e.amount_cents, e.amount_cents - COALESCE(p.paid, 0) AS left_cents,
                   CASE WHEN e.kind = 'correction' AND e.corrects IS NOT NULL THEN e.corrects ELSE e.id END AS grp
            FROM entitlements e
            LEFT JOIN (SELECT entitlement, SUM(amount_cents) AS paid FROM payments{payments} GROUP BY entitlement) p
              ON p.entitlement = e.id{entitlements}) o
      LEFT JOIN (SELECT corrects, SUM(amount_cents) AS cut FROM entitlements
                 WHERE kind = 'correction' AND amount_cents < 0 AND corrects IS NOT NULL{corrections} GROUP BY corrects) c
        ON c.corrects = o.grp) t
"""
NET_OUTSTANDING = _NET_OUTSTANDING.format(payments="", entitlements="", corrections="")
# of one company (three `?`: its id): a correction, and a payment, is of the company of the entitlement it is about,
# so the window over the company's rows gives what the window over every row gives them, without reading the others
NET_OUTSTANDING_OF_COMPANY = _NET_OUTSTANDING.format(
    payments=" WHERE company = ?", entitlements=" WHERE e.company = ?", corrections=" AND company = ?"
)


@migrations()
def m013_overdue_net_of_corrections(db: sqlite_utils.Database) -> None:
    """`overdue` counts what is owed net of the negative corrections that cut it (NET_OUTSTANDING), as `paybonus
    deadlines` does: paid its net amount, nothing is overdue (nor a leaver's handed to the Caisse des dépôts)."""
    db.executescript(
        f"""
        DROP VIEW overdue;
        CREATE VIEW overdue AS
        SELECT e.id AS entitlement, e.company, e.employee, e.employee_name, e.scheme, e.due_date,
               CAST(julianday('now') - julianday(e.due_date) AS INTEGER) AS days_late,
               {_euros("n.net_cents")} AS outstanding_euros, n.net_cents AS outstanding_cents, e.payment_status
        FROM entitlements_in_euros e
        JOIN ({NET_OUTSTANDING}) n ON n.id = e.id
        WHERE e.due_date IS NOT NULL AND e.due_date < date('now') AND n.net_cents > 0;
        """
    )


def _rebuild_with_event_keys(conn: sqlite3.Connection) -> None:
    tables = tuple(_REBUILT)
    marks = ", ".join("?" for _ in tables)
    keep = conn.execute(  # indexes and triggers of the rebuilt tables, views: their text, in creation order
        f"SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND (type = 'view' OR "
        f"(type IN ('index', 'trigger') AND tbl_name IN ({marks}))) ORDER BY rowid",
        tables,
    ).fetchall()
    for kind, name, _ in reversed(keep):
        if kind == "view":  # a rename checks every view: none may name a table that is not there
            conn.execute(f'DROP VIEW "{name}"')
    conn.execute('CREATE UNIQUE INDEX "idx_events_id_company" ON "events" ("id", "company")')
    for table, create in _REBUILT.items():
        conn.execute(create)
        into, values = _COPIES[table]
        columns = "" if into == "*" else f" ({into})"
        conn.execute(f'INSERT INTO "{table}_m012"{columns} SELECT {values} FROM "{table}" t ORDER BY rowid')
        conn.execute(f'DROP TABLE "{table}"')
        conn.execute(f'ALTER TABLE "{table}_m012" RENAME TO "{table}"')
    conn.execute('DROP INDEX "idx_events_id"')
    for _, name, sql in keep:
        if name == "idx_findings_event_id_scheme":
            sql = 'CREATE INDEX "idx_findings_company_event_id_scheme" ON "findings" ("company", "event_id", "scheme")'
        conn.execute(sql)
    broken = [r for t in tables for r in conn.execute(f'PRAGMA foreign_key_check("{t}")')]
    if broken:
        raise sqlite3.IntegrityError(
            f"{len(broken)} rows of {', '.join(sorted({r[0] for r in broken}))} name an event, an entitlement "
            "or a company that is not there"
        )
