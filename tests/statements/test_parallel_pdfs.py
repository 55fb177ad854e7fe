"""A batch's PDFs laid out in several processes are the PDFs `Statement.pdf` lays out here, in the same order; a
statement that cannot be laid out is refused the same way; a writer that stops ends the processes.

fpdf2 takes about 0.2 s a statement: the 2 952 PDFs of a 3 000-employee company took 630 s on one core, 249 s
with two processes (docs/performance.md)."""

import multiprocessing
import re
from datetime import date

import pytest
from attrs import evolve
from helpers.cli import run_here
from helpers.statements import sample_ledger
from paybonus import Paybonus
from paybonus.errors import UserError
from paybonus.statements import parallel


def _same(pdf: bytes) -> bytes:
    """A PDF without what fpdf2 writes from the clock (its creation time and the ID hashed with it)."""
    return re.sub(rb"/CreationDate \(D:\d+Z\)|/ID \[<[0-9A-F]+><[0-9A-F]+>\]", b"", pdf)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    path = sample_ledger(tmp_path_factory.mktemp("pdfs") / "l.db")
    with Paybonus.open(path) as app:
        built = app.statements(
            "DURAND", "2025", "interessement", issued_on=date(2026, 4, 15), channel="email"
        )
    assert len(built) >= parallel.PARALLEL_MIN
    return built[: parallel.PARALLEL_MIN + 2]  # enough for the processes, few to lay out


def test_the_processes_lay_out_the_same_pdfs_in_the_same_order(batch):
    here = [_same(s.pdf()) for s in batch]
    assert [_same(p) for p in parallel.pdfs(batch, 2)] == here
    assert not multiprocessing.active_children()


def test_a_statement_that_cannot_be_laid_out_is_refused_as_it_is_here(batch):
    odd = evolve(
        batch[5], content={**batch[5].content, "employee": {**batch[5].content["employee"], "name": "☃"}}
    )
    statements = [*batch[:5], odd, *batch[6:]]
    with pytest.raises(UserError) as here:
        odd.pdf()
    with pytest.raises(UserError) as there:
        list(parallel.pdfs(statements, 2))
    assert (there.value.where, there.value.what) == (here.value.where, here.value.what)
    assert odd.employee in there.value.where
    assert not multiprocessing.active_children()


def test_a_writer_that_stops_ends_the_processes(batch):
    made = parallel.pdfs(batch, 2)
    assert _same(next(made)) == _same(batch[0].pdf())
    made.close()  # a write failed (a full disk): the generator is closed
    assert not multiprocessing.active_children()


def test_few_statements_or_one_process_are_laid_out_here(batch, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("no process for this")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    assert len(list(parallel.pdfs(batch[: parallel.PARALLEL_MIN - 1], 2))) == parallel.PARALLEL_MIN - 1
    assert len(list(parallel.pdfs(batch, 1))) == len(batch)


def test_jobs_takes_a_whole_number_of_processes(tmp_path):
    db = sample_ledger(tmp_path / "l.db")
    for jobs in ("0", "x", "1_0"):
        command = (
            "statements --company DURAND --period 2025 --issued-on 2026-04-15 --channel email --format pdf"
        )
        r = run_here(
            "--db", str(db), *command.split(), "--out", str(tmp_path / "st"), "--jobs", jobs, cwd=tmp_path
        )
        assert r.returncode == 2 and "--jobs" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "st").exists()
