"""Who may do what in a PostgreSQL ledger: the grants of `paybonus grant` (docs/deploy.md).

The owner (the role that ran `paybonus init`) migrates. A writer role records: workers and `paybonus
publish/load/retry` need to read every table, insert into them, update only what the store updates (a company's
configuration, a dispatch, an entitlement's status) and delete only the current payroll that `load` replaces. A
reader role reads (reports, auditors, `audit verify`). Neither may TRUNCATE, reference, add or disable a trigger,
alter a table or create anything: the triggers refuse changes to history, and a role that owns nothing cannot
switch them off. Each plan starts from nothing (REVOKE ALL on the schema, its tables, views and sequences), so the
role ends with exactly these privileges, whatever it had before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql
from psycopg.abc import AdaptContext

from ..errors import UserError
from .pg import PgConnection

# what the store updates (core/store: companies.upsert, dispatches.record, entitlements.set_status): the columns
# a writer may update, () for all of them
UPDATES: dict[str, tuple[str, ...]] = {"companies": (), "dispatches": (), "entitlements": ("status",)}
DELETES = ("absences", "company_files", "contracts", "pay_lines")  # the current payroll, replaced by `load`
NO_INSERT = ("audit_log_v1", "ledger_meta", "paybonus_migrations")  # written by migrations only
CHECKED = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@dataclass
class LedgerObjects:
    """The ledger's schema, its owner, and the relations the owner has in it."""

    schema: str
    owner: str
    tables: list[str]
    views: list[str]
    sequences: list[str]
    schema_owner: str = ""
    runner_owns_schema: bool = True  # else the schema's privileges are its owner's to grant, not ours


@dataclass
class Plan:
    """What one role gets: `kind` is 'writer' or 'reader'."""

    role: str
    kind: str
    objects: LedgerObjects
    insert: list[str] = field(default_factory=list)
    update: dict[str, tuple[str, ...]] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)

    def allowed(self, table: str) -> set[str]:
        out = {"SELECT"}
        if table in self.insert:
            out.add("INSERT")
        if table in self.update:
            out.add("UPDATE")
        if table in self.delete:
            out.add("DELETE")
        return out


def ledger_objects(conn: PgConnection) -> LedgerObjects:
    """The schema holding the ledger's audit log, its owner, and the tables, views and sequences it owns there."""
    row = conn.execute(
        "SELECT n.nspname, pg_get_userbyid(c.relowner), c.relowner, n.oid, pg_get_userbyid(n.nspowner), "
        "pg_has_role(current_user, n.nspowner, 'USAGE') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('audit_log')"
    ).fetchone()
    if row is None:
        raise UserError("", "not a paybonus ledger (no audit_log table)")
    schema, owner, owner_oid, schema_oid, schema_owner, runner_owns_schema = row
    kinds: dict[str, list[str]] = {"r": [], "v": [], "S": []}
    for name, kind in conn.execute(
        "SELECT relname, relkind FROM pg_class WHERE relnamespace = ? AND relowner = ? "
        "AND relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY relname",
        (schema_oid, owner_oid),
    ):
        kinds[{"p": "r", "m": "v"}.get(kind, kind)].append(name)
    return LedgerObjects(schema, owner, kinds["r"], kinds["v"], kinds["S"], schema_owner, runner_owns_schema)


def check_runner(conn: PgConnection, objects: LedgerObjects) -> None:
    """Grants are the owner's: another role's GRANT would only warn that it granted nothing."""
    row = conn.execute(
        "SELECT current_user, pg_has_role(current_user, ?, 'USAGE')", (objects.owner,)
    ).fetchone()
    if not row[1]:
        raise UserError("grant", f"run it as the ledger's owner (role {objects.owner}), not as {row[0]}")


# roles whose members act as the database server's operating-system user (programs, files): anything goes
SERVER_ROLES = ("pg_execute_server_program", "pg_write_server_files")


