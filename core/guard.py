"""Running a plugin's code as a guest: under a time limit, with `SystemExit` and `KeyboardInterrupt` contained.

The call runs in a daemon thread that the caller waits for. Python cannot stop a thread, so a call past its
limit is abandoned (it can no longer write anything: plugins only read, through a read-only connection) and
reported as `PluginTimeout`; the caller then drops what that call may still be using.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import PaybonusError

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 900.0  # a large employer's close computes in tens of seconds; a hang is far beyond


class PluginTimeout(PaybonusError):
    """A plugin's call did not return within its time limit."""


class PluginExit(PaybonusError):
    """A plugin's call raised SystemExit or KeyboardInterrupt (a plugin never ends the program)."""


def timeout_from_env() -> float | None:
    """`PAYBONUS_DISPATCH_TIMEOUT` seconds (0: no limit), else the default."""
    text = os.environ.get("PAYBONUS_DISPATCH_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return seconds if seconds > 0 else None


def call(fn: Callable[..., T], *args: Any, timeout: float | None, what: str) -> T:
    """fn(*args) in a guest thread; its exception is raised here, SystemExit and KeyboardInterrupt as
    PluginExit, an overrun as PluginTimeout."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # a guest's exit or interrupt must not end the host
            box["error"] = exc

    t = threading.Thread(target=run, name=f"paybonus-guest:{what}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise PluginTimeout(f"{what} did not return within {timeout:g} s")
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, SystemExit | KeyboardInterrupt):
            raise PluginExit(f"{what} raised {type(exc).__name__}") from None
        raise exc
    value: T = box["value"]
    return value
