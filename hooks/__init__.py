"""The paybonus plugin contract: hook markers, hook specifications and the typed values plugins return.

A plugin is a module or object with functions marked `@hookimpl`:

    from paybonus.hooks import hookimpl, SchemeDescriptor

    @hookimpl
    def paybonus_register_schemes():
        return [SchemeDescriptor(name="prime_fin_annee", ...)]

See docs/plugins.md for every hook, with a runnable example.
"""

from .markers import hookimpl, hookspec
from .types import (
    CompanyInfo,
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Finding,
    Kind,
    PayrollSource,
    RecordedEntitlement,
    SchemeContext,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
)

__all__ = [
    "CompanyInfo",
    "DsnMapping",
    "EntitlementDraft",
    "Explanation",
    "Finding",
    "Kind",
    "PayrollSource",
    "RecordedEntitlement",
    "SchemeContext",
    "SchemeDescriptor",
    "SchemeResult",
    "SocialRegime",
    "hookimpl",
    "hookspec",
]
