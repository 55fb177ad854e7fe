"""The PostgreSQL schema of the ledger: the SQLite schema of `schema.py`, same tables, columns and guarantees.

A PostgreSQL ledger starts at the schema of m001..m008 in one step (there are no older PostgreSQL ledgers); each
later SQLite migration gets its PostgreSQL twin here, under the same name (and what the baseline missed of one, a
migration named after it). Text columns compare byte-wise
(COLLATE "C", as SQLite's BINARY), so that rows come back in the order whose digests the audit checks. History is
append-only: row triggers refuse UPDATE and DELETE (an entitlement may only change its status), statement
triggers refuse TRUNCATE (which bypasses row triggers). Migrations run under a database-wide advisory lock, so
that workers starting together apply each once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .pg import PgConnection
from .schema import NET_OUTSTANDING, OPTION_WINDOW_DAYS

T = 'TEXT COLLATE "C"'
APPEND_ONLY = (
    "audit_log",
    "audit_log_v1",
    "events",
    "payments",
    "parameter_sets",
    "company_configs",
    "payroll_parts",
    "payroll_loads",
)
MIGRATION_LOCK = 7_142_019_001  # pg_advisory_xact_lock key of migrations and of whole-ledger writers


def _refusals() -> str:
    out = [
        """CREATE OR REPLACE FUNCTION paybonus_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'raise_exception'; END $$;""",
        """CREATE OR REPLACE FUNCTION paybonus_entitlement_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF (NEW.id, NEW.amount_cents, NEW.employee, NEW.scheme, NEW.scheme_version, NEW.company,
              NEW.period_start, NEW.period_end, NEW.kind, NEW.social_regime, NEW.due_date, NEW.event_id,
              NEW.corrects, NEW.explanation, NEW.digest, NEW.dsn_block, NEW.dsn_code, NEW.seq, NEW.recorded_at)
             IS DISTINCT FROM
             (OLD.id, OLD.amount_cents, OLD.employee, OLD.scheme, OLD.scheme_version, OLD.company,
              OLD.period_start, OLD.period_end, OLD.kind, OLD.social_regime, OLD.due_date, OLD.event_id,
              OLD.corrects, OLD.explanation, OLD.digest, OLD.dsn_block, OLD.dsn_code, OLD.seq, OLD.recorded_at)
          THEN RAISE EXCEPTION 'an entitlement is immutable; record a correction'; END IF;
          RETURN NEW;
        END $$;""",
        "CREATE TRIGGER audit_log_v1_no_insert BEFORE INSERT ON audit_log_v1 FOR EACH ROW "
        "EXECUTE FUNCTION paybonus_refuse('audit_log_v1 is the frozen chain of paybonus 0.x');",
        "CREATE TRIGGER entitlements_no_delete BEFORE DELETE ON entitlements FOR EACH ROW "
        "EXECUTE FUNCTION paybonus_refuse('entitlements are never deleted; record a correction');",
        "CREATE TRIGGER entitlements_no_truncate BEFORE TRUNCATE ON entitlements FOR EACH STATEMENT "
        "EXECUTE FUNCTION paybonus_refuse('entitlements are never deleted; record a correction');",
        "CREATE TRIGGER entitlements_immutable BEFORE UPDATE ON entitlements FOR EACH ROW "
        "EXECUTE FUNCTION paybonus_entitlement_immutable();",
    ]
    for table in APPEND_ONLY:
        what = "events are" if table == "events" else "payments are" if table == "payments" else f"{table} is"
        for verb in ("UPDATE", "DELETE"):
            out.append(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION paybonus_refuse('{what} append-only');"
            )
        out.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION paybonus_refuse('{what} append-only');"
        )
    return "\n".join(out)


def _euros(cents: str) -> str:
    """SQL for an exact decimal text of euros from integer cents ('-1234.05'): never a float."""
    return (
        f"(CASE WHEN {cents} < 0 THEN '-' ELSE '' END || (abs({cents}) / 100)::text || '.' "
        f"|| lpad((abs({cents}) % 100)::text, 2, '0'))"
    )


BASELINE = f"""
CREATE TABLE companies (id {T} PRIMARY KEY, name {T} NOT NULL, config_toml {T} NOT NULL,
  config_digest {T} NOT NULL, loaded_at {T} NOT NULL);
CREATE TABLE contracts (company {T} NOT NULL REFERENCES companies (id), employee {T} NOT NULL, start {T} NOT NULL,
  "end" {T}, category {T}, establishment {T}, display_name {T}, work_unit {T} NOT NULL DEFAULT '',
  group_company {T} NOT NULL DEFAULT '');
