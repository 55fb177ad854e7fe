"""Entitlements: the one declaration of an entitlement row (its columns, its digest, its read-back) and its table.

An entitlement's identity and amount never change (a trigger refuses it); only its `status` moves as payments are
recorded. Its digest covers every column but the status and the time it was written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from operator import itemgetter
from typing import Any

from paybonus.calendar import Period
from paybonus.hooks.types import Explanation, Kind, RecordedEntitlement, Status, merge

from .schema import NET_OUTSTANDING, NET_OUTSTANDING_OF_COMPANY
from .sql import chunks, select, streamed

_orjson_loads: Callable[[bytes], Any] | None
try:
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - orjson is a dependency; json alone reads the same values
    _orjson_loads = None

ENTITLEMENT_COLUMNS = (
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
    "dsn_block",
    "dsn_code",
    "due_date",
    "status",
    "event_id",
    "corrects",
    "explanation",
    "digest",
    "recorded_at",
)
# what the digest covers: everything but the status and when the row was written
DIGEST_COLUMNS = tuple(c for c in ENTITLEMENT_COLUMNS if c not in ("status", "digest", "recorded_at"))
_DIGESTED = itemgetter(*DIGEST_COLUMNS)  # a row's values, in order
_INSERT = (
    f"INSERT INTO entitlements ({', '.join(ENTITLEMENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ENTITLEMENT_COLUMNS)})"
)


# a row to insert (`new_rows`): a plain tuple of every column in `ENTITLEMENT_COLUMNS` order, its digest computed
EntitlementRow = tuple[Any, ...]
ROW_ID, ROW_DIGEST = ENTITLEMENT_COLUMNS.index("id"), ENTITLEMENT_COLUMNS.index("digest")
# what `new_rows` is given for each entitlement: the columns that vary within one dispatch
DraftColumns = tuple[str, Any, str, str, int, str, Any, Any, Any, Any, str]


def new_rows(
    recorded_at: str,
    scheme: str,
    scheme_version: str,
    company: str,
    social_regime: str,
    event_id: str,
    drafts: Iterable[DraftColumns],
) -> Iterator[EntitlementRow]:
    """The rows of one dispatch (status due), each with its digest, as `drafts` gives them: (id, employee,
    period_start, period_end, amount_cents, kind, dsn_block, dsn_code, due_date, corrects, explanation), the
    dates as ISO text, kind and explanation as text. The digest is `digest_of_values` of the row, joined here
    from the parts that are the same for the whole dispatch."""
    nul, sep, sha256 = "\x00", "\x1f", hashlib.sha256
    head = sep.join((str(scheme), str(scheme_version), str(company)))
    regime, event = str(social_regime), str(event_id)
    for ident, employee, start, end, amount, kind, block, code, due, corrects, expl in drafts:
        text = sep.join(
            (
                ident,
                head,
                nul if employee is None else str(employee),
                start,
                end,
                str(amount),
                kind,
                regime,
                nul if block is None else str(block),
                nul if code is None else str(code),
                nul if due is None else due,
                event,
                nul if corrects is None else str(corrects),
                expl,
            )
        )
        yield (
            ident,
            scheme,
            scheme_version,
            company,
            employee,
            start,
            end,
            amount,
            kind,
            social_regime,
            block,
            code,
            due,
            "due",
            event_id,
            corrects,
            expl,
            sha256(text.encode("utf-8")).hexdigest(),
            recorded_at,
        )


def digest(row: Any) -> str:
    """sha256 of the immutable columns joined by a unit separator (a control character no id contains and that
    JSON text always escapes); NULL is written as a NUL character."""
    return digest_of_values(_DIGESTED(row))


def digest_differs(values: Sequence[Any], stored: str) -> bool:
    """Whether a row's digested values (`DIGEST_COLUMNS` order) no longer give its stored digest. A value that is
    the one-character text NUL counts as a difference: the digest writes NULL so, and paybonus never stores that
    text, so a NULL made NUL would otherwise digest as before (SQLite; PostgreSQL's text cannot hold it)."""
    return "\x00" in values or digest_of_values(values) != stored


def digest_of_values(values: Iterable[Any]) -> str:
    """`digest` of the immutable columns' values, given in `DIGEST_COLUMNS` order."""
    text = "\x1f".join([v if v.__class__ is str else "\x00" if v is None else str(v) for v in values])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# `Entitlements.tuples`: a row as a plain tuple, seq then every column in `ENTITLEMENT_COLUMNS` order but the status
# and when it was written, which `audit verify`'s recomputation does not read (neither is digested)
TUPLE_COLUMNS = ("seq", *(c for c in ENTITLEMENT_COLUMNS if c not in ("status", "recorded_at")))
TUPLE_DIGESTED = itemgetter(*(TUPLE_COLUMNS.index(c) for c in DIGEST_COLUMNS))


SHARED_KEY = "shared"  # a stored explanation names the part it shares with its dispatch by that part's sha256
SHARED_CACHE = 64  # parsed shared parts kept by a reader (one per dispatch read in a row)


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = (
    b"0" * 19
)  # 19 digits in a row: perhaps an integer beyond 64 bits, which orjson reads as a float


def json_loads(text: str) -> Any:
    """`json.loads(text)`: the same value, by orjson when it gives the same (about half the time of json on an
    explanation). orjson reads an integer beyond 64 bits as a float: a text with 19 digits in a row goes to json;
    so does whatever orjson refuses (NaN, Infinity, 1e400, a lone surrogate, deeper nesting), and json then gives
    what it always gave or raises the error it always raised. Anything but a str goes to json as before."""
    if _orjson_loads is None or text.__class__ is not str:
        return json.loads(text)
    try:
        data = text.encode("utf-8")
        if _LONG_NUMBER in data.translate(_DIGITS_AS_ZERO):
            return json.loads(text)
        return _orjson_loads(data)
    except ValueError:  # orjson's JSONDecodeError, or a str that is not UTF-8 (a lone surrogate)
        return json.loads(text)


# (inputs, parameters, steps, rules, the rules as a set) of a shared part, as `merge` takes them from it
_Pieces = tuple[dict[str, Any], dict[str, Any], tuple[Any, ...], tuple[str, ...], frozenset[str]]
_NONE: dict[str, Any] = {}  # an own part without inputs or parameters (never changed)
_NO_LIST: list[Any] = []  # an own part without steps or rules (never changed)


def _pieces(shared: Any) -> _Pieces | None:
    """A shared part's pieces, when it is a dict of a dict of inputs, a dict of parameters, a list of steps and a
    list of text rules (each may be missing, as `merge` allows); None for anything else."""
    if shared.__class__ is not dict:
        return None
    inputs = shared.get("inputs", _NONE)
    parameters = shared.get("parameters", _NONE)
    steps = shared.get("steps", _NO_LIST)
    rules = shared.get("rules", _NO_LIST)
    if (
        inputs.__class__ is not dict
        or parameters.__class__ is not dict
        or steps.__class__ is not list
        or rules.__class__ is not list
        or any(r.__class__ is not str for r in rules)
    ):
        return None
    return inputs, parameters, tuple(steps), tuple(rules), frozenset(rules)


def shared_hash(body: str) -> str:
    """The key of a shared explanation part: the sha256 of its canonical JSON text."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


_KINDS = {k.value: k for k in Kind}
_STATUSES = {s.value: s for s in Status}


@functools.lru_cache(maxsize=1024)
def _period(start: str, end: str) -> Period:
    """A stored period (a ledger holds a few: months, years), made once (`Period` is immutable)."""
    return Period(date.fromisoformat(start), date.fromisoformat(end))


@functools.lru_cache(maxsize=1024)
def _day(text: str) -> date:
    return date.fromisoformat(text)


def recorded_entitlement(row: Any, explanation: dict[str, Any] | Explanation) -> RecordedEntitlement:
    """A stored row, with its whole explanation (`Entitlements.explanation`, or `explained`), as the value schemes
    read back."""
    return RecordedEntitlement(
        id=row["id"],
        scheme=row["scheme"],
        scheme_version=row["scheme_version"],
        company=row["company"],
        employee=row["employee"],
        period=_period(row["period_start"], row["period_end"]),
        amount_cents=row["amount_cents"],
        kind=_KINDS.get(row["kind"]) or Kind(row["kind"]),  # Kind(): the error an unknown value always raised
        status=_STATUSES.get(row["status"]) or Status(row["status"]),
        event_id=row["event_id"],
        corrects=row["corrects"],
        due_date=_day(row["due_date"]) if row["due_date"] else None,
        explanation=explanation
        if explanation.__class__ is Explanation
        else Explanation.from_dict(explanation),  # type: ignore[arg-type]
    )


def _filtered(
    company: str | None,
    scheme: str | None,
    period: Period | None,
    employee: str | None,
    exact_period: bool = False,
) -> tuple[str, list[str]]:
    """The SELECT of `Entitlements.rows` and its arguments."""
    sql, args = "SELECT * FROM entitlements WHERE 1=1", []
    for col, val in (("company", company), ("scheme", scheme), ("employee", employee)):
        if val is not None:
            # one employee's rows of a company are found by the (company, employee) index: SQLite, without
            # statistics, preferred (company, scheme, period_start) for more terms and read the whole period's rows
            # for each (a batch of 3 000 statements, a query each: 15 % of its time). A scheme written as an
            # expression cannot choose an index (both backends)
            hinted = col == "scheme" and company is not None and employee is not None
            sql += f" AND {col} || '' = ?" if hinted else f" AND {col} = ?"
            args.append(val)
    if period is not None and exact_period:
        sql += " AND period_start = ? AND period_end = ?"
        args += [period.start.isoformat(), period.end.isoformat()]
    elif period is not None:
        sql += " AND period_start <= ? AND period_end >= ?"
        args += [period.end.isoformat(), period.start.isoformat()]
    return sql + " ORDER BY seq", args


class Entitlements:
    """The entitlements table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._shared: dict[str, dict[str, Any]] = {}
        # a shared part's pieces as `explained` joins them to each row's own part, prepared once per part: the
        # parsed part they were taken from, then (inputs, parameters, steps, rules, set of the rules)
        self._pieces: dict[str, tuple[dict[str, Any], _Pieces | None]] = {}

    def insert(self, rows: Iterable[EntitlementRow]) -> None:
        """Batched insert (one executemany, streamed) inside the caller's transaction."""
        self.conn.executemany(_INSERT, rows)

    def add_shared(self, bodies: dict[str, str]) -> None:
        """Shared explanation parts (hash -> canonical JSON), each kept once, inside the caller's transaction."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO shared_explanations (hash, body) VALUES (?, ?)", bodies.items()
        )

    def forget_shared(self) -> None:
        """Drop the parsed shared parts kept (the verifier reads the table afresh)."""
        self._shared.clear()
        self._pieces.clear()

    def shared(self, key: str) -> dict[str, Any] | None:
        """A shared explanation part, parsed (None if it is missing)."""
        part = self._shared.get(key)
        if part is None:
            row = self.conn.execute("SELECT body FROM shared_explanations WHERE hash = ?", (key,)).fetchone()
            if row is None:
                return None
            if len(self._shared) >= SHARED_CACHE:
                self._shared.clear()
                self._pieces.clear()
            part = self._shared[key] = json.loads(row[0])
        return part

    def explanation(self, row: Any) -> dict[str, Any]:
        """A row's whole explanation: its own part merged with the part its dispatch shares (KeyError if that
        part is missing)."""
        return self.explanation_of(row["explanation"])

    def explanation_of(self, text: str) -> dict[str, Any]:
        """`explanation` from a row's stored explanation text."""
        own, key, shared = self._parts_of(text)
        return own if key is None else merge(shared, own)

    def _parts_of(self, text: str) -> tuple[dict[str, Any], str | None, Any]:
        """A row's own part (without its link), the key of the part it shares and that part (KeyError if the
        link names a missing one; None, None when it shares none)."""
        own: dict[str, Any] = json_loads(text)
        key = own.pop(SHARED_KEY, None)
        if key is None:
            return own, None, None
        shared = self.shared(key)
        if shared is None:
            raise KeyError(f"shared explanation {key} is missing")
        return own, key, shared

    def explained(self, text: str) -> dict[str, Any] | Explanation:
        """`explanation_of(text)`, or the very `Explanation` that `Explanation.from_dict` makes of it: when the row
        shares its dispatch's part and both parts are plainly of their types, the shared part's inputs,
        parameters, steps and rules are prepared once per part (`audit verify` reads hundreds of thousands of
        rows of a few parts) instead of being merged anew into a dict for each row. Raises what
        `explanation_of` raises, in the same steps; anything unusual takes `explanation_of`'s own path."""
        own, key, shared = self._parts_of(text)
        if key is None:
            return own
        kept = self._pieces.get(key)
        if kept is None or kept[0] is not shared:
            kept = self._pieces[key] = (shared, _pieces(shared))
        pieces = kept[1]
        inputs = own.get("inputs", _NONE)
        parameters = own.get("parameters", _NONE)
        steps = own.get("steps", _NO_LIST)
        rules = own.get("rules", _NO_LIST)
        if (
            pieces is None
            or inputs.__class__ is not dict
            or parameters.__class__ is not dict
            or steps.__class__ is not list
            or rules.__class__ is not list
        ):
            return merge(shared, own)
        s_inputs, s_parameters, s_steps, s_rules, s_rule_set = pieces
        if rules:
            if any(r.__class__ is not str for r in rules):
                return merge(shared, own)
            s_rules = s_rules + tuple([r for r in rules if r not in s_rule_set])
        return Explanation(
            {**s_inputs, **inputs}, {**s_parameters, **parameters}, s_steps + tuple(steps), s_rules
        )

    def recorded(self, row: Any) -> RecordedEntitlement:
        """A stored row as the value schemes read back (its explanation as `explained` makes it: a dispatch's shared
        part prepared once, not merged anew for each row)."""
        return recorded_entitlement(row, self.explained(row["explanation"]))

    def shared_parts(self) -> Iterable[tuple[str, str]]:
        """(hash, body) of every shared explanation part (streamed)."""
        return streamed(self.conn, "SELECT hash, body FROM shared_explanations ORDER BY rowid", named=False)

    def rows(
        self,
        company: str | None = None,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
        exact_period: bool = False,
    ) -> list[sqlite3.Row]:
        """Rows in recording order; `period`: those overlapping it (`exact_period`: those of exactly it)."""
        return select(self.conn, *_filtered(company, scheme, period, employee, exact_period))

    def each_row(
        self,
        company: str | None = None,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> Iterator[sqlite3.Row]:
        """`rows`, streamed: read as they are consumed (a company's year of 200 000 people is never held as rows
        at once, on SQLite or PostgreSQL)."""
        yield from streamed(self.conn, *_filtered(company, scheme, period, employee))

    def get(self, entitlement_id: str) -> sqlite3.Row | None:
        rows = select(self.conn, "SELECT * FROM entitlements WHERE id = ?", [entitlement_id])
        return rows[0] if rows else None

    def get_many(self, ids: Sequence[str]) -> list[sqlite3.Row]:
        out: list[sqlite3.Row] = []
        for part in chunks(ids):
            marks = ", ".join("?" for _ in part)
            out += select(self.conn, f"SELECT * FROM entitlements WHERE id IN ({marks})", part)
        return out

    def all(self) -> Iterable[sqlite3.Row]:
        """Every row in recording order (streamed)."""
        return streamed(self.conn, "SELECT * FROM entitlements ORDER BY seq")

    def tuples(self) -> Iterable[tuple[Any, ...]]:
        """Every row in recording order (streamed) as plain tuples of `TUPLE_COLUMNS` (no per-row object)."""
        return streamed(
            self.conn, f"SELECT {', '.join(TUPLE_COLUMNS)} FROM entitlements ORDER BY seq", named=False
        )

    def of_dispatch(self, company: str, event_id: str, scheme: str) -> list[sqlite3.Row]:
        """What one dispatch (of the company's event) recorded, in recording order."""
        return select(
            self.conn,
            "SELECT * FROM entitlements WHERE event_id = ? AND scheme = ? AND company = ? ORDER BY seq",
            [event_id, scheme, company],
        )

    def ids_of_dispatch(self, company: str, event_id: str, scheme: str) -> list[str]:
        """Ids of what one dispatch (of the company's event) recorded, in recording order."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM entitlements WHERE event_id = ? AND scheme = ? AND company = ? ORDER BY seq",
                (event_id, scheme, company),
            )
        ]

    def statuses(self, unless_due_unpaid: bool = False) -> Iterable[tuple[str, int, str]]:
        """(id, amount_cents, status) of every row, in recording order (streamed). `unless_due_unpaid`: without
        the rows that are due and have no payment (most of them; `audit verify` has nothing to check in them),
        which SQLite leaves out without making a row of each."""
        where = (
            " WHERE status <> 'due' OR status IS NULL OR id IN (SELECT entitlement FROM payments)"
            if unless_due_unpaid
            else ""
        )
        return streamed(
            self.conn, f"SELECT id, amount_cents, status FROM entitlements{where} ORDER BY seq", named=False
        )

    def any_after(self, seq: int) -> bool:
        """Whether a row comes after `seq` (one recorded since a walk that read up to it)."""
        return (
            self.conn.execute("SELECT 1 FROM entitlements WHERE seq > ? LIMIT 1", (seq,)).fetchone()
            is not None
        )

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM entitlements").fetchone()[0])

    def set_status(self, entitlement_id: str, status: str) -> None:
        self.conn.execute("UPDATE entitlements SET status = ? WHERE id = ?", (status, entitlement_id))

    def totals_by_employee(self, company: str, scheme: str, period: Period) -> list[tuple[str, int]]:
        """(employee, rights) of one scheme's calculation period: principal and corrections, interest apart."""
        return [
            (r[0], int(r[1]))
            for r in self.conn.execute(
                "SELECT employee, SUM(amount_cents) FROM entitlements WHERE company = ? AND scheme = ? "
                "AND period_start = ? AND period_end = ? AND kind != 'interest' GROUP BY employee",
                (company, scheme, period.start.isoformat(), period.end.isoformat()),
            )
        ]

    def periods(self, company: str, scheme: str) -> list[str]:
        """The calculation periods ("start..end") a company has entitlements of `scheme` for, latest first."""
        return [
            f"{r[0]}..{r[1]}"
            for r in self.conn.execute(
                "SELECT DISTINCT period_start, period_end FROM entitlements WHERE company = ? AND scheme = ? "
                "ORDER BY period_start DESC, period_end DESC",
                (company, scheme),
            )
        ]

    def summary(self) -> list[tuple[str, str, int, int, int]]:
        """(scheme, kind, entitlements, total cents, employees) over the whole ledger."""
        return [
            (r[0], r[1], r[2], int(r[3] or 0), r[4])
            for r in self.conn.execute(
                "SELECT scheme, kind, COUNT(*), SUM(amount_cents), COUNT(DISTINCT employee) FROM entitlements "
                "GROUP BY scheme, kind ORDER BY scheme, kind"
            )
        ]

    def schemes(self) -> list[str]:
        """The schemes that recorded an entitlement in this ledger."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT scheme FROM entitlements ORDER BY scheme")]

    def open_with_due_date(self, company: str | None) -> Iterator[Sequence[Any]]:
        """(id, company, employee, scheme, due_date, outstanding cents, social_regime, kind) of what has a due
        date and is not wholly paid, by company, due date, employee and recording order. Outstanding cents are
        net of the negative corrections that cut the entitlement or the principal (or advance) it corrects (a
        recomputation, docs/after-computation.md), absorbed in recording order: the payroll pays the principal and
        its raises and recovers the cut, or pays their net; either way nothing more is owed
        (`schema.NET_OUTSTANDING`)."""
        # of one company: the window reads its rows only, and gives only theirs (a vendor's 2 000 companies, one at a
        # time, each read alone)
        net, args = (NET_OUTSTANDING_OF_COMPANY, [company] * 3) if company else (NET_OUTSTANDING, [])
        sql = (
            "SELECT e.id, e.company, e.employee, e.scheme, e.due_date, n.net_cents, e.social_regime, e.kind "
            f"FROM entitlements e JOIN ({net}) n ON n.id = e.id "
            "WHERE e.due_date IS NOT NULL AND n.net_cents > 0"
        )
        # streamed: `paybonus deadlines` of a large employer writes them as they come
        return streamed(
            self.conn, sql + " ORDER BY e.company, e.due_date, e.employee, e.seq", args, named=False
        )
