"""Where payroll data comes from.

`read_company_dir` reads a company directory (docs/data-format.md) and validates every file, naming the file,
line and column of the first problem. `store_company` writes it to the ledger in one transaction. The default
`paybonus_payroll_source` hook reads it back (`LedgerView.payroll`); a host may supply its own source instead.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from attrs import frozen
from paybonus.hooks.markers import hookimpl
from paybonus.hooks.types import CompanyInfo, LedgerView

from .calendar import Period
from .config import CompanyConfig, parse_company_toml
from .convert import FIRST_YEAR, LAST_YEAR
from .errors import UserError
from .money import parse_euros
from .parsing import MAX_FILE_BYTES, decode, read_bounded
from .payroll import AbsenceKind, Population
from .store import Head, Ledger

_EMPLOYEE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MONTH_FILE = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])\.csv$")
_HOURS = re.compile(r"^[0-9]{1,4}(\.[0-9]{1,2})?$")
_DECIMAL_COMMA = re.compile(r"-?[0-9]{1,15},[0-9]{1,2}")  # 1234,56: a French spreadsheet's amount
_CENTS = re.compile(r"[0-9]{1,2}")  # what is left of 1234,56 split at its comma

EMPLOYEE_COLUMNS = ("employee_id", "contract_start")
EMPLOYEE_OPTIONAL = (
    "display_name",
    "contract_end",
    "category",
    "establishment",
    "work_unit",
    "group_company",
)
PAY_COLUMNS = ("employee_id", "gross", "base_salary", "contract_hours")
PAY_OPTIONAL = ("ap_hours", "ap_indemnity", "reconstituted", "cp_caisse", "ap_subject")
ABSENCE_COLUMNS = ("employee_id", "kind", "start", "end")


@frozen
class CompanyData:
    """A company directory, validated: configuration, contracts, pay lines and absences, as ledger rows."""

    config: CompanyConfig
    # (employee, start, end, category, establishment, display_name, work_unit, group_company); the last ones
    # may be left out
    contracts: list[tuple[Any, ...]]
    # (employee, month, gross, base, contract_hours, ap_hours, ap_ind, reconst, cp_caisse, ap_subject); the last
    # two may be left out
    pay_lines: list[tuple[Any, ...]]
    absences: list[tuple[Any, ...]]  # (employee, kind, start, end)
    digest: str  # sha256 of the files as read (the ledger chains the rows it stores, per part)
    files: tuple[
        tuple[str, bytes], ...
    ] = ()  # the statements' logo and templates: (name in company.toml, bytes)


def read_company_dir(path: Path, on_file: Callable[[Path], None] | None = None) -> CompanyData:
    """Read and validate a company directory. Raises UserError naming the file, line and field. `on_file` is
    called after each file is read."""
    done = on_file or (lambda _p: None)
    if not path.is_dir():
        raise UserError(str(path), "not a directory (expected a company directory, see docs/data-format.md)")
    toml_path = path / "company.toml"
    if not toml_path.is_file():
        raise UserError(str(toml_path), "missing: every company directory has a company.toml")
    config = parse_company_toml(_read_text(toml_path), str(toml_path))
    # the digest of every file as read: each text is hashed and dropped, a year's payroll is not held twice
    parts = _Digest()
    parts.append(config.toml)
    done(toml_path)

    emp_path = path / "employees.csv"
    contracts: list[tuple[Any, ...]] = []
    ids: dict[str, str] = {}  # each employee's id held once, however many contracts and pay lines name it
    known: set[str] = set()
    for where, row in _csv_rows(emp_path, EMPLOYEE_COLUMNS, EMPLOYEE_OPTIONAL, parts):
        emp = _employee_id(row, where)
        emp = ids.setdefault(emp, emp)
        start = _date(row, "contract_start", where)
        end = _date(row, "contract_end", where, optional=True)
        if end is not None and end < start:
            raise UserError(where, f"contract_end {end} is before contract_start {start}")
        contracts.append(
            (
                emp,
                start.isoformat(),
                end and end.isoformat(),
                row.get("category") or "",
                row.get("establishment") or "",
                row.get("display_name") or "",
                row.get("work_unit") or "",
                row.get("group_company") or "",
            )
        )
        if not row.get("group_company"):
            known.add(emp)
    if not known:
        raise UserError(str(emp_path), "no employees")
    _check_overlaps(contracts, str(emp_path))
    done(emp_path)

    pay_lines: list[tuple[Any, ...]] = []
    # (column, text) -> the hours read: the year's lines share a few texts, each held once
    hours: dict[tuple[str, str], str | None] = {}
    pay_dir = path / "payroll"
    files = sorted(pay_dir.glob("*.csv")) if pay_dir.is_dir() else []
    for f in files:
        m = _MONTH_FILE.match(f.name)
        if not m:
            raise UserError(str(f), "payroll files are named YYYY-MM.csv")
        if not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
            raise UserError(str(f), f"the month is outside the years {FIRST_YEAR} to {LAST_YEAR}")
        month = date(int(m.group(1)), int(m.group(2)), 1).isoformat()
        seen: set[str] = set()
        for where, row in _csv_rows(f, PAY_COLUMNS, PAY_OPTIONAL, parts):
            emp = _employee_id(row, where)
            if emp not in known:
                raise UserError(where, f"employee_id {emp!r} is not in employees.csv")
            emp = ids[emp]
            if emp in seen:
                raise UserError(where, f"employee_id {emp!r} appears twice in this month")
            seen.add(emp)
            reconst = _amount(row, "reconstituted", where, optional=True)
            pay_lines.append(
                (
                    emp,
                    month,
                    _amount(row, "gross", where),
                    _amount(row, "base_salary", where),
                    _hours_once(hours, row, "contract_hours", where),
                    _hours_once(hours, row, "ap_hours", where, optional=True) or "0",
                    _amount(row, "ap_indemnity", where, optional=True) or 0,
                    reconst,
                    _amount(row, "cp_caisse", where, optional=True) or 0,
                    _amount(row, "ap_subject", where, optional=True),
                )
            )
        done(f)

    absences: list[tuple[Any, ...]] = []
    abs_path = path / "absences.csv"
    if abs_path.is_file():
        kinds = {k.value for k in AbsenceKind}
        # (employee, kind) -> the starts, and (start, end, file:line), of its rows read so far, sorted by start
        earlier: dict[tuple[str, str], tuple[list[date], list[tuple[date, date, str]]]] = defaultdict(
            lambda: ([], [])
        )
        for where, row in _csv_rows(abs_path, ABSENCE_COLUMNS, (), parts):
            emp = _employee_id(row, where)
            if emp not in known:
                raise UserError(where, f"employee_id {emp!r} is not in employees.csv")
            kind = (row.get("kind") or "").strip()
            if kind not in kinds:
                raise UserError(where, f"kind: {kind!r} is not an absence kind ({', '.join(sorted(kinds))})")
            start, end = _date(row, "start", where), _date(row, "end", where)
            if end < start:
                raise UserError(where, f"end {end} is before start {start}")
            # each row's days are taken off the presence: a row given twice took them off twice. The rows kept
            # do not overlap, so only the neighbours by start can (a file of a row a day stays linear)
            starts, spans = earlier[(emp, kind)]
            i = bisect.bisect_right(starts, start)
            for s, e, at in spans[max(i - 1, 0) : i + 1]:
                if s <= end and start <= e:
                    raise UserError(
                        where,
                        f"{emp}'s {kind} {start}..{end} overlaps {at} ({s}..{e}): its days would count twice; "
                        "give them once",
                    )
            starts.insert(i, start)
            spans.insert(i, (start, end, where))
            absences.append((emp, kind, start.isoformat(), end.isoformat()))
    done(abs_path)
    statement = statement_files(path, config, toml_path)
    for name, content in statement:
        parts.append(f"{name}:{hashlib.sha256(content).hexdigest()}")
    return CompanyData(config, contracts, pay_lines, absences, parts.hexdigest(), statement)


class _Digest:
    """The SHA-256 of texts joined by a record separator (U+001E), fed one text at a time."""

    def __init__(self) -> None:
        self._hash, self._first = hashlib.sha256(), True

    def append(self, text: str) -> None:
        if not self._first:
            self._hash.update(b"\x1e")
        self._first = False
        self._hash.update(text.encode("utf-8"))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


MAX_STATEMENT_FILE = (
    256 * 1024
)  # a logo or a template: small, as they travel in every statement and the ledger
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG
TEMPLATE = "fiche.html.j2"  # the statement template a company's template_dir holds


def statement_files(path: Path, config: CompanyConfig, where: Path) -> tuple[tuple[str, bytes], ...]:
    """The logo and the template directory that `[statement]` names, read and checked (UserError naming them)."""
    st = config.statement
    found: dict[str, bytes] = {}
    if st.logo is not None:
        found[st.logo] = _statement_file(path / st.logo, f"{where}: statement.logo", image=True)
    if st.template_dir is not None:
        tdir = path / st.template_dir
        if not tdir.is_dir():
            raise UserError(str(where), f"statement.template_dir: {st.template_dir!r} is not a directory")
        if not (tdir / TEMPLATE).is_file():
            raise UserError(
                str(tdir), f"no {TEMPLATE}: a statement template directory holds the company's {TEMPLATE}"
            )
        for f in sorted(tdir.iterdir()):
            if f.is_file() and f.suffix.lower() in (".j2", ".png", ".jpg", ".jpeg"):
                image = f.suffix.lower() != ".j2"
                content = _statement_file(f, str(f), image=image)
                if not image:
                    try:
                        content.decode("utf-8")
                    except UnicodeDecodeError:
                        raise UserError(str(f), "not UTF-8 text") from None
                found[f"{st.template_dir.rstrip('/')}/{f.name}"] = content  # the logo may live there too
    return tuple(sorted(found.items()))


def _statement_file(p: Path, where: str, image: bool) -> bytes:
    try:
        content = read_bounded(p, 4 * MAX_STATEMENT_FILE)  # bounded; the size is refused below
    except UserError as exc:  # named by the option that gives the file, as before
        raise UserError(where, f"{exc.what.replace('cannot read', f'cannot read {p}', 1)}") from None
    if len(content) > MAX_STATEMENT_FILE:
        raise UserError(
            where, f"{p.name} is {len(content) // 1024} KB, more than the 256 KB a statement file may be"
        )
    if image and not content.startswith(IMAGE_MAGIC):
        raise UserError(where, f"{p.name} is not a PNG or JPEG image")
    return content


def store_company(ledger: Ledger, data: CompanyData, now: datetime | None = None) -> Head:
    """Replace the company's configuration and payroll inputs in the ledger, all or nothing."""
    at = (now or datetime.now(UTC)).isoformat()
    info = data.config.info
    return ledger.store_company(
        info.id, info.name, data.config.toml, data.contracts, data.pay_lines, data.absences, at, data.files
    )


