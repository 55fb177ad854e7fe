"""`paybonus browse` refuses in one line, before datasette starts: a PostgreSQL ledger (a 209-line traceback), a port
out of range (datasette's usage block naming `paybonus browse serve`), a host that does not resolve or a port in use
(exit 3 and the web server's log) (red team of 2026-12-01, items 4 and 23)."""

from __future__ import annotations

import socket

import pytest
from helpers.cli import run

PG_ADVICE = (
    "browse reads a SQLite ledger; query PostgreSQL with your own tools as the reader role, docs/deploy.md"
)


@pytest.fixture
def ledger(tmp_path):
    db = str(tmp_path / "l.db")
    assert run("--db", db, "init", cwd=tmp_path).returncode == 0
    return db


def refused(r, *words):
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_browse_on_a_postgresql_ledger_is_one_line(pg_url, tmp_path):
    url = pg_url.replace("postgres@", "postgres:S3cretPW@")  # trust authentication: any password connects
    assert run("--db", url, "init", cwd=tmp_path).returncode == 0
    for extra in (("--no-open",), ("--print-metadata",)):
        r = run("--db", url, "browse", *extra, cwd=tmp_path)
        refused(r, PG_ADVICE)
        assert "S3cretPW" not in r.stderr


def test_browse_refuses_a_port_out_of_range_a_host_unknown_and_a_port_in_use(ledger, tmp_path):
    pytest.importorskip("datasette")
    for port in ("-1", "0", "70000"):
        refused(
            run("--db", ledger, "browse", "--no-open", "--port", port, cwd=tmp_path), "--port", "1..65535"
        )
    r = run("--db", ledger, "browse", "--no-open", "--host", "nohost.invalid", cwd=tmp_path)
    refused(r, "--host: 'nohost.invalid': no such address")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        r = run("--db", ledger, "browse", "--no-open", "--port", port, cwd=tmp_path)
        refused(r, f"--host 127.0.0.1 --port {port}: cannot serve there")
