"""Issue 17, `audit verify` in worker processes and by runs of rows (`paybonus.audit_rows`): the same problems,
in the same order and words, as the row-by-row check; every tamper of tests/core/test_audit.py is run again here
with the entitlements recomputed in worker processes."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from paybonus import Paybonus, audit_rows, guard
from paybonus.errors import UserError
from paybonus.hooks.types import Explanation
from paybonus.store.entitlements import DIGEST_COLUMNS, TUPLE_COLUMNS, digest_of_values


def _tampers() -> dict[str, object]:
    """Every test of test_audit.py and its fixtures, to run them again here (with worker processes)."""
    spec = importlib.util.spec_from_file_location("audit_tampers", Path(__file__).with_name("test_audit.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        k: v
        for k, v in vars(module).items()
        if k.startswith("test_")
        or hasattr(v, "_pytestfixturefunction")
        or type(v).__name__ == "FixtureFunctionDefinition"
    }


globals().update(_tampers())

STARTED: list[bool] = []  # whether each verify used worker processes


@pytest.fixture(autouse=True)
def _in_workers(monkeypatch):
    """Every verify of this module recomputes the entitlements in two worker processes, however few."""
    monkeypatch.setenv(audit_rows.PROCESSES_ENV, "2")
    monkeypatch.setattr(audit_rows, "PARALLEL_MIN_ROWS", 1)
    real = audit_rows.start

    def start(*args, **kw):
        workers = real(*args, **kw)
        STARTED.append(workers is not None)
        return workers

    monkeypatch.setattr(audit_rows, "start", start)


def reports(path):
    """(problems, counts) of a verify with worker processes, then of one without."""
    out = []
    for processes in ("2", "0"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(audit_rows.PROCESSES_ENV, processes)
            with Paybonus.open(path) as a:
                rep = a.verify()
        out.append(([str(p) for p in rep.problems], (rep.entitlements, rep.recomputed, rep.more)))
    return out


def test_many_tampers_at_once_give_the_same_report_with_and_without_workers(sample_ledger, tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(sample_ledger, path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TRIGGER entitlements_immutable")
    seqs = [r[0] for r in con.execute("SELECT seq FROM entitlements ORDER BY seq")]
    cols = ", ".join(TUPLE_COLUMNS)
    # an amount; an amount with its digest re-derived; an explanation that is not JSON; one that is a list
    # (the check of the entitlements stops there, as row by row)
    con.execute("UPDATE entitlements SET amount_cents = amount_cents + 1 WHERE seq = ?", (seqs[3],))
    row = list(con.execute(f"SELECT {cols} FROM entitlements WHERE seq = ?", (seqs[5],)).fetchone())
    row[TUPLE_COLUMNS.index("amount_cents")] += 7
    digested = [row[TUPLE_COLUMNS.index(c)] for c in DIGEST_COLUMNS]
    con.execute(
        "UPDATE entitlements SET amount_cents = ?, digest = ? WHERE seq = ?",
        (row[TUPLE_COLUMNS.index("amount_cents")], digest_of_values(digested), seqs[5]),
    )
    con.execute("UPDATE entitlements SET explanation = '{not json' WHERE seq = ?", (seqs[8],))
    con.execute("UPDATE entitlements SET scheme = 'gone' WHERE seq = ?", (seqs[9],))
    con.execute("UPDATE entitlements SET explanation = '[1]' WHERE seq = ?", (seqs[-2],))
    con.close()
    STARTED.clear()
    (parallel, counts_p), (serial, counts_s) = reports(path)
    assert STARTED == [True, False]
    assert parallel == serial and counts_p == counts_s
    text = "\n".join(serial)
    assert "recomputed from its explanation" in text and "cannot recompute from its explanation" in text
    assert "scheme 'gone' is not installed" in text
    assert "entitlements: holds rows paybonus did not write" in text


def test_an_untouched_ledger_is_ok_in_workers(app):
    STARTED.clear()
    rep = app.verify()
    assert rep.ok, rep.problems
    assert STARTED == [True] and rep.recomputed == rep.entitlements > 0


def test_a_wrong_number_of_processes_is_the_users_mistake(app, monkeypatch):
    monkeypatch.setenv(audit_rows.PROCESSES_ENV, "two")
    with pytest.raises(UserError, match="PAYBONUS_VERIFY_PROCESSES"):
        app.verify()


def test_a_worker_that_cannot_start_leaves_its_slices_to_the_verifier(app, monkeypatch):
    monkeypatch.setattr(audit_rows, "_WORKER", "import sys; sys.exit(3)")
    STARTED.clear()
    rep = app.verify()
    assert STARTED == [True] and rep.ok and rep.recomputed == rep.entitlements > 0


# -- runs of rows in one guest call ------------------------------------------------------------------------------

MODE: dict[str, object] = {}


def _recompute(expl: Explanation) -> int:
    """A scheme's recompute for these tests: the amount is inputs.n; inputs.do says how to misbehave."""
    do = expl.inputs.get("do")
    if do == "hang":
        while True:
            time.sleep(0.01)
    if do == "exit":
        sys.exit(0)
    if do == "raise":
        raise ValueError("broken")
    if do == "slow":
        time.sleep(0.005)
    return int(expl.inputs["n"])