CREATE INDEX idx_contracts_company_employee ON contracts (company, employee);
CREATE TABLE pay_lines (company {T} NOT NULL REFERENCES companies (id), employee {T} NOT NULL, month {T} NOT NULL,
  gross_cents BIGINT NOT NULL, base_cents BIGINT NOT NULL, contract_hours {T} NOT NULL, ap_hours {T} NOT NULL,
  ap_indemnity_cents BIGINT NOT NULL, reconstituted_cents BIGINT, cp_caisse_cents BIGINT NOT NULL DEFAULT 0,
  ap_subject_cents BIGINT, PRIMARY KEY (company, month, employee));
CREATE TABLE absences (company {T} NOT NULL REFERENCES companies (id), employee {T} NOT NULL, kind {T} NOT NULL,
  start {T} NOT NULL, "end" {T} NOT NULL);
CREATE INDEX idx_absences_company_employee ON absences (company, employee);
CREATE TABLE events (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, id {T} NOT NULL UNIQUE,
  type {T} NOT NULL, company {T} NOT NULL REFERENCES companies (id), occurred_at {T} NOT NULL, payload {T} NOT NULL,
  digest {T} NOT NULL, recorded_at {T} NOT NULL, employee {T}, entitlement {T});
CREATE INDEX idx_events_company_type ON events (company, type);
CREATE INDEX idx_events_company_employee ON events (company, employee);
CREATE INDEX idx_events_entitlement ON events (entitlement, type);
CREATE TABLE dispatches (event_id {T} NOT NULL REFERENCES events (id), scheme {T} NOT NULL,
  scheme_version {T} NOT NULL, status {T} NOT NULL, attempts BIGINT NOT NULL, error {T}, traceback {T},
  summary {T}, entitlements BIGINT, updated_at {T} NOT NULL, params_digest {T}, config_digest {T},
  payroll_load BIGINT, PRIMARY KEY (event_id, scheme));
CREATE TABLE entitlements (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, id {T} NOT NULL UNIQUE,
  scheme {T} NOT NULL, scheme_version {T} NOT NULL, company {T} NOT NULL REFERENCES companies (id),
  employee {T} NOT NULL, period_start {T} NOT NULL, period_end {T} NOT NULL, amount_cents BIGINT NOT NULL,
  kind {T} NOT NULL, social_regime {T} NOT NULL, dsn_block {T}, dsn_code {T}, due_date {T}, status {T} NOT NULL,
  event_id {T} NOT NULL REFERENCES events (id), corrects {T} REFERENCES entitlements (id),
  explanation {T} NOT NULL, digest {T} NOT NULL, recorded_at {T} NOT NULL);
CREATE INDEX idx_entitlements_company_scheme ON entitlements (company, scheme, period_start);
CREATE INDEX idx_entitlements_company_employee ON entitlements (company, employee);
CREATE INDEX idx_entitlements_company_seq ON entitlements (company, seq);
CREATE INDEX idx_entitlements_event_scheme ON entitlements (event_id, scheme);
CREATE TABLE findings (rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id {T} NOT NULL REFERENCES events (id), scheme {T} NOT NULL, level {T} NOT NULL, rule {T} NOT NULL,
  message {T} NOT NULL, employee {T});
CREATE INDEX idx_findings_event_scheme ON findings (event_id, scheme);
CREATE TABLE payments (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  event_id {T} NOT NULL REFERENCES events (id), entitlement {T} NOT NULL REFERENCES entitlements (id),
  company {T} NOT NULL, amount_cents BIGINT NOT NULL, paid_on {T} NOT NULL, mode {T} NOT NULL,
  recorded_at {T} NOT NULL);
CREATE INDEX idx_payments_entitlement ON payments (entitlement);
CREATE INDEX idx_payments_company_seq ON payments (company, seq);
CREATE TABLE deadline_notices (entitlement {T} NOT NULL REFERENCES entitlements (id), kind {T} NOT NULL,
  noticed_on {T} NOT NULL, recorded_at {T} NOT NULL, PRIMARY KEY (entitlement, kind));
CREATE TABLE audit_log_v1 (seq BIGINT PRIMARY KEY, at {T} NOT NULL, action {T} NOT NULL, ref {T} NOT NULL,
  digest {T} NOT NULL, prev_hash {T} NOT NULL, hash {T} NOT NULL);