def check_role(conn: PgConnection, role: str, option: str, objects: LedgerObjects) -> None:
    """The role exists, is no superuser, does not own the tables nor the schema, and may not become their owner or
    switch the triggers off (CREATEROLE, the server's own roles, SET session_replication_role), and may reach the
    schema (when the schema is another role's, only that role can let it in)."""
    row = conn.execute(
        "SELECT rolsuper, pg_has_role(rolname, ?, 'MEMBER'), has_schema_privilege(rolname, ?, 'USAGE'), "
        "rolcreaterole, pg_has_role(rolname, ?, 'MEMBER'), "
        "(SELECT string_agg(s, ', ') FROM unnest(?::text[]) s WHERE pg_has_role(rolname, s, 'MEMBER')), "
        "current_setting('server_version_num')::int FROM pg_roles WHERE rolname = ?",
        (objects.owner, objects.schema, objects.schema_owner or objects.owner, list(SERVER_ROLES), role),
    ).fetchone()
    if row is None:
        raise UserError(option, f"no role {role!r} in this database (CREATE ROLE it first)")
    superuser, member, usage, createrole, schema_member, server_roles, version = row
    if superuser:
        raise UserError(option, f"role {role!r} is a superuser: no grant binds it")
    if member:
        raise UserError(
            option,
            f"role {role!r} owns the ledger's tables (or is a member of {objects.owner!r}): "
            "it could disable the triggers; give it a role that owns nothing",
        )
    if createrole:  # before PostgreSQL 16 it may grant itself any role but a superuser: the owner's too
        raise UserError(
            option,
            f"role {role!r} has CREATEROLE: it could make itself a member of {objects.owner!r} and disable the "
            "triggers; give it a role without it (ALTER ROLE ... NOCREATEROLE)",
        )
    powerful = conn.execute(  # SET ROLE to one of its roles gives their attributes too
        "SELECT string_agg(r.rolname, ', ' ORDER BY r.rolname) FROM pg_roles r "
        "WHERE (r.rolsuper OR r.rolcreaterole) AND r.rolname <> ? AND pg_has_role(?, r.oid, 'MEMBER')",
        (role, role),
    ).fetchone()[0]
    if powerful:
        raise UserError(
            option,
            f"role {role!r} is a member of {powerful}, a superuser or a role with CREATEROLE: by SET ROLE it could "
            f"make itself a member of {objects.owner!r} and disable the triggers; give it a role without them",
        )
    if schema_member:
        raise UserError(
            option,
            f"role {role!r} owns schema {objects.schema} (or is a member of its owner): it could drop the "
            "ledger's tables; give it a role that owns nothing",
        )
    if server_roles:
        raise UserError(
            option,
            f"role {role!r} is a member of {server_roles}: it acts as the database server's system user; "
            "give it a role without them",
        )
    if (
        version >= 150000
        and conn.execute(
            "SELECT has_parameter_privilege(?, 'session_replication_role', 'SET')", (role,)
        ).fetchone()[0]
    ):
        raise UserError(
            option,
            f"role {role!r} may SET session_replication_role, which switches the triggers off: "
            "REVOKE SET ON PARAMETER session_replication_role FROM it",
        )
    if not objects.runner_owns_schema and not usage:
        raise UserError(
            option,
            f"role {role!r} has no USAGE on schema {objects.schema}, which only its owner (role "
            f"{objects.schema_owner}) can grant: have it do so, or give the schema to role {objects.owner}",
        )


def writer(role: str, objects: LedgerObjects) -> Plan:
    tables = set(objects.tables)
    missing = sorted((set(UPDATES) | set(DELETES)) - tables)
    if missing:
        raise UserError("grant", f"the ledger has no table {', '.join(missing)}: run `paybonus init` first")
    return Plan(
        role,
        "writer",
        objects,
        insert=[t for t in objects.tables if t not in NO_INSERT],
        update=dict(UPDATES),
        delete=list(DELETES),
    )


def reader(role: str, objects: LedgerObjects) -> Plan:
    return Plan(role, "reader", objects)


