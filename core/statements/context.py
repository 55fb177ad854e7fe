"""What a scheme reads to write a statement's annex: `paybonus.hooks.StatementContext`, read-only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from paybonus.hooks.types import CompanyInfo, RecordedEntitlement, SchemeDescriptor

from ..caches import Populations
from ..context import Context
from ..events import Event
from ..host import PluginHost
from ..params import Parameters
from ..store import LedgerReader


class AnnexContext(Context):
    """A scheme's context, plus the events and dispatch summaries a computation recorded, and the company's
    wording of figures and formulas ([statement.figures], [statement.formulas])."""

    def __init__(
        self,
        host: PluginHost,
        reader: LedgerReader,
        populations: Populations,
        company: CompanyInfo,
        config: Any,
        scheme: SchemeDescriptor,
        params: Parameters,
        figure_labels: Mapping[str, Mapping[str, str]],
        formula_wording: str | None,
    ) -> None:
        super().__init__(host, reader, populations, company, config, scheme, params)
        self.figure_labels = figure_labels
        self.formula_wording = formula_wording

    def event(self, event_id: str) -> Event[Any] | None:
        return self._reader.event(self.company.id, event_id)

    def summary(self, entitlement: RecordedEntitlement) -> Mapping[str, Any]:
        found = self._reader.dispatch_summary(entitlement.event_id, entitlement.scheme, entitlement.company)
        data = json.loads(found) if found else {}
        return data if isinstance(data, dict) else {}