CREATE TABLE ledger_meta (key {T} PRIMARY KEY, value {T} NOT NULL);
CREATE TABLE audit_log (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, company {T} NOT NULL,
  n BIGINT NOT NULL, at {T} NOT NULL, action {T} NOT NULL, ref {T} NOT NULL, digest {T} NOT NULL,
  prev_hash {T} NOT NULL, hash {T} NOT NULL, UNIQUE (company, n));
CREATE INDEX idx_audit_log_action_ref ON audit_log (action, ref);
CREATE TABLE parameter_sets (digest {T} PRIMARY KEY, document {T} NOT NULL, recorded_at {T});
CREATE TABLE company_configs (company {T} NOT NULL, digest {T} NOT NULL, toml {T} NOT NULL,
  recorded_at {T} NOT NULL, PRIMARY KEY (company, digest));
CREATE TABLE payroll_parts (company {T} NOT NULL, part {T} NOT NULL, digest {T} NOT NULL, rows BYTEA NOT NULL,
  recorded_at {T} NOT NULL, PRIMARY KEY (company, part, digest));
CREATE TABLE payroll_loads (company {T} NOT NULL, n BIGINT NOT NULL, at {T} NOT NULL, config_digest {T} NOT NULL,
  parts {T} NOT NULL, digest {T} NOT NULL, PRIMARY KEY (company, n));
CREATE TABLE company_files (company {T} NOT NULL, name {T} NOT NULL, content BYTEA NOT NULL, digest {T} NOT NULL,
  PRIMARY KEY (company, name));
{_refusals()}

CREATE VIEW employee_names AS
SELECT company, employee, MIN(display_name) AS name, MIN(category) AS category,
       MIN(establishment) AS establishment, MIN(work_unit) AS work_unit, MIN(start) AS first_contract_start,
       MAX(COALESCE("end", '9999-12-31')) AS last_contract_end
FROM contracts WHERE group_company = '' GROUP BY company, employee;

CREATE VIEW entitlements_in_euros AS
SELECT e.id, e.company, c.name AS company_name, e.scheme, e.employee, n.name AS employee_name,
       e.period_start, e.period_end, e.kind AS entitlement_kind,
       {_euros("e.amount_cents")} AS amount_euros, e.amount_cents,
       COALESCE(p.paid, 0) AS paid_cents, e.amount_cents - COALESCE(p.paid, 0) AS outstanding_cents,
       {_euros("(e.amount_cents - COALESCE(p.paid, 0))")} AS outstanding_euros,
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
GROUP BY company, company_name, scheme, period_start, period_end;

CREATE VIEW overdue AS
SELECT id AS entitlement, company, employee, employee_name, scheme, due_date,
       current_date - due_date::date AS days_late, outstanding_euros, outstanding_cents, payment_status
FROM entitlements_in_euros
WHERE due_date IS NOT NULL AND due_date::date < current_date AND outstanding_cents > 0;

CREATE VIEW explanation_lines AS
SELECT e.id AS entitlement, 1 AS section_order, 'rule' AS section, r.ord AS position, r.value AS name,
       NULL::text AS value
FROM entitlements e, jsonb_array_elements_text(e.explanation::jsonb -> 'rules') WITH ORDINALITY r (value, ord)
UNION ALL
SELECT e.id, 2, 'input', i.ord, i.key, i.value #>> '{{}}'
FROM entitlements e, jsonb_each(e.explanation::jsonb -> 'inputs') WITH ORDINALITY i (key, value, ord)
UNION ALL
SELECT e.id, 3, 'parameter', q.ord, q.key, q.value #>> '{{}}'
FROM entitlements e, jsonb_each(e.explanation::jsonb -> 'parameters') WITH ORDINALITY q (key, value, ord)
UNION ALL
SELECT e.id, 4, 'step', s.ord, NULL, s.value
FROM entitlements e, jsonb_array_elements_text(e.explanation::jsonb -> 'steps') WITH ORDINALITY s (value, ord);
"""

SHARED_EXPLANATIONS = f"""
CREATE TABLE shared_explanations (rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, hash {T} PRIMARY KEY,
  body {T} NOT NULL);
