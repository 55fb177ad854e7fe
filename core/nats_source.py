"""The built-in event source: NATS JetStream (nats-py), for `paybonus worker --source nats://...`.

One stream (default PAYBONUS, work-queue retention: a message is gone once acknowledged) takes the subjects
`<prefix>.events.<partition>.<company>`: a company always lands in the same partition (crc32 of its id, modulo the
stream's partition count, kept in the stream's metadata from NATS 2.10 on, else
read back from its partition consumers). Each partition has one durable pull consumer with at
most one message unacknowledged: one company's events reach the ledger one at a time and in the order published,
whichever worker takes them, while partitions run in parallel across workers. A worker takes messages from the
partitions in turn, acknowledges a message only after the ledger said so (after its commit), tells JetStream the
message is still in progress while it computes, and forwards a message that failed its last delivery to
`<prefix>.dead.<company>` (kept by the stream <STREAM>_DEAD) after the ledger kept it as a dead letter.

URL options (query string): stream, prefix, partitions (only when the stream is made), ack_wait (seconds before
an unacknowledged message is delivered again: a worker that died), e.g.
nats://nats1:4222,nats://nats2:4222?stream=PAYBONUS&partitions=32.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from paybonus.hooks import Delivery, EventSink, EventSource, Verdict, hookimpl

from . import logs
from .errors import UserError

log = logs.get_logger("paybonus.worker")

DEFAULTS = {"stream": "PAYBONUS", "prefix": "paybonus", "partitions": "16", "ack_wait": "30"}
# a stream name (and with _DEAD, -p<k> the names made from it) that every NATS server and tool takes: no ".", "*",
# ">", whitespace or path separator (NATS ADR-6)
STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# a prefix: subject tokens of the same letters, joined by dots (no wildcard, no "$" of the server's own subjects)
PREFIX = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
PREFIX_MAX = 128
ACK_WAIT_S = (1.0, 86_400.0)  # a second .. a day
PARTITIONS = (1, 1024)
SERVER_SCHEMES = ("nats", "tls", "ws", "wss")

POLL_S = 0.05  # how long a worker rests after a round of the partitions found nothing to take
DRAIN = 32  # messages a worker takes in a row from one partition before it looks at the others
# a no-wait pull of a partition whose message another worker holds is not answered at once: the server keeps it
# until `expires` (ns), then answers 408; without it the worker waited REPLY_S for nothing
PULL = b'{"batch":1,"no_wait":true,"expires":10000000}'
REPLY_S = 0.25  # a no-wait pull is answered at once, but now and then not at all (nats-server 2.9): an
# answer later than this (a message) is taken by a later pull request (see _next)


class Options:
    """What a nats:// URL says: the servers, and the stream's options. Every option is checked here, before
    anything connects: a bad one is a UserError naming it."""

    def __init__(self, url: str) -> None:
        self.url = url
        if not url.strip():
            raise UserError("", "empty NATS URL (nats://host:4222?stream=...)")
        if "#" in url:
            raise UserError(url, "a NATS URL has no '#' fragment: options go after '?', joined by '&'")
        base, _, query = url.partition("?")
        self.servers = [self._server(s, i) for i, s in enumerate(base.split(","), 1)]
        given: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key not in DEFAULTS:
                raise UserError(url, f"unknown option {key!r:.40} (known: {', '.join(DEFAULTS)})")
            if key in given:
                raise UserError(url, f"option {key} given twice")
            if not value:
                raise UserError(url, f"option {key} is empty (leave it out for its default, {DEFAULTS[key]})")
            given[key] = value
        o = {**DEFAULTS, **given}
        self.stream, self.prefix = o["stream"], o["prefix"]
        if not STREAM_NAME.fullmatch(self.stream):
            raise UserError(
                url,
                f"stream {self.stream!r:.80}: a stream name is 1-64 letters, digits, _ or - "
                "(no '.', '*', '>', space or path separator)",
            )
        if len(self.prefix) > PREFIX_MAX or not PREFIX.fullmatch(self.prefix):
            raise UserError(
                url,
                f"prefix {self.prefix!r:.80}: subject tokens of letters, digits, _ or - joined by dots "
                f"(no wildcard, no space), at most {PREFIX_MAX} characters",
            )
        if not re.fullmatch(r"[0-9]{1,4}", o["partitions"]) or not (
            PARTITIONS[0] <= int(o["partitions"]) <= PARTITIONS[1]
        ):
            raise UserError(url, f"partitions {o['partitions']!r:.40}: a whole number, 1..1024")
        self.partitions = int(o["partitions"])
        low, high = ACK_WAIT_S
        if not re.fullmatch(r"[0-9]{1,5}(\.[0-9]{1,3})?", o["ack_wait"]) or not (
            low <= float(o["ack_wait"]) <= high
        ):
            raise UserError(url, f"ack_wait {o['ack_wait']!r:.40}: seconds, 1..86400 (a day)")
        self.ack_wait = float(o["ack_wait"])

    def _server(self, text: str, i: int) -> str:
        """One server of the comma-separated list (nats://host:port, or host:port)."""
        where = f"server {i} of the URL"
        if not text:
            raise UserError(self.url, f"{where} is empty (servers are separated by commas)")
        server = text if "://" in text else f"nats://{text}"
        parts = urlsplit(server)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in SERVER_SCHEMES:
            raise UserError(self.url, f"{where}: the scheme is one of {', '.join(SERVER_SCHEMES)}")
        if not parts.hostname:
            raise UserError(self.url, f"{where} names no host")
        if port is not None and not 1 <= port <= 65535:
            raise UserError(self.url, f"{where}: the port is a number, 1..65535")
        if parts.path not in ("", "/"):
            raise UserError(self.url, f"{where}: a server has no path ({parts.path!r:.40})")
        return server

    def subject(self, company: str, partitions: int) -> str:
        return f"{self.prefix}.events.{partition(company, partitions)}.{token(company)}"

    def dead_subject(self, company: str) -> str:
        return f"{self.prefix}.dead.{token(company)}"

    def durable(self, k: int) -> str:
        return f"{self.stream}-p{k}"


def partition(company: str, partitions: int) -> int:
    return zlib.crc32(company.encode("utf-8")) % partitions


def token(company: str) -> str:
    """A company id as one subject token (no dot, space or wildcard)."""
    return quote(company, safe="").replace(".", "%2E").replace("*", "%2A").replace(">", "%3E")


def _nats() -> Any:
    try:
        import nats
    except ImportError:  # pragma: no cover - the [server] extra is not installed
        raise UserError("nats://", "the NATS source needs nats-py: pip install 'paybonus[server]'") from None
    return nats


class _Stopped(Exception):
    """The worker was asked to stop (SIGTERM, SIGINT) before its first connection."""


async def _connect(o: Options, name: str, sink: EventSink | None = None) -> Any:
    """A connection; UserError when no server answers (each tried a few times, within seconds). A worker's
    connection then reconnects forever; a worker asked to stop while connecting raises _Stopped."""
    nats = _nats()

    worker = sink.worker_id if sink is not None else "-"

    async def disconnected() -> None:
        log.info("worker.broker.disconnected", worker=worker)

    async def reconnected() -> None:
        log.info("worker.broker.reconnected", worker=worker)

    async def error(exc: Exception) -> None:
        log.info("worker.broker.error", worker=worker, error_type=type(exc).__name__)

    connecting = asyncio.ensure_future(
        nats.connect(
            servers=o.servers,
            name=name,
            connect_timeout=5,
            max_reconnect_attempts=3,  # at first: no server answering is an error, not a wait forever
            reconnect_time_wait=0.5,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
    )
    while sink is not None and not connecting.done():  # a worker stops on SIGTERM even while it connects
        await asyncio.wait([connecting], timeout=0.1)
        if sink.stopping() and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            raise _Stopped
    try:
        nc = await connecting
    except Exception as exc:
        raise UserError(o.url, f"cannot connect to NATS ({type(exc).__name__}: {exc})") from None
    if sink is not None:  # once connected, a worker rides out any outage (nats-py reads it at each reconnect)
        nc.options["max_reconnect_attempts"] = -1
    return nc


async def _stream(js: Any, name: str, subjects: list[str], o: Options) -> Any:
    """The stream's info, None when there is none; UserError when it exists with other subjects (another prefix)."""
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(name)
    except NotFoundError:
        return None
    if list(info.config.subjects or []) != subjects:
        raise UserError(
            o.url,
            f"stream {name} exists with subjects {', '.join(info.config.subjects or []) or 'none'}, not "
            f"{', '.join(subjects)}: give its prefix, or another stream name; nothing was created",
        )
    return info


async def _no_clash(js: Any, name: str, subjects: list[str], o: Options) -> None:
    """Before a stream is made: no other stream already takes its subjects (the server would refuse it)."""
    from nats.js.errors import NotFoundError

    for subject in subjects:
        try:
            other = await js.find_stream_name_by_subject(subject)
        except NotFoundError:
            continue
        raise UserError(
            o.url,
            f"the subjects {subject} of the new stream {name} are taken by stream {other}: give another "
            "prefix (or that stream's name); nothing was created",
        )


async def _add_stream(js: Any, o: Options, config: Any) -> None:
    """Make a stream; the server's refusal (another process made it otherwise meanwhile, JetStream off or full) is
    one line."""
    from nats.js.errors import APIError

    try:
        await js.add_stream(config)
    except APIError as exc:
        raise UserError(
            o.url, f"NATS refused to make stream {config.name} ({exc.description or exc})"
        ) from None


async def _partitions(js: Any, o: Options, info: Any) -> int:
    """The partition count of an existing stream: its metadata, or (a server before 2.10 drops metadata) the
    partition consumers made with it."""
    kept = (info.config.metadata or {}).get("paybonus_partitions")
    if kept is None:
        made = [c.name for c in await js.consumers_info(o.stream)]
        numbers = [int(n.rsplit("-p", 1)[1]) for n in made if re.fullmatch(rf"{re.escape(o.stream)}-p\d+", n)]
        kept = max(numbers) + 1 if numbers else o.partitions
    return int(kept)


async def _ensure(js: Any, o: Options) -> int:
    """Make the stream, its dead-letter stream and the partition consumers if missing; the partition count.
    Both streams are checked before either is made: a stream of that name with other subjects, or another
    stream taking these subjects, is a UserError and nothing is created."""
    from nats.js.api import (
        AckPolicy,
        ConsumerConfig,
        DeliverPolicy,
        RetentionPolicy,
        StorageType,
        StreamConfig,
    )
    from nats.js.errors import NotFoundError

    events, dead = [f"{o.prefix}.events.>"], [f"{o.prefix}.dead.>"]
    info = await _stream(js, o.stream, events, o)
    dead_info = await _stream(js, f"{o.stream}_DEAD", dead, o)
    if info is None:
        await _no_clash(js, o.stream, events, o)
    if dead_info is None:
        await _no_clash(js, f"{o.stream}_DEAD", dead, o)
    if info is not None:
        partitions = await _partitions(js, o, info)
    else:
        partitions = o.partitions
        await _add_stream(
            js,
            o,
            StreamConfig(
                name=o.stream,
                subjects=events,
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=300.0,  # a message published twice within 5 minutes (same message id) is kept once
                metadata={"paybonus_partitions": str(partitions)},
            ),
        )
    if dead_info is None:
        await _add_stream(
            js, o, StreamConfig(name=f"{o.stream}_DEAD", subjects=dead, storage=StorageType.FILE)
        )
    for k in range(partitions):
        try:
            await js.consumer_info(o.stream, o.durable(k))
        except NotFoundError:
            await js.add_consumer(
                o.stream,
                ConsumerConfig(
                    durable_name=o.durable(k),
                    filter_subject=f"{o.prefix}.events.{k}.>",
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    max_ack_pending=1,  # one company's events one at a time, in order
                    ack_wait=o.ack_wait,
                    max_deliver=-1,  # the worker gives up itself (sink.max_deliveries), into the dead letters
                ),
            )
    return partitions


# -- consuming -------------------------------------------------------------------------------------------------


def consume(url: str, sink: EventSink) -> None:
    with contextlib.suppress(_Stopped):
        asyncio.run(_consume(Options(url), sink))


async def _consume(o: Options, sink: EventSink) -> None:
    nats = _nats()
    nc = await _connect(o, f"paybonus-worker-{sink.worker_id}", sink)
    try:
        js = nc.jetstream()
        while True:  # the broker restarting while the worker starts: its stream is asked for again, not fatal
            try:
                partitions = await _ensure(js, o)
                break
            except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
                if sink.stopping():
                    return
                log.info("worker.broker.fetch_failed", worker=sink.worker_id, error_type=type(exc).__name__)
                await asyncio.sleep(0.5)
        inbox = await nc.subscribe(nc.new_inbox())
        log.info("worker.source.ready", worker=sink.worker_id, stream=o.stream, partitions=partitions)
        k = partition(sink.worker_id, partitions)  # workers start apart
        taken, idle = 0, 0
        while not sink.stopping():
            try:
                msg = await _next(nc, inbox, o, k)
            except Exception as exc:  # the connection is down: nats-py reconnects by itself
                log.info("worker.broker.fetch_failed", worker=sink.worker_id, error_type=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            if msg is None:  # nothing there, or its company's message is being recorded by another worker
                k, taken, idle = (k + 1) % partitions, 0, idle + 1
                if idle >= partitions:  # a whole round without work
                    await asyncio.sleep(POLL_S)
                    idle = 0
                continue
            idle = 0
            await _handle(js, o, sink, msg)
            taken += 1
            if taken >= DRAIN:
                k, taken = (k + 1) % partitions, 0
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def _next(nc: Any, inbox: Any, o: Options, k: int) -> Any:
    """The next message of partition k, or None at once when there is none to take (a no-wait pull request:
    one round trip, where a waiting pull would hold the worker on an empty or busy partition). A message that
    answers an earlier request arrives here too, and is taken: whichever partition it is from."""
    nats = _nats()
    await nc.publish(
        f"$JS.API.CONSUMER.MSG.NEXT.{o.stream}.{o.durable(k)}",
        PULL,
        reply=inbox.subject,
    )
    try:
        msg = await inbox.next_msg(timeout=REPLY_S)
    except (TimeoutError, nats.errors.TimeoutError):
        log.debug("worker.broker.no_reply", partition=k)
        return None
    if msg.headers and msg.headers.get("Status"):  # 404 no messages, 408, 409 max ack pending
        return None
    return msg


async def _handle(js: Any, o: Options, sink: EventSink, msg: Any) -> None:
    md = msg.metadata
    headers = msg.headers or {}
    delivery = Delivery(
        msg.data, msg.subject, headers.get("Nats-Msg-Id"), int(md.num_delivered), int(md.num_pending)
    )
    work = asyncio.get_running_loop().run_in_executor(None, sink.handle, delivery)
    while True:  # computing: tell JetStream the message is not abandoned
        done, _ = await asyncio.wait([work], timeout=o.ack_wait / 3)
        if done:
            break
        with contextlib.suppress(Exception):
            await msg.in_progress()
    verdict = work.result()
    try:
        if verdict is Verdict.ACK:
            await msg.ack_sync(timeout=5)
        elif verdict is Verdict.DEAD:
            company = headers.get("Paybonus-Company") or msg.subject.rsplit(".", 1)[-1]
            await js.publish(
                o.dead_subject(company),
                msg.data,
                headers={"Paybonus-Subject": msg.subject, "Paybonus-Deliveries": str(delivery.deliveries)},
            )
            await msg.ack_sync(timeout=5)
        else:
            await msg.nak(delay=min(0.2 * 2 ** min(delivery.deliveries, 6), 10.0))
    except (
        Exception
    ) as exc:  # not settled: JetStream delivers it again after ack_wait (a duplicate: harmless)
        log.info(
            "worker.message.unsettled",
            worker=sink.worker_id,
            subject=msg.subject,
            error_type=type(exc).__name__,
        )


HEADERS_ROOM = 4096  # the server counts a message's headers in its max_payload

# -- publishing ------------------------------------------------------------------------------------------------


def publish(url: str, messages: Sequence[tuple[str, str, bytes]]) -> int:
    """Publish (company, message id, event JSON) in order; JetStream keeps one copy per message id (5 minutes):
    `worker.messages` makes it from the company and the event ids, which are unique per company."""
    return asyncio.run(_publish(Options(url), messages))


async def _publish(o: Options, messages: Sequence[tuple[str, str, bytes]]) -> int:
    nc = await _connect(o, "paybonus-publish")
    try:
        _check_sizes(messages, nc.max_payload)
        js = nc.jetstream()
        partitions = await _ensure(js, o)
        window = 256  # acknowledgements awaited together; the order on the wire is the order published
        for i in range(0, len(messages), window):
            await asyncio.gather(
                *(
                    js.publish(
                        o.subject(company, partitions),
                        data,
                        headers={"Nats-Msg-Id": message_id, "Paybonus-Company": company},
                    )
                    for company, message_id, data in messages[i : i + window]
                )
            )
        return len(messages)
    finally:
        await nc.close()


def _check_sizes(messages: Sequence[tuple[str, str, bytes]], max_payload: int) -> None:
    """Refuse, before anything is sent, a message the server would refuse (its headers travel with it)."""
    limit = max_payload - HEADERS_ROOM
    for company, message_id, data in messages:
        if len(data) > limit:
            raise UserError(
                f"event {message_id.removeprefix(company + '/')} of company {company}",  # ids are per company
                f"{len(data):,} bytes, over the {max_payload:,}-byte message limit of this NATS server "
                "(max_payload): nothing was sent; raise max_payload on the server (at most 64 MB) or publish "
                "the file into the ledger directly",
            )


# -- health ----------------------------------------------------------------------------------------------------


def health(url: str) -> Mapping[str, Any]:
    return asyncio.run(_health(Options(url)))


async def _health(o: Options) -> dict[str, Any]:
    """The stream's backlog, read only: a stream or consumer that does not exist is reported, never made; a
    broker that does not answer is reported too (`error`); a stream with other subjects is a UserError."""
    from nats.js.errors import NotFoundError

    try:
        nc = await _connect(o, "paybonus-health")
    except UserError as exc:
        return {"stream": o.stream, "error": exc.what}
    try:
        js = nc.jetstream()
        info = await _stream(js, o.stream, [f"{o.prefix}.events.>"], o)
        dead = await _stream(js, f"{o.stream}_DEAD", [f"{o.prefix}.dead.>"], o)
        missing = [name for name, i in ((o.stream, info), (f"{o.stream}_DEAD", dead)) if i is None]
        if missing:
            return {
                "stream": o.stream,
                "error": f"no such stream {' nor '.join(missing)} (a worker or `publish --to` makes it)",
            }
        partitions = await _partitions(js, o, info)
        out: dict[str, Any] = {
            "stream": o.stream,
            "partitions": partitions,
            "messages": info.state.messages,
            "dead_letters": dead.state.messages,
            "pending": 0,
            "unacknowledged": 0,
            "redelivered": 0,
        }
        for k in range(partitions):
            try:
                c = await js.consumer_info(o.stream, o.durable(k))
            except NotFoundError:
                out["error"] = f"no consumer {o.durable(k)} (a worker makes it)"
                continue
            out["pending"] += c.num_pending
            out["unacknowledged"] += c.num_ack_pending
            out["redelivered"] += c.num_redelivered
        return out
    finally:
        await nc.close()


def dead_letters(url: str) -> list[dict[str, Any]]:
    """The messages forwarded to the dead-letter stream (for tests and `health`'s readers)."""
    return asyncio.run(_dead(Options(url)))


async def _dead(o: Options) -> list[dict[str, Any]]:
    nc = await _connect(o, "paybonus-dead")
    try:
        js = nc.jetstream()
        out = []
        sub = await js.pull_subscribe(f"{o.prefix}.dead.>", stream=f"{o.stream}_DEAD")
        while True:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except Exception:
                break
            for m in msgs:
                out.append(
                    {"subject": m.subject, "headers": dict(m.headers or {}), "data": json.loads(m.data)}
                )
                await m.ack()
        return out
    finally:
        await nc.close()


@hookimpl
def paybonus_event_sources() -> list[EventSource]:
    return [
        EventSource(
            "nats",
            ("nats", "tls"),
            consume,
            publish,
            health,
            "NATS JetStream: one durable pull consumer per partition of companies (docs/deploy.md)",
        )
    ]
