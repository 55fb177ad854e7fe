"""The append-only, hash-chained audit log, and its verifier.

Each entry is (seq, at, action, ref, digest, prev_hash, hash) with
hash = sha256(prev_hash | seq | at | action | ref | digest). `digest` is the sha256 of what the entry is about
(an event's canonical JSON, an entitlement's immutable columns, a dispatch outcome, a payroll load). Triggers
refuse UPDATE and DELETE. `verify` walks the chain, checks every event and entitlement against its entry, and
recomputes every amount from its stored explanation with the scheme that produced it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen
from paybonus.hooks.types import Explanation, SchemeDescriptor

from .events import canonical_json
from .ledger import DIGEST_COLUMNS, Ledger

GENESIS = "0" * 64


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entitlement_digest(row: Mapping[str, Any]) -> str:
    """Digest of an entitlement's immutable columns (status and timestamps excluded), joined by a unit
    separator (a control character that no id contains and that JSON text always escapes)."""
    return sha256("\x1f".join("\x00" if row[c] is None else str(row[c]) for c in DIGEST_COLUMNS))


def chain_hash(prev_hash: str, seq: int, at: str, action: str, ref: str, digest: str) -> str:
    return sha256(f"{prev_hash}|{seq}|{at}|{action}|{ref}|{digest}")


@frozen
class Head:
    seq: int
    hash: str


def head(conn: sqlite3.Connection) -> Head:
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(row[0], row[1]) if row else Head(0, GENESIS)


def append(conn: sqlite3.Connection, at: str, entries: Iterable[tuple[str, str, str]]) -> Head:
    """Append (action, ref, digest) entries in one batch, inside the caller's transaction. Returns the new head."""
    h = head(conn)
    seq, prev = h.seq, h.hash
    rows = []
    for action, ref, digest in entries:
        seq += 1
        hsh = chain_hash(prev, seq, at, action, ref, digest)
        rows.append((seq, at, action, ref, digest, prev, hsh))
        prev = hsh
    conn.executemany(
        "INSERT INTO audit_log (seq, at, action, ref, digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return Head(seq, prev)


@frozen
class Problem:
    where: str  # "audit_log seq 12", "entitlement ENT-…"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@define
class Report:
    entries: int = 0
    events: int = 0
    entitlements: int = 0
    recomputed: int = 0
    head: Head = Head(0, GENESIS)
    problems: list[Problem] = field(factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    ledger: Ledger,
    schemes: Mapping[str, SchemeDescriptor],
    *,
    expect_head: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_problems: int = 20,
) -> Report:
    """Walk the chain and check everything it vouches for. Problems come in ledger order, first one first."""
    rep = Report()
    conn = ledger.conn
    prev = GENESIS
    expected_seq = 0
    event_entries: dict[str, tuple[int, str]] = {}
    ent_entries: dict[str, tuple[int, str]] = {}

    def problem(where: str, what: str) -> None:
        if len(rep.problems) < max_problems:
            rep.problems.append(Problem(where, what))

    for seq, at, action, ref, digest, prev_hash, hsh in conn.execute(
        "SELECT seq, at, action, ref, digest, prev_hash, hash FROM audit_log ORDER BY seq"
    ):
        expected_seq += 1
        rep.entries += 1
        if seq != expected_seq:
            problem(
                f"audit_log seq {seq}", f"sequence broken (expected seq {expected_seq}: a row was removed)"
            )
            expected_seq = seq
        if prev_hash != prev:
            problem(
                f"audit_log seq {seq}", "prev_hash does not match the previous entry's hash (chain broken)"
            )
        if chain_hash(prev_hash, seq, at, action, ref, digest) != hsh:
            problem(
                f"audit_log seq {seq}",
                f"hash does not match the entry's content ({action} {ref}): row altered",
            )
        prev = hsh
        if action == "event.recorded":
            event_entries[ref] = (seq, digest)
        elif action == "entitlement.recorded":
            ent_entries[ref] = (seq, digest)
        if on_progress and rep.entries % 10000 == 0:
            on_progress(rep.entries)
    rep.head = Head(expected_seq, prev)
    if expect_head is not None and prev != expect_head:
        problem("audit_log head", f"head hash {prev[:16]}… differs from the expected {expect_head[:16]}…")

    for eid, etype, company, occurred_at, payload, digest in conn.execute(
        "SELECT id, type, company, occurred_at, payload, digest FROM events ORDER BY seq"
    ):
        rep.events += 1
        content = {
            "id": eid,
            "type": etype,
            "company": company,
            "occurred_at": occurred_at,
            "payload": json.loads(payload),
        }
        actual = sha256(canonical_json(content))
        entry = event_entries.pop(eid, None)
        if entry is None:
            problem(f"event {eid}", "has no audit entry (inserted outside paybonus)")
        elif actual != digest or digest != entry[1]:
            problem(f"event {eid}", f"content differs from audit_log seq {entry[0]} (altered)")
    for eid, (seq, _) in event_entries.items():
        problem(f"audit_log seq {seq}", f"event {eid} is missing from the events table")

    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    for row in cur.execute("SELECT * FROM entitlements ORDER BY seq"):
        rep.entitlements += 1
        eid = row["id"]
        where = f"entitlement {eid} (row {row['seq']})"
        entry = ent_entries.pop(eid, None)
        actual = entitlement_digest(row)
        if entry is None:
            problem(where, "has no audit entry (inserted outside paybonus)")
            continue
        if actual != row["digest"] or row["digest"] != entry[1]:
            problem(
                where,
                f"content differs from audit_log seq {entry[0]} (altered: amount {row['amount_cents']} cents)",
            )
        scheme = schemes.get(row["scheme"])
        if scheme is None:
            problem(where, f"cannot recompute: scheme {row['scheme']!r} is not installed")
            continue
        try:
            amount = scheme.recompute(Explanation.from_dict(json.loads(row["explanation"])))
        except Exception as exc:  # a broken explanation is a finding, not a crash of the verifier
            problem(where, f"cannot recompute from its explanation ({type(exc).__name__}: {exc})")
            continue
        rep.recomputed += 1
        if amount != row["amount_cents"]:
            problem(
                where,
                f"amount {row['amount_cents']} cents differs from {amount} recomputed from its explanation",
            )
    for eid, (seq, _) in ent_entries.items():
        problem(f"audit_log seq {seq}", f"entitlement {eid} is missing from the entitlements table")
    _check_payments(conn, problem)
    return rep


def _check_payments(conn: sqlite3.Connection, problem: Callable[[str, str], None]) -> None:
    """Every payment row matches its recorded event, and every status follows from the payments."""
    events = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in conn.execute(
            "SELECT id, json_extract(payload, '$.entitlement'), json_extract(payload, '$.amount_cents'), "
            "json_extract(payload, '$.paid_on'), json_extract(payload, '$.mode') FROM events WHERE type = 'payment_recorded'"
        )
    }
    for seq, event_id, ent, amount, paid_on, mode in conn.execute(
        "SELECT seq, event_id, entitlement, amount_cents, paid_on, mode FROM payments ORDER BY seq"
    ):
        if events.pop(event_id, None) != (ent, amount, paid_on, mode):
            problem(f"payment row {seq}", f"differs from its event {event_id} (altered)")
    for event_id in events:
        problem(f"event {event_id}", "payment event without its payment row")
    paid: dict[str, dict[str, int]] = {}
    for ent, mode, amount in conn.execute(
        "SELECT entitlement, mode, SUM(amount_cents) FROM payments GROUP BY 1, 2"
    ):
        paid.setdefault(ent, {})[mode] = amount
    for eid, amount, status in conn.execute("SELECT id, amount_cents, status FROM entitlements ORDER BY seq"):
        modes = paid.get(eid, {})
        total = sum(modes.values())
        expected = (
            "due"
            if total == 0
            else "partly_paid"
            if total < amount
            else "paid_and_placed"
            if len(modes) > 1
            else next(iter(modes))
        )
        if status != expected:
            problem(
                f"entitlement {eid}", f"status {status!r} does not follow from its payments ({expected!r})"
            )


def digest_of(data: Any) -> str:
    return sha256(canonical_json(data))


def dispatch_digest(event_id: str, scheme: str, status: str, ids: Sequence[str], error: str | None) -> str:
    return digest_of(
        {"event": event_id, "scheme": scheme, "status": status, "entitlements": list(ids), "error": error}
    )
