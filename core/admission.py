"""Admission: every event is checked once, before anything is written.

Refused: an unknown type or company, an id already recorded with other content (or reused inside the batch), a
payment above what is still due (counting the payments earlier in the batch), a choice outside its window, and
whatever an event type's own `check` refuses. A refused batch writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import frozen

from . import payments
from .caches import Caches
from .errors import UserError
from .events import Event
from .host import PluginHost
from .params import Parameters
from .store import Ledger, LedgerReader

# an event id that begins with a company's id and one of these belongs to that company ("DURAND-close-2026-01"):
# another company cannot take it first and block the real event (event ids are unique in the ledger)
ID_SEPARATORS = frozenset("-_.:/@")


@frozen
class Admitted:
    """Events that passed admission together, in order: what the bus publishes without checking again."""

    events: tuple[Event[Any], ...]


class Admission:
    def __init__(
        self, ledger: Ledger, reader: LedgerReader, host: PluginHost, caches: Caches, params: Parameters
    ) -> None:
        self.ledger = ledger
        self.reader = reader
        self.host = host
        self.caches = caches
        self.params = params
        self._companies: list[str] | None = None  # loaded company ids, read once per admission

    def check(self, event: Event[Any], where: str = "", pending: dict[str, int] | None = None) -> None:
        """Refuse (UserError naming `where` and the field) what cannot be recorded. `pending`: what earlier
        events of the same batch paid."""
        where = where or f"event {event.id}"
        if event.type not in self.host.event_types:
            raise UserError(where, f"type: unknown event type {event.type!r}")
        if self.caches.company(event.company) is None:
            raise UserError(
                where, f"company: unknown company {event.company!r} (load it first with `paybonus load`)"
            )
        known = self.ledger.events.digest(event.id)
        if known is None:
            owner = self._owner(event.id)
            if owner is not None and owner != event.company:
                raise UserError(
                    where,
                    f"id: {event.id!r} begins with the id of company {owner!r}: only its events may use it "
                    "(docs/events.md, ids)",
                )
        if known is not None and known != event.digest():
            raise UserError(where, f"id: {event.id!r} was already recorded with different content")
        if known is not None:
            return  # a duplicate: acknowledged, changes nothing
        if event.type in payments.CHECKED:
            try:
                payments.check(self.ledger, event, {} if pending is None else pending, self.params)
            except ValueError as exc:
                raise UserError(where, str(exc)) from None
        check = self.host.event_types.get(event.type).check
        if check is not None:
            try:
                check(event, self.reader)
            except ValueError as exc:
                raise UserError(where, str(exc)) from None

    def _owner(self, event_id: str) -> str | None:
        """The company whose id, followed by a separator, begins `event_id` (the longest), if any."""
        if self._companies is None:
            self._companies = sorted(self.ledger.companies.ids(), key=len, reverse=True)
        for c in self._companies:
            if event_id.startswith(c) and event_id[len(c) : len(c) + 1] in ID_SEPARATORS:
                return c
        return None

    def admit(self, events: Sequence[tuple[str, Event[Any]]]) -> Admitted:
        """Check a batch of (where, event) before writing anything; also refuses one id used twice with
        different content."""
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
        return Admitted(tuple(e for _, e in events))