def _rows(*specs):
    """Entitlement tuples of scheme 's' whose explanations are {inputs: {n, do}}, with right digests."""
    rows = []
    for seq, (amount, do) in enumerate(specs, start=1):
        values = dict.fromkeys(TUPLE_COLUMNS)
        values.update(
            seq=seq,
            id=f"E{seq}",
            scheme="s",
            company="C",
            amount_cents=amount,
            explanation=f'{{"inputs": {{"n": {amount if do != "wrong" else amount + 1}, "do": "{do}"}}}}',
        )
        values["digest"] = digest_of_values([values[c] for c in DIGEST_COLUMNS])
        rows.append(tuple(values[c] for c in TUPLE_COLUMNS))
    return rows


def _outcomes(rows, timeout):
    import json

    with guard.session():
        return audit_rows.outcomes(rows, {"s": _recompute}, json.loads, set(), timeout)


def test_a_run_names_each_rows_finding_as_row_by_row():
    rows = _rows((1, "ok"), (2, "wrong"), (3, "raise"), (4, "exit"), (5, "ok"))
    found = _outcomes(rows, 5.0)
    assert found == {
        2: (False, ("amount", "3", 2)),
        3: (False, ("error", "ValueError")),
        4: (False, ("exit", "scheme s's recompute raised SystemExit")),
    }


def test_a_row_that_hangs_is_named_and_the_rest_of_its_scheme_left():
    rows = _rows((1, "ok"), (2, "hang"), (3, "ok"))
    found = _outcomes(rows, 0.5)
    assert found == {
        2: (False, ("timeout", "scheme s's recompute did not return within 0.5 s")),
        3: (False, audit_rows.SKIPPED),
    }


def test_a_run_longer_than_its_budget_is_taken_in_several_calls(monkeypatch):
    calls = []
    real = guard.call

    def counting(*args, **kw):
        calls.append(kw["timeout"])
        return real(*args, **kw)

    monkeypatch.setattr(guard, "call", counting)
    rows = _rows(*[(n, "slow") for n in range(1, 41)])
    assert _outcomes(rows, 2.0) == {}  # budget: 1 % of 2 s, a few rows a call
    assert len(calls) > 3 and all(t == pytest.approx(2.02) for t in calls)


def test_a_digest_that_differs_is_said_even_when_the_amount_is_right():
    rows = _rows((1, "ok"), (2, "ok"))
    i = TUPLE_COLUMNS.index("digest")
    rows[1] = (*rows[1][:i], "0" * 64, *rows[1][i + 1 :])
    assert _outcomes(rows, None) == {2: (True, audit_rows.OK)}


