"""paybonus: an event-driven engine for French employee bonuses, with a verifiable ledger.

Embedding in a few lines (see `paybonus.app` and docs/library.md):

    from paybonus import Paybonus

    with Paybonus.create("paybonus.db") as app:
        app.load_company("acme/")
        app.publish("events.jsonl")
        print(app.entitlements(company="ACME"))
"""

from . import _interrupt  # noqa: F401  (first: Ctrl-C while the command starts is one line)
from ._version import __version__
from .app import Explained, LoadSummary, Paybonus, PublishSummary
from .bus import DispatchOutcome, EventBus, PublishOutcome
from .calendar import Period
from .errors import PaybonusError, PluginError, UserError
from .events import Event, EventType, EventTypes
from .host import PluginHost, load_plugins
from .params import Parameters
from .store import Ledger

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
