"""Companies (their configuration as loaded) and their payroll inputs: contracts, pay lines and absences."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from datetime import date
from decimal import Decimal
from functools import partial
from itertools import islice, repeat
from operator import attrgetter, call, itemgetter
from typing import Any

from paybonus.calendar import Period
from paybonus.payroll import Absence, AbsenceKind, Contract, EmployeeRecord, PayLine, Population

from .sql import select, streamed

CONTRACT_COLUMNS = (
    "employee",
    "start",
    "end",
    "category",
    "establishment",
    "display_name",
    "work_unit",
    "group_company",
)
PAY_COLUMNS = (
    "employee",
    "month",
    "gross_cents",
    "base_cents",
    "contract_hours",
    "ap_hours",
    "ap_indemnity_cents",
    "reconstituted_cents",
    "cp_caisse_cents",
    "ap_subject_cents",
)
ABSENCE_COLUMNS = ("employee", "kind", "start", "end")
CONTRACTS, ABSENCES, PAY = "contracts", "absences", "pay/"  # parts of a payroll load; PAY + "YYYY-MM"


def _cols(columns: Sequence[str], suffix: str = "") -> str:
    """Quoted column names ("end" is a keyword of PostgreSQL), each with `suffix` (an ORDER BY's NULLS FIRST:
    SQLite's order, that the digests of `parts_of` follow)."""
    return ", ".join(f'"{c}"{suffix}' for c in columns)


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parts_of(
    contracts: Iterable[tuple[Any, ...]],
    pay_lines: Iterable[tuple[Any, ...]],
    absences: Iterable[tuple[Any, ...]],
) -> dict[str, list[Sequence[Any]]]:
    """A payroll split into the parts a load records: the contracts, the absences, each month's pay lines; rows
    in the *_COLUMNS order, sorted, as the tables give them back. The pay lines are the rows given (tuples or
    lists: the same JSON array in a part), not copies: a year of 200 000 people is 2.4 million of them."""
    parts: dict[str, list[Sequence[Any]]] = {CONTRACTS: sorted((list(r) for r in contracts), key=_order)}
    parts[ABSENCES] = sorted((list(r) for r in absences), key=_order)
    months: dict[str, list[Sequence[Any]]] = {}
    for r in pay_lines:
        if not isinstance(r, tuple | list):  # a sqlite3.Row (a migration's read) is no JSON array
            r = tuple(r)
        months.setdefault(PAY + r[1][:7], []).append(r)
    for name, rows in months.items():
        parts[name] = _by_employee(rows)
    return parts


def _order(row: Sequence[Any]) -> tuple[tuple[bool, Any], ...]:
    return tuple((v is not None, v) for v in row)  # NULLs first, never compared with a value


def _by_employee(rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """A month's pay lines in `_order`, sorted in place. A month holds one line per person (the table's key): sorted
    by the employee alone, which is then the same order, without a key of pairs per row (the sort of a year of
    200 000 people held 1.3 GiB of them). Lines that are not so (an id that is not text, a person twice, months
    of one part written differently) are sorted by `_order`."""
    if all(r[0].__class__ is str for r in rows):
        rows.sort(key=_EMPLOYEE)
        if all(a[0] != b[0] for a, b in zip(rows, islice(rows, 1, None), strict=False)):
            return rows
    rows.sort(key=_order)
    return rows


def part_digest(rows: Sequence[Sequence[Any]]) -> str:
    """sha256 of the rows as one JSON array (rows are lists or tuples: both are JSON arrays)."""
    return sha256(json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


# a month's pay lines as `part_digest`'s JSON text, written by SQLite (JSON1); see `Companies.current_parts`
_PAY_MONTH_JSON = (
    f"SELECT json_group_array(json_array({_cols(PAY_COLUMNS)})) FROM (SELECT {_cols(PAY_COLUMNS)} "
    "FROM pay_lines WHERE company = ? AND month = ? ORDER BY employee)"
)


# the pay lines of a `pay_block` as runs. A row is the company's line of the months (`_MINE`, ?3 to ?5) or not (another
# company's, another month's). A line starts a run unless the row before it (rowid - 1) is also a line of the company's
# months, the same person's, of an earlier month, with the same values (IS: NULLs equal). Read: each run's first line
# (and the month of the row before it: the last line of the run before, if it is one), each first row after a run
# that is not a line of the company's months (a run ends there), and each row after a missing rowid (the read then
# falls back to months: a run's length is told by rowids)
_RUN_VALUES = PAY_COLUMNS[2:]


def _mine(t: str) -> str:
    """Whether row `t` is a line of the company's months: true, or false or NULL (CASE WHEN takes NULL as false)."""
    return f"{t}.company = ?3 AND {t}.month >= ?4 AND {t}.month <= ?5"


# NULL when there is no row before (AND stops at the first false term); r's month is at most ?5, so is p's
_CONTINUES = " AND ".join(
    ["p.company = ?3", "p.month >= ?4", "p.employee IS r.employee", "p.month < r.month"]
    + [f"p.{c} IS r.{c}" for c in _RUN_VALUES]
)
_PAY_RUNS = (
    "SELECT r.rowid FROM pay_lines AS r NOT INDEXED LEFT JOIN pay_lines AS p ON p.rowid = r.rowid - 1 "
    f"WHERE r.rowid >= ?1 AND r.rowid <= ?2 AND (CASE WHEN {_mine('r')} THEN NOT COALESCE({_CONTINUES}, 0) "
    f"WHEN {_mine('p')} THEN 1 ELSE p.rowid IS NULL AND r.rowid > ?1 END) ORDER BY r.rowid"
)
_PAY_RUNS_ROWS = _PAY_RUNS.replace(
    "SELECT r.rowid ",
    f"SELECT r.rowid, CASE WHEN {_mine('r')} THEN r.employee END, r.month, CASE WHEN {_mine('p')} THEN p.month END, "
    "p.rowid IS NULL AND r.rowid > ?1, " + ", ".join(f"r.{c}" for c in _RUN_VALUES) + " ",
    1,
)
RUN_PROBE = 1024  # rows whose runs `pay_block` counts first
RUN_PROBE_RATIO = 2  # runs read when at most one row in this many is read
RUN_SPAN = (
    8  # runs read when the company's lines of the months are one row in this many of their span, or more
)


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
        """Replace the company's payroll inputs (rows in the *_COLUMNS order), inside the caller's transaction. Pay
        lines are written person by person, each one's months in order (payroll files come month by month): the
        population read then finds each person's months in consecutive rows, read as runs (`pay_block`)."""
        for table in ("contracts", "pay_lines", "absences"):
            self.conn.execute(f"DELETE FROM {table} WHERE company = ?", (company,))
        pay_lines = list(pay_lines)
        with suppress(TypeError):  # an employee or month that is not text (None): the rows in some order
            # by employee then month: two stable sorts by one column each, whose keys are the rows' own values
            # (a key of a pair made for each of a year's 2.4 million lines held 150 MiB more)
            pay_lines.sort(key=_LINE_MONTH)
            pay_lines.sort(key=_EMPLOYEE)
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

    # -- history: configuration versions and payroll loads (append-only) ----------------------------------------

    def record_config(self, company: str, toml: str, at: str) -> str:
        """Keep this configuration version (once); returns its digest."""
        digest = sha256(toml.encode("utf-8"))
        self.conn.execute(
            "INSERT OR IGNORE INTO company_configs (company, digest, toml, recorded_at) VALUES (?, ?, ?, ?)",
            (company, digest, toml, at),
        )
        return digest

    def config_version(self, company: str, digest: str) -> str | None:
        row = self.conn.execute(
            "SELECT toml FROM company_configs WHERE company = ? AND digest = ?", (company, digest)
        ).fetchone()
        return row[0] if row else None

    def config_versions(self, company: str) -> list[tuple[str, str]]:
        """(digest, toml) of every configuration version the company was loaded with."""
        return [
            tuple(r)
            for r in self.conn.execute(
                "SELECT digest, toml FROM company_configs WHERE company = ? ORDER BY recorded_at, digest",
                (company,),
            )
        ]

    def record_load(
        self, company: str, config_digest: str, parts: Mapping[str, Sequence[Sequence[Any]]], at: str
    ) -> tuple[int, str]:
        """Keep each part of a payroll load (once per content) and the load itself; returns (n, digest)."""
        listed = []
        for name in sorted(parts):
            data = canonical(parts[name])
            digest = sha256(data)
            listed.append([name, digest])
            if not self.conn.execute(
                "SELECT 1 FROM payroll_parts WHERE company = ? AND part = ? AND digest = ?",
                (company, name, digest),
            ).fetchone():
                self.conn.execute(
                    "INSERT INTO payroll_parts (company, part, digest, rows, recorded_at) VALUES (?, ?, ?, ?, ?)",
                    (company, name, digest, zlib.compress(data, 6), at),
                )
        n = 1 + int(
            self.conn.execute(
                "SELECT COALESCE(MAX(n), 0) FROM payroll_loads WHERE company = ?", (company,)
            ).fetchone()[0]
        )
        digest = load_digest(company, n, config_digest, listed)
        self.conn.execute(
            "INSERT INTO payroll_loads (company, n, at, config_digest, parts, digest) VALUES (?, ?, ?, ?, ?, ?)",
            (company, n, at, config_digest, json.dumps(listed, separators=(",", ":")), digest),
        )
        return n, digest

    def loads(self, company: str) -> list[sqlite3.Row]:
        return select(self.conn, "SELECT * FROM payroll_loads WHERE company = ? ORDER BY n", [company])

    def load(self, company: str, n: int) -> sqlite3.Row | None:
        found = select(self.conn, "SELECT * FROM payroll_loads WHERE company = ? AND n = ?", [company, n])
        return found[0] if found else None

    def latest_load(self, company: str) -> int | None:
        row = self.conn.execute("SELECT MAX(n) FROM payroll_loads WHERE company = ?", (company,)).fetchone()
        return row[0]

    def stored_parts(self, company: str) -> Iterator[tuple[str, str, bytes]]:
        """(part, digest, compressed rows) of every part the company's loads kept (streamed)."""
        return streamed(
            self.conn,
            "SELECT part, digest, rows FROM payroll_parts WHERE company = ? ORDER BY part, digest",
            (company,),
            named=False,
        )

    def part_rows(self, company: str, part: str, digest: str) -> list[list[Any]]:
        row = self.conn.execute(
            "SELECT rows FROM payroll_parts WHERE company = ? AND part = ? AND digest = ?",
            (company, part, digest),
        ).fetchone()
        if row is None:
            raise LookupError(f"payroll part {part} {digest[:12]} of {company} is not kept")
        rows: list[list[Any]] = json.loads(zlib.decompress(row[0]))
        return rows

    def current_parts(self, company: str, expected: Mapping[str, str] | None = None) -> dict[str, str]:
        """part -> digest of the payroll the tables hold now, re-derived from the rows (in the order `parts_of`
        sorts them: SQLite orders NULLs first and text by code point, as Python does).

        `expected` (part -> digest, a load's record): a month's pay lines, the contracts and the absences are
        first written as JSON by SQLite itself, without a Python object per row; when that text has the expected
        digest it is the very text `part_digest` wrote at the load (sha256), so it decodes to the same rows (their
        columns are text, integers or NULL: one JSON text each) and the part is unchanged. Any other outcome
        (SQLite escaping a character otherwise, an aggregate in another order, altered rows) re-derives the part in
        Python, as without `expected`: the digests returned are always `part_digest`'s."""
        in_sql = expected is not None and isinstance(self.conn, sqlite3.Connection)  # JSON1: SQLite only
        out: dict[str, str] = {}
        for part, table, columns in (
            (CONTRACTS, "contracts", CONTRACT_COLUMNS),
            (ABSENCES, "absences", ABSENCE_COLUMNS),
        ):
            order = _cols(columns, " NULLS FIRST")
            rows_sql = f"SELECT {_cols(columns)} FROM {table} WHERE company = ? ORDER BY {order}"
            if in_sql and expected is not None and part in expected:
                try:  # as a month's pay lines below; an error of SQLite's JSON (a BLOB) leaves it to Python
                    text = self.conn.execute(
                        f"SELECT json_group_array(json_array({_cols(columns)})) FROM ({rows_sql})", (company,)
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    text = None
                if text is not None and sha256(text.encode("utf-8")) == expected[part]:
                    out[part] = expected[part]
                    continue
            out[part] = part_digest(self.conn.execute(rows_sql, (company,)).fetchall())
        months = [
            r[0]
            for r in self.conn.execute("SELECT DISTINCT month FROM pay_lines WHERE company = ?", (company,))
        ]
        for month in sorted(months):
            part = PAY + month[:7]
            if in_sql and expected is not None and part in expected:
                text = self.conn.execute(_PAY_MONTH_JSON, (company, month)).fetchone()[0]
                if sha256(text.encode("utf-8")) == expected[part]:
                    out[part] = expected[part]
                    continue
            rows = self.conn.execute(
                f"SELECT {_cols(PAY_COLUMNS)} FROM pay_lines WHERE company = ? AND month = ? ORDER BY employee",
                (company, month),
            ).fetchall()
            out[part] = part_digest(rows)
        return out

    def replace_files(self, company: str, files: Iterable[tuple[str, bytes]]) -> None:
        """Replace the files the company's statements use (name, content), inside the caller's transaction."""
        self.conn.execute("DELETE FROM company_files WHERE company = ?", (company,))
        self.conn.executemany(
            "INSERT INTO company_files (company, name, content, digest) VALUES (?, ?, ?, ?)",
            ((company, name, content, hashlib.sha256(content).hexdigest()) for name, content in files),
        )

    def files(self, company: str) -> dict[str, bytes]:
        """The files stored with the company's configuration: {name as in company.toml: content}."""
        return {
            r[0]: bytes(r[1])
            for r in self.conn.execute(
                "SELECT name, content FROM company_files WHERE company = ? ORDER BY name", (company,)
            )
        }

    def contracts_during(self, company: str, start: str, end: str) -> Iterator[tuple[Any, ...]]:
        """(employee, start, end, category, establishment, work_unit, group_company) of every contract of anyone
        under contract with the company at some point of start..end: earlier contracts count for seniority
        (I-13), and contracts with another company of the group too, where the agreement says so (D-12)."""
        return self.conn.execute(
            'SELECT employee, start, "end", category, establishment, work_unit, group_company FROM contracts '
            "WHERE company = ? AND employee IN (SELECT employee FROM contracts WHERE company = ? "
            """AND group_company = '' AND start <= ? AND ("end" IS NULL OR "end" >= ?)) ORDER BY employee, start""",
            (company, company, end, start),
        )

    def pay_months(self, company: str, first_month: str, end: str) -> list[str]:
        """The distinct months of the company's pay lines within first_month..end, in order: one seek of the
        primary key (company, month, employee) a month, not a scan of its lines."""
        months: list[str] = []
        sql = "SELECT MIN(month) FROM pay_lines WHERE company = ? AND month > ? AND month <= ?"
        row = self.conn.execute(
            "SELECT MIN(month) FROM pay_lines WHERE company = ? AND month >= ? AND month <= ?",
            (company, first_month, end),
        ).fetchone()
        while row is not None and row[0] is not None:
            months.append(row[0])
            row = self.conn.execute(sql, (company, row[0], end)).fetchone()
        return months

    def pay_lines_of_month(self, company: str, month: str) -> Iterator[list[tuple[Any, ...]]]:
        """(employee, gross, base, hours, ap_hours, ap_indemnity, reconstituted, cp_caisse, ap_subject) of the
        month's pay lines by employee (the primary key's order: SQLite sorts nothing), in lists of plain tuples
        of at most PAY_CHUNK rows. Without the month: a year of 200 000 people is 2.4 million lines, and each
        value read is a Python object made."""
        cur = self.conn.execute(
            "SELECT employee, gross_cents, base_cents, contract_hours, ap_hours, ap_indemnity_cents, "
            "reconstituted_cents, cp_caisse_cents, ap_subject_cents FROM pay_lines WHERE company = ? "
            "AND month = ? ORDER BY employee",
            (company, month),
        )
        if isinstance(self.conn, sqlite3.Connection):  # rows are tuples already
            return iter(partial(cur.fetchmany, PAY_CHUNK), [])
        rows = map(tuple, cur)  # PostgreSQL's rows index by name in Python: plain tuples index in C
        return iter(lambda: list(islice(rows, PAY_CHUNK)), [])

    def pay_block(self, company: str, first_month: str, last_month: str) -> tuple[int, int] | None:
        """(lo, hi): the lowest and highest rowids of the company's pay lines of first_month..last_month, when the
        lines are most of the rows between (other companies' lines, or other months', may be among them) and their
        first rows come person by person (each person's months in consecutive rows, as a load writes them): the
        population then reads them as runs (`pay_runs`). None otherwise (a PostgreSQL ledger, lines scattered among
        many other rows, rows stored month by month), or when there are none."""
        if not isinstance(self.conn, sqlite3.Connection):
            return None
        first = self.conn.execute(  # one seek of the primary key: a row of the first month
            "SELECT rowid FROM pay_lines WHERE company = ? AND month = ? LIMIT 1", (company, first_month)
        ).fetchone()
        if first is None:
            return None
        # rows stored month by month are told from RUN_PROBE rows, before the count below scans all the lines' keys
        window = first[0] + RUN_PROBE - 1
        runs = self._runs(first[0], window, company, first_month, last_month)
        if runs * RUN_PROBE_RATIO > RUN_PROBE:
            return None
        lo, hi, n = self.conn.execute(  # the primary key's index alone (it holds the rowid)
            "SELECT MIN(rowid), MAX(rowid), COUNT(*) FROM pay_lines WHERE company = ? AND month >= ? AND month <= ?",
            (company, first_month, last_month),
        ).fetchone()
        if not n or hi - lo + 1 > RUN_SPAN * n:
            return None
        top = min(hi, lo + RUN_PROBE - 1)
        # runs worth it: few first rows read. The first count, when its rows are these (same first row, a window
        # that holds them), counted at least as many (a row is counted or not by itself and the row before it):
        # enough when it is small, the same count when the two windows are one (a company of few lines is
        # probed once, not twice)
        if lo == first[0] and (runs * RUN_PROBE_RATIO <= top - lo + 1 or top == window):
            probe = runs
        else:
            probe = self._runs(lo, top, company, first_month, last_month)
        return (lo, hi) if probe * RUN_PROBE_RATIO <= top - lo + 1 else None

    def _runs(self, lo: int, hi: int, company: str, first_month: str, last_month: str) -> int:
        """How many rows of lo..hi `pay_runs` would read."""
        return int(
            self.conn.execute(
                f"SELECT COUNT(*) FROM ({_PAY_RUNS})", (lo, hi, company, first_month, last_month)
            ).fetchone()[0]
        )

    def pay_runs(
        self, company: str, first_month: str, last_month: str, lo: int, hi: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows lo..hi (a `pay_block`) that tell its lines' runs, in rowid order, in lists of at most PAY_CHUNK
        rows: (rowid, employee (None: the row is not a line of the company's months), month, the month of the row
        before (None: it is not one of those lines; else it is the last line of a run), whether a rowid is missing
        before it, gross, base, hours, ap_hours, ap_indemnity, reconstituted, cp_caisse, ap_subject). A run is
        consecutive rows of one person, months rising, values equal: a year paid the same is one row, not twelve."""
        cur = self.conn.execute(_PAY_RUNS_ROWS, (lo, hi, company, first_month, last_month))
        return iter(partial(cur.fetchmany, PAY_CHUNK), [])

    def pay_row_months(self, lo: int, hi: int) -> list[str]:
        """The months of the pay lines of rowids lo..hi, in rowid order (SQLite)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT month FROM pay_lines WHERE rowid >= ? AND rowid <= ? ORDER BY rowid", (lo, hi)
            )
        ]

    def absences_during(self, company: str, start: str, end: str) -> Iterator[tuple[Any, ...]]:
        """(employee, kind, start, end) of the absences overlapping start..end."""
        return self.conn.execute(
            'SELECT employee, kind, start, "end" FROM absences WHERE company = ? AND start <= ? AND "end" >= ? '
            "ORDER BY employee, start",
            (company, end, start),
        )

    def display_name(self, company: str, employee: str) -> str:
        row = self.conn.execute(
            "SELECT display_name FROM contracts WHERE company = ? AND employee = ? AND display_name != '' LIMIT 1",
            (company, employee),
        ).fetchone()
        return str(row[0]) if row else ""

    def knows_employee(self, employee: str, company: str | None = None) -> bool:
        """Whether `employee` has a contract (in `company`, or in any company) or a recorded entitlement. A row of
        an earlier contract in another company of the group (`group_company`) is not a contract of the company."""
        where, args = (
            ("employee = ? AND company = ?", (employee, company))
            if company
            else ("employee = ?", (employee,))
        )
        return (
            self.conn.execute(
                f"SELECT 1 FROM contracts WHERE {where} AND group_company = '' UNION ALL "
                f"SELECT 1 FROM entitlements WHERE {where} LIMIT 1",
                args + args,
            ).fetchone()
            is not None
        )

    def employees(self, company: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT employee FROM contracts WHERE company = ? ORDER BY employee", (company,)
            )
        ]


def padded(
    contracts: Iterable[Sequence[Any]], pay_lines: Iterable[Sequence[Any]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows in the *_COLUMNS order, the columns a row lacks at their defaults: a contract without a work unit or
    group company gets "", a pay line without the caisse CP and AP subject columns 0 and None (rows kept by an
    earlier version, or written by a caller that does not know them)."""
    pay_defaults = (0, None)  # cp_caisse_cents, ap_subject_cents
    first = len(PAY_COLUMNS) - len(pay_defaults)
    c = [tuple(r) + ("",) * (len(CONTRACT_COLUMNS) - len(r)) for r in contracts]
    p = [tuple(r) + pay_defaults[len(r) - first :] for r in pay_lines]
    return c, p


def rekeep_payroll(conn: sqlite3.Connection) -> None:
    """Migration m006: a company's last payroll load was kept with fewer columns than the tables now have; keep it
    again, same rows with the new columns at their defaults, as a new load with its audit entry, so that the load
    and the tables say the same thing."""
    from .audit_log import AuditLog

    companies, audit = Companies(conn), AuditLog(conn)
    for company in companies.ids():
        if companies.latest_load(company) is None:
            continue
        at = conn.execute(
            "SELECT COALESCE(MAX(at), '') FROM audit_log WHERE company = ?", (company,)
        ).fetchone()[0]
        config = companies.record_config(company, companies.toml(company) or "", at)
        rows = {
            name: conn.execute(f"SELECT {_cols(cols)} FROM {name} WHERE company = ?", (company,)).fetchall()
            for name, cols in (
                ("contracts", CONTRACT_COLUMNS),
                ("pay_lines", PAY_COLUMNS),
                ("absences", ABSENCE_COLUMNS),
            )
        }
        n, digest = companies.record_load(
            company, config, parts_of(rows["contracts"], rows["pay_lines"], rows["absences"]), at
        )
        audit.append(company, at, [("payroll.loaded", f"{company}/{n}", digest)])


def load_digest(company: str, n: int, config_digest: str, parts: list[list[str]]) -> str:
    """What the audit entry of a payroll load vouches for: its number, configuration and parts."""
    return sha256(canonical({"company": company, "n": n, "config": config_digest, "parts": parts}))


# rows fetched at once by the population read: few enough that a chunk's tuples and values are still in the CPU's
# cache when they are mapped (4 096 rows, about 1.6 MB of objects, cost 12 % more CPU than 64 to 128 rows)
PAY_CHUNK = 128
_EMPLOYEE = itemgetter(0)
_AMOUNTS = itemgetter(slice(1, None))  # a pay line's values but the employee: the key of equal lines
_MONTH = attrgetter("month")
_LINE_MONTH = itemgetter(1)  # a pay line's month
_LINE = dict.__getitem__  # a `_Lines`' line: its `__missing__` makes it the first time


class _Appenders(dict[str, Any]):
    """employee -> the `append` of their list of pay lines in `pay`, made when the employee is first seen."""

    def __init__(self, pay: dict[str, list[PayLine]]) -> None:
        super().__init__()
        self.pay = pay

    def __missing__(self, employee: str) -> Any:
        lines = self.pay[employee] = []
        append = self[employee] = lines.append
        return append


class _Lines(dict[tuple[Any, ...], PayLine]):
    """One month's pay lines by their values (`_AMOUNTS`): a line is made once and shared by everyone paid exactly
    the same that month (a PayLine is immutable). Its month, hours and amounts are shared with the other months'
    lines through `decimals` and `amounts` (one salary for the twelve months of most)."""

    def __init__(self, month: date, decimals: dict[str, Decimal], amounts: dict[int, int]) -> None:
        super().__init__()
        self.month, self.decimals, self.amounts = month, decimals, amounts

    def __missing__(self, key: tuple[Any, ...]) -> PayLine:
        gross, base, hours, ap_h, ap_i, rec, cp, ap_s = key
        decimals, shared = self.decimals, self.amounts.setdefault
        h = decimals.get(hours)
        if h is None:
            h = decimals[hours] = Decimal(hours)
        ap = decimals.get(ap_h)
        if ap is None:
            ap = decimals[ap_h] = Decimal(ap_h)
        if rec is not None:
            rec = shared(rec, rec)
        line = self[key] = PayLine(
            self.month, shared(gross, gross), shared(base, base), h, ap, ap_i, rec, cp, ap_s
        )
        return line


def _pay_lines(
    companies: Companies, company: str, first_month: str, end: str
) -> Mapping[str, Sequence[PayLine]]:
    """Each employee's pay lines of first_month..end, in month order: as runs (`_pay_runs`) where the rows allow it
    (a SQLite ledger whose load wrote each person's months in consecutive rows), else month by month."""
    months = companies.pay_months(company, first_month, end)
    if not months:
        return {}
    block = companies.pay_block(company, months[0], months[-1]) if _iso_months(months) else None
    if block is not None:
        with suppress(_Gap):
            return _pay_runs(companies, company, months, *block)
    return _pay_months(companies, company, months)


def _iso_months(months: list[str]) -> bool:
    """Whether every month is stored as `date.isoformat` writes it (a load's "YYYY-MM-01"): their text order, which
    the monthly read and the runs follow, is then their dates' order, which `_pay_runs` sorts a person's runs by."""
    try:
        return all(date.fromisoformat(m).isoformat() == m for m in months)
    except (TypeError, ValueError):  # the monthly read tells it
        return False


class _Gap(Exception):
    """A rowid is missing among the rows a population reads as runs: a run's length is not told by its rowids."""


def _pay_months(companies: Companies, company: str, months: list[str]) -> dict[str, list[PayLine]]:
    """Each employee's pay lines of `months`, read month by month (the month is then not a column of every row),
    each row going through C only (`map`): its employee to the `append` of their list, its values to the month's
    shared line. Python code runs once per distinct line and once per employee, not once per row."""
    pay: dict[str, list[PayLine]] = {}
    appenders = _Appenders(pay)
    decimals: dict[str, Decimal] = {}
    amounts: dict[int, int] = {}
    for month in months:
        lines = _Lines(date.fromisoformat(month), decimals, amounts)
        for rows in companies.pay_lines_of_month(company, month):
            deque(
                map(
                    call,
                    map(appenders.__getitem__, map(_EMPLOYEE, rows)),
                    map(lines.__getitem__, map(_AMOUNTS, rows)),
                ),
                maxlen=0,
            )
    return pay


def _pay_runs(
    companies: Companies, company: str, months: list[str], lo: int, hi: int
) -> dict[str, tuple[PayLine, ...]]:
    """Each employee's pay lines of `months`, the rows lo..hi of the table (a `pay_block`), read as runs: only
    the first row of a run of one person's rising months with the same values crosses into Python (a year of
    200 000 people is 2.4 million rows and about 330 000 runs). A run of L rows from month m0 to month m1 with
    m1 - m0 = L - 1 (indexes in `months`) is exactly the months m0..m1; one with a month missing inside (a
    person not paid for a month in between, at the same pay either side) has its rows' months read again. A
    run's tuple of lines is shared by everyone with the same run (most people: the year at one salary), its
    lines by everyone paid the same that month, as `_pay_months` shares them."""
    index = {m: i for i, m in enumerate(months)}
    decimals: dict[str, Decimal] = {}
    amounts: dict[int, int] = {}
    lines = [_Lines(date.fromisoformat(m), decimals, amounts) for m in months]
    made: dict[tuple[Any, ...], tuple[PayLine, ...]] = {}
    pay: dict[str, tuple[PayLine, ...]] = {}
    unordered: set[str] = set()  # people with a run stored before an earlier month's: put in month order

    def add(first: tuple[Any, ...], stop: int, last_month: str) -> None:
        """The run that starts at row `first` and ends before rowid `stop`, its last row's month `last_month`."""
        rowid, employee, month = first[0], first[1], first[2]
        values = first[5:]
        m0, m1 = index[month], index[last_month]
        if m1 - m0 == stop - rowid - 1:
            key = (m0, m1, values)
            run = made.get(key)
            if run is None:
                run = made[key] = tuple(map(_LINE, lines[m0 : m1 + 1], repeat(values, m1 - m0 + 1)))
        else:
            run = tuple(lines[index[m]][values] for m in companies.pay_row_months(rowid, stop - 1))
        before = pay.get(employee)
        if before is None:
            pay[employee] = run
        else:  # a person's next run: most often the next months (a raise), stored after the run before
            pay[employee] = before + run
            if before[-1].month > run[0].month:
                unordered.add(employee)

    pending: tuple[Any, ...] | None = None  # the first line of the run being read
    for rows in companies.pay_runs(company, months[0], months[-1], lo, hi):
        for row in rows:
            if row[4]:
                raise _Gap
            if pending is not None and row[3] is not None:  # the row before this one ends the run
                add(pending, row[0], row[3])
            pending = row if row[1] is not None else None
    if pending is not None:
        add(pending, hi + 1, companies.pay_row_months(hi, hi)[0])
    for employee in unordered:  # months are unique to a person: their order is the lines' order
        pay[employee] = tuple(sorted(pay[employee], key=_MONTH))
    return pay


def population(companies: Companies, company: str, period: Period) -> Population:
    """Everyone under contract at some point of `period` (or paid in it), from the stored payroll inputs."""
    s, e = period.start.isoformat(), period.end.isoformat()
    contracts: dict[str, list[Contract]] = defaultdict(list)
    group: dict[str, list[Contract]] = defaultdict(list)
    meta: dict[str, tuple[str, str, str]] = {}
    # a Contract is immutable: one for each distinct (start, end), shared by everyone hired and leaving the same
    # days (9 276 for the 209 610 contracts of the 200 000-employee bench), and one tuple for each distinct meta
    spans: dict[tuple[str, str | None], Contract] = {}
    metas: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for emp, start, end, cat, est, unit, other in companies.contracts_during(company, s, e):
        c = spans.get((start, end))
        if c is None:
            c = spans[start, end] = Contract(
                date.fromisoformat(start), date.fromisoformat(end) if end else None
            )
        if other:  # a contract with another company of the group: seniority only (D-12)
            group[emp].append(c)
            continue
        contracts[emp].append(c)
        m = (cat or "", est or "", unit or "")
        meta[emp] = metas.setdefault(m, m)
    pay = _pay_lines(companies, company, period.start.replace(day=1).isoformat(), e)
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
            group_contracts=tuple(group.get(i, ())),
        )
        for i in ids
    )
    return Population(company, period, employees)
