"""`paybonus worker`: events from a message broker, recorded through the same bus, into a (shared) ledger.

A worker is the `EventSink` an event source (`paybonus_event_sources`; NATS JetStream built in) hands each
message to: it parses the event, publishes it through the bus (admission, record, dispatches, each committed
without waiting for the disk), makes the ledger durable (one flush of PostgreSQL's write-ahead log) and answers
ACK; the source acknowledges only then. A message delivered again after a crash is a duplicate, which
the bus acknowledges and completes (events are idempotent). A message that fails (a refused event, a database
that is down) is delivered again, later; on its `max_deliveries`-th delivery it is kept in the ledger's
message_dead_letters and forwarded to the broker's dead-letter subject. SIGTERM (or SIGINT) lets the current
message finish, then the worker stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from paybonus.hooks.types import Delivery, EventSource, Verdict

from . import logs
from .errors import UserError
from .events import Event, canonical_json, is_name_id
from .host import PluginHost
from .params import Parameters

log = logs.get_logger("paybonus.worker")
DEFAULT_MAX_DELIVERIES = 5
PER_MESSAGE = 64  # events of one company a message carries, at most (`publish --to --per-message`)
MESSAGE_BYTES = 256 * 1024  # and at most this much JSON (NATS refuses messages over 1 MiB by default)
MAX_MESSAGE_EVENTS = 10_000  # a message carrying more is refused


def broker_url(option: str, url: str) -> str:
    """A broker URL given as an option, refused when empty (`--to "$NATS_URL"` with the variable unset must not
    fall back to anything)."""
    if not url.strip():
        raise UserError(
            option, "empty URL (nats://host:4222?stream=...): is the variable that holds it unset?"
        )
    return url


def source_for(host: PluginHost, url: str) -> EventSource:
    """The event source serving the URL's scheme (nats://, or one a plugin adds)."""
    scheme = urlsplit(url).scheme
    sources = [s for group in host.pm.hook.paybonus_event_sources() for s in group]
    for s in sources:
        if scheme in s.url_schemes:
            return s
    known = sorted({f"{x}://" for s in sources for x in s.url_schemes})
    raise UserError(
        url, f"no event source serves {scheme or 'this'}:// (known: {', '.join(known) or 'none'})"
    )


def feed(host: PluginHost, url: str, events: Sequence[Event[Any]], per_message: int = PER_MESSAGE) -> int:
    """Publish events to a broker (`paybonus publish --to`); returns how many events were sent."""
    source_for(host, url).publish(url, messages(events, per_message))
    return len(events)


def messages(events: Sequence[Event[Any]], per_message: int = PER_MESSAGE) -> list[tuple[str, str, bytes]]:
    """(company, message id, JSON lines): each company's events in their order, up to `per_message` of them (and
    MESSAGE_BYTES) in one message, which a worker records as one batch. One company's messages keep their order
    (a company always lands in the same partition); companies are independent of one another. The message id is
    the company and the event's id (`DURAND/close-2026-01`: ids are unique per company, and a company id holds no
    `/`) for a single event, else one derived from the ids it carries (the broker drops a message published twice
    within its duplicate window)."""
    by_company: dict[str, list[Event[Any]]] = {}
    for e in events:
        by_company.setdefault(e.company, []).append(e)
    out: list[tuple[str, str, bytes]] = []
    for company, mine in by_company.items():
        chunk: list[tuple[str, bytes]] = []  # (event id, its JSON line)
        size = 0
        for e in mine:
            line = canonical_json(e.to_dict()).encode("utf-8") + b"\n"
            if chunk and (len(chunk) >= per_message or size + len(line) > MESSAGE_BYTES):
                out.append(_message(company, chunk))
                chunk, size = [], 0
            chunk.append((e.id, line))
            size += len(line)
        if chunk:
            out.append(_message(company, chunk))
    return out


def _message(company: str, chunk: Sequence[tuple[str, bytes]]) -> tuple[str, str, bytes]:
    data = b"".join(line for _, line in chunk)
    if len(chunk) == 1:
        return company, f"{company}/{chunk[0][0]}", data
    ids = "\n".join(i for i, _ in chunk).encode("utf-8")
    return company, f"{company}/{chunk[0][0]}+{len(chunk) - 1}-{hashlib.sha256(ids).hexdigest()[:16]}", data