# -- the default payroll source -------------------------------------------------------------------------------


class LedgerPayrollSource:
    """Payroll read from the ledger's own tables (filled by `paybonus load`)."""

    def __init__(self, ledger: LedgerView) -> None:
        self.ledger = ledger

    def population(self, company: str, period: Period) -> Population:
        return self.ledger.payroll(company, period)


@hookimpl(trylast=True)
def paybonus_payroll_source(company: CompanyInfo, ledger: LedgerView) -> LedgerPayrollSource:
    return LedgerPayrollSource(ledger)


# -- helpers --------------------------------------------------------------------------------------------------


def _read_text(p: Path) -> str:
    try:
        # payroll exports are often Windows-1252 (DSN.md)
        return decode(read_bounded(p, MAX_FILE_BYTES), legacy="cp1252")
    except OSError as exc:
        raise UserError(str(p), f"cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise UserError(str(p), str(exc)) from None


def _csv_rows(
    p: Path, required: Sequence[str], optional: Sequence[str], parts: _Digest
) -> Iterator[tuple[str, dict[str, str]]]:
    if not p.is_file():
        raise UserError(str(p), "missing file")
    text = _read_text(p)
    parts.append(text)
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise UserError(f"{p}:1", f"not CSV ({exc})") from None
    if len(set(header)) != len(header):  # csv keeps the last of the two values of each row without a word
        twice = next(c for n, c in enumerate(header) if c in header[:n])
        raise UserError(f"{p}:1", f"column {twice!r} given twice (which one is meant?)")
    missing = [c for c in required if c not in header]
    if missing:
        raise UserError(f"{p}:1", f"missing column {missing[0]!r} (expected {', '.join(required)})")
    unknown = [c for c in header if c not in required and c not in optional]
    if unknown:
        raise UserError(
            f"{p}:1", f"unknown column {unknown[0]!r} (allowed: {', '.join((*required, *optional))})"
        )
    reader.fieldnames = header
    rows = iter(reader)
    n = 1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UserError(f"{p}:{reader.line_num}", f"not CSV ({exc})") from None
        n += 1
        if None in row:
            values = [*(v for k, v in row.items() if k is not None), *row[None]]
            cents = delimiter == "," and any(_CENTS.fullmatch(v or "") for v in values)
            raise UserError(
                f"{p}:{n}",
                "more values than columns"
                + (" (a number with a decimal comma? write 1234.56 with a dot)" if cents else ""),
            )
        yield f"{p}:{n}", {k: (v or "").strip() for k, v in row.items()}


def _employee_id(row: dict[str, str], where: str) -> str:
    v = row.get("employee_id", "")
    if not _EMPLOYEE_ID.match(v) or ".." in v:
        raise UserError(where, f"employee_id: {v!r} is not an employee id (letters, digits, ._-)")
    return v


OPEN_END = date(9999, 12, 31)  # a contract_end HR systems write for a contract that runs: read as such


def _date(row: dict[str, str], col: str, where: str, optional: bool = False) -> Any:
    v = row.get(col, "")
    if not v and optional:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
            raise ValueError(v)
        d = date.fromisoformat(v)
    except ValueError:
        raise UserError(where, f"{col}: {v!r} is not a date (expected YYYY-MM-DD)") from None
    if d == OPEN_END and col == "contract_end":  # many HR exports' "end of time": a contract still running
        return d
    if not FIRST_YEAR <= d.year <= LAST_YEAR:  # as in events and company.toml: 0020-11-01 is a typo
        raise UserError(where, f"{col}: {v} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return d


def _amount(row: dict[str, str], col: str, where: str, optional: bool = False) -> Any:
    v = row.get(col, "")
    if not v and optional:
        return None
    try:
        cents = parse_euros(v)
    except ValueError:  # the value is not repeated: it may be someone's pay
        reason = (
            "a decimal comma: write it with a dot, as 1234.56"
            if _DECIMAL_COMMA.fullmatch(v)
            else "expected digits with a dot and at most 2 decimals"
        )
        raise UserError(where, f"{col}: not an amount in euros ({reason})") from None
    if cents < 0:
        raise UserError(where, f"{col}: is negative (an amount here is never below zero)")
    return cents


def _hours(row: dict[str, str], col: str, where: str, optional: bool = False) -> str | None:
    v = row.get(col, "")
    if not v and optional:
        return None
    if not _HOURS.match(v):
        raise UserError(where, f"{col}: {v!r} is not a number of hours (e.g. 151.67)")
    try:
        return str(Decimal(v))
    except InvalidOperation:  # pragma: no cover - the pattern already checked it
        raise UserError(where, f"{col}: {v!r} is not a number of hours") from None


def _hours_once(
    seen: dict[tuple[str, str], str | None], row: dict[str, str], col: str, where: str, optional: bool = False
) -> str | None:
    """`_hours`, read once for each text of the column: a payroll's lines share a few."""
    key = (col, row.get(col, ""))
    if key not in seen:
        seen[key] = _hours(row, col, where, optional)
    return seen[key]


def _check_overlaps(contracts: list[tuple[Any, ...]], where: str) -> None:
    by_emp: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for emp, start, end, *_ in contracts:
        by_emp[emp].append((start, end))
    for emp, spans in by_emp.items():
        spans.sort()
        for (s1, e1), (s2, _) in itertools.pairwise(spans):
            if e1 is None or e1 >= s2:
                raise UserError(
                    where, f"employee {emp!r} has overlapping contracts ({s1}..{e1 or 'open'} and {s2}..)"
                )
