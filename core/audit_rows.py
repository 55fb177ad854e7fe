"""`audit verify`'s recomputation of every entitlement: by runs of rows of a scheme, and on a large SQLite ledger
in worker processes beside the verifier's other checks.

`outcomes` looks at a slice of rows (`Entitlements.tuples`): each row's digest re-derived from its columns, its
explanation read (own part merged with the part its dispatch shares) and its amount recomputed by its scheme as a
guest. The rows of a run of one scheme go to the guest in one call (one timer, not two system calls a row); a call
stops taking rows after a short budget, so that every row starts with at least the full time limit before it, and
a row that overruns is named as before. It returns what is not plainly right, by `seq`: whether the digest differs
and what the recomputation gave (`OK`, or a finding). `paybonus.audit` walks every row in `seq` order with the
chains' entries and turns these into problems, in the order and with the words of a row-by-row check: a row the
worker left (`SKIPPED`: its scheme hung earlier in the worker's slice) is recomputed there.

On a SQLite ledger of at least `PARALLEL_MIN_ROWS` entitlements, slices of rows are recomputed in worker processes
(`start`), each reading the ledger on a read-only connection of its own (WAL: readers run in parallel), while the
verifier walks the chains and the events; `PAYBONUS_VERIFY_PROCESSES` (0: none) sets how many. A slice whose
worker failed, or whose rows the verifier does not see as the worker saw them, is recomputed in the verifier's
process: the result never depends on the workers.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from paybonus.hooks.types import Explanation, SchemeDescriptor

from . import guard, heap
from .errors import UserError
from .store import Ledger
from .store.entitlements import TUPLE_COLUMNS, TUPLE_DIGESTED, Entitlements, digest_differs
from .store.verify_reads import read_only, seq_bounds, tuples_in

# what reading a row that was edited outside paybonus may raise (malformed JSON, a list for an object, ...)
ALTERED = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError)

# a worker that sent every result is ending (its interpreter's own exit): not killed meanwhile
EXIT_GRACE_S = 5.0
OK: tuple[Any, ...] = ("ok",)  # recomputed, the amount is the recorded one
SKIPPED: tuple[Any, ...] = ("skipped",)  # not recomputed here: its scheme hung earlier in this slice
# else ("amount", text of the amount recomputed, amount recorded) (recomputed, differs), ("timeout", what), ("exit", what),
# ("error", exception name), ("shared", ) (the shared part is missing), ("parse", exception name),
# ("abort", exception class) (the explanation cannot be read at all: the check of the entitlements stops there)
Outcome = tuple[Any, ...]
Outcomes = dict[int, tuple[bool, Outcome]]  # seq -> (digest differs, outcome), rows not plainly right only
# what the verifier's walk needs of each row a worker read (`Keys`), sent compactly: the seqs, ids and digests, and
# runs of rows of one (company, event id, scheme) as [rows, company, event id, scheme]
Packed = tuple[list[int], list[str], list[str], list[tuple[int, str, str, str]]]

RUN_ROWS = 2048  # rows read and recomputed at a time
BUDGET_S = 0.25  # a guest call takes no new row after this long (or 1 % of the time limit, if less)
PARALLEL_MIN_ROWS = 50_000  # below this, worker processes cost more than they save
SLICES_PER_PROCESS = 4  # slices of rows per worker process (a slow slice does not hold the others)
PROCESSES_ENV = "PAYBONUS_VERIFY_PROCESSES"

T_SEQ, T_ID, T_SCHEME, T_COMPANY, T_AMOUNT, T_EXPLANATION, T_DIGEST, T_EVENT = (
    TUPLE_COLUMNS.index(c)
    for c in ("seq", "id", "scheme", "company", "amount_cents", "explanation", "digest", "event_id")
)

Recompute = Callable[[Explanation], Any]
# a row's stored explanation text -> its whole explanation, as a dict or made already (`Entitlements.explained`)
Explain = Callable[[str], "Mapping[str, Any] | Explanation"]


def outcomes(
    rows: Sequence[tuple[Any, ...]],
    recomputes: Mapping[str, Recompute],
    explanation_of: Explain,
    hung: set[str],
    timeout: float | None,
) -> Outcomes:
    """What is not plainly right in `rows` (consecutive rows, in `seq` order); `hung` (schemes whose recompute did
    not return) grows as schemes hang."""
    out: Outcomes = {}
    i, n = 0, len(rows)
    while i < n:
        name = rows[i][T_SCHEME]
        j = i + 1
        while j < n and rows[j][T_SCHEME] == name:
            j += 1
        _run(rows[i:j], name, recomputes.get(name), explanation_of, hung, timeout, out)
        i = j
    return out


def _run(
    rows: Sequence[tuple[Any, ...]],
    name: str,
    recompute: Recompute | None,
    explanation_of: Explain,
    hung: set[str],
    timeout: float | None,
    out: Outcomes,
) -> None:
    """Rows of one scheme, in as few guest calls as the budget allows. Each row is taken whole in turn (digest,
    explanation, amount) while its objects are in the processor's cache."""
    if recompute is None:  # not installed: the verifier says so (nothing to recompute with)
        for row in rows:
            if _digest_differs(row):
                out[row[T_SEQ]] = (True, OK)
        return
    what = f"scheme {name}'s recompute"
    budget = None if timeout is None else min(BUDGET_S, timeout / 100)
    limit = None if timeout is None or budget is None else timeout + budget
    k = 0
    while k < len(rows):
        if name in hung:
            for row in rows[k:]:
                out[row[T_SEQ]] = (_digest_differs(row), SKIPPED)
            return
        results: list[
            tuple[bool, Outcome]
        ] = []  # a fresh list each call: an abandoned guest may still append
        try:
            guard.call(
                _each, recompute, explanation_of, rows, k, results, what, budget, timeout=limit, what=what
            )
            done = list(results)
        except guard.PluginTimeout:  # the row being recomputed overran the time limit
            done = results[: len(rows) - k - 1]
            row = rows[k + len(done)]
            done.append((_digest_differs(row), ("timeout", f"{what} did not return within {timeout:g} s")))
        for row, (bad, outcome) in zip(rows[k : k + len(done)], done, strict=True):
            if outcome[0] == "timeout":
                hung.add(name)
            if bad or outcome is not OK:
                out[row[T_SEQ]] = (bad, outcome)
        k += len(done)


