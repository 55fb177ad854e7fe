"""Shared test set-up. Tests import only `paybonus...` and the `helpers` package beside this file."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(HERE))  # for `helpers` (also used by subprocess workers)


LOG_SINK = io.StringIO()  # the tests' own logs: never tied to a capture stream that pytest closes


def shared(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"../shared/{'/'.join(parts)} is not beside the project")
    return p


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs():
    """Tests are a host: they configure structlog (the library never does), to stderr, warnings only."""
    from paybonus.logs import configure

    configure("console", "warning", stream=LOG_SINK)


@pytest.fixture(autouse=True)
def _logs_back_to_the_sink():
    """A test that runs the command in-process (`paybonus.cli.main`) lets it configure logging to the stderr of
    that test, which pytest closes afterwards: point the logs back to the tests' own sink."""
    yield
    from paybonus.logs import configure

    configure("console", "warning", stream=LOG_SINK)