CREATE TRIGGER shared_explanations_no_update BEFORE UPDATE ON shared_explanations FOR EACH ROW
EXECUTE FUNCTION paybonus_refuse('shared explanations are append-only');
CREATE TRIGGER shared_explanations_no_delete BEFORE DELETE ON shared_explanations FOR EACH ROW
EXECUTE FUNCTION paybonus_refuse('shared explanations are append-only');
CREATE TRIGGER shared_explanations_no_truncate BEFORE TRUNCATE ON shared_explanations FOR EACH STATEMENT
EXECUTE FUNCTION paybonus_refuse('shared explanations are append-only');

DROP VIEW explanation_lines;
CREATE VIEW explanation_lines AS
WITH parts AS (
  SELECT e.id AS entitlement, 0 AS part, x.body::jsonb AS body
  FROM entitlements e JOIN shared_explanations x ON x.hash = e.explanation::jsonb ->> 'shared'
  UNION ALL
  SELECT e.id, 1, e.explanation::jsonb FROM entitlements e
)
SELECT p.entitlement, 1 AS section_order, 'rule' AS section, p.part * 1000000 + r.ord AS position,
       r.value AS name, NULL::text AS value
FROM parts p, jsonb_array_elements_text(p.body -> 'rules') WITH ORDINALITY r (value, ord)
UNION ALL
SELECT p.entitlement, 2, 'input', p.part * 1000000 + i.ord, i.key, i.value #>> '{{}}'
FROM parts p, jsonb_each(p.body -> 'inputs') WITH ORDINALITY i (key, value, ord)
UNION ALL
SELECT p.entitlement, 3, 'parameter', p.part * 1000000 + q.ord, q.key, q.value #>> '{{}}'
FROM parts p, jsonb_each(p.body -> 'parameters') WITH ORDINALITY q (key, value, ord)
UNION ALL
SELECT p.entitlement, 4, 'step', p.part * 1000000 + s.ord, NULL, s.value
FROM parts p, jsonb_array_elements_text(p.body -> 'steps') WITH ORDINALITY s (value, ord);
"""

DEAD_LETTERS = f"""
CREATE TABLE message_dead_letters (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, source {T} NOT NULL,
  subject {T} NOT NULL, message_id {T}, company {T}, deliveries BIGINT NOT NULL, error {T} NOT NULL,
  payload BYTEA NOT NULL, recorded_at {T} NOT NULL);
CREATE TRIGGER message_dead_letters_no_update BEFORE UPDATE ON message_dead_letters FOR EACH ROW
EXECUTE FUNCTION paybonus_refuse('message_dead_letters is append-only');
"""

# SQLite's view of m006, which the baseline missed. Dates are ISO text: compared as dates here, as text there
# (the same order); SQLite's date('now') is today in UTC, and its days_left truncates (window end at midnight
# minus now, in days, toward zero), so both are computed the same way here.
_CLOSES = f"(w.statement_issued_on::date + {OPTION_WINDOW_DAYS})"
_TODAY_UTC = "(now() AT TIME ZONE 'UTC')"
CHOICE_WINDOWS_OPEN = f"""
CREATE VIEW choice_windows_open AS
SELECT w.entitlement, e.company, e.employee, e.employee_name, e.scheme, w.statement_issued_on,
       to_char({_CLOSES}, 'YYYY-MM-DD') AS window_closes_on,
       trunc(extract(epoch FROM ({_CLOSES}::timestamp - {_TODAY_UTC})) / 86400)::integer AS days_left,
       e.amount_euros, e.amount_cents
FROM (SELECT entitlement, MIN((payload::jsonb ->> 'issued_on') COLLATE "C") AS statement_issued_on
      FROM events WHERE type = 'statement_issued' GROUP BY entitlement) w
JOIN entitlements_in_euros e ON e.id = w.entitlement
WHERE e.social_regime = 'epargne_salariale'
  AND NOT EXISTS (SELECT 1 FROM events o WHERE o.type = 'option_chosen' AND o.entitlement = w.entitlement)
  AND {_TODAY_UTC}::date BETWEEN w.statement_issued_on::date AND {_CLOSES};