def _digest_differs(row: tuple[Any, ...]) -> bool:
    return digest_differs(TUPLE_DIGESTED(row), row[T_DIGEST])


def _each(
    recompute: Recompute,
    explanation_of: Explain,
    rows: Sequence[tuple[Any, ...]],
    start: int,
    results: list[tuple[bool, Outcome]],
    what: str,
    budget: float | None,
) -> None:
    """Inside one guest call: rows[start:] each checked in turn, until the budget is spent (the caller calls again
    with the rest). An exception is that row's finding; a timeout of the plugin's own stops the run."""
    deadline = None if budget is None else time.monotonic() + budget
    for i in range(start, len(rows)):
        row = rows[i]
        bad = digest_differs(TUPLE_DIGESTED(row), row[T_DIGEST])
        try:
            explanation = explanation_of(row[T_EXPLANATION])
        except KeyError:
            results.append((bad, ("shared",)))
            continue
        except ValueError as exc:  # not JSON
            results.append((bad, ("parse", type(exc).__name__)))
            continue
        except ALTERED as exc:  # the check of the entitlements stops at this row
            results.append((bad, ("abort", type(exc))))
            continue
        try:
            amount = recompute(
                explanation if explanation.__class__ is Explanation else Explanation.from_dict(explanation)  # type: ignore[arg-type]
            )
            outcome = OK if amount == row[T_AMOUNT] else ("amount", f"{amount}", row[T_AMOUNT])
        except guard.PluginTimeout as exc:
            results.append((bad, ("timeout", str(exc))))
            return
        except guard.PluginExit as exc:
            outcome = ("exit", str(exc))
        except Exception as exc:  # a broken explanation is a finding, not a crash of the verifier
            outcome = ("error", type(exc).__name__)
        except (SystemExit, KeyboardInterrupt) as exc:
            if guard.interrupted():  # the user pressed Ctrl-C: `guard.call` stops the program
                raise
            outcome = ("exit", f"{what} raised {type(exc).__name__}")
        results.append((bad, outcome))
        if deadline is not None and time.monotonic() > deadline:
            return


def in_slices(
    rows: Iterable[tuple[Any, ...]],
    recomputes: Mapping[str, Recompute],
    explanation_of: Explain,
    hung: set[str],
    timeout: float | None,
) -> Iterable[tuple[list[tuple[Any, ...]], Outcomes]]:
    """The rows, `RUN_ROWS` at a time, each slice with its outcomes."""
    it = iter(rows)
    while True:
        part: list[tuple[Any, ...]] = []
        for row in it:
            part.append(row)
            if len(part) >= RUN_ROWS:
                break
        if not part:
            return
        heap.collect_young()
        yield part, outcomes(part, recomputes, explanation_of, hung, timeout)


# -- worker processes ------------------------------------------------------------------------------------------

