"""Logging setup for applications embedding paybonus, and the processor that keeps personal data out of logs.

The library only calls `structlog.get_logger(...)`; it never configures structlog. The CLI calls
`configure(...)`; an embedding host may call it too, or add `redact_personal_data` to its own processors.
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


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal keys and mask NIR-like numbers in strings."""
    for key in list(event_dict):
        if key == "event":
            continue
        if key not in _ALLOWED and _PERSONAL_KEYS.search(key):
            del event_dict[key]
            continue
        v = event_dict[key]
        if isinstance(v, str) and _NIR.search(v):
            event_dict[key] = _NIR.sub("[NIR]", v)
    return event_dict


def configure(fmt: str = "console", level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog for an application: 'json' (one object per line, for ops) or 'console'."""
    out = stream or sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
