"""paybonus: an event-driven engine for French employee bonuses, with a verifiable ledger.

Embedding in a few lines (see `paybonus.app` and docs/library.md):

    from paybonus import Paybonus

    with Paybonus.create("paybonus.db") as app:
        app.load_company("acme/")
        app.publish("events.jsonl")
        print(app.entitlements(company="ACME"))
"""

import importlib
from typing import TYPE_CHECKING, Any

from . import _interrupt  # noqa: F401  (first: Ctrl-C while the command starts is one line)
from ._version import __version__

if TYPE_CHECKING:  # the names below, imported when first used (PEP 562)
    from .app import Explained, LoadSummary, Paybonus, PublishSummary
    from .bus import DispatchOutcome, EventBus, PublishOutcome
    from .calendar import Period
    from .errors import PaybonusError, PluginError, UserError
    from .events import Event, EventType, EventTypes
    from .host import PluginHost, load_plugins
    from .params import Parameters
    from .store import Ledger

# name -> its module: a process that needs one part (an `audit verify` worker, which imports `paybonus.audit_rows`
# and the schemes' recompute functions) does not import the whole engine, the application facade included
_LAZY = {
    **dict.fromkeys(("Explained", "LoadSummary", "Paybonus", "PublishSummary"), "app"),
    **dict.fromkeys(("DispatchOutcome", "EventBus", "PublishOutcome"), "bus"),
    "Period": "calendar",
    **dict.fromkeys(("PaybonusError", "PluginError", "UserError"), "errors"),
    **dict.fromkeys(("Event", "EventType", "EventTypes"), "events"),
    **dict.fromkeys(("PluginHost", "load_plugins"), "host"),
    "Parameters": "params",
    "Ledger": "store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paybonus' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DispatchOutcome",
    "Event",
    "EventBus",
    "EventType",
    "EventTypes",
    "Explained",
    "Ledger",
    "LoadSummary",
    "Parameters",
    "Paybonus",
    "PaybonusError",
    "Period",
    "PluginError",
    "PluginHost",
    "PublishOutcome",
    "PublishSummary",
    "UserError",
    "__version__",
    "load_plugins",
]