# a worker is a fresh interpreter (no fork of this process and its threads and SQLite connections, no import of the
# caller's __main__): it reads sys.path, then its task, from its stdin, and writes each slice's result to stdout
_WORKER = "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); import paybonus.audit_rows as w; w.worker()"


def _slice(
    conn: Any, recomputes: Mapping[str, Recompute], timeout: float | None, lo: int, hi: int | None
) -> tuple[int, int, Outcomes, Packed]:
    """(rows seen, last seq seen, outcomes, their keys packed) of the rows with lo <= seq < hi."""
    explanation_of = Entitlements(conn).explained
    hung: set[str] = set()
    seen, last = 0, -1
    found: Outcomes = {}
    seqs: list[int] = []
    ids: list[str] = []
    digests: list[str] = []
    runs: list[tuple[int, str, str, str]] = []
    for part, outs in in_slices(tuples_in(conn, lo, hi), recomputes, explanation_of, hung, timeout):
        seen += len(part)
        last = part[-1][T_SEQ]
        found.update(outs)
        seqs.extend(map(_SEQ, part))
        ids.extend(map(_ID, part))
        digests.extend(map(_DIGEST, part))
        runs.extend(_runs(part))
    return seen, last, found, (seqs, ids, digests, runs)


_SEQ, _ID, _DIGEST = (itemgetter(i) for i in (T_SEQ, T_ID, T_DIGEST))
_RUN = itemgetter(T_COMPANY, T_EVENT, T_SCHEME)


def _runs(part: Sequence[tuple[Any, ...]]) -> list[tuple[int, str, str, str]]:
    """[rows, company, event id, scheme] of each run of consecutive rows of one dispatch (a row whose values are
    not all text is a run of its own: equal is then not always the same, 1 and 1.0)."""
    out: list[tuple[int, str, str, str]] = []
    start, run = 0, None
    for i, key in enumerate(map(_RUN, part)):
        if key != run or not (
            key[0].__class__ is str and key[1].__class__ is str and key[2].__class__ is str
        ):
            if run is not None:
                out.append((i - start, *run))
            start, run = i, key
    if run is not None:
        out.append((len(part) - start, *run))
    return out


def unpack(packed: Packed) -> list[tuple[Any, ...]]:
    """The keys (seq, id, scheme, company, digest, event id) of the rows a worker read, in `seq` order."""
    seqs, ids, digests, runs = packed
    return list(
        zip(
            seqs,
            ids,
            chain.from_iterable(repeat(scheme, n) for n, _, _, scheme in runs),
            chain.from_iterable(repeat(company, n) for n, company, _, _ in runs),
            digests,
            chain.from_iterable(repeat(event_id, n) for n, _, event_id, _ in runs),
            strict=True,
        )
    )


def worker() -> None:
    """A worker process: (path, recomputes, timeout, slices) from stdin, each slice's result to stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the verifier ends its workers
    path, recomputes, timeout, slices = pickle.load(sys.stdin.buffer)
    conn = read_only(path)
    # the results go down a copy of the pipe; the worker's own stdout goes where its stderr goes (nowhere): a
    # guest's print would otherwise be read by the verifier as a result's length
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        with guard.session(), heap.young_only():
            # each result framed by its length: the verifier reads the pipe as results come (`_drain`)
            for lo, hi in slices:
                data = pickle.dumps(
                    _slice(conn, recomputes, timeout, lo, hi), protocol=pickle.HIGHEST_PROTOCOL
                )
                out.write(len(data).to_bytes(8, "little"))
                out.write(data)
                out.flush()
    finally:
        conn.close()
        with contextlib.suppress(OSError):  # the verifier gone (a broken pipe)
            out.close()


class Workers:
    """Slices of the entitlements, (lo, hi) in `seq` order, being recomputed in worker processes (slice i by
    worker i modulo their number)."""

    def __init__(self, procs: list[subprocess.Popen[bytes]], slices: list[tuple[int, int | None]]) -> None:
        self.procs, self.slices = procs, slices
        self._read = [0] * len(procs)  # results read from each worker
        # each worker's results, read from its pipe as they come by a thread (a result is larger than the pipe's
        # buffer: unread, it would hold its worker until the verifier asks for it); None: no more
        self._results: list[queue.SimpleQueue[bytes | None]] = [queue.SimpleQueue() for _ in procs]
        self._drains = [
            threading.Thread(target=_drain, args=(p.stdout, q), daemon=True, name="paybonus-verify-drain")
            for p, q in zip(procs, self._results, strict=True)
        ]
        for t in self._drains:
            t.start()

    def result(self, i: int) -> tuple[int, int, Outcomes, list[tuple[Any, ...]]] | None:
        """Slice i's (rows seen, last seq seen, outcomes, their keys, `unpack`ed); None if its worker failed."""
        k = i % len(self.procs)
        if self._read[k] < 0:
            return None
        data = self._results[k].get()
        try:
            if data is None:
                raise EOFError
            seen, last, found, packed = pickle.loads(data)
            keys = unpack(packed)
            if not isinstance(found, dict) or seen != len(keys) or (keys and last != keys[-1][0]):
                raise ValueError("a result that does not hold together")
        except (
            Exception
        ):  # the worker died, could not start, or sent what is no result (not the ledger's fault,
            # which the verifier would have said: rows paybonus did not write): the verifier recomputes its slices
            self._read[k] = -1
            return None
        self._read[k] += 1
        return seen, last, found, keys

    def close(self) -> None:
        """End the workers: each has sent every result it had to send, or the verifier stopped before reading
        them (rows it could not read, an error, Ctrl-C) and they are not needed."""
        for k, proc in enumerate(self.procs):
            if self._read[k] == len(self.slices[k :: len(self.procs)]):  # all sent: let it exit by itself
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=EXIT_GRACE_S)
            if proc.poll() is None:
                proc.kill()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):  # a worker gone before it read its task
                        pipe.close()
            proc.wait()
        for t in self._drains:
            t.join(timeout=EXIT_GRACE_S)