"""

# the index on (action, ref) held an entry per entitlement at a random place; its one query wants parameter sets
AUDIT_INDEX_OF_PARAMETER_SETS = """
DROP INDEX IF EXISTS idx_audit_log_action_ref;
CREATE INDEX idx_audit_log_params ON audit_log (company, ref) WHERE action = 'params.recorded';
"""

# m012: an event is known by (company, id). The unique key becomes (id, company) (it serves look-ups by id
# alone too); dispatches and findings gain the company, filled from their event (ids were unique until now); every
# foreign key naming an event names it by both. PostgreSQL changes keys in place: no row is rewritten but these
# two tables' new column.
_EVENT_KEY = "FOREIGN KEY (event_id, company) REFERENCES events (id, company)"
EVENT_IDS_PER_COMPANY = f"""
ALTER TABLE events ADD CONSTRAINT events_id_company_key UNIQUE (id, company);
ALTER TABLE dispatches ADD COLUMN company {T};
UPDATE dispatches d SET company = e.company FROM events e WHERE e.id = d.event_id;
ALTER TABLE dispatches ALTER COLUMN company SET NOT NULL;
ALTER TABLE dispatches DROP CONSTRAINT dispatches_pkey;
ALTER TABLE dispatches ADD CONSTRAINT dispatches_pkey PRIMARY KEY (company, event_id, scheme);
ALTER TABLE dispatches DROP CONSTRAINT dispatches_event_id_fkey;
ALTER TABLE dispatches ADD CONSTRAINT dispatches_event_fkey {_EVENT_KEY};
ALTER TABLE findings ADD COLUMN company {T};
UPDATE findings f SET company = e.company FROM events e WHERE e.id = f.event_id;
ALTER TABLE findings ALTER COLUMN company SET NOT NULL;
ALTER TABLE findings DROP CONSTRAINT findings_event_id_fkey;
ALTER TABLE findings ADD CONSTRAINT findings_event_fkey {_EVENT_KEY};
DROP INDEX idx_findings_event_scheme;
CREATE INDEX idx_findings_company_event_scheme ON findings (company, event_id, scheme);
ALTER TABLE entitlements DROP CONSTRAINT entitlements_event_id_fkey;
ALTER TABLE entitlements ADD CONSTRAINT entitlements_event_fkey {_EVENT_KEY};
ALTER TABLE payments DROP CONSTRAINT payments_event_id_fkey;
ALTER TABLE payments ADD CONSTRAINT payments_event_fkey {_EVENT_KEY};
ALTER TABLE events DROP CONSTRAINT events_id_key;
"""

# the SQLite view counts days in UTC (date('now')); PostgreSQL's current_date is in the session's time zone, so a
# session in another zone saw other days late, and a sum due today overdue (or one overdue not yet)
OVERDUE_IN_UTC = f"""
CREATE OR REPLACE VIEW overdue AS
SELECT id AS entitlement, company, employee, employee_name, scheme, due_date,
       {_TODAY_UTC}::date - due_date::date AS days_late, outstanding_euros, outstanding_cents, payment_status
FROM entitlements_in_euros
WHERE due_date IS NOT NULL AND due_date::date < {_TODAY_UTC}::date AND outstanding_cents > 0;
"""

# an entitlement's company is its event's ((event_id, company) references events (id, company)), and an event's
# company is in companies (events are never updated, and a company with events cannot be deleted): the key from
# entitlements to companies only checked again, for every row, what these two keys already guarantee (about a
# fifth of the server's CPU of a worker's writes, with the lock it took on the company's row each transaction)
ENTITLEMENT_COMPANY_THROUGH_EVENT = """
ALTER TABLE entitlements DROP CONSTRAINT IF EXISTS entitlements_company_fkey;
"""

# name -> what it does; the names of the SQLite migrations, so that both say which version a ledger is at
MIGRATIONS: list[tuple[tuple[str, ...], Callable[[PgConnection], None]]] = []


def migration(*names: str) -> Callable[[Callable[[PgConnection], None]], Callable[[PgConnection], None]]:
    def add(fn: Callable[[PgConnection], None]) -> Callable[[PgConnection], None]:
        MIGRATIONS.append((names, fn))
        return fn

    return add


@migration(
    "m001_initial",
    "m002_payments",
    "m003_work_units",
    "m004_event_subjects",
    "m005_proof",
    "m006_views_for_humans",
    "m007_statement_company_files",
    "m008_group_contracts_and_payroll_bases",
)
def baseline(conn: PgConnection) -> None:
    conn.executescript(BASELINE)
    conn.execute(
        "INSERT INTO ledger_meta (key, value) VALUES (?, ?), (?, ?)",
        ("ledger_id", str(uuid.uuid4()), "chain_format", "2"),
    )


@migration("m009_shared_explanations")
def shared_explanations(conn: PgConnection) -> None:
    conn.executescript(SHARED_EXPLANATIONS)


@migration("m010_message_dead_letters")
def dead_letters(conn: PgConnection) -> None:
    conn.executescript(DEAD_LETTERS)


@migration("m006_views_for_humans_choice_windows_open")
def choice_windows_open(conn: PgConnection) -> None:
    """The view SQLite has since m006 (the baseline missed it): named after that migration, so that no PostgreSQL
    name takes a number SQLite has not used."""
    conn.executescript(CHOICE_WINDOWS_OPEN)


@migration("m011_audit_index_of_parameter_sets")
def audit_index_of_parameter_sets(conn: PgConnection) -> None:
    conn.executescript(AUDIT_INDEX_OF_PARAMETER_SETS)


@migration("m012_event_ids_per_company")
def event_ids_per_company(conn: PgConnection) -> None:
    conn.executescript(EVENT_IDS_PER_COMPANY)


@migration("m012_overdue_in_utc")
def overdue_in_utc(conn: PgConnection) -> None:
    """PostgreSQL only: the `overdue` view counts days in UTC, as on SQLite, whatever the session's time zone."""
    conn.executescript(OVERDUE_IN_UTC)


