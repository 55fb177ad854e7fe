"""What a scheme receives while it computes: `paybonus.hooks.SchemeContext`, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from paybonus.hooks.types import CompanyInfo, RecordedEntitlement, SchemeDescriptor

from .caches import Populations
from .calendar import Period
from .errors import SchemeError
from .events import Event
from .host import PluginHost
from .params import Parameters
from .payroll import Population
from .store import LedgerReader


class Context:
    """The company, its configuration of the scheme, the parameters, and read access to its ledger."""

    def __init__(
        self,
        host: PluginHost,
        reader: LedgerReader,
        populations: Populations,
        company: CompanyInfo,
        config: Any,
        scheme: SchemeDescriptor,
        params: Parameters,
    ) -> None:
        self._host = host
        self._reader = reader
        self._populations = populations  # no reference to the ledger's writing side reaches a scheme
        self.company = company
        self.config = config
        self.scheme = scheme
        self.params = params

    def population(self, period: Period) -> Population:
        return self._populations.population(self._host, self._reader, self.company, period)

    def events(
        self, type: str, period: Period | None = None, employee: str | None = None
    ) -> list[Event[Any]]:
        found = self._reader.events(self.company.id, type, employee)
        if period is None:
            return found
        return [e for e in found if getattr(e.payload, "period", None) == period]

    def entitlements(
        self, scheme: str | None = None, period: Period | None = None, employee: str | None = None
    ) -> list[RecordedEntitlement]:
        self._may_read(scheme)
        return self._reader.entitlements(self.company.id, scheme, period, employee)

    def iter_entitlements(
        self, scheme: str | None = None, period: Period | None = None, employee: str | None = None
    ) -> Iterator[RecordedEntitlement]:
        self._may_read(scheme)
        return self._reader.iter_entitlements(self.company.id, scheme, period, employee)

    def _may_read(self, scheme: str | None) -> None:
        if self.scheme.reads_own_entitlements_only and scheme != self.scheme.name:
            # the bus computed it from a read that may not hold what the event's other schemes record (see
            # `SchemeDescriptor.reads_own_entitlements_only`): a plugin fault, not a partial answer
            raise SchemeError(
                f"scheme {self.scheme.name} declares reads_own_entitlements_only and asked for the entitlements "
                + (f"of {scheme}" if scheme else "of every scheme")
            )
