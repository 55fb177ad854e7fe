"""What the bus keeps between dispatches: company configurations and populations.

Both are keyed on what the company's last `load` stored, so a reload invalidates them. Populations: always the
last few (a year and a few months of one company), and more while they hold fewer than `POPULATION_BUDGET`
employees in all (a vendor's many small companies, whose closes interleave).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from paybonus.hooks.types import CompanyInfo, SchemeDescriptor

from .calendar import Period
from .config import CompanyConfig, parse_company_toml, scheme_config
from .host import PluginHost
from .payroll import Population
from .store import Ledger, LedgerReader

POPULATION_CACHE = 3
POPULATION_BUDGET = 250_000


class Caches:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._companies: dict[str, tuple[str, CompanyConfig]] = {}
        self._configs: dict[tuple[str, str, str], Any] = {}
        self.populations = Populations()
        self._pinned: dict[str, str | None] | None = None  # digests read once for a while (`pinned`)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Read each company's configuration digest once while inside (a worker's message: one company, up to
        64 events, whose admission and scheme selection asked for it about three times an event). A computation
        still uses the digest its `Ledger.version` read, which the record checks again under the lock. Inside
        another `pinned`, it keeps the digests that one read."""
        if self._pinned is not None:
            yield
            return
        self._pinned = {}
        try:
            yield
        finally:
            self._pinned = None

    def company(self, company_id: str, digest: str | None = None) -> CompanyConfig | None:
        """The company's stored configuration, parsed once per `load` (None for an unknown company). `digest`: the
        stored configuration's digest when the caller has just read it (`Ledger.version`)."""
        if digest is None and self._pinned is not None:
            if company_id not in self._pinned:
                self._pinned[company_id] = self.ledger.companies.digest(company_id)
            digest = self._pinned[company_id]
        elif digest is None:
            digest = self.ledger.companies.digest(company_id)  # not the text: a large plan's TOML is big
        if digest is None:
            return None
        cached = self._companies.get(company_id)
        if cached is None or cached[0] != digest:
            toml = self.ledger.companies.toml(company_id) or ""
            cached = (digest, parse_company_toml(toml, f"company {company_id} (stored)"))
            self._companies[company_id] = cached
        return cached[1]

    def scheme_config(self, config: CompanyConfig, scheme: SchemeDescriptor) -> Any:
        """The scheme's table of the company, structured into its `config_type`."""
        key = (config.info.id, scheme.name, config.toml)
        if key not in self._configs:
            self._configs[key] = scheme_config(config, scheme, f"company {config.info.id}")
        return self._configs[key]

    def population(
        self, host: PluginHost, reader: LedgerReader, company: CompanyInfo, period: Period
    ) -> Population:
        """The period's population from the payroll source; the last few are kept (schemes share them)."""
        return self.populations.population(host, reader, company, period)

    def clear_populations(self) -> None:
        self.populations.clear()


class Populations:
    """The last few populations read (schemes share them). Holds nothing of the ledger's writing side: a scheme's
    context refers to it, and a scheme must find no writable connection through what it receives."""

    def __init__(self) -> None:
        self._populations: OrderedDict[tuple[str, Period, str], Population] = OrderedDict()
        self._cached_employees = 0
        self._loads: dict[str, str] | None = None  # each company's payroll load, read once (`loads_held`)

    @contextmanager
    def loads_held(self) -> Iterator[None]:
        """While inside, a company's payroll load time (what a population is keyed on) is read once: a worker's
        message, under its company's held lock (`Ledger.holding`), where nobody else can load the company's
        payroll (a load takes the company's lock). Its schemes asked for it once a computation, a round trip to
        PostgreSQL each."""
        if self._loads is not None:
            yield
            return
        self._loads = {}
        try:
            yield
        finally:
            self._loads = None

    def population(
        self, host: PluginHost, reader: LedgerReader, company: CompanyInfo, period: Period
    ) -> Population:
        """The period's population from the payroll source; the last few are kept (schemes share them)."""
        loads = self._loads
        if loads is None:
            loaded = reader.loaded_at(company.id)
        elif company.id in loads:
            loaded = loads[company.id]
        else:
            loaded = loads[company.id] = reader.loaded_at(company.id)
        key = (company.id, period, loaded)
        if key in self._populations:
            self._populations.move_to_end(key)
            return self._populations[key]
        pop = host.payroll_source(company, reader).population(company.id, period)
        self._populations[key] = pop
        self._cached_employees += len(pop.employees)
        while len(self._populations) > POPULATION_CACHE and self._cached_employees > POPULATION_BUDGET:
            self._cached_employees -= len(self._populations.popitem(last=False)[1].employees)
        return pop

    def clear(self) -> None:
        self._populations.clear()
        self._cached_employees = 0
