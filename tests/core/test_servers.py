"""The distributed tests never skip: with nothing answering on localhost, they start throwaway servers."""

from __future__ import annotations

import pytest
from helpers import servers
from paybonus.store import Ledger


@pytest.mark.slow
def test_without_local_servers_a_throwaway_postgresql_and_nats_are_started(monkeypatch):
    monkeypatch.setattr(servers, "PG_LOCAL", "postgresql://postgres@127.0.0.1:1/test")
    monkeypatch.setattr(servers, "NATS_LOCAL", "nats://127.0.0.1:1")
    pg = servers.Postgres()
    try:
        assert pg.folder is not None and ":1/" not in pg.base
        name = pg.create_database()
        with Ledger.create(pg.url(name)) as ledger:
            assert ledger.backend == "postgresql" and ledger.pending_migrations() == []
        pg.drop_database(name)
    finally:
        pg.stop()
    nats = servers.Nats()
    try:
        assert nats.proc is not None and nats.url != servers.NATS_LOCAL
        nats.restart()
        assert nats.proc.poll() is None
    finally:
        nats.stop()
