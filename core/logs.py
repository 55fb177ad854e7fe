"""Logging setup for applications embedding paybonus, and the processor that keeps personal data out of logs.

The library logs through `get_logger(name)` and never configures anything: it is silent unless the host configures
logging. A host that configured structlog receives paybonus's events in its own pipeline; otherwise they go to
the standard `logging` module under the `paybonus` logger, which has a `NullHandler` (the usual default of a
library), so they appear only if the host configured `logging`. The CLI calls `configure(...)`; an embedding host
may call it too, or add `redact_personal_data` to its own processors. docs/operations.md lists every event.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# keys that may carry a name, a NIR, a salary or a per-person amount: dropped from every log event
_PERSONAL_KEYS = re.compile(
    r"(^|_)(name|names|display_name|first_name|last_name|nir|ssn|salary|salaries|gross|base|amount|amounts|"
    r"cents|address|forwarding_address|iban|birth|birth_date)($|_)"
)
# numbers that look like a NIR (13 digits, optionally followed by a 2-digit key) inside free text
_NIR = re.compile(r"\b[12]\d{12}(\d{2})?\b")
_ALLOWED = {"event_name", "scheme_name", "plugin_name", "company_name"}
# amounts inside free text: a number with decimals (2350.40, 2 350,40), or four digits or more that are not a year
_AMOUNT = re.compile(
    r"(?<![\w.])-?\d[\d\u202f\u00a0 ]*[.,]\d+|(?<![\w.-])(?<!line )(?!(?:19|20|21)\d\d\b)\d{4,}(?![\w-])"
)


def redact_text(text: str) -> str:
    """Free text (a plugin's exception, a stored failure) without what may be personal: NIR-like numbers and
    amounts become [NIR] and [amount]; dates, years, ids and words stay."""
    return _AMOUNT.sub("[amount]", _NIR.sub("[NIR]", text))


_PERSONAL: dict[str, bool] = {}  # key -> dropped: event fields are few names, each matched once
_NIR_MIN = 13  # a shorter text holds no NIR-like number


def _personal(key: str) -> bool:
    found = _PERSONAL.get(key)
    if found is None:
        found = key not in _ALLOWED and _PERSONAL_KEYS.search(key) is not None
        if len(_PERSONAL) < 4096:  # a host logging ever new keys only misses the cache
            _PERSONAL[key] = found
    return found


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal keys and mask NIR-like numbers in strings."""
    for key in list(event_dict):
        if key == "event":
            continue
        if _personal(key):
            del event_dict[key]
            continue
        v = event_dict[key]
        if isinstance(v, str) and len(v) >= _NIR_MIN and _NIR.search(v):
            event_dict[key] = _NIR.sub("[NIR]", v)
    return event_dict


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
logging.getLogger("paybonus").addHandler(logging.NullHandler())


class LibraryLogger:
    """A paybonus logger: structlog's when the host configured structlog, else standard `logging` (silent by
    default). Event names are stable (docs/operations.md); personal data is dropped either way."""

    __slots__ = ("_std", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._std = logging.getLogger(name)

    def _log(self, level: str, event: str, fields: dict[str, Any]) -> None:
        fast = _configured
        if fast is not None and fast.current():
            fast.emit(level, event, fields)
        elif structlog.is_configured():
            getattr(structlog.get_logger(self.name), level)(event, **fields)
        elif self._std.isEnabledFor(LEVELS[level]):
            kept = redact_personal_data(None, level, {"event": event, **fields})
            text = " ".join(f"{k}={v}" for k, v in kept.items() if k != "event")
            self._std.log(LEVELS[level], "%s %s", event, text, extra={"paybonus_event": dict(kept)})

    def debug(self, event: str, **fields: Any) -> None:
        self._log("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, fields)


def get_logger(name: str) -> LibraryLogger:
    """The logger of a paybonus module (`paybonus.bus`, ...)."""
    return LibraryLogger(name)


class _Configured:
    """What `configure` set up, run directly by paybonus's loggers while it is still structlog's configuration:
    the same processors and output as structlog's filtering bound logger, without building a bound logger for
    every line (a worker logs about three lines an event at info, and asks for about three more at debug, which
    are dropped here before anything is built)."""

    def __init__(self, processors: list[Any], wrapper: Any, factory: Any, level: int, out: TextIO) -> None:
        self.processors, self.wrapper, self.factory, self.level = processors, wrapper, factory, level
        self.logger = structlog.PrintLogger(out)

    def current(self) -> bool:
        """Nobody configured structlog otherwise since (a host may, after the CLI did)."""
        config = structlog.get_config()
        return (
            config["processors"] is self.processors
            and config["wrapper_class"] is self.wrapper
            and config["logger_factory"] is self.factory
        )

    def emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if LEVELS[level] < self.level:
            return
        event_dict: Any = dict(fields)  # as structlog's bound logger: an empty context, the fields, the event
        event_dict["event"] = event
        for processor in self.processors:
            event_dict = processor(self.logger, level, event_dict)
        self.logger.msg(event_dict)


_configured: _Configured | None = None


def configure(fmt: str = "console", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog for an application: 'json' (one object per line, for ops) or 'console'."""
    global _configured
    out = stream or sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
        renderer,
    ]
    number = logging.getLevelNamesMapping()[level.upper()]
    wrapper = structlog.make_filtering_bound_logger(number)
    factory = structlog.PrintLoggerFactory(out)
    structlog.configure(
        processors=processors, wrapper_class=wrapper, logger_factory=factory, cache_logger_on_first_use=False
    )
    _configured = _Configured(processors, wrapper, factory, number, out)
