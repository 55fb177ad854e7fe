"""The event bus: records each event once, then dispatches it to every interested scheme.

Each scheme runs in its own transaction: its entitlements, findings, audit entries and dispatch record commit
together or not at all. A scheme that raises is rolled back alone, its failure kept as a dead letter
(`dispatches.status = 'failed'`) and logged; `retry` runs it again. An event already recorded is acknowledged
and changes nothing, except that dispatches an interrupted run never started are run then (crash recovery).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import structlog
from attrs import frozen
from paybonus.hooks.types import (
    CompanyInfo,
    EntitlementDraft,
    Finding,
    Kind,
    RecordedEntitlement,
    SchemeDescriptor,
    SchemeResult,
)

from . import audit, payments
from .calendar import Period
from .config import CompanyConfig, parse_company_toml, scheme_config
from .errors import SchemeError, UserError
from .events import CORE_CHECKED, Event, canonical_json
from .host import PluginHost
from .ledger import ENTITLEMENT_COLUMNS, Ledger, recorded_entitlement
from .params import Parameters
from .payroll import Population

log = structlog.get_logger("paybonus.bus")

COMPLETED, FAILED = "completed", "failed"
# populations kept between dispatches: always the last 3 (a year and a few months of one company), and more while
# they hold fewer than POPULATION_BUDGET employees in all (a vendor's many small companies, whose closes interleave)
POPULATION_CACHE = 3
POPULATION_BUDGET = 250_000


@frozen
class DispatchOutcome:
    event_id: str
    scheme: str
    status: str  # completed | failed
    entitlements: int = 0
    error: str | None = None


@frozen
class PublishOutcome:
    event_id: str
    duplicate: bool
    dispatches: tuple[DispatchOutcome, ...]


class Context:
    """What a scheme may read while it computes (see `paybonus.hooks.SchemeContext`)."""

    def __init__(self, bus: EventBus, company: CompanyInfo, config: Any, scheme: SchemeDescriptor) -> None:
        self._bus = bus
        self.company = company
        self.config = config
        self.params = bus.params
        self.scheme = scheme

    def population(self, period: Period) -> Population:
        return self._bus.population(self.company, period)

    def events(
        self, type: str, period: Period | None = None, employee: str | None = None
    ) -> list[Event[Any]]:
        out = []
        for event in self._bus.recorded_events(self.company.id, type, employee):
            if period is None or getattr(event.payload, "period", None) == period:
                out.append(event)
        return out

    def entitlements(
        self, scheme: str | None = None, period: Period | None = None, employee: str | None = None
    ) -> list[RecordedEntitlement]:
        rows = self._bus.ledger.entitlement_rows(self.company.id, scheme, period, employee)
        return [recorded_entitlement(r) for r in rows]


class EventBus:
    """Publish events to the schemes of a plugin host, recording everything in a ledger."""

    def __init__(
        self,
        ledger: Ledger,
        host: PluginHost,
        params: Parameters | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ledger = ledger
        self.host = host
        self.params = params or Parameters.default()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._companies: dict[str, tuple[str, CompanyConfig]] = {}
        # read-through caches, keyed on what the company's last `load` stored: a reload invalidates them
        self._configs: dict[tuple[str, str, str], Any] = {}
        self._events: dict[str, Event[Any]] = {}
        self._populations: OrderedDict[tuple[str, Period, str], Population] = OrderedDict()
        self._cached_employees = 0

    def population(self, company: CompanyInfo, period: Period) -> Population:
        """The period's population from the payroll source; the last few are kept (schemes share them)."""
        key = (company.id, period, self._loaded_at(company.id))
        if key in self._populations:
            self._populations.move_to_end(key)
            return self._populations[key]
        source = self.host.payroll_source(company, self.ledger)
        pop = source.population(company.id, period)
        self._populations[key] = pop
        self._cached_employees += len(pop.employees)
        while len(self._populations) > POPULATION_CACHE and self._cached_employees > POPULATION_BUDGET:
            self._cached_employees -= len(self._populations.popitem(last=False)[1].employees)
        return pop

    def scheme_config(self, config: CompanyConfig, scheme: SchemeDescriptor) -> Any:
        key = (config.info.id, scheme.name, config.toml)
        if key not in self._configs:
            self._configs[key] = scheme_config(config, scheme, f"company {config.info.id}")
        return self._configs[key]

    def recorded_events(self, company: str, type: str, employee: str | None = None) -> list[Event[Any]]:
        """Recorded events of a type, in order. Events never change, so each is parsed once per bus."""
        sql = "SELECT id FROM events WHERE company = ? AND type = ?"
        args: list[Any] = [company, type]
        if employee is not None:
            sql += " AND json_extract(payload, '$.employee') = ?"
            args.append(employee)
        ids = [r[0] for r in self.ledger.conn.execute(sql + " ORDER BY seq", args)]
        missing = [i for i in ids if i not in self._events]
        for chunk in range(0, len(missing), 500):
            part = missing[chunk : chunk + 500]
            cur = self.ledger.conn.cursor()
            cur.row_factory = sqlite3.Row
            marks = ", ".join("?" for _ in part)
            for row in cur.execute(f"SELECT * FROM events WHERE id IN ({marks})", part):
                self._events[row["id"]] = self.event_from_row(row)
        return [self._events[i] for i in ids]

    def _loaded_at(self, company: str) -> str:
        row = self.ledger.conn.execute("SELECT loaded_at FROM companies WHERE id = ?", (company,)).fetchone()
        return row[0] if row else ""

    # -- checks ------------------------------------------------------------------------------------------

    def company(self, company_id: str) -> CompanyConfig | None:
        digest = self.ledger.company_digest(company_id)  # not the text: a large plan's TOML is big
        if digest is None:
            return None
        cached = self._companies.get(company_id)
        if cached is None or cached[0] != digest:
            toml = self.ledger.company_toml(company_id) or ""
            cached = (digest, parse_company_toml(toml, f"company {company_id} (stored)"))
            self._companies[company_id] = cached
        return cached[1]

    def check(self, event: Event[Any], where: str = "", pending: dict[str, int] | None = None) -> None:
        """Refuse what cannot be recorded: unknown type or company, an id reused for other content, a payment
        above what is due (`pending`: payments earlier in the same batch)."""
        where = where or f"event {event.id}"
        if event.type not in self.host.event_types:
            raise UserError(where, f"type: unknown event type {event.type!r}")
        if self.company(event.company) is None:
            raise UserError(
                where, f"company: unknown company {event.company!r} (load it first with `paybonus load`)"
            )
        known = self.ledger.event_digest(event.id)
        if known is not None and known != event.digest():
            raise UserError(where, f"id: {event.id!r} was already recorded with different content")
        if event.type in CORE_CHECKED and known is None:
            try:
                payments.check(self.ledger, event, {} if pending is None else pending, self.params)
            except ValueError as exc:
                raise UserError(where, str(exc)) from None
        check = self.host.event_types.get(event.type).check
        if check is not None:
            try:
                check(event, self.ledger)
            except ValueError as exc:
                raise UserError(where, str(exc)) from None

    def check_all(self, events: Sequence[tuple[str, Event[Any]]]) -> None:
        """Check a batch before writing anything; also refuses one id used twice with different content."""
        seen: dict[str, tuple[str, str]] = {}
        pending: dict[str, int] = {}
        for where, event in events:
            self.check(event, where, pending if event.id not in seen else {})
            digest = event.digest()
            if event.id in seen and seen[event.id][1] != digest:
                raise UserError(
                    where,
                    f"id: {event.id!r} is used again with different content (first at {seen[event.id][0]})",
                )
            seen.setdefault(event.id, (where, digest))

    # -- publishing --------------------------------------------------------------------------------------

    def publish(self, event: Event[Any]) -> PublishOutcome:
        """Record `event` once and dispatch it. Raises UserError (nothing written) if it cannot be recorded."""
        self.check(event)
        return self._publish_checked(event)

    def publish_all(
        self, events: Sequence[tuple[str, Event[Any]]], on_progress: Callable[[int], None] | None = None
    ) -> list[PublishOutcome]:
        """Check every event first (nothing is written if one is bad), then publish them in order."""
        self.check_all(events)
        out = []
        for i, (_, event) in enumerate(events, 1):
            out.append(self._publish_checked(event))
            if on_progress:
                on_progress(i)
        return out

    def _publish_checked(self, event: Event[Any]) -> PublishOutcome:
        duplicate = self.ledger.event_digest(event.id) is not None or not self._record(event)
        if duplicate:
            log.info("bus.event.duplicate", event_id=event.id, type=event.type, company=event.company)
        done = self.ledger.dispatch_statuses(event.id)
        outcomes = [
            self._dispatch(event, scheme, attempt=1)
            for scheme in self._interested(event)
            if scheme.name not in done
        ]
        return PublishOutcome(event.id, duplicate, tuple(outcomes))

    def _record(self, event: Event[Any]) -> bool:
        """Record the event; False if another publisher recorded it first (checked under the write lock)."""
        at = self.clock().isoformat()
        digest = event.digest()
        d = event.to_dict()
        with self.ledger.write() as conn:
            if self.ledger.event_digest(event.id) is not None:
                return False
            conn.execute(
                "INSERT INTO events (id, type, company, occurred_at, payload, digest, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    event.type,
                    event.company,
                    d["occurred_at"],
                    canonical_json(d["payload"]),
                    digest,
                    at,
                ),
            )
            extra = payments.record(conn, event, at)
            head = audit.append(conn, at, [("event.recorded", event.id, digest), *extra])
        log.info("bus.event.recorded", event_id=event.id, type=event.type, company=event.company)
        log.debug("audit.chain.head", seq=head.seq, hash=head.hash)
        return True

    def _interested(self, event: Event[Any]) -> list[SchemeDescriptor]:
        config = self.company(event.company)
        if config is None:
            return []
        return [s for s in self.host.interested(event.type) if s.name in config.schemes]

    # -- dispatching -------------------------------------------------------------------------------------

    def _dispatch(self, event: Event[Any], scheme: SchemeDescriptor, attempt: int) -> DispatchOutcome:
        t0 = time.perf_counter()
        at = self.clock().isoformat()
        ref = f"{event.id}/{scheme.name}"
        try:
            with self.ledger.write() as conn:
                if self._completed(event.id, scheme.name):  # another publisher did it meanwhile
                    return DispatchOutcome(event.id, scheme.name, COMPLETED, 0)
                config = self.company(event.company)
                assert config is not None
                ctx = Context(self, config.info, self.scheme_config(config, scheme), scheme)
                result = scheme.compute(event, ctx)
                findings, summary = self._findings(scheme, event, result)
                recorded: list[tuple[str, str]] = []  # (id, digest): rows are streamed, never all in memory
                self.ledger.insert_many(
                    conn, "entitlements", ENTITLEMENT_COLUMNS, self._rows(event, scheme, result, at, recorded)
                )
                if findings:
                    self.ledger.insert_many(
                        conn,
                        "findings",
                        ("event_id", "scheme", "level", "rule", "message", "employee"),
                        findings,
                    )
                ids = [i for i, _ in recorded]
                entries = [("entitlement.recorded", i, digest) for i, digest in recorded]
                entries.append(
                    (
                        "dispatch.completed",
                        ref,
                        audit.dispatch_digest(event.id, scheme.name, COMPLETED, ids, None),
                    )
                )
                head = audit.append(conn, at, entries)
                self._upsert_dispatch(
                    conn, event.id, scheme, COMPLETED, attempt, None, None, summary, len(ids), at
                )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc(limit=20)
            with self.ledger.write() as conn:
                if self._completed(event.id, scheme.name):
                    return DispatchOutcome(event.id, scheme.name, COMPLETED, 0)
                self._upsert_dispatch(conn, event.id, scheme, FAILED, attempt, error, tb, None, 0, at)
                head = audit.append(
                    conn,
                    at,
                    [
                        (
                            "dispatch.failed",
                            ref,
                            audit.dispatch_digest(event.id, scheme.name, FAILED, [], error),
                        )
                    ],
                )
            log.error(
                "bus.dispatch.failed",
                event_id=event.id,
                scheme=scheme.name,
                attempt=attempt,
                error_type=type(exc).__name__,
                duration_ms=round((time.perf_counter() - t0) * 1000, 1),
            )
            log.debug("audit.chain.head", seq=head.seq, hash=head.hash)
            return DispatchOutcome(event.id, scheme.name, FAILED, 0, error)
        for f in result.findings:
            emit = {"info": log.info, "error": log.error}.get(f.level, log.warning)
            emit("bus.dispatch.finding", event_id=event.id, scheme=scheme.name, rule=f.rule)
        log.info(
            "bus.dispatch.completed",
            event_id=event.id,
            scheme=scheme.name,
            attempt=attempt,
            entitlements=len(ids),
            findings=len(findings),
            duration_ms=round((time.perf_counter() - t0) * 1000, 1),
        )
        log.debug("audit.chain.head", seq=head.seq, hash=head.hash)
        if ids:
            self.host.notify_recorded(event, scheme.name, ids)
        return DispatchOutcome(event.id, scheme.name, COMPLETED, len(ids))

    def _completed(self, event_id: str, scheme: str) -> bool:
        return self.ledger.dispatch_statuses(event_id).get(scheme) == COMPLETED

    def _findings(
        self, scheme: SchemeDescriptor, event: Event[Any], result: Any
    ) -> tuple[list[tuple[Any, ...]], str]:
        """The result's findings as rows, and its summary as JSON; refuses what is not a SchemeResult."""
        if not isinstance(result, SchemeResult):
            raise SchemeError(f"scheme {scheme.name} returned {type(result).__name__}, not a SchemeResult")
        findings = []
        for f in result.findings:
            if not isinstance(f, Finding):
                raise SchemeError(f"scheme {scheme.name} returned {type(f).__name__}, not a Finding")
            findings.append((event.id, scheme.name, f.level, f.rule, f.message, f.employee))
        return findings, canonical_json(dict(result.summary))

    def _rows(
        self,
        event: Event[Any],
        scheme: SchemeDescriptor,
        result: SchemeResult,
        at: str,
        recorded: list[tuple[str, str]],
    ) -> Iterator[tuple[Any, ...]]:
        """Entitlement rows, one at a time, each checked; appends (id, digest) to `recorded`. A bad draft
        raises inside the dispatch's transaction, so nothing of the dispatch is kept."""
        seen: set[str] = set()
        for d in result.entitlements:
            if not isinstance(d, EntitlementDraft):
                raise SchemeError(
                    f"scheme {scheme.name} returned {type(d).__name__}, not an EntitlementDraft"
                )
            if type(d.amount_cents) is not int:
                raise SchemeError(
                    f"scheme {scheme.name}: amount_cents must be an int (cents), got {type(d.amount_cents).__name__}"
                )
            if d.kind is Kind.PRINCIPAL and d.amount_cents < 0:
                raise SchemeError(f"scheme {scheme.name}: a principal entitlement cannot be negative")
            if d.kind is not Kind.PRINCIPAL and d.corrects is None:
                raise SchemeError(
                    f"scheme {scheme.name}: a {d.kind} must reference the entitlement it relates to"
                )
            # the id names the computation, not the delivery: the draft's key (default: the event id) lets a
            # scheme that needs two facts give the same ids whichever fact arrived last
            key = f"{event.company}|{scheme.name}|{d.employee}|{d.period.key}|{d.kind}|{d.key or event.id}"
            ident = "ENT-" + hashlib.sha256(key.encode()).hexdigest()[:20]
            if ident in seen:
                raise SchemeError(
                    f"scheme {scheme.name} returned two entitlements for one employee, period and kind"
                )
            seen.add(ident)
            dsn = d.dsn or scheme.dsn
            row = {
                "id": ident,
                "scheme": scheme.name,
                "scheme_version": scheme.version,
                "company": event.company,
                "employee": d.employee,
                "period_start": d.period.start.isoformat(),
                "period_end": d.period.end.isoformat(),
                "amount_cents": d.amount_cents,
                "kind": str(d.kind),
                "social_regime": str(scheme.social_regime),
                "dsn_block": dsn.block,
                "dsn_code": dsn.code,
                "due_date": d.due_date.isoformat() if isinstance(d.due_date, date) else None,
                "status": "due",
                "event_id": event.id,
                "corrects": d.corrects,
                "explanation": canonical_json(d.explanation.to_dict()),
                "recorded_at": at,
            }
            digest = audit.entitlement_digest(row)
            recorded.append((ident, digest))
            yield (*tuple(row[c] for c in ENTITLEMENT_COLUMNS[:-2]), digest, at)

    def _upsert_dispatch(
        self,
        conn: Any,
        event_id: str,
        scheme: SchemeDescriptor,
        status: str,
        attempt: int,
        error: str | None,
        tb: str | None,
        summary: str | None,
        count: int,
        at: str,
    ) -> None:
        conn.execute(
            "INSERT INTO dispatches (event_id, scheme, scheme_version, status, attempts, error, traceback, summary, "
            "entitlements, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id, scheme) DO UPDATE "
            "SET scheme_version = excluded.scheme_version, status = excluded.status, attempts = excluded.attempts, "
            "error = excluded.error, traceback = excluded.traceback, summary = excluded.summary, "
            "entitlements = excluded.entitlements, updated_at = excluded.updated_at",
            (event_id, scheme.name, scheme.version, status, attempt, error, tb, summary, count, at),
        )

    # -- retry -------------------------------------------------------------------------------------------

    def pending(self) -> list[tuple[Event[Any], SchemeDescriptor, int]]:
        """Dispatches still to do: failed ones, and those an interrupted run never started. In event order."""
        out: list[tuple[Event[Any], SchemeDescriptor, int]] = []
        failed = {(r["event_id"], r["scheme"]): r["attempts"] for r in self.ledger.failed_dispatches()}
        for row in self.ledger.event_rows():
            event = self.event_from_row(row)
            statuses = self.ledger.dispatch_statuses(event.id)
            for scheme in self._interested(event):
                if scheme.name not in statuses:
                    out.append((event, scheme, 0))
                elif (event.id, scheme.name) in failed:
                    out.append((event, scheme, failed[(event.id, scheme.name)]))
        for (event_id, scheme_name), _ in failed.items():
            if scheme_name not in self.host.schemes:
                log.warning("bus.retry.scheme_missing", event_id=event_id, scheme=scheme_name)
        return out

    def retry(self, event_id: str | None = None, scheme: str | None = None) -> list[DispatchOutcome]:
        """Run failed and never-started dispatches again, optionally only for one event or scheme."""
        outcomes = []
        for event, s, attempts in self.pending():
            if (event_id and event.id != event_id) or (scheme and s.name != scheme):
                continue
            log.info("bus.dispatch.retry", event_id=event.id, scheme=s.name, attempt=attempts + 1)
            outcomes.append(self._dispatch(event, s, attempt=attempts + 1))
        return outcomes

    def event_from_row(self, row: Any) -> Event[Any]:
        data = {
            "id": row["id"],
            "type": row["type"],
            "company": row["company"],
            "occurred_at": row["occurred_at"],
            "payload": json.loads(row["payload"]),
        }
        return self.host.event_types.from_dict(data)


def read_events(host: PluginHost, path: str, lines: Iterable[str]) -> list[tuple[str, Event[Any]]]:
    """Parse a JSON-lines file into (where, event) pairs; the first bad line raises UserError."""
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            out.append((where, host.event_types.from_json(line)))
        except ValueError as exc:
            raise UserError(where, str(exc)) from None
    return out