class Worker:
    """The sink of an event source: one message (one company's events), one publish through the bus, one
    flush, one verdict."""

    def __init__(
        self,
        db: str,
        host: PluginHost,
        params: Parameters | None = None,
        *,
        source: str = "",
        worker_id: str | None = None,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    ) -> None:
        if worker_id is not None and not is_name_id(worker_id):  # it names the broker connection, logs
            raise UserError(
                "--id", f"{worker_id!r:.80}: a worker id is 1-64 letters, digits or ._- (no space, no '..')"
            )
        self.db, self.host, self.params = db, host, params
        self.source = source
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.max_deliveries = max_deliveries
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._app: Any = None
        self._open()  # a ledger that cannot be opened is a user error before any message is taken

    def _open(self) -> Any:
        from .app import Paybonus

        if self._app is None:
            self._app = Paybonus.open(self.db, host=self.host, params=self.params)
            self._app.ledger.defer_durability()  # one flush per message, before its ACK (handle)
        return self._app

    def _reopen(self) -> None:
        """After an error that was not the event's fault (a lost database connection): start afresh."""
        if self._app is not None:
            with contextlib.suppress(Exception):  # already broken
                self._app.close()
            self._app = None

    # -- EventSink ---------------------------------------------------------------------------------------

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def note(self, event: str, **fields: Any) -> None:
        """A plugin source's own log line: `worker.source.note` with its name in `note`."""
        log.info("worker.source.note", worker=self.worker_id, note=event, **fields)

    def handle(self, delivery: Delivery) -> Verdict:
        t0 = time.perf_counter()
        self.counts["messages"] += 1
        if delivery.deliveries > 1:
            self.counts["redeliveries"] += 1
        fields = {
            "worker": self.worker_id,
            "subject": delivery.subject,
            "deliveries": delivery.deliveries,
            "lag": delivery.pending,
        }
        refused: list[tuple[int, str]] = []
        try:
            app = self._open()
            pairs = self._events(delivery)
            if len(pairs) > 1 and delivery.deliveries >= self.max_deliveries:
                summary, refused = self._one_by_one(app, pairs)  # the last delivery: keep what can be kept
            else:  # one company's events: its lock held throughout, its configuration digest read once
                # the payroll's load time read once only where the hold is a lock (PostgreSQL): on SQLite
                # `holding` takes none, and another process may load the company between two events
                loads = app.bus.caches.populations.loads_held
                with (
                    app.ledger.holding(pairs[0][1].company),
                    app.bus.caches.pinned(),
                    loads() if app.ledger.server is not None else contextlib.nullcontext(),
                ):
                    summary = app.publish(pairs)
            app.ledger.make_durable()  # acknowledged only once on disk: a crash then loses nothing acked
        except Exception as exc:
            user = isinstance(exc, UserError)
            if not user:
                self._reopen()
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            if delivery.deliveries >= self.max_deliveries:
                return self._dead(delivery, error, type(exc).__name__, fields)
            self.counts["retried"] += 1
            log.warning("worker.message.retry", error_type=type(exc).__name__, user_error=user, **fields)
            return Verdict.RETRY
        c = summary.counts
        self.counts["recorded"] += c["recorded"]
        self.counts["duplicates"] += c["duplicates"]
        self.counts["failed_dispatches"] += c["failed"]
        if refused:
            return self._dead_events(delivery, pairs, refused, fields)
        log.info(
            "worker.message.recorded",
            event_id=pairs[0][1].id,
            events=len(pairs),
            company=pairs[0][1].company,
            duplicate=bool(c["duplicates"]),
            dispatches=c["completed"] + c["failed"],
            duration_ms=round((time.perf_counter() - t0) * 1000, 1),
            **fields,
        )
        return Verdict.ACK

    def _events(self, delivery: Delivery) -> list[tuple[str, Event[Any]]]:
        """The message's events: JSON lines of one company (`messages`)."""
        where = f"message {delivery.message_id or delivery.subject}"
        try:
            text = delivery.data.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(where, "not UTF-8 text") from None
        pairs = self.host.event_types.read_jsonl(where, text)
        if not 1 <= len(pairs) <= MAX_MESSAGE_EVENTS:
            raise UserError(
                where, f"a message carries 1 to {MAX_MESSAGE_EVENTS} events, this one {len(pairs)}"
            )
        companies = {e.company for _, e in pairs}
        if len(companies) > 1:
            raise UserError(
                where, f"a message carries the events of one company, this one of {len(companies)}"
            )
        return pairs

    def _one_by_one(self, app: Any, pairs: list[tuple[str, Event[Any]]]) -> tuple[Any, list[tuple[int, str]]]:
        """Each event of a message on its own (its last delivery, after the whole was refused): the events that
        can be recorded are; the (index, error) of those refused are returned for the dead letters."""
        from .app import PublishSummary

        outcomes: list[Any] = []
        heads: dict[str, Any] = {}
        refused: list[tuple[int, str]] = []
        for i, pair in enumerate(pairs):
            try:
                done = app.publish([pair])
            except UserError as exc:
                refused.append((i, f"UserError: {exc}".splitlines()[0][:500]))
                continue
            outcomes += done.outcomes
            heads.update(done.heads)
        return PublishSummary(tuple(outcomes), heads), refused

    def _dead_events(
        self,
        delivery: Delivery,
        pairs: list[tuple[str, Event[Any]]],
        refused: list[tuple[int, str]],
        fields: dict[str, Any],
    ) -> Verdict:
        """Keep each refused event of a message in the ledger's dead letters (the others were recorded); the
        message goes to the broker's dead letters whole (its recorded events are duplicates there)."""
        kept = [
            (pairs[i][1].company, error, canonical_json(pairs[i][1].to_dict()).encode("utf-8"))
            for i, error in refused
        ]
        return self._keep_dead(delivery, kept, "UserError", fields)

    def _dead(self, delivery: Delivery, error: str, error_type: str, fields: dict[str, Any]) -> Verdict:
        """Keep the message in the ledger (with its error: it may name an amount, so never in the logs)."""
        company = None
        with contextlib.suppress(Exception):
            company = self._events(delivery)[0][1].company
        return self._keep_dead(delivery, [(company, error, delivery.data)], error_type, fields)

    def _keep_dead(
        self,
        delivery: Delivery,
        kept: Sequence[tuple[str | None, str, bytes]],
        error_type: str,
        fields: dict[str, Any],
    ) -> Verdict:
        """Record (company, error, payload) dead letters, durably, before the message is settled as DEAD."""
        at = datetime.now(UTC).isoformat()
        try:
            ledger = self._open().ledger
            for company, error, payload in kept:
                ledger.record_dead_letter(
                    self.source,
                    delivery.subject,
                    delivery.message_id,
                    company,
                    delivery.deliveries,
                    error,
                    payload,
                    at,
                )
            ledger.make_durable()  # acknowledged as DEAD only once kept on disk
        except Exception as exc:  # the ledger cannot keep it now: try again later
            self._reopen()
            log.error("worker.dead_letter.failed", error_type=type(exc).__name__, **fields)
            return Verdict.RETRY
        self.counts["dead_letters"] += len(kept)
        log.error("worker.message.dead", error_type=error_type, events=len(kept), **fields)
        return Verdict.DEAD

    def close(self) -> None:
        self._reopen()


