"""No password, token or secret query parameter of a URL reaches an error line or `health`'s JSON (red team,
December 2026: the connection's own errors masked it, every later error printed the URL whole)."""

from __future__ import annotations

import pytest
from helpers.cli import run
from paybonus.store.sql import redacted

SECRET = "S3cretPW"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://app:S3cretPW@db:5432/x?options=-c", "postgresql://app:***@db:5432/x?options=-c"),
        (
            "postgresql://app@db/x?sslmode=require&password=S3cretPW",
            "postgresql://app@db/x?sslmode=require&password=***",
        ),
        ("nats://u:S3cretPW@n1:4222?stream=S", "nats://u:***@n1:4222?stream=S"),
        ("nats://S3cretPW@n1:4222", "nats://***@n1:4222"),
        ("nats://n1:4222,nats://u:S3cretPW@n2:4222", "nats://n1:4222,nats://u:***@n2:4222"),
        (
            "host=db port=5999 password=S3cretPW user=app: no ledger",
            "host=db port=5999 password=*** user=app: no ledger",
        ),
        ("host=db password = 'S3cret PW' user=app", "host=db password = *** user=app"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),  # a user name is not a secret
        ("payroll/2025-01.csv:3: a:b@c", "payroll/2025-01.csv:3: a:b@c"),  # not a URL
    ],
)
def test_redacted_masks_every_kind_of_secret(text, shown):
    assert redacted(text) == shown


def test_an_error_after_connecting_does_not_print_the_password(pg_url, tmp_path):
    url = pg_url.replace("postgres@", f"postgres:{SECRET}@")  # trust auth: any password connects
    assert run("--db", url, "init", cwd=tmp_path).returncode == 0
    for args in (("explain", "NOPE"), ("retry", "--company", "NOPE"), ("entitlements", "--company", "NOPE")):
        r = run("--db", url, *args, cwd=tmp_path)
        assert r.returncode == 2 and SECRET not in r.stdout + r.stderr, (args, r.stderr)
    r = run(
        "entitlements",
        cwd=tmp_path,
        env={"PAYBONUS_DB": url.replace(f":{SECRET}@", "@") + "&password=" + SECRET},
    )
    assert SECRET not in r.stdout + r.stderr


def test_a_brokers_credentials_are_not_printed(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    for url in (f"nats://u:{SECRET}@127.0.0.1:1?stream=S", f"nats://{SECRET}@127.0.0.1:1"):
        r = run("publish", "--to", url, str(tmp_path / "e.jsonl"), cwd=tmp_path)
        assert SECRET not in r.stdout + r.stderr, r.stderr
        r = run("health", "--source", url, "--db", str(tmp_path / "none.db"), cwd=tmp_path)
        assert r.returncode != 0 and SECRET not in r.stdout + r.stderr, r.stdout
