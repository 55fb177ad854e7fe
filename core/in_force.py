"""The schemes a company had configured when each of its events was recorded.

A scheme added to a company by a later `paybonus load` applies to the events recorded from then on: the earlier
events do not owe it a dispatch (`audit verify` does not report them as never run, `paybonus retry` does not run
them, publishing them again does not run them), unless asked on purpose (`paybonus retry --backfill`). A scheme
removed by a later load is no longer run.
"""

from __future__ import annotations

from .config import parse_company_toml
from .errors import UserError
from .store import Ledger


class SchemesInForce:
    """`of(company, event id)`: the scheme names configured when that event was recorded, or None where the
    ledger cannot tell (a kept configuration that no longer parses, a company without a kept configuration). An
    event paybonus 0.x recorded before the chains has no entry in its company's chain: the configuration in force
    for it is the one migration m005 kept when it opened the chain (the company's first `config.loaded`).
    `company`: read only that company's chain (a publish's duplicates); `of` then knows only its events."""

    def __init__(self, ledger: Ledger, company: str | None = None) -> None:
        self._ledger = ledger
        self._digests, self._first = ledger.audit.configs_at_events(company)
        self._schemes: dict[tuple[str, str], frozenset[str] | None] = {}

    def of(self, company: str, event_id: str) -> frozenset[str] | None:
        digest = self._digests.get((company, event_id)) or self._first.get(company)
        if digest is None:
            return None
        key = (company, digest)
        if key not in self._schemes:
            toml = self._ledger.companies.config_version(company, digest)
            try:
                self._schemes[key] = frozenset(parse_company_toml(toml, company).schemes) if toml else None
            except UserError:  # a kept version that no longer parses: no restriction known (verify names it)
                self._schemes[key] = None
        return self._schemes[key]

    def owes(self, company: str, event_id: str, scheme: str) -> bool:
        """Whether the event owes `scheme` a dispatch: the scheme was configured when it was recorded (or the
        ledger cannot tell)."""
        then = self.of(company, event_id)
        return then is None or scheme in then
