"""What a scheme reads to write a statement's annex: `paybonus.hooks.StatementContext`, read-only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from paybonus.hooks.types import CompanyInfo, RecordedEntitlement, SchemeDescriptor

from ..caches import Caches
from ..context import Context
from ..events import Event
from ..host import PluginHost
from ..params import Parameters
from ..store import Ledger, LedgerReader


class AnnexContext(Context):
    """A scheme's context, plus the events and dispatch summaries a computation recorded, and the company's
    wording of figures and formulas ([statement.figures], [statement.formulas])."""

    def __init__(
        self,
        host: PluginHost,
        reader: LedgerReader,
        caches: Caches,
        company: CompanyInfo,
        config: Any,
        scheme: SchemeDescriptor,
        params: Parameters,
        ledger: Ledger,
        figure_labels: Mapping[str, Mapping[str, str]],
        formula_wording: str | None,
    ) -> None:
        super().__init__(host, reader, caches, company, config, scheme, params)
        self._ledger = ledger
        self.figure_labels = figure_labels
        self.formula_wording = formula_wording

    def event(self, event_id: str) -> Event[Any] | None:
        rows = self._ledger.events.get_many([event_id])
        if not rows or rows[0]["company"] != self.company.id:
            return None
        return self._reader.event_from_row(rows[0])

    def summary(self, entitlement: RecordedEntitlement) -> Mapping[str, Any]:
        found = self._ledger.dispatches.summary(entitlement.event_id, entitlement.scheme)
        data = json.loads(found) if found else {}
        return data if isinstance(data, dict) else {}