def _drain(stream: Any, results: queue.SimpleQueue[bytes | None]) -> None:
    """A worker's results from its pipe, as they come, until it ends (then None)."""
    try:
        while stream is not None:
            head = stream.read(8)
            if len(head) < 8:
                break
            n = int.from_bytes(head, "little")
            data = stream.read(n)
            if len(data) < n:
                break
            results.put(data)
    except Exception:  # the pipe closed by `close`, or bytes that are no result (a guest's stray
        # write to the worker's stdout read as a length: MemoryError, OverflowError): that worker's slices are the
        # verifier's; the thread must not end without saying so, or `Workers.result` would wait for ever
        pass
    finally:
        results.put(None)


def processes_from_env() -> int:
    """`PAYBONUS_VERIFY_PROCESSES` (0 or 1: none), else one per core."""
    text = os.environ.get(PROCESSES_ENV, "").strip()
    if not text:
        return os.cpu_count() or 1
    if not (text.isascii() and text.isdigit() and int(text) <= 256):
        raise UserError(PROCESSES_ENV, f"expected a number of processes from 0 to 256, got {text!r:.40}")
    return int(text)


def start(
    ledger: Ledger,
    schemes: Mapping[str, SchemeDescriptor],
    timeout: float | None,
    processes: int,
    min_rows: int | None = None,
) -> Workers | None:
    """Worker processes recomputing slices of the entitlements, if it pays: a SQLite ledger with at least
    `min_rows` entitlements, more than one process allowed, and schemes whose recompute a worker can import."""
    if processes < 2 or ledger.server is not None:
        return None
    recomputes = {name: s.recompute for name, s in schemes.items()}
    try:  # a worker imports each recompute by its module and name: a lambda or a closure cannot go there
        task = pickle.dumps((ledger.path, recomputes, timeout), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # anything pickle raises: then the verifier recomputes them itself
        return None
    conn = read_only(ledger.path)
    try:
        n, lo, hi = seq_bounds(conn)
    finally:
        conn.close()
    if n < (PARALLEL_MIN_ROWS if min_rows is None else min_rows) or n == 0:
        return None
    cuts = processes * SLICES_PER_PROCESS
    step = max(1, (hi - lo + 1) // cuts)
    bounds: list[int] = [lo + i * step for i in range(cuts)]
    bounds[0] = -(2**63)  # the first slice has no start, the last no end (rows added since)
    slices = [(b, bounds[i + 1] if i + 1 < cuts else None) for i, b in enumerate(bounds)]
    path, recomputes, timeout = pickle.loads(task)
    procs: list[subprocess.Popen[bytes]] = []
    try:  # interrupted while starting them (Ctrl-C): the ones started are ended
        for p in range(processes):
            mine = slices[p::processes]
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _WORKER],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C goes to the verifier, which ends its workers
                )
            except OSError:  # no process to be had (a limit of the machine): the verifier does it all
                Workers(procs, slices).close()
                return None
            procs.append(proc)
            assert proc.stdin is not None
            try:
                pickle.dump(list(sys.path), proc.stdin)
                pickle.dump((path, recomputes, timeout, mine), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                proc.stdin.close()
            except OSError:  # it could not start: its slices are recomputed by the verifier
                pass
    except BaseException:
        Workers(procs, slices).close()
        raise
    return Workers(procs, slices)
