"""Reading DSN files (Déclaration Sociale Nominative, docs/dsn.md): departures and absences for paybonus.

A DSN file is one `RUBRIQUE,'VALUE'` per line, often in Windows-1252; a deposit may wrap several declarations
(S10.G00.00.001 to S90.G00.90.002, whose S90.G00.90.001 gives the line count) in an S05/S06/S95/S96 envelope.
An individual (S21.G00.30) owns the blocks after it until the next one: contracts (S21.G00.40), work stoppages
(S21.G00.60), contract ends (S21.G00.62) and other suspensions (S21.G00.65).

What paybonus takes from it: the employee id is the payroll's matricule (S21.G00.30.019), never the NIR; a
contract end becomes an `employee_left` event (LAW I-44); stoppages and suspensions become absences in the
`absences.csv` format, with the kinds the schemes know (maternity, work accident... count as presence for
intéressement, I-25; activité partielle 602, I-27). Names, NIR and addresses are read past, never kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from attrs import Factory, define, frozen

from .convert import FIRST_YEAR, LAST_YEAR
from .errors import UserError
from .events import is_name_id
from .money import format_euros, parse_euros
from .parsing import decode, lines
from .payroll import DSN_OTHER_SUSPENSION, DSN_WORK_STOPPAGE, AbsenceKind

MAX_DSN_NUMBER = Decimal(10**12)  # hours or euros of one rubric: far above any real value
_LINE = re.compile(r"^(S[0-9]{2}\.G[0-9]{2}\.[0-9]{2}\.[0-9]{3}),'(.*)'$")
CANCELLED_STOPPAGE = "99"  # S21.G00.60.001: the stoppage is cancelled
CANCELLED_END = "099"  # S21.G00.62.002: the contract end is cancelled


@frozen
class Absence:
    kind: AbsenceKind
    start: date
    end: date
    code: str  # the DSN reason, kept for traceability


@frozen
class ContractEnd:
    on: date
    reason: str


@frozen
class Contract:
    start: date
    hours: Decimal | None  # monthly hours when the quotité is in hours (S21.G00.40.011 10 or 21)


@define
class Individual:
    """What one declaration says of one employee (personal data left out)."""

    matricule: str
    establishment: str
    where: str  # file and line of the S21.G00.30 block
    contracts: list[Contract] = Factory(list)
    absences: list[Absence] = Factory(list)
    ends: list[ContractEnd] = Factory(list)
    # starts of work stoppages this declaration cancels (S21.G00.60.001 99) or declares with no day absent
    withdrawn: list[date] = Factory(list)
    # S21.G00.51 type -> [hours, cents], summed over the declaration
    pay: dict[str, list[Any]] = Factory(dict)


@frozen
class Declaration:
    where: str
    nature: str  # S20.G00.05.001: 01 monthly, 04 sick leave, 07 contract end (FCTU), ...
    siren: str
    individuals: tuple[Individual, ...]
    month: date | None = None  # S20.G00.05.005: the month a monthly declaration covers


def read_text(raw: bytes, where: str = "") -> str:
    """DSN files are UTF-8 or, more often, Windows-1252/ISO-8859-1 (a leading byte-order mark is dropped)."""
    try:
        return decode(raw, legacy="cp1252")
    except ValueError as exc:
        raise UserError(where, f"not a DSN file: {exc}") from None


def parse(text: str, path: str) -> list[Declaration]:
    """Every declaration of a DSN file. Raises UserError naming the file, line and rubric."""
    out: list[Declaration] = []
    current: list[tuple[int, str, str]] | None = None
    for n, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if not m:
            raise UserError(f"{path}:{n}", "not a DSN line (expected S21.G00.30.001,'value')")
        rubric, value = m.group(1), m.group(2)
        if rubric == "S10.G00.00.001":
            if current is not None:
                raise UserError(
                    f"{path}:{n}", "a declaration starts before the previous one ended (S90.G00.90)"
                )
            current = []
        if rubric.startswith(("S05.", "S06.", "S95.", "S96.")):
            continue  # the deposit's envelope
        if current is None:
            raise UserError(
                f"{path}:{n}", f"{rubric} outside a declaration (S10.G00.00.001 ... S90.G00.90.002)"
            )
        current.append((n, rubric, value))
        if rubric == "S90.G00.90.002":
            out.append(_declaration(current, path))
            current = None
    if current is not None:
        raise UserError(f"{path}:{current[0][0]}", "the declaration never ends (no S90.G00.90.002)")
    if not out:
        raise UserError(path, "no declaration (S10.G00.00.001) in this file")
    return out


def _declaration(lines: list[tuple[int, str, str]], path: str) -> Declaration:
    first, last = lines[0][0], lines[-1][0]
    count = next((v for _, r, v in lines if r == "S90.G00.90.001"), None)
    # ASCII digits: '²' passes str.isdigit() and int() refuses it (a traceback); '١٢' is read as 12
    if count is None or not (count.isascii() and count.isdigit()) or int(count) != len(lines):
        raise UserError(
            f"{path}:{last}",
            f"S90.G00.90.001: the declaration has {len(lines)} lines, it says {count!r} (truncated or altered?)",
        )
    nature = next((v for _, r, v in lines if r == "S20.G00.05.001"), "")
    siren = next((v for _, r, v in lines if r == "S21.G00.06.001"), "")
    people: list[Individual] = []
    establishment = ""
    person: Individual | None = None
    closers: dict[str, tuple[dict[str, Any], Any]] = {
        "S21.G00.60": ({}, _close_stoppage),
        "S21.G00.65": ({}, _close_suspension),
        "S21.G00.62": ({}, _close_end),
        "S21.G00.40": ({}, _close_contract),
        "S21.G00.51": ({}, _close_pay),
    }

    def flush() -> None:
        for target, close in closers.values():
            close(person, target, path)

    for n, rubric, value in lines:
        where = f"{path}:{n}"
        block = rubric[:10]
        for name, (target, close) in closers.items():
            if block != name:
                close(person, target, path)
        if rubric == "S21.G00.11.001":
            establishment = value
        elif rubric == "S21.G00.30.001":
            flush()
            person = Individual("", establishment, where)
            people.append(person)
        elif rubric == "S21.G00.30.019" and person is not None:
            person.matricule = value.strip()
            if person.matricule and not is_name_id(person.matricule):  # it is the employee id of the outputs
                raise UserError(
                    where,
                    f"S21.G00.30.019: matricule {person.matricule!r} is not an employee id "
                    "(1 to 64 letters, digits or ._-, starting with a letter or digit, no '..')",
                )
        elif block in closers and person is not None:
            target, close = closers[block]
            if rubric.endswith(".001") and target:  # a new block of the same kind
                close(person, target, path)
            target[rubric[-3:]] = (value, where)
    flush()
    for p in people:
        if not p.matricule:
            raise UserError(
                p.where,
                "S21.G00.30.019 (matricule) missing: paybonus identifies employees by it, never by the NIR",
            )
    if not nature:  # without it the declaration's pay would be read as no monthly pay, silently
        raise UserError(f"{path}:{first}", "S20.G00.05.001 (nature of the declaration) missing")
    month_at = next(((v, n) for n, r, v in lines if r == "S20.G00.05.005"), None)
    if month_at is None and nature == "01":
        raise UserError(f"{path}:{first}", "S20.G00.05.005 (the month a monthly declaration covers) missing")
    month = _date(month_at[0], f"{path}:{month_at[1]}", "S20.G00.05.005").replace(day=1) if month_at else None
    return Declaration(f"{path}:{first}", nature, siren, tuple(people), month)


def _close_stoppage(person: Individual | None, b: dict[str, Any], path: str) -> None:
    if person is None or not b:
        return
    code, where = b.get("001", ("", _first(b)))
    if code != CANCELLED_STOPPAGE:
        kind = DSN_WORK_STOPPAGE.get(code, AbsenceKind.OTHER)
        last_worked = _date(*_need(b, "002", "S21.G00.60.002", where), "S21.G00.60.002")
        start = last_worked + timedelta(days=1)
        if "010" in b:  # back at work: the absence ends the day before
            back = _date(b["010"][0], b["010"][1], "S21.G00.60.010")
            if back <= last_worked:  # a typo in a date: the stoppage would be dropped without a word
                raise UserError(
                    b["010"][1],
                    f"S21.G00.60.010: back at work on {back}, not after the last day worked {last_worked} "
                    "(S21.G00.60.002)",
                )
            end = back - timedelta(days=1)
        else:
            planned, at = _need(b, "003", "S21.G00.60.003", where)
            end = _date(planned, at, "S21.G00.60.003")
            if end < last_worked:
                raise UserError(
                    at,
                    f"S21.G00.60.003: the stoppage ends ({end}) before the last day worked {last_worked} "
                    "(S21.G00.60.002)",
                )
        if end >= start:
            person.absences.append(Absence(kind, start, end, code))
        else:  # back the day after the last day worked: no day absent, nor any an earlier declaration gave
            person.withdrawn.append(start)
    elif "002" in b:  # a cancellation names the stoppage by its last day worked
        person.withdrawn.append(
            _date(*_need(b, "002", "S21.G00.60.002", where), "S21.G00.60.002") + timedelta(days=1)
        )
    b.clear()


def _close_suspension(person: Individual | None, b: dict[str, Any], path: str) -> None:
    if person is None or not b:
        return
    code, where = b.get("001", ("", _first(b)))
    kind = DSN_OTHER_SUSPENSION.get(code, AbsenceKind.OTHER)
    start = _date(*_need(b, "002", "S21.G00.65.002", where), "S21.G00.65.002")
    end = _date(*_need(b, "003", "S21.G00.65.003", where), "S21.G00.65.003") if "003" in b else start
    if end < start:
        raise UserError(where, f"S21.G00.65.003: the suspension ends ({end}) before it starts ({start})")
    person.absences.append(Absence(kind, start, end, code))
    b.clear()


def _close_end(person: Individual | None, b: dict[str, Any], path: str) -> None:
    if person is None or not b:
        return
    reason, where = b.get("002", ("", _first(b)))
    if reason != CANCELLED_END:
        on = _date(*_need(b, "001", "S21.G00.62.001", where), "S21.G00.62.001")
        person.ends.append(ContractEnd(on, reason))
    b.clear()


def _close_contract(person: Individual | None, b: dict[str, Any], path: str) -> None:
    if person is None or not b:
        return
    start = _date(*_need(b, "001", "S21.G00.40.001", _first(b)), "S21.G00.40.001")
    hours = None
    if b.get("011", ("",))[0] in ("10", "21") and "013" in b:  # quotité in hours (a month's)
        value, at = _need(b, "013", "S21.G00.40.013", _first(b))
        hours = _decimal(value, at, "S21.G00.40.013")
        if hours < 0:  # it becomes contract_hours, which `load` refuses negative, naming the file written
            raise UserError(at, f"S21.G00.40.013: the working-time quota {value!r} is negative")
    person.contracts.append(Contract(start, hours))
    b.clear()


def _close_pay(person: Individual | None, b: dict[str, Any], path: str) -> None:
    if person is None or not b:
        return
    kind, where = _need(b, "011", "S21.G00.51.011", _first(b))
    hours = (
        _decimal(*_need(b, "012", "S21.G00.51.012", where), "S21.G00.51.012") if "012" in b else Decimal(0)
    )
    value, at = _need(b, "013", "S21.G00.51.013", where)
    try:
        cents = parse_euros(value)
    except ValueError as exc:
        raise UserError(at, f"S21.G00.51.013: {exc}") from None
    total = person.pay.setdefault(kind, [Decimal(0), 0])
    total[0] += hours
    total[1] += cents
    b.clear()


_DSN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)  # DSN.md: decimals with a dot


def _decimal(value: str, where: str, rubric: str) -> Decimal:
    if not _DSN_NUMBER.fullmatch(value):  # Decimal() also takes '1_000', '+5', '١٢', '1e3' and 'NaN'
        raise UserError(where, f"{rubric}: {value!r} is not a number (ASCII digits with a dot)")
    d = Decimal(value)
    if not d.is_finite() or abs(d) >= MAX_DSN_NUMBER:
        raise UserError(where, f"{rubric}: {value!r} is not a number of hours or euros (too large)")
    return d


def _first(b: dict[str, Any]) -> str:
    """The file and line of a block's first rubric: where a missing rubric is reported."""
    return str(next(iter(b.values()))[1])


