"""Admission: every event is checked once, before anything is written.

Refused: an unknown type or company, an id the company already recorded with other content (or reused inside the
batch by the same company), an event about an employee the company does not have, a
payment above what is still due (counting the payments earlier in the batch), a choice outside its window, and
whatever an event type's own `check` refuses. A refused batch writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from . import payments
from .caches import Caches
from .errors import UserError
from .events import RECOMPUTATION, Event, not_ahead
from .host import PluginHost
from .params import Parameters
from .store import Ledger, LedgerReader


@frozen
class Admitted:
    """Events that passed admission together, in order: what the bus publishes without checking again."""

    events: tuple[Event[Any], ...]


class Admission:
    def __init__(
        self,
        ledger: Ledger,
        reader: LedgerReader,
        host: PluginHost,
        caches: Caches,
        params: Parameters,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledger = ledger
        self.reader = reader
        self.host = host
        self.caches = caches
        self.params = params
        self.clock = clock  # the recording time: a payment cannot be dated long after it (`payments.check`)

    def check(
        self,
        event: Event[Any],
        where: str = "",
        pending: dict[str, int] | None = None,
        recorded: dict[tuple[str, str], str] | None = None,
    ) -> None:
        """Refuse (UserError naming `where` and the field) what cannot be recorded. `pending`: what earlier
        events of the same batch paid; `recorded`: the digests of the batch's events already in the ledger, read
        together (`admit`; None: read this one's now)."""
        where = where or f"event {event.id}"
        if event.type not in self.host.event_types:
            raise UserError(where, f"type: unknown event type {event.type!r}")
        if self.caches.company(event.company) is None:
            raise UserError(
                where, f"company: unknown company {event.company!r} (load it first with `paybonus load`)"
            )
        # an event is known by its company and its id: another company's event of the same id is another event
        if recorded is None:
            known = self.ledger.events.digest(event.company, event.id)
        else:
            known = recorded.get((event.company, event.id))
        if known is not None and known != event.digest():
            raise UserError(
                where,
                f"id: {event.id!r} was already recorded with different content (company {event.company!r})",
            )
        if known is not None:
            return  # a duplicate: acknowledged, changes nothing
        # a departure, evidence, an advance: about someone of the company
        employee = event.subject("employee")
        if employee is not None and not self.ledger.companies.knows_employee(employee, event.company):
            outside = self.host.event_types.get(event.type).outside_payroll  # a company head's advance, say
            try:
                vouched = outside is not None and employee in outside(event, self.reader)
            except ValueError as exc:
                raise UserError(where, str(exc)) from None
            if not vouched:
                raise UserError(
                    where,
                    f"payload.employee: {employee!r} is not an employee of {event.company!r} (not in its "
                    "employees.csv)",
                )
        if event.type in payments.CHECKED:
            try:
                payments.check(
                    self.ledger, event, {} if pending is None else pending, self.params, self.clock().date()
                )
            except ValueError as exc:
                raise UserError(where, str(exc)) from None
        etype = self.host.event_types.get(event.type)
        for name in etype.reported:  # the payments' dates are bounded by `payments.check` alike
            try:
                not_ahead(event, name, self.clock().date())
            except ValueError as exc:
                raise UserError(where, str(exc)) from None
        check = etype.check
        if event.type == RECOMPUTATION.name:
            self._check_recomputes(event, where)
        if check is not None:
            try:
                check(event, self.reader)
            except ValueError as exc:
                raise UserError(where, str(exc)) from None

    def _check_recomputes(self, event: Event[Any], where: str) -> None:
        """A recomputation names a scheme that computes a period again: one that does not (PMT) would have
        reported the request completed and changed nothing."""
        able = [s.name for s in self.host.interested(event.type)]
        if event.payload.scheme in self.host.schemes and event.payload.scheme not in able:
            raise UserError(
                where,
                f"payload.scheme: {event.payload.scheme!r} does not compute a period again (schemes that do: "
                f"{', '.join(able) or 'none'})",
            )

    def admit(self, events: Sequence[tuple[str, Event[Any]]]) -> Admitted:
        """Check a batch of (where, event) before writing anything; also refuses one company's id used twice with
        different content. Each company's configuration digest is read once for the batch (admission only checks
        that the company is known; what computes reads its own), and its text parsed once."""
        with self.caches.pinned(), self.reader.configurations_kept():
            return self._admit(events)

    def _admit(self, events: Sequence[tuple[str, Event[Any]]]) -> Admitted:
        seen: dict[tuple[str, str], tuple[str, str]] = {}  # (company, id) -> (where, digest)
        pending: dict[str, int] = {}
        recorded = self._recorded(events)
        for where, event in events:
            key = (event.company, event.id)
            self.check(event, where, pending if key not in seen else {}, recorded)
            digest = event.digest()
            if key in seen and seen[key][1] != digest:
                raise UserError(
                    where,
                    f"id: {event.id!r} is used again with different content (first at {seen[key][0]})",
                )
            seen.setdefault(key, (where, digest))
        return Admitted(tuple(e for _, e in events))

    def _recorded(self, events: Sequence[tuple[str, Event[Any]]]) -> dict[tuple[str, str], str]:
        """(company, id) -> digest of the batch's events the ledger already holds: one statement per company
        (and per 500 ids), where a worker's message of 64 events asked 64 times. Companies the ledger does not
        know are left to `check`, which refuses them."""
        ids: dict[str, list[str]] = {}
        for _, event in events:
            if event.type in self.host.event_types:
                ids.setdefault(event.company, []).append(event.id)
        out: dict[tuple[str, str], str] = {}
        for company, mine in ids.items():
            out.update(((company, i), d) for i, d in self.ledger.events.digests(company, mine).items())
        return out