def run(worker: Worker, url: str) -> Mapping[str, int]:
    """Consume until SIGTERM or SIGINT (the current message finishes first); returns the counts."""
    source = source_for(worker.host, url)
    worker.source = source.name

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("worker.stopping", worker=worker.worker_id, signal=signal.Signals(signum).name)
        worker.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    log.info(
        "worker.started", worker=worker.worker_id, source=source.name, max_deliveries=worker.max_deliveries
    )
    try:
        source.consume(url, worker)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        worker.close()
        log.info("worker.stopped", worker=worker.worker_id, **dict(worker.counts))
    return dict(worker.counts)


def health(host: PluginHost, url: str, db: str) -> dict[str, Any]:
    """What an orchestrator asks: can the ledger and the broker be reached, and how far behind are the workers.
    A bad broker URL (an unknown scheme, a bad option) is a UserError, raised before the ledger is opened; a
    broker that does not answer, or whose stream is missing, is `ok: false` with its `error`."""
    from .store import Ledger

    out: dict[str, Any] = {"ok": True}
    source = source_for(host, url)
    try:
        out["source"] = dict(source.health(url)) if source.health else {"name": source.name}
    except UserError:
        raise
    except Exception as exc:
        out["source"] = {"error": str(exc).splitlines()[0]}
    if "error" in out["source"]:
        out["ok"] = False
    try:
        with Ledger.open(db) as ledger:
            out["ledger"] = {
                "backend": ledger.backend,
                "pending_migrations": ledger.pending_migrations(),
                "dead_letters": ledger.dead_letters.count(),
            }
    except Exception as exc:
        out["ok"], out["ledger"] = False, {"error": str(exc).splitlines()[0]}
    return out
