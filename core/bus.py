"""The event bus: admit -> record -> for each interested scheme: compute -> record the dispatch.

Admission checks each event once (nothing is written when one is refused). The store records the event under its
company and id (ids are unique per company); a duplicate is acknowledged and changes nothing, except that dispatches an interrupted run never started are
run then (crash recovery). Each interested scheme's handler computes from a read-only context, outside any write
transaction and under a time limit; the store then records its entitlements, findings, audit entries and
dispatch row in one short transaction (a new event's first scheme and the schemes right after it that read only
their own entitlements: computed from one read, recorded with the event in one). A scheme that fails is recorded as a dead letter and the others carry on;
`retry` runs it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import traceback
from collections.abc import Callable, Iterator, Sequence, Sized
from datetime import UTC, date, datetime
from typing import Any

from attrs import define, field, frozen
from paybonus.hooks.types import (
    DispatchStatus,
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    Level,
    SchemeDescriptor,
    SchemeResult,
)

from . import guard, heap, logs, payments
from .admission import Admission, Admitted
from .caches import Caches
from .calendar import Period
from .context import Context
from .errors import PartlyPublished, SchemeError, UserError
from .events import Event, canonical_json
from .host import PluginHost
from .in_force import SchemesInForce
from .params import Parameters
from .store import DispatchRecord, EntitlementRow, EventRecord, Ledger, LedgerReader, StaleRead
from .store.dispatches import FindingRow
from .store.entitlements import SHARED_KEY, DraftColumns, new_rows, shared_hash
from .store.ledger import CompanyVersion, DispatchInputs, Overpaid

log = logs.get_logger("paybonus.bus")

COMPLETED, FAILED = DispatchStatus.COMPLETED, DispatchStatus.FAILED
MAX_ENTITLEMENT_CENTS = 10**11  # one person's entitlement: a billion euros is a fault, never a bonus
STALE_RETRIES = 3  # another writer changed what a computation read: compute again, at most this often
BATCH = 256  # single-employee events of one company computed and recorded together, at most
GROUP = 64  # units of distinct companies recorded in one transaction, at most (`_group`)
# and no more entitlement drafts (a batch's rows) held for it than about this when a unit is to be computed
GROUP_ROWS = 20_000
_UNSET: Any = object()  # no draft read yet
PRINCIPAL = Kind.PRINCIPAL
_KIND_TEXT = {k: str(k) for k in Kind}  # the text an entitlement row stores (and its id hashes) for a kind


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


@define
class _Prepared:
    """A unit of a group (`EventBus._group`), computed; then what recording it gave."""

    company: str
    events: list[Event[Any]]
    computed: list[tuple[Event[Any], SchemeDescriptor, SchemeResult, DispatchRecord, float]]
    rows: int  # entitlement drafts (a batch's rows, built) held until the group's commit
    failures: list[tuple[Event[Any], SchemeDescriptor, Exception, float]]  # recorded after the commit
    later: list[SchemeDescriptor]  # an event's schemes after one that failed: each dispatched after, alone
    heads: list[Any] = field(factory=list)
    recorded: list[tuple[Any, list[str]] | None] | None = None


def _held(record: DispatchRecord) -> int:
    """How many rows a record built before its transaction holds."""
    return len(record.rows) if isinstance(record.rows, Sized) else 0


class EventBus:
    """Publish events to the schemes of a plugin host, recording everything in a ledger."""

    def __init__(
        self,
        ledger: Ledger,
        host: PluginHost,
        params: Parameters | None = None,
        clock: Callable[[], datetime] | None = None,
        timeout: float | None = -1.0,
    ) -> None:
        """`timeout`: seconds a scheme may compute for one dispatch (None: no limit; default:
        `PAYBONUS_DISPATCH_TIMEOUT` or 15 minutes)."""
        self.ledger = ledger
        self.host = host
        self._params = params or Parameters.default()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.timeout = guard.timeout_from_env() if timeout == -1.0 else timeout
        self.caches = Caches(ledger)
        self._reader: LedgerReader | None = None
        self._params_document: str | None = None

    @property
    def params(self) -> Parameters:
        """The legal parameters computations use (each dispatch records which set)."""
        return self._params

    @params.setter
    def params(self, params: Parameters) -> None:
        # the same set again (the replay sets each dispatch's): its JSON is kept
        if params is not self._params:
            self._params, self._params_document = params, None

    @property
    def reader(self) -> LedgerReader:
        """The read-only view schemes compute from (reopened after a computation had to be abandoned)."""
        if self._reader is None:
            self._reader = LedgerReader.open(self.ledger.path, self.host.event_types)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def admission(self) -> Admission:
        return Admission(self.ledger, self.reader, self.host, self.caches, self.params, lambda: self.clock())

    # -- publishing --------------------------------------------------------------------------------------

    def admit(self, events: Sequence[tuple[str, Event[Any]]]) -> Admitted:
        """Check (where, event) pairs once; raises UserError, nothing written, if one is refused."""
        return self.admission.admit(events)

    def publish(self, event: Event[Any]) -> PublishOutcome:
        """Admit, record and dispatch one event. Raises UserError (nothing written) if it is refused."""
        return self.publish_admitted(self.admit([("", event)]))[0]

    def publish_all(
        self,
        events: Sequence[tuple[str, Event[Any]]] | Admitted,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[PublishOutcome]:
        """Admit the whole batch first (nothing is written if one is bad), then publish in order."""
        admitted = events if isinstance(events, Admitted) else self.admit(events)
        return self.publish_admitted(admitted, on_progress)

    def publish_admitted(
        self, admitted: Admitted, on_progress: Callable[[int], None] | None = None
    ) -> list[PublishOutcome]:
        out: list[PublishOutcome] = []
        events = admitted.events
        with guard.session(), heap.young_only():
            while len(out) < len(events):
                try:
                    # the company's configuration digest read once for choosing the batch and its schemes (about
                    # three statements an event); each computation still uses the one its `Ledger.version` read
                    with self.caches.pinned():
                        units = self._group(events, len(out))
                        if len(units) > 1:
                            out += self._publish_group(units)
                        else:
                            batch = units[0]
                            out += (
                                self._publish_batch(batch)
                                if len(batch) > 1
                                else [self._publish_one(batch[0])]
                            )
                except UserError as exc:  # refused while recording: another publisher paid meanwhile
                    if not any(not o.duplicate for o in out):
                        raise  # nothing of the file was written: a refusal like any other (exit 2)
                    raise PartlyPublished(
                        f"{exc}; the {sum(not o.duplicate for o in out)} events before it were recorded and "
                        "computed: fix this one and publish the file again (recorded events are acknowledged)"
                    ) from None
                heap.collect_young()
                if on_progress:
                    on_progress(len(out))
        return out

    def _batch(self, events: Sequence[Event[Any]], start: int) -> list[Event[Any]]:
        """The events from `start` that may be computed together: consecutive events of one company, each about
        another employee, that every interested scheme declares `per_employee` (at most BATCH of them)."""
        first = events[start]
        if not self._per_employee(first):
            return [first]
        batch, seen = [first], {first.subject("employee")}
        for event in events[start + 1 : start + BATCH]:
            employee = event.subject("employee")
            if event.company != first.company or employee in seen or not self._per_employee(event):
                break
            batch.append(event)
            seen.add(employee)
        return batch

    def _group(self, events: Sequence[Event[Any]], start: int) -> list[list[Event[Any]]]:
        """The units from `start` (`_batch`: an event, or single-employee events of one company) that may be
        recorded in one transaction: consecutive, each of another company, all new, none carrying a payment, each
        with schemes to run. An SQLite ledger only, holding no company's lock (a worker's message is one
        company's). A scheme reads only its own company (`SchemeContext`), so what each unit computes before the
        transaction is what it would compute after the units before it were committed."""
        first = self._batch(events, start)
        if (
            self.ledger.server is not None
            or self.ledger.events.held is not None
            or not self._groupable(first)
        ):
            return [first]
        units, companies, at = [first], {first[0].company}, start + len(first)
        while at < len(events) and len(units) < GROUP:
            unit = self._batch(events, at)
            if unit[0].company in companies or not self._groupable(unit):
                break
            units.append(unit)
            companies.add(unit[0].company)
            at += len(unit)
        return units

    def _groupable(self, unit: Sequence[Event[Any]]) -> bool:
        # an event whose later schemes read what its first records is published the usual way (`_prepare`): it
        # ends the group, so that a refusal of it stops the file there (`_publish_group`)
        later = self._interested(unit[0])[1:] if len(unit) == 1 else []
        if not all(s.reads_own_entitlements_only for s in later):
            return False
        return all(
            payments.payment_of(e) is None
            and self._interested(e)
            and self.ledger.events.digest(e.company, e.id) is None
            for e in unit
        )

    def _publish_group(self, units: Sequence[list[Event[Any]]]) -> list[PublishOutcome]:
        """`_group`'s units, each computed (`_prepare`), then all recorded in one write transaction, each unit in a
        part of its own (`Ledger.part`): one commit for up to GROUP companies' events instead of one each. A unit
        whose part is refused or finds its company changed is undone alone, and the group ends there: the first
        unit's is published the usual way after the commit, another's is computed again first in the next group
        (the usual way may refuse it, and then the file stops there with nothing after it written, as without
        groups). A unit to publish the usual way (`_prepare` None) likewise ends the group before it."""
        prepared: list[_Prepared | None] = []
        rows = 0
        for unit in units:
            if rows >= GROUP_ROWS:  # the computed rows are held until the commit: the rest in the next group
                break
            p = self._prepare(unit)
            if p is None:
                # published the usual way, which may refuse it (another publisher recorded its id with other
                # content): then the file stops there, as without groups, nothing after it written. So the group
                # ends before it; first, it is published alone
                if not prepared:
                    prepared.append(None)
                break
            prepared.append(p)
            rows += p.rows
        ready = [p for p in prepared if p is not None]
        if ready:
            with self.ledger.write(*{p.company for p in ready}):
                for i, p in enumerate(ready):
                    try:
                        # the unit's events shown as recorded while its rows are built (a scheme's drafts may be)
                        with self.reader.pending(p.events), self.ledger.part():
                            if p.computed:  # checked before its events lengthen the chain
                                self.ledger.check_unchanged(p.computed[0][3])
                            p.heads = [self._record_event(e) for e in p.events]
                            if any(h is None for h in p.heads):  # another publisher recorded one meanwhile
                                raise StaleRead(f"{p.company} {p.events[0].id}")
                            p.recorded = self.ledger.record_dispatches(
                                [c[3] for c in p.computed], checked=True
                            )
                    except Exception as exc:  # written again the usual way, which records what it is
                        # SQLite rolled the whole transaction back itself (a full disk): nothing left to go on with
                        if not self.ledger.conn.in_transaction:
                            raise
                        log.debug(
                            "bus.group.apart",
                            company=p.company,
                            events=len(p.events),
                            error=type(exc).__name__,
                        )
                        # the parts after it are not written (undone: none was): published after it, in the next
                        # group, so that if it is refused the file stops there as without groups. The first
                        # part's unit is published the usual way after the commit (written alone if it fails again)
                        del prepared[max(i, 1) :]
                        break
        out: list[PublishOutcome] = []
        for unit, p in zip(units, prepared, strict=False):
            if p is None or p.recorded is None:
                out += self._publish_batch(unit) if len(unit) > 1 else [self._publish_one(unit[0])]
                continue
            outcomes: dict[str, list[DispatchOutcome]] = {e.id: [] for e in unit}
            for event, head in zip(unit, p.heads, strict=True):
                self._log_recorded(event, head)
            for (event, scheme, result, _, t0), done in zip(p.computed, p.recorded, strict=True):
                outcomes[event.id].append(self._completed(event, scheme, 1, done, result, t0))
            for event, scheme, error, t0 in p.failures:  # after the dispatches, as `_publish_batch` does
                outcomes[event.id].append(self._failed(event, scheme, 1, error, t0))
            for scheme in p.later:
                outcomes[unit[0].id] += self._dispatch_configured(unit[0], scheme)
            out += [PublishOutcome(e.id, False, tuple(outcomes[e.id])) for e in unit]
        return out

    def _prepare(self, unit: Sequence[Event[Any]]) -> _Prepared | None:
        """A group's unit computed from the ledger as committed, its rows built, as `_publish_together` and
        `_publish_batch` compute new events: what fails is recorded after the commit, and an event's schemes after
        the one that failed are dispatched then, each alone. None: to publish the usual way (a scheme must read
        what another records first)."""
        company = unit[0].company
        version = self.ledger.version(company)
        computed: list[tuple[Event[Any], SchemeDescriptor, SchemeResult, DispatchRecord, float]] = []
        failures: list[tuple[Event[Any], SchemeDescriptor, Exception, float]] = []
        if len(unit) > 1:
            outcomes: dict[str, list[DispatchOutcome]] = {e.id: [] for e in unit}
            inputs = self._inputs(company, version)
            fresh = [True] * len(unit)
            self._compute_batch(unit, fresh, company, version, inputs, computed, failures, outcomes, True)
            return _Prepared(company, list(unit), computed, sum(_held(c[3]) for c in computed), failures, [])
        event = unit[0]
        schemes = self._interested(event, version.config_digest)
        if not schemes or len(self._one_read(schemes)) < len(schemes):
            return None
        rows = 0
        with self.reader.pending([event]):  # shown as recorded while they compute (and while written)
            for i, scheme in enumerate(schemes):
                t0 = time.perf_counter()
                try:
                    record, result = self._dispatch_record(event, scheme, 1, version)
                except Exception as exc:
                    return _Prepared(
                        company, [event], computed, rows, [(event, scheme, exc, t0)], schemes[i + 1 :]
                    )
                computed.append((event, scheme, result, record, t0))
                # its rows are built as they are written, each checked, as `_publish_together` builds them (a bad
                # draft undoes the part: the unit is published the usual way, which records the failure); until
                # then its drafts are held
                drafts = result.entitlements
                rows += len(drafts) if isinstance(drafts, Sized) else 0
        return _Prepared(company, [event], computed, rows, [], [])

    def _per_employee(self, event: Event[Any]) -> bool:
        schemes = self._interested(event)
        return (
            bool(schemes)
            and event.subject("employee") is not None
            and payments.payment_of(event) is None
            and all(event.type in s.per_employee for s in schemes)
        )

    def _publish_batch(self, batch: Sequence[Event[Any]]) -> list[PublishOutcome]:
        """Single-employee events of one company: recorded in one transaction, computed each from the same read
        of the ledger (each reads only its employee, so the order among them does not matter), their dispatches
        recorded in one transaction; if another writer changed the company meanwhile, one at a time. New events of
        a company this ledger holds (`_together`): computed first, then recorded with their dispatches in one
        transaction."""
        together = self._together(batch)
        if together:
            new = [True] * len(batch)
        else:
            with self.ledger.write(*{e.company for e in batch}):
                new = [self._record(event) for event in batch]
        company = batch[0].company
        version = self.ledger.version(company)
        inputs = self._inputs(company, version)
        computed: list[tuple[Event[Any], SchemeDescriptor, SchemeResult, DispatchRecord, float]] = []
        failures: list[tuple[Event[Any], SchemeDescriptor, Exception, float]] = []
        outcomes: dict[str, list[DispatchOutcome]] = {e.id: [] for e in batch}
        self._compute_batch(batch, new, company, version, inputs, computed, failures, outcomes, together)
        if together and failures:  # rare: the events, then the failures, as without `together`
            with self.ledger.write(company):
                for event in batch:
                    self._record(event)
            together = False
        if together:
            with self.ledger.write(company):
                if computed:  # before the events themselves lengthen the chain
                    self.ledger.check_unchanged(computed[0][3])
                heads = [self._record_event(event) for event in batch]
                if any(h is None for h in heads):  # pragma: no cover - none can be, under the held lock
                    raise StaleRead(f"batch of {len(batch)} events of {company}")
                recorded = self.ledger.record_dispatches([c[3] for c in computed], checked=True)
            for event, head in zip(batch, heads, strict=True):
                self._log_recorded(event, head)
            for (event, scheme, result, _, t0), head_ids in zip(computed, recorded, strict=True):
                outcomes[event.id].append(self._completed(event, scheme, 1, head_ids, result, t0))
            return [PublishOutcome(event.id, False, tuple(outcomes[event.id])) for event in batch]
        try:
            recorded = self.ledger.record_dispatches([c[3] for c in computed])
        except StaleRead:
            log.debug("bus.batch.stale", company=company, events=len(batch))
            for event, scheme, _, _, _ in computed:
                outcomes[event.id] += self._dispatch_configured(event, scheme)
        else:
            for (event, scheme, result, _, t0), head_ids in zip(computed, recorded, strict=True):
                outcomes[event.id].append(self._completed(event, scheme, 1, head_ids, result, t0))
        # after the batch's dispatches: a failure lengthens the company's chain, which the check of what the others
        # computed compares (recorded before them, it would make them all compute again, one at a time)
        for event, scheme, exc, t0 in failures:
            outcomes[event.id].append(self._failed(event, scheme, 1, exc, t0))
        return [
            PublishOutcome(event.id, not fresh, tuple(outcomes[event.id]))
            for event, fresh in zip(batch, new, strict=True)
        ]

    def _compute_batch(
        self,
        batch: Sequence[Event[Any]],
        new: Sequence[bool],
        company: str,
        version: CompanyVersion,
        inputs: DispatchInputs,
        computed: list[tuple[Event[Any], SchemeDescriptor, SchemeResult, DispatchRecord, float]],
        failures: list[tuple[Event[Any], SchemeDescriptor, Exception, float]],
        outcomes: dict[str, list[DispatchOutcome]],
        together: bool,
    ) -> None:
        """`_publish_batch`'s computations: each into `computed`, a failure into `failures` (recorded after the
        batch's dispatches; `together`: its event is not recorded yet either)."""
        in_force: SchemesInForce | None = None  # read once for the batch, if a duplicate lacks a dispatch
        for event, fresh in zip(batch, new, strict=True):
            if not fresh:
                log.info("bus.event.duplicate", event_id=event.id, type=event.type, company=company)
            done = {} if fresh else self.ledger.dispatches.statuses(company, event.id)
            for scheme in self._interested(event, version.config_digest):  # the digest just read, not again
                if scheme.name in done:
                    continue
                if not fresh:  # never started: owed only by a scheme in force when the event was recorded
                    in_force = in_force or SchemesInForce(self.ledger, company)
                    if not in_force.owes(company, event.id, scheme.name):
                        continue
                t0 = time.perf_counter()
                # shown on the reader in use now: a computation abandoned on a timeout leaves a new reader
                shown = self.reader.pending(batch) if together else contextlib.nullcontext()
                try:
                    with shown:
                        result = self._compute(event, scheme, version.config_digest)
                        at = self.clock().isoformat()
                        shared: dict[str, str] = {}
                        rows = list(
                            self._rows(event, scheme, result, at, shared)
                        )  # small: checked before writing
                    record = DispatchRecord(
                        event.id,
                        scheme.name,
                        scheme.version,
                        1,
                        rows,
                        self._findings(scheme, event, result),
                        canonical_json(dict(result.summary)),
                        at,
                        company,
                        inputs,
                        version,
                        shared,
                    )
                except Exception as exc:
                    failures.append((event, scheme, exc, t0))
                    continue
                computed.append((event, scheme, result, record, t0))

    def _together(self, events: Sequence[Event[Any]]) -> bool:
        """Whether new events may be recorded in the transaction that records their (first) dispatches, computed
        before it: this ledger holds their company's lock across transactions (a worker's message: nobody else
        writes the company meanwhile), none is recorded (admission read that under the lock: no statement), and
        none carries a payment (what a payment records, computations read; an event's own row they are shown,
        `LedgerReader.pending`). One write transaction an event instead of two; the same rows."""
        events_repo = self.ledger.events
        return events_repo.held is not None and all(
            e.company == events_repo.held
            and payments.payment_of(e) is None
            and events_repo.digest(e.company, e.id) is None
            for e in events
        )

    def _publish_together(self, event: Event[Any]) -> PublishOutcome:
        """A new event of the company this ledger holds (`_together`): its first scheme, and the schemes after it
        that read no other scheme's entitlements (`_one_read`), computed with the event shown as recorded, then
        the event and their dispatches recorded in one transaction; the other schemes after them, each in its own
        (each reads what the ones before recorded, as without this)."""
        # the schemes of the configuration the version read, which the transaction recording the event checks is
        # still the company's: not the digest the batch was chosen by, read before (a `load` may come between)
        version = self.ledger.version(event.company)
        schemes = self._interested(event, version.config_digest)
        if not schemes:
            return self._publish_apart(event)
        computed: list[tuple[SchemeDescriptor, DispatchRecord, SchemeResult, float]] = []
        failed: tuple[SchemeDescriptor, Exception, float] | None = (
            None  # a computation: it is recorded as failed
        )
        refused: Exception | None = None  # a draft refused while written: nothing was written
        stale = False
        # shown while they compute and while their rows are built, inside the transaction (a scheme's drafts may
        # be built as they are written); no longer once it is left, whatever happened: a scheme computed after
        # the event was recorded for real would see it twice
        with self.reader.pending([event]):
            for scheme in self._one_read(schemes):
                t0 = time.perf_counter()
                try:
                    record, result = self._dispatch_record(event, scheme, 1, version)
                except Exception as exc:
                    failed = (scheme, exc, t0)
                    break
                computed.append((scheme, record, result, time.perf_counter() - t0))  # its computing time
            if computed:
                w0 = time.perf_counter()
                try:
                    with self.ledger.write(event.company):
                        self.ledger.check_unchanged(computed[0][1])  # before the event lengthens the chain
                        head = self._record_event(event)
                        if head is None:  # only without a held lock: another publisher recorded it meanwhile
                            raise StaleRead(f"{event.company} {event.id}")
                        done = self.ledger.record_dispatches([c[1] for c in computed], checked=True)
                except StaleRead:
                    if (
                        self.ledger.events.held is not None
                    ):  # pragma: no cover - cannot be, under the held lock
                        raise
                    stale = True  # another publisher wrote meanwhile: nothing was written
                except Exception as exc:
                    refused = exc
                w0 = time.perf_counter() - w0  # the joint write's time, added to each scheme's own (logs)
        if stale:
            log.debug("bus.dispatch.stale", event_id=event.id, company=event.company, scheme=schemes[0].name)
            return self._publish_apart(event)
        outcomes: list[DispatchOutcome] = []
        if not computed or refused is not None:  # the event, then what failed, as without `together`
            if not self._record(event):  # another publisher recorded it meanwhile: published as a duplicate
                return self._publish_apart(event)
            if refused is not None and len(computed) > 1:
                # which scheme's draft was refused is not known: each computed again, in its own transaction
                rest = schemes
            elif refused is not None:
                scheme, _, _, spent = computed[0]
                outcomes.append(self._failed(event, scheme, 1, refused, time.perf_counter() - spent - w0))
                rest = schemes[1:]
            else:
                assert failed is not None
                outcomes.append(self._failed(event, failed[0], 1, failed[1], failed[2]))
                rest = schemes[1:]
        else:
            self._log_recorded(event, head)
            for (scheme, _, result, spent), recorded in zip(computed, done, strict=True):
                t0 = time.perf_counter() - spent - w0  # `duration_ms`: its computing and the joint write
                outcomes.append(self._completed(event, scheme, 1, recorded, result, t0))
            done = []
            rest = schemes[len(computed) :]
            if failed is not None:  # computed from the same read as it would have been after them
                outcomes.append(self._failed(event, failed[0], 1, failed[1], failed[2]))
                rest = rest[1:]
        computed.clear()  # their results and rows' ids: not held while the other schemes compute
        for scheme in rest:
            outcomes += self._dispatch_configured(event, scheme)
        return PublishOutcome(event.id, False, tuple(outcomes))

    @staticmethod
    def _one_read(schemes: Sequence[SchemeDescriptor]) -> list[SchemeDescriptor]:
        """The first scheme and the schemes right after it that read no other scheme's entitlements: computed
        from one read, what each computes is what it would compute after the ones before it were recorded."""
        group = list(schemes[:1])
        for scheme in schemes[1:]:
            if not scheme.reads_own_entitlements_only:
                break
            group.append(scheme)
        return group

    def _publish_one(self, event: Event[Any]) -> PublishOutcome:
        if self._interested(event) and (self._together([event]) or self._unheld_together(event)):
            return self._publish_together(event)
        return self._publish_apart(event)

    def _unheld_together(self, event: Event[Any]) -> bool:
        """`_together` for one new event of an SQLite ledger, which holds no company's lock across transactions:
        the event recorded in the transaction of its first dispatch too (one write transaction an event less, a
        third of a vendor month's), that transaction checking, as every dispatch's does, that nothing the
        computation read changed meanwhile; if something did, it writes nothing and the event is published as
        without this (`_publish_apart`)."""
        return (
            self.ledger.server is None
            and payments.payment_of(event) is None
            and self.ledger.events.digest(event.company, event.id) is None
        )

    def _publish_apart(self, event: Event[Any]) -> PublishOutcome:
        """The event recorded in its own transaction, then each scheme's dispatch in its own: those of the
        configuration in force when it was recorded (`paybonus.in_force`), read in that transaction where another
        process may `load` the company meanwhile (not under a held lock, which a load waits for)."""
        company = event.company
        with self.ledger.write(company):
            duplicate = not self._record(event)
            digest = None if self.ledger.events.held == company else self.ledger.companies.digest(company)
        done: dict[str, str] = {}  # a new event has no dispatch yet
        if duplicate:
            if self.ledger.events.digest(event.company, event.id) != event.digest():
                # admitted as new, then recorded by another publisher with other content: refused as admission
                # refuses it, none of this event's schemes run
                raise UserError(
                    f"event {event.id}",
                    f"id: {event.id!r} was already recorded with different content (company {event.company!r})",
                )
            log.info("bus.event.duplicate", event_id=event.id, type=event.type, company=event.company)
            done = self.ledger.dispatches.statuses(event.company, event.id)
        todo = [scheme for scheme in self._interested(event, digest) if scheme.name not in done]
        if duplicate and todo:  # never started: owed only by a scheme in force when the event was recorded
            in_force = SchemesInForce(self.ledger, event.company)
            todo = [scheme for scheme in todo if in_force.owes(event.company, event.id, scheme.name)]
        outcomes = [o for scheme in todo for o in self._dispatch_configured(event, scheme)]
        return PublishOutcome(event.id, duplicate, tuple(outcomes))

    def _record(self, event: Event[Any]) -> bool:
        """Record the event; False if it was already recorded (checked under the write lock)."""
        head = self._record_event(event)
        if head is None:
            return False
        self._log_recorded(event, head)
        return True

    def _record_event(self, event: Event[Any]) -> Any:
        """Record the event (inside a caller's transaction, or in its own); its chain's head, None if it was
        already recorded."""
        d = event.to_dict()  # `event.digest()` of the same dict: the payload is unstructured once, not twice
        record = EventRecord(
            event.id,
            event.type,
            event.company,
            d["occurred_at"],
            canonical_json(d["payload"]),
            Event.digest_of(d),
            event.subject("employee"),
            event.subject("entitlement"),
        )
        try:
            return self.ledger.record_event(record, payments.payment_of(event), self.clock().isoformat())
        except Overpaid as exc:  # another publisher paid meanwhile
            raise UserError(f"event {event.id}", str(exc)) from None

    def _log_recorded(self, event: Event[Any], head: Any) -> None:
        log.info("bus.event.recorded", event_id=event.id, type=event.type, company=event.company)
        log.debug("audit.chain.head", company=event.company, n=head.n, hash=head.hash)

    def _interested(self, event: Event[Any], digest: str | None = None) -> list[SchemeDescriptor]:
        config = self.caches.company(event.company, digest)
        if config is None:
            return []
        return [s for s in self.host.interested(event.type) if s.name in config.schemes]

    # -- dispatching -------------------------------------------------------------------------------------

    def _dispatch(self, event: Event[Any], scheme: SchemeDescriptor, attempt: int) -> DispatchOutcome:
        """Compute outside any transaction, then record if nothing the computation read changed meanwhile;
        after STALE_RETRIES such changes (another publisher of the company), compute and record under the lock."""
        outcome = self._dispatch_if(event, scheme, attempt, configured_only=False)
        assert outcome is not None  # only `configured_only` gives None
        return outcome

    def _dispatch_configured(self, event: Event[Any], scheme: SchemeDescriptor) -> list[DispatchOutcome]:
        """A publish's dispatch of a new or never-dispatched event: none if a `load` since the event was recorded
        removed the scheme from the company (as publishing the event again would not run it: `paybonus.in_force`),
        decided on the configuration the computation reads, which the record checks is still the company's."""
        outcome = self._dispatch_if(event, scheme, 1, configured_only=True)
        return [] if outcome is None else [outcome]

    def _dispatch_if(
        self, event: Event[Any], scheme: SchemeDescriptor, attempt: int, configured_only: bool
    ) -> DispatchOutcome | None:
        t0 = time.perf_counter()
        try:
            for _ in range(STALE_RETRIES):
                try:
                    version = self.ledger.version(event.company)
                    if configured_only and not self._configured(event, scheme, version.config_digest):
                        return None
                    done = self._compute_and_record(event, scheme, attempt, version)
                    break
                except StaleRead:
                    log.debug(
                        "bus.dispatch.stale", event_id=event.id, company=event.company, scheme=scheme.name
                    )
            else:
                with self.ledger.write(event.company):
                    if configured_only and not self._configured(event, scheme, None):
                        return None
                    done = self._compute_and_record(event, scheme, attempt, None)
        except Exception as exc:
            return self._failed(event, scheme, attempt, exc, t0)
        if done is None:  # another publisher completed it meanwhile
            return DispatchOutcome(event.id, scheme.name, COMPLETED, 0)
        head, ids, result = done
        return self._completed(event, scheme, attempt, (head, ids), result, t0)

    def _configured(self, event: Event[Any], scheme: SchemeDescriptor, digest: str | None) -> bool:
        """Whether the company's configuration (as `digest` names it; None: read now) still has the scheme."""
        if any(s.name == scheme.name for s in self._interested(event, digest or None)):
            return True
        log.info("bus.dispatch.unconfigured", event_id=event.id, company=event.company, scheme=scheme.name)
        return False

    def _completed(
        self,
        event: Event[Any],
        scheme: SchemeDescriptor,
        attempt: int,
        done: tuple[Any, list[str]] | None,
        result: SchemeResult,
        t0: float,
    ) -> DispatchOutcome:
        """Log and notify a recorded dispatch (`done` None: another publisher completed it meanwhile)."""
        if done is None:
            return DispatchOutcome(event.id, scheme.name, COMPLETED, 0)
        head, ids = done
        for f in result.findings:
            emit = {Level.INFO: log.info, Level.ERROR: log.error}.get(f.level, log.warning)
            emit(
                "bus.dispatch.finding",
                event_id=event.id,
                company=event.company,
                scheme=scheme.name,
                rule=f.rule,
            )
        log.info(
            "bus.dispatch.completed",
            event_id=event.id,
            company=event.company,
            scheme=scheme.name,
            attempt=attempt,
            entitlements=len(ids),
            findings=len(result.findings),
            duration_ms=round((time.perf_counter() - t0) * 1000, 1),
        )
        log.debug("audit.chain.head", company=event.company, n=head.n, hash=head.hash)
        if ids:
            self.host.notify_recorded(event, scheme.name, ids, self.timeout)
        return DispatchOutcome(event.id, scheme.name, COMPLETED, len(ids))

    def _compute_and_record(
        self, event: Event[Any], scheme: SchemeDescriptor, attempt: int, version: CompanyVersion | None
    ) -> tuple[Any, list[str], SchemeResult] | None:
        record, result = self._dispatch_record(event, scheme, attempt, version)
        done = self.ledger.record_dispatch(record)
        return None if done is None else (done[0], done[1], result)

    def _dispatch_record(
        self, event: Event[Any], scheme: SchemeDescriptor, attempt: int, version: CompanyVersion | None
    ) -> tuple[DispatchRecord, SchemeResult]:
        """Compute; what recording the result writes (its rows streamed, each checked as it is written). Without
        `version` (under the company's lock), computed from the configuration read now, which it records."""
        read = version if version is not None else self.ledger.version(event.company)
        inputs = self._inputs(event.company, read)
        result = self._compute(event, scheme, read.config_digest)
        at = self.clock().isoformat()
        shared: dict[str, str] = {}
        record = DispatchRecord(
            event.id,
            scheme.name,
            scheme.version,
            attempt,
            self._rows(event, scheme, result, at, shared),
            self._findings(scheme, event, result),
            canonical_json(dict(result.summary)),
            at,
            event.company,
            inputs,
            version,
            shared,
        )
        return record, result

    def _inputs(self, company: str, version: CompanyVersion | None = None) -> DispatchInputs:
        """What a computation reads besides the events and entitlements: parameters, configuration, payroll (as
        `version` read them, or read now)."""
        if self._params_document is None:
            self._params_document = canonical_json(self.params.to_document())
        if version is None:
            version = self.ledger.version(company)
        return DispatchInputs(
            self.params.digest(), self._params_document, version.config_digest, version.payroll_load
        )

    def _compute(
        self, event: Event[Any], scheme: SchemeDescriptor, digest: str | None = None
    ) -> SchemeResult:
        """The scheme's handler for the event type, as a guest: read-only, under the time limit. `digest`: the
        company's configuration as the caller read it (None: read it now)."""
        config = self.caches.company(event.company, digest or None)
        if config is None:  # pragma: no cover - admission refused unknown companies
            raise SchemeError(f"company {event.company!r} is not loaded")
        ctx = Context(
            self.host,
            self.reader,
            self.caches.populations,
            config.info,
            self.caches.scheme_config(config, scheme),
            scheme,
            self.params,
        )
        handler = scheme.handlers[event.type]
        try:
            result = guard.call(handler, event, ctx, timeout=self.timeout, what=f"scheme {scheme.name}")
        except guard.PluginTimeout:
            self._abandon_reader()
            raise
        if not isinstance(result, SchemeResult):
            raise SchemeError(f"scheme {scheme.name} returned {type(result).__name__}, not a SchemeResult")
        return result

    def _abandon_reader(self) -> None:
        """A computation is still running in its thread: give later ones a fresh connection and caches."""
        self._reader = None  # the abandoned thread keeps the old connection until it ends
        self.caches.clear_populations()

    def _failed(
        self, event: Event[Any], scheme: SchemeDescriptor, attempt: int, exc: BaseException, t0: float
    ) -> DispatchOutcome:
        # a plugin's message may quote a salary or a NIR: stored and shown without them (issue 13)
        error = logs.redact_text(f"{type(exc).__name__}: {exc}")
        detail = logs.redact_text("".join(traceback.format_exception(exc, limit=20)))
        head = self.ledger.record_failure(
            event.company,
            event.id,
            scheme.name,
            scheme.version,
            attempt,
            error,
            detail,
            self.clock().isoformat(),
        )
        if head is None:
            return DispatchOutcome(event.id, scheme.name, COMPLETED, 0)
        log.error(
            "bus.dispatch.failed",
            event_id=event.id,
            company=event.company,
            scheme=scheme.name,
            attempt=attempt,
            error_type=type(exc).__name__,
            duration_ms=round((time.perf_counter() - t0) * 1000, 1),
        )
        log.debug("audit.chain.head", company=event.company, n=head.n, hash=head.hash)
        return DispatchOutcome(event.id, scheme.name, FAILED, 0, error)

    def _findings(
        self, scheme: SchemeDescriptor, event: Event[Any], result: SchemeResult
    ) -> list[FindingRow]:
        out = []
        for f in result.findings:
            if not isinstance(f, Finding):
                raise SchemeError(f"scheme {scheme.name} returned {type(f).__name__}, not a Finding")
            out.append(
                FindingRow(event.company, event.id, scheme.name, str(f.level), f.rule, f.message, f.employee)
            )
        return out

    def _rows(
        self,
        event: Event[Any],
        scheme: SchemeDescriptor,
        result: SchemeResult,
        at: str,
        shared: dict[str, str],
    ) -> Iterator[EntitlementRow]:
        """Entitlement rows, one at a time, each checked. A bad draft raises inside the dispatch's transaction,
        so nothing of the dispatch is kept. The explanation parts drafts share are added to `shared`."""
        return new_rows(
            at,
            scheme.name,
            scheme.version,
            event.company,
            str(scheme.social_regime),
            event.id,
            self._draft_columns(event, scheme, result, shared),
        )

    def _draft_columns(
        self, event: Event[Any], scheme: SchemeDescriptor, result: SchemeResult, shared: dict[str, str]
    ) -> Iterator[DraftColumns]:
        """What varies from one draft to the next (`store.entitlements.new_rows`), each draft checked. The dates
        of a period and a due date are written once for the drafts that share them (most share one)."""
        seen: set[str] = set()
        parts: dict[int, tuple[str, frozenset[str]]] = {}  # id of a shared Explanation -> (hash, its rules)
        name, prefix, event_id = scheme.name, f"{event.company}|{scheme.name}|", event.id
        period = due = _UNSET
        due_text: str | None = None
        sha256, explanation_text = hashlib.sha256, self._explanation_text
        # each field read once into a local (a draft's slots are read once, not three or four times each) and a
        # kind's text taken from `_KIND_TEXT`: the same checks, in the same order, with the same messages
        for d in result.entitlements:
            if not isinstance(d, EntitlementDraft):
                raise SchemeError(f"scheme {name} returned {type(d).__name__}, not an EntitlementDraft")
            amount, kind, employee, corrects = d.amount_cents, d.kind, d.employee, d.corrects
            if type(amount) is not int:
                raise SchemeError(
                    f"scheme {name}: amount_cents must be an int (cents), got {type(amount).__name__}"
                )
            if amount > MAX_ENTITLEMENT_CENTS or amount < -MAX_ENTITLEMENT_CENTS:
                raise SchemeError(
                    f"scheme {name}: an amount beyond {MAX_ENTITLEMENT_CENTS // 100:,} euros for one "
                    "employee is a fault of the computation, not a bonus"
                )
            if type(kind) is not Kind:  # a text "principal" would pass the guards below unchecked
                raise SchemeError(f"scheme {name}: kind must be a Kind, got {type(kind).__name__}")
            if kind is PRINCIPAL:
                if amount < 0:
                    raise SchemeError(f"scheme {name}: a principal entitlement cannot be negative")
            elif kind is Kind.ADVANCE:
                if amount <= 0:
                    raise SchemeError(f"scheme {name}: an advance must be positive")
            elif corrects is None and kind in (Kind.CORRECTION, Kind.INTEREST):
                raise SchemeError(f"scheme {name}: a {kind} must reference the entitlement it relates to")
            # the draft's other fields as their type hints say: another type was stored as given (a datetime as a
            # timestamp no reader accepts, a number as an employee) or lost (a due date as text read as none)
            if type(employee) is not str or not employee or employee.isspace():  # `not employee.strip()`
                got = type(employee).__name__ if type(employee) is not str else "an empty id"
                raise SchemeError(
                    f"scheme {name}: employee must be a non-empty str, got {got}"
                )  # not its value
            if corrects is not None and type(corrects) is not str:
                raise SchemeError(f"scheme {name}: corrects must be an entitlement id (str) or None")
            key = d.key
            if type(key) is not str:
                raise SchemeError(f"scheme {name}: key must be a str, got {type(key).__name__}")
            if d.period is not period:
                period = d.period
                if not isinstance(period, Period):
                    raise SchemeError(f"scheme {name}: period must be a Period, got {type(period).__name__}")
                if type(period.start) is not date or type(period.end) is not date:  # a datetime is no day
                    raise SchemeError(f"scheme {name}: a period's start and end must be dates")
                pkey, start, end = period.key, period.start.isoformat(), period.end.isoformat()
            if d.due_date is not due:
                due = d.due_date
                if due is not None and type(due) is not date:  # a datetime or a text is not a due date
                    raise SchemeError(
                        f"scheme {name}: due_date must be a date or None, got {type(due).__name__}"
                    )
                due_text = None if due is None else due.isoformat()
            # the id names the computation, not the delivery: the draft's key (default: the event id) lets a
            # scheme that needs two facts give the same ids whichever fact arrived last
            kind_text = _KIND_TEXT[kind]
            ident = (
                "ENT-"
                + sha256(f"{prefix}{employee}|{pkey}|{kind_text}|{key or event_id}".encode()).hexdigest()[:20]
            )
            if ident in seen:
                raise SchemeError(
                    f"scheme {name} returned two entitlements for one employee, period and kind"
                )
            seen.add(ident)
            dsn = d.dsn
            if dsn is None:
                dsn = scheme.dsn
            elif not (isinstance(dsn, DsnMapping) and type(dsn.block) is str and type(dsn.code) is str):
                raise SchemeError(
                    f"scheme {name}: a draft's dsn must be a DsnMapping of a block and a code (str)"
                )
            yield (
                ident,
                employee,
                start,
                end,
                amount,
                kind_text,
                dsn.block,
                dsn.code,
                due_text,
                corrects,
                explanation_text(scheme, d.explanation, parts, shared),
            )

    @staticmethod
    def _explanation_text(
        scheme: SchemeDescriptor,
        expl: Explanation,
        parts: dict[int, tuple[str, frozenset[str]]],
        shared: dict[str, str],
    ) -> str:
        """The stored text of a draft's explanation: the whole of it, or its own part naming the shared one."""
        if expl.shared is None:
            return canonical_json(expl.own_dict())
        part = parts.get(id(expl.shared))  # the drafts hold their shared part: its id is stable here
        if part is None:
            if expl.shared.shared is not None:
                raise SchemeError(f"scheme {scheme.name}: a shared explanation cannot itself share one")
            body = canonical_json(expl.shared.own_dict())
            part = parts[id(expl.shared)] = (shared_hash(body), frozenset(expl.shared.rules))
            shared[part[0]] = body
        # `own_dict` with each rule once (hooks.types.merge), without copying what JSON writes the same: a dict,
        # a list or a tuple as it is (any other mapping or sequence as `own_dict` copies it)
        inputs, parameters, steps, common = expl.inputs, expl.parameters, expl.steps, part[1]
        return canonical_json(
            {
                "inputs": inputs if type(inputs) is dict else dict(inputs),
                "parameters": parameters if type(parameters) is dict else dict(parameters),
                "steps": steps if type(steps) is list or type(steps) is tuple else list(steps),
                "rules": [r for r in expl.rules if r not in common],
                SHARED_KEY: part[0],
            }
        )

    # -- replay (paybonus.replay) ------------------------------------------------------------------------

    def dispatch_again(self, event: Event[Any], scheme: SchemeDescriptor) -> DispatchOutcome:
        """Run one scheme for one recorded event, as its first dispatch did."""
        with guard.session():
            return self._dispatch(event, scheme, attempt=1)

    # -- retry -------------------------------------------------------------------------------------------

    def pending(self, backfill: bool = False) -> list[tuple[Event[Any], SchemeDescriptor, int]]:
        """Dispatches still to do: failed ones, and those an interrupted run never started, of the schemes
        configured when each event was recorded (`paybonus.in_force`; with `backfill`, also of the schemes a later
        load added). In event order."""
        out: list[tuple[Event[Any], SchemeDescriptor, int]] = []
        failed = {
            (r["company"], r["event_id"], r["scheme"]): r["attempts"] for r in self.ledger.dispatches.failed()
        }
        statuses = self.ledger.dispatches.all_statuses()
        in_force = SchemesInForce(self.ledger)
        for row in self.ledger.events.stream():
            event: Event[Any] | None = None
            key = (row["company"], row["id"])
            for scheme in self._interested_in(row["company"], row["type"]):
                done = statuses.get(key, {})
                if (*key, scheme.name) in failed or (
                    scheme.name not in done and (backfill or in_force.owes(*key, scheme.name))
                ):
                    event = event or self.reader.event_from_row(row)
                    out.append((event, scheme, failed.get((*key, scheme.name), 0)))
        for company, event_id, scheme_name in failed:
            if scheme_name not in self.host.schemes:
                log.warning(
                    "bus.retry.scheme_missing", event_id=event_id, company=company, scheme=scheme_name
                )
        return out

    def _interested_in(self, company: str, type: str) -> list[SchemeDescriptor]:
        config = self.caches.company(company)
        if config is None or type not in self.host.event_types:
            return []
        return [s for s in self.host.interested(type) if s.name in config.schemes]

    def retry(
        self,
        event_id: str | None = None,
        scheme: str | None = None,
        company: str | None = None,
        backfill: bool = False,
    ) -> list[DispatchOutcome]:
        """Run failed and never-started dispatches again, optionally only for one event (of every company that
        recorded that id, or of `company`), one scheme or one company; with `backfill`, also the schemes a later
        load added, on the events recorded before it."""
        outcomes = []
        with guard.session(), heap.young_only():
            for event, s, attempts in self.pending(backfill):
                if (
                    (event_id and event.id != event_id)
                    or (scheme and s.name != scheme)
                    or (company and event.company != company)
                ):
                    continue
                log.info(
                    "bus.dispatch.retry",
                    event_id=event.id,
                    company=event.company,
                    scheme=s.name,
                    attempt=attempts + 1,
                )
                outcomes.append(self._dispatch(event, s, attempt=attempts + 1))
                heap.collect_young()
        return outcomes

    def event_from_row(self, row: Any) -> Event[Any]:
        return self.reader.event_from_row(row)
