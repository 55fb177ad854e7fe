"""A scheme added to a running company by a later `load` applies from then on (paybonus.in_force).

Before: `audit verify` reported every earlier event of the scheme's types as "never ran (an interrupted publish)",
`paybonus failures --check` said nothing, and `paybonus retry` back-computed the whole past, which the company may
not owe. Now the earlier events owe the new scheme nothing unless `retry --backfill` is asked for.
"""

import json

from helpers.cli import SCHEME, run, sample_copy


def _closes(company) -> int:
    lines = (company / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return sum(json.loads(x)["type"] == "period_closed" for x in lines)


def test_a_scheme_added_later_owes_the_earlier_events_nothing_until_backfilled(tmp_path):
    company = sample_copy(tmp_path / "co", with_scheme=False)
    closes = _closes(company)
    assert closes >= 12
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    assert run("publish", str(company / "events.jsonl"), cwd=tmp_path).returncode == 0

    with (company / "company.toml").open("a", encoding="utf-8") as f:
        f.write(SCHEME)  # prime_fin_annee: one bonus a person at each period_closed
    loaded = run("load", str(company), cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert (
        f"note: prime_fin_annee is new for DURAND: it applies to the events published from now on, not to the "
        f"{closes} earlier events of its types" in loaded.stdout
    )

    verified = run("audit", "verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "never ran" not in verified.stdout + verified.stderr

    nothing = run("retry", cwd=tmp_path)
    assert nothing.returncode == 0 and "retried 0 dispatches" in nothing.stdout
    listed = run("entitlements", "--scheme", "prime_fin_annee", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []

    backfilled = run("retry", "--scheme", "prime_fin_annee", "--backfill", cwd=tmp_path)
    assert backfilled.returncode == 0, backfilled.stderr
    assert f"retried {closes} dispatches: {closes} completed, 0 failed" in backfilled.stdout
    assert run("retry", "--backfill", cwd=tmp_path).stdout.startswith("retried 0 dispatches")
    again = run("audit", "verify", cwd=tmp_path)
    assert again.returncode == 0, again.stderr

    # loading the same configuration again adds nothing: no note
    same = run("load", str(company), cwd=tmp_path)
    assert same.returncode == 0 and "note:" not in same.stdout

    # removed, then added again: every earlier event already ran it, so nothing is left aside: no note
    with_scheme = (company / "company.toml").read_text(encoding="utf-8")
    (company / "company.toml").write_text(with_scheme.replace(SCHEME, ""), encoding="utf-8")
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    (company / "company.toml").write_text(with_scheme, encoding="utf-8")
    back = run("load", str(company), cwd=tmp_path)
    assert back.returncode == 0 and "note:" not in back.stdout, back.stdout


def test_an_event_published_after_the_load_is_owed_the_new_scheme(tmp_path):
    """The rule follows the chain's order: an event recorded after the load that added the scheme, whose dispatch
    never ran (an interrupted publish), is still reported and retried."""
    import sqlite3

    company = sample_copy(tmp_path / "co", with_scheme=False)
    events = (company / "events.jsonl").read_text(encoding="utf-8").splitlines()
    first = [x for x in events if json.loads(x)["type"] != "period_closed"]
    later = [x for x in events if json.loads(x)["type"] == "period_closed"]
    (tmp_path / "first.jsonl").write_text("\n".join(first) + "\n", encoding="utf-8")
    (tmp_path / "later.jsonl").write_text(later[0] + "\n", encoding="utf-8")
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    assert run("publish", str(tmp_path / "first.jsonl"), cwd=tmp_path).returncode == 0
    with (company / "company.toml").open("a", encoding="utf-8") as f:
        f.write(SCHEME)
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    assert run("publish", str(tmp_path / "later.jsonl"), cwd=tmp_path).returncode == 0

    # an interrupted publish: the new scheme's dispatch of that close is gone (its rows and audit entry with it)
    event_id = json.loads(later[0])["id"]
    conn = sqlite3.connect(tmp_path / "paybonus.db")
    ref = f"{event_id}/prime_fin_annee"
    triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for name in triggers:
        if name.startswith(("entitlements_", "dispatches_")):
            conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DELETE FROM entitlements WHERE event_id = ? AND scheme = 'prime_fin_annee'", (event_id,))
    conn.execute("DELETE FROM dispatches WHERE event_id = ? AND scheme = 'prime_fin_annee'", (event_id,))
    conn.commit()
    conn.close()
    bad = run("audit", "verify", cwd=tmp_path)
    assert f"dispatch {ref} (DURAND): never ran" in bad.stdout + bad.stderr
    retried = run("retry", cwd=tmp_path)
    assert "retried 1 dispatch: 1 completed" in retried.stdout, retried.stdout + retried.stderr


def test_on_a_ledger_of_0_1_0_a_scheme_added_later_owes_the_events_before_the_chains_nothing(tmp_path):
    """tests/data/ledger-0.1.0-demo.db.gz: its 24 events were recorded before the chains (no `event.recorded`
    entry in DURAND's chain). The load's note said the new scheme would not apply to them, yet verify reported
    the 12 closes as never run and `paybonus retry` back-computed them."""
    import gzip
    from pathlib import Path

    data = Path(__file__).parent.parent / "data" / "ledger-0.1.0-demo.db.gz"
    (tmp_path / "paybonus.db").write_bytes(gzip.decompress(data.read_bytes()))
    company = sample_copy(tmp_path / "co", with_scheme=True)
    loaded = run("load", str(company), cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert "note: prime_fin_annee is new for DURAND" in loaded.stdout

    verified = run("audit", "verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "never ran" not in verified.stdout + verified.stderr
    nothing = run("retry", cwd=tmp_path)
    assert nothing.returncode == 0 and "retried 0 dispatches" in nothing.stdout, nothing.stdout
    backfilled = run("retry", "--scheme", "prime_fin_annee", "--backfill", cwd=tmp_path)
    assert "retried 12 dispatches: 12 completed" in backfilled.stdout, backfilled.stdout + backfilled.stderr


def test_publishing_the_earlier_events_again_does_not_run_a_scheme_added_later(tmp_path):
    """A duplicate runs the dispatches an interrupted run never started (crash recovery): it ran those of the
    current configuration, so publishing the year's file again after the load that added prime_fin_annee computed
    it on the earlier closes (32 bonuses, 23 487.10 EUR on the sample), what the load's note said it would not do
    and `retry` no longer did."""
    company = sample_copy(tmp_path / "co", with_scheme=False)
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    assert run("publish", str(company / "events.jsonl"), cwd=tmp_path).returncode == 0
    with (company / "company.toml").open("a", encoding="utf-8") as f:
        f.write(SCHEME)
    assert run("load", str(company), cwd=tmp_path).returncode == 0

    again = run("publish", str(company / "events.jsonl"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 recorded" in again.stdout and "dispatches: 0 completed" in again.stdout, again.stdout
    listed = run("entitlements", "--scheme", "prime_fin_annee", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    assert run("audit", "verify", cwd=tmp_path).returncode == 0


def test_publishing_evidence_again_does_not_run_pmt_added_later(tmp_path):
    """The same through the per-employee batches (evidence events are computed together)."""
    company = sample_copy(tmp_path / "co", with_scheme=False)
    toml = (company / "company.toml").read_text(encoding="utf-8")
    start, end = toml.index("[schemes.pmt]"), toml.index("# what the individual statements")
    (company / "company.toml").write_text(toml[:start] + toml[end:], encoding="utf-8")
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    assert run("publish", str(company / "events.jsonl"), cwd=tmp_path).returncode == 0
    (company / "company.toml").write_text(toml, encoding="utf-8")
    loaded = run("load", str(company), cwd=tmp_path)
    assert "note: pmt is new for DURAND" in loaded.stdout, loaded.stdout

    again = run("publish", str(company / "events.jsonl"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "dispatches: 0 completed" in again.stdout, again.stdout
    listed = run("entitlements", "--scheme", "pmt", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
