"""paybonus: an event-driven engine for French employee bonuses, with a verifiable ledger.

Embedding in a few lines:

    from paybonus import Ledger, EventBus, load_plugins

    ledger = Ledger.create("paybonus.db")
    bus = EventBus(ledger, load_plugins())
    bus.publish(event)
"""

from ._version import __version__
from .bus import DispatchOutcome, EventBus, PublishOutcome
from .calendar import Period
from .errors import PaybonusError, PluginError, UserError
from .events import Event, EventType, EventTypes
from .host import PluginHost, load_plugins
from .ledger import Ledger
from .params import Parameters

__all__ = [
    "DispatchOutcome",
    "Event",
    "EventBus",
    "EventType",
    "EventTypes",
    "Ledger",
    "Parameters",
    "PaybonusError",
    "Period",
    "PluginError",
    "PluginHost",
    "PublishOutcome",
    "UserError",
    "__version__",
    "load_plugins",
]
