"""Running a plugin's code as a guest: under a time limit, with `SystemExit` and `KeyboardInterrupt` contained.

In the main thread of a program that does not use SIGALRM itself, the limit is an interval timer: the call runs
inline and an overrun raises inside it (again every second, should the plugin swallow it), at the cost of two
system calls per call. Elsewhere the call runs in a guest thread that the caller waits for; Python cannot stop a
thread, so a call past its limit is abandoned there (it cannot write anything: plugins only read, through a
read-only connection) and the next call gets a new guest thread.

`session()` installs the signal handlers once around many calls (a publish, a retry); `call()` outside a session
installs them for that one call.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal.getsignal without its enum wrapping
import math
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import PaybonusError, UserError

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 900.0  # a large employer's close computes in tens of seconds; a hang is far beyond
MAX_TIMEOUT_S = 86_400  # a day: a scheme's computation for one event


class PluginTimeout(PaybonusError):
    """A plugin's call did not return within its time limit."""


class PluginExit(PaybonusError):
    """A plugin's call raised SystemExit or KeyboardInterrupt (a plugin never ends the program)."""


class _Overrun(BaseException):
    """Raised inside a plugin's call by the timer (a BaseException: `except Exception` does not swallow it)."""


def timeout_from_env() -> float | None:
    """`PAYBONUS_DISPATCH_TIMEOUT` seconds (0: no limit), else the default. Anything else (abc, -1, nan, inf) is
    refused: a typo must never remove the limit or quietly fall back to the default."""
    text = os.environ.get("PAYBONUS_DISPATCH_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text) if text.isascii() else math.nan
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_TIMEOUT_S):
        raise UserError(
            "PAYBONUS_DISPATCH_TIMEOUT",
            f"expected seconds, a number from 0 (no limit) to {MAX_TIMEOUT_S}, got {text!r:.40}",
        )
    return seconds if seconds > 0 else None


class _State(threading.local):
    session = False  # the handlers below are installed
    in_call = False  # a guest call runs (SIGALRM or SIGINT then belongs to it)
    interrupted = False  # the user pressed Ctrl-C during the call


_state = _State()


def _on_alarm(_signum: int, _frame: Any) -> None:
    if _state.in_call:
        raise _Overrun


def _on_sigint(signum: int, frame: Any) -> None:
    if _state.in_call:
        _state.interrupted = True
    signal.default_int_handler(signum, frame)


# the handler as `signal.getsignal` gives it, without its conversion to an enum (a Python-level lookup that
# raised and caught ValueError for a function handler: most of this check's time, once per guest call)
_getsignal: Callable[[int], Any] = getattr(_signal, "getsignal", signal.getsignal)
_NO_HANDLER = (signal.SIG_DFL, signal.SIG_IGN, None)  # SIG_DFL and SIG_IGN equal the ints _signal gives


def _can_use_timer() -> bool:
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    handler = _getsignal(signal.SIGALRM)
    return handler is _on_alarm or handler in _NO_HANDLER


@contextmanager
def session() -> Iterator[None]:
    """Install the timer's handlers once for many calls (no-op where the timer cannot be used)."""
    if _state.session or not _can_use_timer():
        yield
        return
    previous_alarm = signal.signal(signal.SIGALRM, _on_alarm)
    sigint = (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )  # only Python's own: tell Ctrl-C apart
    if sigint:
        signal.signal(signal.SIGINT, _on_sigint)
    _state.session = True
    try:
        yield
    finally:
        _state.session = False
        signal.signal(signal.SIGALRM, previous_alarm)
        if sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def call(fn: Callable[..., T], *args: Any, timeout: float | None, what: str) -> T:
    """fn(*args) as a guest: its exception is raised here, SystemExit and KeyboardInterrupt as PluginExit, an
    overrun as PluginTimeout. A Ctrl-C of the user still stops the program (KeyboardInterrupt)."""
    if timeout is not None and not _can_use_timer():
        return _in_guest_thread(fn, args, timeout, what)
    if timeout is not None and not _state.session:
        with session():
            return call(fn, *args, timeout=timeout, what=what)
    _state.in_call, _state.interrupted = True, False
    try:
        if timeout is not None:
            signal.setitimer(signal.ITIMER_REAL, timeout, 1.0)
        return fn(*args)
    except _Overrun:
        raise PluginTimeout(f"{what} did not return within {timeout:g} s") from None
    except (SystemExit, KeyboardInterrupt) as exc:
        if _state.interrupted:  # the user pressed Ctrl-C: stop the program, as always
            raise KeyboardInterrupt from None
        raise PluginExit(f"{what} raised {type(exc).__name__}") from None
    finally:
        if timeout is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
        _state.in_call = False


def interrupted() -> bool:
    """Whether the user pressed Ctrl-C during the current guest call (a guest call that runs many plugin calls,
    `audit verify`'s runs of rows, tells the user's interrupt, which must stop the program, from a plugin's)."""
    return _state.interrupted


class _Guest:
    """One daemon thread running the calls it is given, in order (kept: starting one per call is slow)."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="paybonus-guest", daemon=True).start()

    def _run(self) -> None:
        while True:
            fn, future = self.calls.get()
            try:
                future.set_result(fn())
            except BaseException as exc:  # a guest's exit or interrupt must not end the host
                future.set_exception(exc)


_guest: _Guest | None = None
_lock = threading.Lock()


def _in_guest_thread(fn: Callable[..., T], args: tuple[Any, ...], timeout: float, what: str) -> T:
    global _guest
    with _lock:  # one call at a time: a caller from another thread waits its turn
        if _guest is None:
            _guest = _Guest()
        future: Future[T] = Future()
        _guest.calls.put((lambda: fn(*args), future))
        try:
            return future.result(timeout)
        except FutureTimeout:
            _guest = None  # abandoned with its call: the next call starts a new guest
            raise PluginTimeout(f"{what} did not return within {timeout:g} s") from None
        except (SystemExit, KeyboardInterrupt) as exc:
            raise PluginExit(f"{what} raised {type(exc).__name__}") from None