def test_a_forged_slow_row_hides_no_later_tamper_in_worker_processes(sample_ledger, tmp_path, monkeypatch):
    """Review of 2026-12-01: a worker's SKIPPED outcome comes back unpickled (a copy): the verifier took it for
    an abort, and every later row (here an amount raised by a cent) went unchecked. Same report as one process."""
    import json

    import attrs
    from paybonus import audit

    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # the workers import it too (they get sys.path)
    import audit_slow_recompute

    monkeypatch.setenv("PAYBONUS_DISPATCH_TIMEOUT", "1")
    path = tmp_path / "ledger.db"
    shutil.copy(sample_ledger, path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TRIGGER entitlements_immutable")
    rows = con.execute("SELECT seq FROM entitlements WHERE scheme = 'prime_nao' ORDER BY seq").fetchall()
    forged, late = rows[0][0], rows[-1][0]
    expl = json.loads(
        con.execute("SELECT explanation FROM entitlements WHERE seq = ?", (forged,)).fetchone()[0]
    )
    expl["inputs"]["__slow__"] = True
    con.execute(
        "UPDATE entitlements SET id = 'ENT-forged', explanation = ? WHERE seq = ?", (json.dumps(expl), forged)
    )
    con.execute("UPDATE entitlements SET amount_cents = amount_cents + 1 WHERE seq = ?", (late,))
    con.close()
    out = []
    for processes in ("2", "0"):
        monkeypatch.setenv(audit_rows.PROCESSES_ENV, processes)
        STARTED.clear()
        with Paybonus.open(path) as app:
            schemes = dict(app.host.schemes)
            schemes["prime_nao"] = attrs.evolve(
                schemes["prime_nao"], recompute=audit_slow_recompute.recompute
            )
            rep = audit.verify(app.ledger, schemes, params=app.params)
        assert ([True] if processes == "2" else [False]) == STARTED
        out.append(([str(p) for p in rep.problems], rep.entitlements, rep.recomputed))
    assert out[0] == out[1]
    problems = out[0][0]
    assert any(f"(row {late})" in p and "differs from" in p for p in problems), problems
    assert not any("cannot be checked" in p for p in problems), problems


def test_a_row_recorded_after_the_workers_read_the_last_slice_is_walked(app, monkeypatch):
    """The walk takes each slice's rows as its worker read them; the last slice has no end, and a row recorded in
    it since (here a forged one, with no audit entry) is read and checked by the verifier."""
    real = audit_rows.Workers.result

    def then_a_write(self, i):
        found = real(self, i)
        if i == len(self.slices) - 1:
            app.ledger.conn.execute(
                "INSERT INTO entitlements (id, scheme, scheme_version, company, employee, period_start, period_end, "
                "amount_cents, kind, social_regime, status, event_id, explanation, digest, recorded_at) SELECT "
                "'ENT-late', scheme, scheme_version, company, employee, period_start, period_end, amount_cents, kind, "
                "social_regime, status, event_id, explanation, digest, recorded_at FROM entitlements LIMIT 1"
            )
        return found

    monkeypatch.setattr(audit_rows.Workers, "result", then_a_write)
    found = [str(p) for p in app.verify().problems]
    assert any(p.startswith("entitlement ENT-late") and "no audit entry" in p for p in found), found


# -- what comes back on a worker's pipe ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [b"\xff" * 8, b"a stray line written by a guest\n", b"\x05\x00\x00\x00\x00\x00\x00\x00ab"],
    ids=["length-past-any-index", "a-guest-print", "a-short-frame"],
)
def test_bytes_that_are_no_result_end_the_workers_results(sent):
    """Whatever a worker's pipe holds, its reader thread ends by saying there is no more (None): a length no
    memory holds (MemoryError, OverflowError) ended the thread without it, and the verifier waited for ever."""
    import os
    import queue
    import threading

    r, w = os.pipe()
    os.write(w, sent)
    os.close(w)
    results: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    with os.fdopen(r, "rb") as stream:
        t = threading.Thread(target=audit_rows._drain, args=(stream, results))
        t.start()
        t.join()
    assert not results.empty() and results.get() is None


