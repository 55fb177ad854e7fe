"""The paybonus plugin contract: hook markers, hook specifications and the typed values plugins use.

A plugin is a module or object with functions marked `@hookimpl`:

    from paybonus.hooks import hookimpl, SchemeDescriptor

    @hookimpl
    def paybonus_register_schemes():
        return [SchemeDescriptor(name="prime_fin_annee", handlers={"period_closed": on_close}, ...)]

See docs/plugins.md for every hook, the values below and the toolkit a plugin may import.
"""

from .markers import hookimpl, hookspec
from .types import (
    Annex,
    AnnexBlock,
    AnnexList,
    AnnexSection,
    AnnexTable,
    AnnexText,
    CommandContext,
    CompanyInfo,
    Delivery,
    DispatchStatus,
    Drafts,
    DsnMapping,
    EntitlementDraft,
    EventSink,
    EventSource,
    Explanation,
    Finding,
    Handler,
    Kind,
    LedgerView,
    Level,
    PayrollSource,
    RecordedEntitlement,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
    StatementContext,
    Status,
    Verdict,
)

__all__ = [
    "Annex",
    "AnnexBlock",
    "AnnexList",
    "AnnexSection",
    "AnnexTable",
    "AnnexText",
    "CommandContext",
    "CompanyInfo",
    "Delivery",
    "DispatchStatus",
    "Drafts",
    "DsnMapping",
    "EntitlementDraft",
    "EventSink",
    "EventSource",
    "Explanation",
    "Finding",
    "Handler",
    "Kind",
    "LedgerView",
    "Level",
    "PayrollSource",
    "RecordedEntitlement",
    "SchemeContext",
    "SchemeDescriptor",
    "SchemeResult",
    "SocialRegime",
    "StatementContext",
    "Status",
    "Verdict",
    "hookimpl",
    "hookspec",
]
