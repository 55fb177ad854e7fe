"""The audit verifier: walks the hash chain and checks everything it vouches for.

Each event and entitlement is checked against its audit entry (and its own digest re-derived from its row);
every amount is recomputed from its stored explanation by the scheme that produced it; every payment matches its
event and every status follows from the payments. The chain itself lives in `paybonus.store.audit_log`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping

from attrs import define, field, frozen
from paybonus.hooks.types import Explanation, SchemeDescriptor

from .events import canonical_json
from .store import GENESIS, Head, Ledger
from .store.audit_log import chain_hash
from .store.entitlements import digest as entitlement_digest
from .store.payments import status_of


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
    head: Head = field(factory=lambda: Head(0, GENESIS))
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
    prev = GENESIS
    expected_seq = 0
    event_entries: dict[str, tuple[int, str]] = {}
    ent_entries: dict[str, tuple[int, str]] = {}

    def problem(where: str, what: str) -> None:
        if len(rep.problems) < max_problems:
            rep.problems.append(Problem(where, what))

    for e in ledger.audit.entries():
        expected_seq += 1
        rep.entries += 1
        if e.seq != expected_seq:
            problem(
                f"audit_log seq {e.seq}", f"sequence broken (expected seq {expected_seq}: a row was removed)"
            )
            expected_seq = e.seq
        if e.prev_hash != prev:
            problem(
                f"audit_log seq {e.seq}", "prev_hash does not match the previous entry's hash (chain broken)"
            )
        if chain_hash(e.prev_hash, e.seq, e.at, e.action, e.ref, e.digest) != e.hash:
            problem(
                f"audit_log seq {e.seq}",
                f"hash does not match the entry's content ({e.action} {e.ref}): row altered",
            )
        prev = e.hash
        if e.action == "event.recorded":
            event_entries[e.ref] = (e.seq, e.digest)
        elif e.action == "entitlement.recorded":
            ent_entries[e.ref] = (e.seq, e.digest)
        if on_progress and rep.entries % 10000 == 0:
            on_progress(rep.entries)
    rep.head = Head(expected_seq, prev)
    if expect_head is not None and prev != expect_head:
        problem("audit_log head", f"head hash {prev[:16]}… differs from the expected {expect_head[:16]}…")

    for row in ledger.events.stream():
        rep.events += 1
        eid = row["id"]
        try:
            payload = json.loads(row["payload"])
        except ValueError:
            problem(f"event {eid}", "its stored payload is not JSON (altered)")
            continue
        content = {
            "id": eid,
            "type": row["type"],
            "company": row["company"],
            "occurred_at": row["occurred_at"],
            "payload": payload,
        }
        actual = hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
        entry = event_entries.pop(eid, None)
        if entry is None:
            problem(f"event {eid}", "has no audit entry (inserted outside paybonus)")
        elif actual != row["digest"] or row["digest"] != entry[1]:
            problem(f"event {eid}", f"content differs from audit_log seq {entry[0]} (altered)")
    for eid, (seq, _) in event_entries.items():
        problem(f"audit_log seq {seq}", f"event {eid} is missing from the events table")

    for row in ledger.entitlements.all():
        rep.entitlements += 1
        eid = row["id"]
        where = f"entitlement {eid} (row {row['seq']})"
        entry = ent_entries.pop(eid, None)
        if entry is None:
            problem(where, "has no audit entry (inserted outside paybonus)")
            continue
        if entitlement_digest(row) != row["digest"] or row["digest"] != entry[1]:
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
    _check_payments(ledger, problem)
    return rep


def _check_payments(ledger: Ledger, problem: Callable[[str, str], None]) -> None:
    """Every payment row matches its recorded event, and every status follows from the payments."""
    events: dict[str, tuple[object, ...]] = {}
    for row in ledger.events.by_type("payment_recorded"):
        p = json.loads(row["payload"])
        events[row["id"]] = (p.get("entitlement"), p.get("amount_cents"), p.get("paid_on"), p.get("mode"))
    for r in ledger.payments.all():
        if events.pop(r["event_id"], None) != (r["entitlement"], r["amount_cents"], r["paid_on"], r["mode"]):
            problem(f"payment row {r['seq']}", f"differs from its event {r['event_id']} (altered)")
    for event_id in events:
        problem(f"event {event_id}", "payment event without its payment row")
    paid = ledger.payments.totals_by_mode()
    for eid, amount, status in ledger.entitlements.statuses():
        expected = status_of(amount, paid.get(eid, {}))
        if status != expected:
            problem(
                f"entitlement {eid}", f"status {status!r} does not follow from its payments ({expected!r})"
            )