def test_a_worker_that_writes_a_stray_line_leaves_its_slices_to_the_verifier(app, monkeypatch):
    """A guest's print in a worker goes to the pipe its results take: the verifier recomputes that worker's slices
    (it waited for ever: the line was read as a length)."""
    import faulthandler

    monkeypatch.setattr(
        audit_rows,
        "_WORKER",
        "import sys; sys.stdout.write('a stray line written by a guest\\n'); sys.stdout.flush()",
    )
    STARTED.clear()
    faulthandler.dump_traceback_later(
        600, exit=True
    )  # not a measure: a verify that hangs ends the run, failed
    try:
        rep = app.verify()
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert STARTED == [True] and rep.ok and rep.recomputed == rep.entitlements > 0


def test_a_guest_that_prints_in_a_worker_neither_hangs_verify_nor_costs_the_workers_results(
    sample_ledger, tmp_path, monkeypatch
):
    """Review of 2026-12-02: a scheme's print in a worker went down the pipe the worker's results take and was
    read as a length: the reader thread died (MemoryError) without saying so and the verifier waited for ever.
    The print now goes to the worker's stderr; the same report as in one process, from the workers' results."""
    import faulthandler

    import attrs
    from paybonus import audit

    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # the workers import it too (they get sys.path)
    import audit_chatty_recompute

    path = tmp_path / "ledger.db"
    shutil.copy(sample_ledger, path)
    real, results = audit_rows.Workers.result, []

    def result(self, i):  # the workers' results are used: the print went elsewhere than their pipe
        found = real(self, i)
        results.append(found is not None)
        return found

    monkeypatch.setattr(audit_rows.Workers, "result", result)
    out = []
    for processes in ("2", "0"):
        monkeypatch.setenv(audit_rows.PROCESSES_ENV, processes)
        STARTED.clear()
        with Paybonus.open(path) as app:
            schemes = dict(app.host.schemes)
            schemes["prime_nao"] = attrs.evolve(
                schemes["prime_nao"], recompute=audit_chatty_recompute.recompute
            )
            faulthandler.dump_traceback_later(600, exit=True)  # not a measure: a hang ends the run, failed
            try:
                rep = audit.verify(app.ledger, schemes, params=app.params)
            finally:
                faulthandler.cancel_dump_traceback_later()
        assert ([True] if processes == "2" else [False]) == STARTED
        out.append(([str(p) for p in rep.problems], rep.entitlements, rep.recomputed))
    assert out[0] == out[1]
    assert out[0][0] == [] and out[0][1] == out[0][2] > 0, out[0]
    assert results and all(results), results


@pytest.mark.parametrize(
    "payload",
    ["(1, 2)", "(0, -1, {}, ([1], [], [], []))", "(1, 5, {}, ([], [], [], []))", "'not a tuple'"],
    ids=["too-short", "keys-not-together", "count-not-keys", "not-a-tuple"],
)
def test_a_well_framed_result_that_does_not_hold_together_is_the_workers_not_the_ledgers(
    app, monkeypatch, payload
):
    """Review of 2026-12-02: a worker's result read whole but of the wrong shape made verify stop the check of
    the entitlements, saying the ledger "holds rows paybonus did not write" (IndexError, ValueError), on a clean
    ledger. Its slices are the verifier's, as for a worker that died."""
    monkeypatch.setattr(
        audit_rows,
        "_WORKER",
        "import pickle, sys; d = pickle.dumps(" + payload + "); "
        "sys.stdout.buffer.write(len(d).to_bytes(8, 'little') + d); sys.stdout.flush()",
    )
    STARTED.clear()
    rep = app.verify()
    assert STARTED == [True] and rep.ok, rep.problems
    assert rep.recomputed == rep.entitlements > 0