def _need(b: dict[str, Any], key: str, rubric: str, where: str) -> tuple[str, str]:
    if key not in b:
        raise UserError(where, f"{rubric} missing in its block")
    value, at = b[key]
    return str(value), str(at)


def _date(value: str, where: str, rubric: str) -> date:
    if not re.fullmatch(r"[0-9]{8}", value):
        raise UserError(where, f"{rubric}: {value!r} is not a DSN date (DDMMYYYY)")
    try:
        d = date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        raise UserError(where, f"{rubric}: {value!r} is not a date") from None
    if not FIRST_YEAR <= d.year <= LAST_YEAR:  # as in events; 31129999 + 1 day was an OverflowError
        raise UserError(where, f"{rubric}: {value!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return d


# -- what paybonus makes of it ----------------------------------------------------------------------------------


def departures(declarations: Iterable[Declaration], company: str) -> list[dict[str, Any]]:
    """`employee_left` events (JSON objects) for every contract end, one per employee and date. Deterministic
    (an event occurs on the day the contract ended), so reading the same files again gives the same events."""
    seen: dict[str, dict[str, Any]] = {}
    for d in declarations:
        for p in d.individuals:
            for e in p.ends:
                ident = f"{company}-dsn-left-{p.matricule}-{e.on:%Y%m%d}"
                seen[ident] = {
                    "id": ident,
                    "type": "employee_left",
                    "company": company,
                    "occurred_at": f"{e.on.isoformat()}T18:00:00+01:00",
                    "payload": {
                        "employee": p.matricule,
                        "left_on": e.on.isoformat(),
                        "reason": e.reason or None,
                    },
                }
    return [seen[k] for k in sorted(seen)]


def absence_rows(declarations: Iterable[Declaration]) -> list[dict[str, str]]:
    """Rows of `absences.csv` (employee_id, kind, start, end). An absence declared again in a later declaration
    (say, with its actual end once the employee is back) keeps the later end; one a later declaration cancels, or
    declares with the employee back the day after the last day worked, is no longer an absence."""
    latest: dict[tuple[str, str, date], date] = {}
    for d in declarations:
        for p in d.individuals:
            for start in p.withdrawn:
                for key in [k for k in latest if k[0] == p.matricule and k[2] == start]:
                    del latest[key]
            for a in p.absences:
                latest[(p.matricule, a.kind.value, a.start)] = a.end
    return [
        {"employee_id": emp, "kind": kind, "start": start.isoformat(), "end": end.isoformat()}
        for (emp, kind, start), end in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
    ]


@frozen
class CompanyFiles:
    """A company directory's data files (docs/data-format.md), from monthly declarations."""

    employees: list[dict[str, str]]
    payroll: dict[str, list[dict[str, str]]]  # "YYYY-MM" -> rows
    absences: list[dict[str, str]]


def company_files(declarations: list[Declaration], params: Any) -> CompanyFiles:
    """employees.csv, payroll/YYYY-MM.csv and absences.csv rows. Pay comes from monthly declarations (nature 01):
    S21.G00.51 type 001 gross, 010 base salary, 003 reconstituted salary, 019 activité partielle hours and
    indemnity, all attributed to the declared month; contract hours from the quotité when it is in hours, else the
    legal monthly hours (a forfait is full time)."""
    contracts: dict[tuple[str, date], Decimal | None] = {}
    establishment: dict[str, str] = {}
    ends: dict[str, set[date]] = {}
    payroll: dict[str, dict[str, dict[str, str]]] = {}
    for d in declarations:
        for p in d.individuals:
            establishment[p.matricule] = p.establishment
            for c in p.contracts:
                contracts[(p.matricule, c.start)] = c.hours
            ends.setdefault(p.matricule, set()).update(e.on for e in p.ends)
            if d.nature != "01" or d.month is None:
                continue
            month = f"{d.month:%Y-%m}"
            rows = payroll.setdefault(month, {})
            if p.matricule in rows:
                raise UserError(p.where, f"employee {p.matricule} is declared twice for {month}")
            rows[p.matricule] = _pay_row(p, d.month, params)
    starts: dict[str, list[date]] = {}
    for m, start in sorted(contracts):
        starts.setdefault(m, []).append(start)
    employees = []
    for m, begins in starts.items():
        for i, start in enumerate(begins):
            nxt = begins[i + 1] if i + 1 < len(begins) else None
            end = min((e for e in ends.get(m, ()) if e >= start and (nxt is None or e < nxt)), default=None)
            employees.append(
                {
                    "employee_id": m,
                    "contract_start": start.isoformat(),
                    "contract_end": end.isoformat() if end else "",
                    "establishment": establishment.get(m, ""),
                }
            )
    return CompanyFiles(
        employees,
        {month: [rows[k] for k in sorted(rows)] for month, rows in sorted(payroll.items())},
        absence_rows(declarations),
    )


def _pay_row(p: Individual, month: date, params: Any) -> dict[str, str]:
    for kind, (_, total) in p.pay.items():
        if total < 0 and kind in ("001", "003", "010", "019"):
            raise UserError(p.where, f"S21.G00.51 type {kind}: the total for {month:%Y-%m} is negative")

    def cents(kind: str, default: int = 0) -> int:
        return int(p.pay[kind][1]) if kind in p.pay else default

    gross = cents("001")
    hours = next((c.hours for c in reversed(p.contracts) if c.hours is not None), None)
    if hours is None:
        hours = params.value("legal_monthly_hours", month)
    ap_hours = p.pay.get("019", [Decimal(0), 0])[0]
    return {
        "employee_id": p.matricule,
        "gross": format_euros(gross),
        "base_salary": format_euros(cents("010", gross)),
        "contract_hours": str(Decimal(hours).quantize(Decimal("0.01"))),
        "ap_hours": str(Decimal(ap_hours).quantize(Decimal("0.01"))),
        "ap_indemnity": format_euros(cents("019")),
        "reconstituted": format_euros(cents("003")) if "003" in p.pay else "",
    }
