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


DATA = HERE / "data"  # fixtures shipped with the tests: the DSN sample (Apache-2.0, NOTICE.md), LAW.md


def shared(*parts: str) -> Path:
    """A file of the domain reference: ../shared when it is beside the project (CI), else the copy in
    tests/data (a fresh clone); tests never skip for want of ../shared."""
    p = SHARED.joinpath(*parts)
    return p if p.exists() else fixture_copy(*parts)


def fixture_copy(*parts: str) -> Path:
    """The copy under tests/data of a file of ../shared (data/dsn/x -> tests/data/dsn/x)."""
    rel = parts[1:] if parts[0] == "data" else parts
    p = DATA.joinpath(*rel)
    assert p.exists(), f"tests/data/{'/'.join(rel)} is missing"
    return p


def pytest_collection_modifyitems(items):
    """The tests marked `slow` (the fault suite, the crash run, the wheel, the benches: up to a minute and a half
    each) run first: pytest-xdist hands out tests in this order, so a long one never starts last and leaves one
    core waiting for it at the end of the run. The others keep their order (stable sort)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


# -- the servers of the distributed deployment (tests/helpers/servers.py): local ones, else throwaway ones ---------


@pytest.fixture(scope="session")
def postgres():
    from helpers.servers import Postgres

    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_database(postgres):
    """A database of this test run, dropped at its end: paybonus_test_<random>."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture
def pg_url(pg_database):
    """A PostgreSQL ledger URL of its own for one test: a fresh schema of the run's database."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    yield f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def nats_server():
    from helpers.servers import Nats

    server = Nats()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_target(request, tmp_path):
    """Where a ledger lives, for each backend: a SQLite file, or a PostgreSQL URL (a fresh schema)."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def both_backends_ledger(ledger_target):
    from paybonus import Ledger

    ledger = Ledger.create(ledger_target)
    yield ledger
    ledger.close()
