"""A batch's PDFs laid out in several processes: fpdf2 lays out a statement in Python, about 0.2 s each (a company
of 3 000 beneficiaries: ten minutes on one core). The content and its seal are made in the caller's process; a
worker only turns them into the same bytes `Statement.pdf` gives."""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from .render import Renderer

if TYPE_CHECKING:
    from . import Statement

PARALLEL_MIN = 16  # fewer statements are laid out here: starting a process costs about a second
CHUNK = 4  # statements a task
AHEAD = 4  # tasks queued per process: PDFs made ahead of the writer stay a few dozen

_renderer: Renderer | None = None  # a worker's, made once from the company's settings and files


def pdfs(statements: Sequence[Statement], processes: int) -> Iterator[bytes]:
    """Each statement's PDF, in order: laid out in `processes` processes when there are enough statements and they
    are one company's (one renderer), else here. A statement that cannot be laid out raises the UserError it
    raises here."""
    first = statements[0].renderer if statements else None
    if processes < 2 or len(statements) < PARALLEL_MIN or any(s.renderer is not first for s in statements):
        for s in statements:
            yield s.pdf()
        return
    assert first is not None
    tasks = [
        [(s.content, s.seal) for s in statements[i : i + CHUNK]] for i in range(0, len(statements), CHUNK)
    ]
    pool = ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),  # never a fork of this process's open ledger
        initializer=_start,
        initargs=(first.settings, first.files),
    )
    pending: deque[Future[list[Any]]] = deque()
    try:
        for task in tasks:
            pending.append(pool.submit(_lay_out, task))
            if len(pending) >= processes * AHEAD:
                yield from _results(pending.popleft())
        while pending:
            yield from _results(pending.popleft())
    finally:  # done, refused or interrupted: nothing left running
        pool.shutdown(wait=True, cancel_futures=True)


def _results(task: Future[list[Any]]) -> Iterator[bytes]:
    for result in task.result():
        if isinstance(result, tuple):
            raise UserError(*result)
        yield result


def _start(settings: Any, files: Mapping[str, bytes]) -> None:
    """A worker's start: Ctrl-C is its parent's to handle (which ends the pool), and the company's renderer."""
    global _renderer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _renderer = Renderer(settings, files)


def _lay_out(task: list[tuple[Mapping[str, Any], str]]) -> list[bytes | tuple[str, str]]:
    """The PDFs of a task's statements, or (where, what) of the one that cannot be laid out (and none after it)."""
    assert _renderer is not None
    out: list[bytes | tuple[str, str]] = []
    for content, seal in task:
        try:
            out.append(_renderer.pdf(content, seal))
        except UserError as exc:
            out.append((exc.where, exc.what))
            break
    return out
