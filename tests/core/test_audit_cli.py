"""`paybonus audit ...` as an operator and an auditor use it: keys, checkpoints kept outside, verify, replay."""

import sqlite3

from helpers.cli import run, run_here, sample_copy


def test_keys_checkpoints_and_verify_from_the_command_line(tmp_path):
    company = sample_copy(tmp_path / "co", with_scheme=False)
    # the ledger in this process; the audit commands below are real processes
    assert run_here("init", cwd=tmp_path).returncode == 0
    assert run_here("load", str(company), cwd=tmp_path).returncode == 0
    assert run_here("publish", str(company / "events.jsonl"), cwd=tmp_path).returncode == 0

    made = run("audit", "keygen", "--out", "key.pem", cwd=tmp_path)
    assert made.returncode == 0 and "public key:" in made.stdout
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600
    again = run_here("audit", "keygen", "--out", "key.pem", cwd=tmp_path)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    public = run("audit", "public-key", "--key", "key.pem", cwd=tmp_path).stdout.strip()
    assert public in made.stdout and len(public) == 44

    env = {"PAYBONUS_SIGNING_KEY": str(tmp_path / "key.pem")}
    cp = run("audit", "checkpoint", "--out", "cp.json", cwd=tmp_path, env=env)
    assert cp.returncode == 0 and "checkpoint of 1 chains written" in cp.stderr
    ok = run("audit", "verify", "--checkpoint", "cp.json", "--public-key", public, "--replay", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "checkpoints: 1 checked" in ok.stdout and "replay:" in ok.stdout and "audit: OK" in ok.stdout

    # an insider removes the tail of DURAND's chain (the year-end results and what they caused)
    conn = sqlite3.connect(tmp_path / "paybonus.db")
    n = conn.execute("SELECT MIN(n) FROM audit_log WHERE ref = 'DURAND-results-2025'").fetchone()[0]
    conn.executescript("DROP TRIGGER audit_log_no_delete;")
    conn.execute("DELETE FROM audit_log WHERE company = 'DURAND' AND n >= ?", (n,))
    conn.commit()
    conn.close()
    bad = run("audit", "verify", "--checkpoint", "cp.json", cwd=tmp_path, env=env)
    assert bad.returncode == 1
    assert "DURAND's chain no longer reaches entry" in bad.stderr and "Traceback" not in bad.stderr

    forged = tmp_path / "forged.json"
    forged.write_text((tmp_path / "cp.json").read_text().replace('"n": ', '"n": 9'), encoding="utf-8")
    refused = run_here("audit", "verify", "--checkpoint", str(forged), "--public-key", public, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "altered" in refused.stderr


def test_a_checkpoint_without_a_key_is_one_clear_line(tmp_path):
    assert run_here("init", cwd=tmp_path).returncode == 0
    r = run_here("audit", "checkpoint", cwd=tmp_path, env={"PAYBONUS_SIGNING_KEY": ""})
    assert r.returncode == 2 and "no signing key" in r.stderr and r.stderr.count("\n") == 1