@migration("m012_entitlement_company_through_event")
def entitlement_company_through_event(conn: PgConnection) -> None:
    """PostgreSQL only: an entitlement's company is checked through its event's key (ENTITLEMENT_COMPANY_THROUGH_EVENT)."""
    conn.executescript(ENTITLEMENT_COMPANY_THROUGH_EVENT)


# the SQLite view of m013, with the day counted in UTC (OVERDUE_IN_UTC)
OVERDUE_NET_OF_CORRECTIONS = f"""
CREATE OR REPLACE VIEW overdue AS
SELECT e.id AS entitlement, e.company, e.employee, e.employee_name, e.scheme, e.due_date,
       {_TODAY_UTC}::date - e.due_date::date AS days_late,
       {_euros("n.net_cents")} AS outstanding_euros, n.net_cents AS outstanding_cents, e.payment_status
FROM entitlements_in_euros e
JOIN ({NET_OUTSTANDING}) n ON n.id = e.id
WHERE e.due_date IS NOT NULL AND e.due_date::date < {_TODAY_UTC}::date AND n.net_cents > 0;
"""


@migration("m013_overdue_net_of_corrections")
def overdue_net_of_corrections(conn: PgConnection) -> None:
    """`overdue` counts what is owed net of the negative corrections that cut it, as `paybonus deadlines` does."""
    conn.executescript(OVERDUE_NET_OF_CORRECTIONS)


def applied(conn: PgConnection) -> set[str]:
    """The migrations the ledger has; reading them needs only SELECT (a writer role may not CREATE)."""
    if conn.execute("SELECT to_regclass('paybonus_migrations') IS NULL").fetchone()[0]:
        return set()
    return {r[0] for r in conn.execute("SELECT name FROM paybonus_migrations")}


def owner_if_not_me(conn: PgConnection) -> str | None:
    """The role owning the ledger's tables, when the connected role is neither it, nor a member of it, nor a
    superuser: such a role may use the ledger (`paybonus grant`), never change its schema."""
    row = conn.execute(
        "SELECT pg_get_userbyid(relowner), pg_has_role(current_user, relowner, 'USAGE') FROM pg_class "
        "WHERE oid = to_regclass('audit_log')"
    ).fetchone()
    return row[0] if row is not None and not row[1] else None


def pending(conn: PgConnection) -> list[str]:
    done = applied(conn)
    return [n for names, _ in MIGRATIONS for n in names if n not in done]


def apply(conn: PgConnection) -> list[str]:
    """Apply the pending migrations, each in its own transaction, under the migration lock."""
    if not pending(conn):
        return []
    out: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS paybonus_migrations (name {T} PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = applied(conn)
        for names, fn in MIGRATIONS:
            todo = [n for n in names if n not in done]
            if not todo:
                continue
            fn(conn)
            conn.executemany("INSERT INTO paybonus_migrations (name) VALUES (?)", [(n,) for n in todo])
            out += todo
    return out


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """A fresh schema of the database at `url`, dropped afterwards: the URL of a ledger in it (benchmarks)."""
    name = f"paybonus_scratch_{uuid.uuid4().hex[:10]}"
    admin = PgConnection(url)
    admin.execute(f"CREATE SCHEMA {name}")
    try:
        parts = urlsplit(url)
        query = {**dict(parse_qsl(parts.query)), "options": f"-csearch_path={name}"}
        yield urlunsplit(parts._replace(query=urlencode(query)))
    finally:
        admin.execute(f"DROP SCHEMA {name} CASCADE")
        admin.close()