def statements(plan: Plan) -> list[sql.Composed]:
    """The SQL of a plan, identifiers quoted: revoke everything, then grant exactly what the role needs."""
    o = plan.objects
    role = sql.Identifier(plan.role)
    schema = sql.Identifier(o.schema)

    def names(items: list[str]) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(o.schema, t) for t in items)

    relations = o.tables + o.views
    out = []
    if o.runner_owns_schema:
        out += [
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(schema, role),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role),
        ]
    out += [
        sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(names(relations), role),
        sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(names(relations), role),
    ]
    if o.sequences:
        out.append(sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {}").format(names(o.sequences), role))
    if plan.kind == "writer":
        out.append(sql.SQL("GRANT INSERT ON TABLE {} TO {}").format(names(plan.insert), role))
        whole = [t for t, cols in plan.update.items() if not cols]
        if whole:
            out.append(sql.SQL("GRANT UPDATE ON TABLE {} TO {}").format(names(whole), role))
        for table, cols in plan.update.items():
            if cols:
                out.append(
                    sql.SQL("GRANT UPDATE ({}) ON TABLE {} TO {}").format(
                        sql.SQL(", ").join(map(sql.Identifier, cols)), names([table]), role
                    )
                )
        out.append(sql.SQL("GRANT DELETE ON TABLE {} TO {}").format(names(plan.delete), role))
        if o.sequences:
            out.append(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(names(o.sequences), role))
    return out


def as_text(statements: list[sql.Composed], context: AdaptContext) -> list[str]:
    return [s.as_string(context) + ";" for s in statements]


def describe(plan: Plan) -> list[str]:
    """What the role was given, in a few lines."""
    o = plan.objects
    head = f"{plan.kind} {plan.role}:"
    lines = [f"{head} USAGE on schema {o.schema}; SELECT on {len(o.tables)} tables and {len(o.views)} views"]
    if plan.kind == "writer":
        update = "; ".join(
            f"UPDATE ({', '.join(cols)}) on {t}" if cols else f"UPDATE on {t}"
            for t, cols in plan.update.items()
        )
        lines += [
            f"{head} INSERT on {len(plan.insert)} tables (not {', '.join(t for t in NO_INSERT if t in o.tables)}); "
            f"USAGE on {len(o.sequences)} sequences",
            f"{head} {update}; DELETE on {', '.join(plan.delete)}",
        ]
    lines.append(
        f"{head} no TRUNCATE, REFERENCES, TRIGGER, CREATE or ownership: it cannot alter a table or a trigger"
    )
    return lines


def excess(conn: PgConnection, plan: Plan) -> list[str]:
    """What the role may still do beyond the plan once it is applied: through PUBLIC, or a role it belongs to."""
    o = plan.objects
    found: list[str] = []
    for table, priv in conn.execute(
        "SELECT c.relname, p.priv FROM pg_class c CROSS JOIN unnest(?::text[]) AS p (priv) "
        "WHERE c.relnamespace = to_regnamespace(?) AND c.relname = ANY(?) AND CASE WHEN p.priv IN "
        "('INSERT', 'UPDATE', 'REFERENCES') THEN has_any_column_privilege(?, c.oid, p.priv) "
        "ELSE has_table_privilege(?, c.oid, p.priv) END ORDER BY 1, 2",
        (list(CHECKED), _quoted(o.schema), o.tables + o.views, plan.role, plan.role),
    ):
        if priv not in plan.allowed(table):
            found.append(f"{priv} on {table}")
    for table, cols in plan.update.items():
        if cols:
            for (col,) in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 "
                "AND NOT attisdropped AND attname <> ALL(?) AND has_column_privilege(?, attrelid, attnum, 'UPDATE')",
                (_quoted(o.schema) + "." + _quoted(table), list(cols), plan.role),
            ):
                found.append(f"UPDATE ({col}) on {table}")
    if conn.execute("SELECT has_schema_privilege(?, ?, 'CREATE')", (plan.role, o.schema)).fetchone()[0]:
        found.append(f"CREATE on schema {o.schema}")
    return found


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def apply(conn: PgConnection, plans: list[Plan]) -> None:
    """Every plan's statements, in one transaction."""
    with conn.transaction():
        for plan in plans:
            for statement in statements(plan):
                conn.raw.execute(statement)
