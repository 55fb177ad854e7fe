"""The proof (docs/audit.md): every tamper an auditor would try is found by `audit verify`, with a signed
checkpoint, by the full replay, or by the triggers that refuse it in the first place."""

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.plugins import SCHEMES_TOML, FlakyPlugin, FlatPlugin
from paybonus import Paybonus, load_plugins
from paybonus import plugins as testplugins_unused  # noqa: F401 - the built-in families are what is audited
from paybonus.audit import verify
from paybonus.checkpoint import create, read
from paybonus.errors import UserError
from paybonus.events import Event, ResultsPublished
from paybonus.fixtures import sample_dir
from paybonus.params import Parameters
from paybonus.signing import new_key
from paybonus.store.audit_log import chain_hash
from paybonus.store.entitlements import digest as entitlement_digest

APPEND_ONLY = (
    "audit_log",
    "events",
    "payments",
    "parameter_sets",
    "company_configs",
    "payroll_parts",
    "payroll_loads",
)


@pytest.fixture(scope="module")
def sample_ledger(tmp_path_factory):
    """The sample company's year, published once for the module; each test works on a copy."""
    path = tmp_path_factory.mktemp("sample") / "ledger.db"
    with Paybonus.create(path) as app:
        app.load_company(sample_dir())
        app.publish(sample_dir() / "events.jsonl")
        rep = app.verify()
        assert rep.ok, rep.problems
    return path


@pytest.fixture
def app(sample_ledger, tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(sample_ledger, path)
    with Paybonus.open(path) as a:
        yield a


def problems(app, **kw):
    return [str(p) for p in app.verify(**kw).problems]


def sql(app, *statements, args=()):
    for s in statements:
        app.ledger.conn.execute(s, args)


# -- refused in the first place ----------------------------------------------------------------------------------


def test_history_tables_refuse_update_and_delete(app):
    for table in APPEND_ONLY:
        if not app.ledger.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]:
            continue  # a row trigger needs a row (the sample pays nothing)
        for statement in (f"UPDATE {table} SET rowid = rowid", f"DELETE FROM {table}"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                sql(app, statement)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        sql(app, "UPDATE entitlements SET amount_cents = amount_cents + 1")
    with pytest.raises(sqlite3.IntegrityError):
        sql(app, "DELETE FROM entitlements")
    sql(app, "UPDATE entitlements SET status = 'paid' WHERE seq = 1")  # only the status moves


def test_a_dropped_trigger_is_named_even_before_anything_is_changed(app):
    sql(app, "DROP TRIGGER entitlements_immutable")
    assert problems(app) == ["schema: trigger entitlements_immutable is missing: history is not protected"]


@pytest.mark.parametrize(
    ("statements", "found"),
    [
        # the unique index keeps entitlement ids unique: dropped, a second row of an id went in unrefused
        (
            ["DROP INDEX idx_entitlements_id"],
            "index idx_entitlements_id is missing: duplicates are no longer refused",
        ),
        (
            ["DROP INDEX idx_entitlements_id", "CREATE INDEX idx_entitlements_id ON entitlements (id)"],
            "index idx_entitlements_id is altered: duplicates are no longer refused",
        ),
        (["DROP INDEX idx_payments_entitlement"], "index idx_payments_entitlement is missing"),
        (
            [
                "DROP INDEX idx_audit_log_params",
                "CREATE INDEX idx_audit_log_params ON audit_log (company, ref)",  # its WHERE dropped
            ],
            "index idx_audit_log_params is altered",
        ),
    ],
)
def test_a_dropped_or_altered_index_is_named(app, statements, found):
    sql(app, *statements)
    assert problems(app) == [f"schema: {found}"]


def test_sqlite_corruption_is_a_problem_not_a_crash(app, tmp_path):
    app.ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(app.ledger.path)
    data = bytearray(path.read_bytes())
    for i in range(8192, len(data) - 4096, 4096):  # every page but the first and the last: B-tree garbage
        data[i + 100 : i + 140] = b"\xff" * 40
    broken = tmp_path / "broken.db"
    broken.write_bytes(bytes(data))
    try:
        with Paybonus.open(broken) as b:
            found = problems(b)
    except UserError as exc:  # too broken to open: one line, never a traceback
        found = [str(exc)]
    assert found and any("sqlite" in p or "malformed" in p or "not a paybonus ledger" in p for p in found)


# -- found by verify: inputs --------------------------------------------------------------------------------------


def test_multiplying_a_pay_line_then_restating_results_is_found(app):
    # the example: gross x 10 in the database, a one-euro RCAI restatement, a large correction
    sql(app, "DROP TRIGGER IF EXISTS pay_lines_no_update")
    sql(
        app,
        "UPDATE pay_lines SET gross_cents = gross_cents * 10 WHERE company = 'DURAND' AND employee = 'E0001' AND month = '2025-03-01'",
    )
    results = app.ledger.events.get("DURAND", "DURAND-results-2025")
    payload = json.loads(results["payload"])
    payload["figures"]["rcai"] = str(int(payload["figures"]["rcai"]) + 1)
    restated = Event(
        "DURAND-results-2025-restated",
        "results_published",
        "DURAND",
        datetime(2026, 4, 1, tzinfo=UTC),
        ResultsPublished(
            Period_of(payload), {k: __import__("decimal").Decimal(v) for k, v in payload["figures"].items()}
        ),
    )
    out = app.publish([restated])
    assert out.counts["failed"] == 0 and out.counts["entitlements"] > 0  # the correction was paid out...
    found = problems(app)
    assert "company DURAND: payroll pay/2025-03 differs from load 1 (rows altered, added or removed)" in found


@pytest.mark.parametrize(
    "text",
    ["151.67", "a\nb\t\x01\x1f", "é😀 \u2028", '"\\', "\x7f"],
    ids=["plain", "controls", "unicode", "quotes", "del"],
)
def test_pay_lines_written_as_json_by_sqlite_give_the_digests_python_gives(app, text):
    # verify digests each month of pay lines from SQLite's own JSON when it has the recorded digest: it must be
    # byte for byte the text Python writes, whatever the row holds; any other outcome goes the Python way
    sql(app, "DROP TRIGGER IF EXISTS pay_lines_no_update")
    sql(
        app,
        "UPDATE pay_lines SET contract_hours = ? WHERE company = 'DURAND' AND month = '2025-03-01'",
        args=(text,),
    )
    companies = app.ledger.companies
    python = companies.current_parts("DURAND")
    from paybonus.store.companies import _PAY_MONTH_JSON, sha256

    by_sqlite = app.ledger.conn.execute(_PAY_MONTH_JSON, ("DURAND", "2025-03-01")).fetchone()[0]
    assert sha256(by_sqlite.encode("utf-8")) == python["pay/2025-03"]  # the fast path is taken for this text
    assert companies.current_parts("DURAND", expected=python) == python
    wrong = {part: "0" * 64 for part in python}
    assert companies.current_parts("DURAND", expected=wrong) == python  # every month again in Python
    found = problems(app)
    assert "company DURAND: payroll pay/2025-03 differs from load 1 (rows altered, added or removed)" in found


@pytest.mark.parametrize(
    "text",
    ["CDI", "a\nb\t\x01\x1f", "é😀 \u2028", '"\\', "\x7f"],
    ids=["plain", "controls", "unicode", "quotes", "del"],
)
def test_contracts_and_absences_written_as_json_by_sqlite_give_the_digests_python_gives(
    app, text, monkeypatch
):
    # as the pay lines above: the contracts' and absences' parts are digested from SQLite's own JSON when it has
    # the recorded digest (no row made in Python), else in Python; either way the digests Python gives
    from paybonus.store import companies as store

    for table, column in (("contracts", "category"), ("absences", "kind")):
        sql(
            app,
            f"UPDATE {table} SET {column} = ? WHERE rowid = (SELECT MIN(rowid) FROM {table} WHERE company = 'DURAND')",
            args=(text,),
        )
    python = app.ledger.companies.current_parts("DURAND")
    in_python: list[int] = []
    real = store.part_digest
    monkeypatch.setattr(store, "part_digest", lambda rows: in_python.append(len(rows)) or real(rows))
    assert app.ledger.companies.current_parts("DURAND", expected=python) == python
    assert in_python == []  # every part from SQLite's JSON
    wrong = {part: "0" * 64 for part in python}
    assert app.ledger.companies.current_parts("DURAND", expected=wrong) == python
    assert len(in_python) == len(python)  # every part again in Python


def Period_of(payload):
    from paybonus.calendar import Period

    return Period.parse(f"{payload['period']['start']}..{payload['period']['end']}")


@pytest.mark.parametrize(
    "statement, expected",
    [
        (
            "UPDATE contracts SET start = '2019-01-01' WHERE employee = 'E0002'",
            "payroll contracts differs from load 1",
        ),
        (
            "DELETE FROM absences WHERE rowid = (SELECT MIN(rowid) FROM absences)",
            "payroll absences differs from load 1",
        ),
        (
            "INSERT INTO pay_lines SELECT company, 'E9999', month, gross_cents, base_cents, contract_hours, ap_hours, "
            "ap_indemnity_cents, reconstituted_cents, cp_caisse_cents, ap_subject_cents FROM pay_lines LIMIT 1",
            "differs from load 1",
        ),
        (
            "UPDATE companies SET config_toml = replace(config_toml, 'DURAND', 'DURAND') || '\n# edited'",
            "company DURAND: its configuration differs from the last one loaded (altered)",
        ),
    ],
)
def test_edited_payroll_or_configuration_is_found(app, statement, expected):
    sql(app, statement)
    assert any(expected in p for p in problems(app))


def test_edited_dispatch_findings_and_summary_are_found(app):
    row = app.ledger.conn.execute(
        "SELECT event_id, scheme, company FROM dispatches WHERE summary LIKE '%pool%' LIMIT 1"
    ).fetchone()
    sql(app, "UPDATE dispatches SET summary = '{}' WHERE event_id = ? AND scheme = ?", args=tuple(row[:2]))
    assert (
        f"dispatch {row[0]}/{row[1]} ({row[2]}): its row, findings or entitlements differ from its audit entry (altered)"
        in problems(app)
    )


def test_a_deleted_finding_is_found(app):
    row = app.ledger.conn.execute("SELECT event_id, scheme FROM findings LIMIT 1").fetchone()
    assert row is not None
    sql(app, "DELETE FROM findings WHERE rowid = (SELECT MIN(rowid) FROM findings)")
    assert any(p.startswith(f"dispatch {row[0]}/{row[1]}") for p in problems(app))


def test_reordered_events_are_found(app):
    a, b = app.ledger.conn.execute("SELECT seq FROM events ORDER BY seq LIMIT 2 OFFSET 3").fetchall()
    sql(app, "DROP TRIGGER events_no_update")
    sql(app, f"UPDATE events SET seq = -1 WHERE seq = {a[0]}")
    sql(app, f"UPDATE events SET seq = {a[0]} WHERE seq = {b[0]}")
    sql(app, f"UPDATE events SET seq = {b[0]} WHERE seq = -1")
    assert any("out of the order of its company's chain" in p for p in problems(app))


def test_a_stored_parameter_set_edited_is_found(app):
    sql(app, "DROP TRIGGER parameter_sets_no_update")
    sql(app, "UPDATE parameter_sets SET document = replace(document, '4710000', '4810000')")
    assert any("altered since it was recorded" in p for p in problems(app))


def test_parameters_changed_after_amounts_were_recorded_are_found(app, tmp_path):
    # PASS 2025 "corrected" in a --params file after the year was computed: those amounts no longer follow
    changed = tmp_path / "params.toml"
    changed.write_text(
        '[pass_annual]\nunit = "cents"\nsource = "test"\nvalues = [{ from = 2025-01-01, value = 4800000 }]\n',
        encoding="utf-8",
    )
    app.params = Parameters.default().with_file(changed)
    rep = app.verify()  # a note, not a fault of the ledger: the law's numbers were corrected after the fact
    assert rep.ok and any(
        "changed since amounts were computed with them: pass_annual from 2025-01-01: 4710000 was recorded, 4800000 now"
        in str(n)
        for n in rep.notes
    )
    newer = tmp_path / "newer.toml"  # a value for a later year is not a change
    newer.write_text(
        '[pass_annual]\nunit = "cents"\nsource = "test"\nvalues = [{ from = 2027-01-01, value = 4900000 }]\n',
        encoding="utf-8",
    )
    app.params = Parameters.default().with_file(newer)
    assert problems(app) == [] and app.verify().notes == []


def test_export_uses_the_contributions_recorded_with_the_amount(app, tmp_path):
    from datetime import date

    before = {
        r["entitlement"]: r["csg_crds_if_paid_cents"]
        for r in app.export(date(2026, 6, 1), scheme="interessement")
    }
    changed = tmp_path / "csg.toml"
    changed.write_text(
        '[csg_deductible]\nunit = "rate"\nsource = "test"\nvalues = [{ from = 2015-01-01, value = "0.5" }]\n',
        encoding="utf-8",
    )
    app.params = Parameters.default().with_file(changed)
    after = {
        r["entitlement"]: r["csg_crds_if_paid_cents"]
        for r in app.export(date(2026, 6, 1), scheme="interessement")
    }
    assert before and before == after


# -- found by verify: outputs and the chain -----------------------------------------------------------------------


def test_an_amount_changed_with_plain_sql_is_named(app):
    target = app.ledger.conn.execute(
        "SELECT id, seq FROM entitlements ORDER BY seq LIMIT 1 OFFSET 7"
    ).fetchone()
    sql(app, "DROP TRIGGER entitlements_immutable")
    sql(app, "UPDATE entitlements SET amount_cents = amount_cents + 100 WHERE id = ?", args=(target[0],))
    assert (
        f"entitlement {target[0]} (row {target[1]}): content differs from its audit entry (altered)"
        in "\n".join(problems(app))
    )


def test_an_amount_changed_with_its_digest_is_caught_by_recomputation(app):
    sql(app, "DROP TRIGGER entitlements_immutable")
    cur = app.ledger.conn.cursor()
    cur.row_factory = sqlite3.Row
    row = dict(cur.execute("SELECT * FROM entitlements WHERE scheme = 'interessement' LIMIT 1").fetchone())
    row["amount_cents"] += 1
    sql(
        app,
        "UPDATE entitlements SET amount_cents = ?, digest = ? WHERE id = ?",
        args=(row["amount_cents"], entitlement_digest(row), row["id"]),
    )
    found = [p for p in problems(app) if row["id"] in p]
    assert any("differs from its audit entry" in p for p in found)
    assert any("recomputed from its explanation" in p for p in found)


def test_an_altered_chain_entry_is_named(app):
    sql(app, "DROP TRIGGER audit_log_no_update")
    sql(app, "UPDATE audit_log SET ref = 'forged' WHERE company = 'DURAND' AND n = 5")
    found = problems(app)
    assert any(p.startswith("DURAND chain entry 5: hash does not match the entry's content") for p in found)


def test_a_removed_chain_entry_is_named(app):
    sql(app, "DROP TRIGGER audit_log_no_delete")
    sql(app, "DELETE FROM audit_log WHERE company = 'DURAND' AND n = 9")
    assert any(p.startswith("DURAND chain entry 10: position broken") for p in problems(app))


def test_an_inserted_entitlement_is_named(app):
    sql(
        app,
        "INSERT INTO entitlements (id, scheme, scheme_version, company, employee, period_start, period_end, amount_cents,"
        " kind, social_regime, status, event_id, explanation, digest, recorded_at) SELECT 'ENT-forged', scheme,"
        " scheme_version, company, employee, period_start, period_end, 999999, kind, social_regime, status, event_id,"
        " explanation, digest, recorded_at FROM entitlements LIMIT 1",
    )
    assert any(p.startswith("entitlement ENT-forged") and "no audit entry" in p for p in problems(app))


def test_a_failed_and_a_deleted_failed_dispatch_are_both_found(
    paybonus_bus, paybonus_events, paybonus_ledger
):
    from helpers import plugins as testplugins

    testplugins.BROKEN["on"] = True
    bus = paybonus_bus(FlatPlugin(), FlakyPlugin(), schemes_toml=SCHEMES_TOML)
    bus.publish(paybonus_events.period_closed("2025-01"))
    rep = verify(paybonus_ledger, bus.host.schemes)
    assert [str(p) for p in rep.problems] == [
        "dispatch close-2025-01-01..2025-01-31/flaky (ACME): failed after 1 attempt(s): run `paybonus retry`"
    ]
    paybonus_ledger.conn.execute("DELETE FROM dispatches WHERE scheme = 'flaky'")  # hiding the dead letter
    found = [str(p) for p in verify(paybonus_ledger, bus.host.schemes).problems]
    assert (
        "dispatch close-2025-01-01..2025-01-31/flaky (ACME): never ran (an interrupted publish): run `paybonus retry`"
        in found
    )
    assert any("is missing from the dispatches table" in p for p in found)
    testplugins.BROKEN["on"] = False


# -- found with a signed checkpoint ------------------------------------------------------------------------------


@pytest.fixture
def key(tmp_path):
    return new_key(tmp_path / "key.pem")


def checkpoint_file(app, key, tmp_path):
    path = tmp_path / f"checkpoint-{len(list(tmp_path.glob('checkpoint-*')))}.json"
    path.write_text(app.checkpoint(key).to_json(), encoding="utf-8")
    return read(path, key.public_key())


def truncate_tail(app, company, entries):
    """What an insider with the database would do: drop the triggers, delete the last entries of a company's
    chain and the rows they vouched for."""
    sql(
        app,
        "PRAGMA foreign_keys = OFF",
        "DROP TRIGGER audit_log_no_delete",
        "DROP TRIGGER events_no_delete",
        "DROP TRIGGER entitlements_no_delete",
        "DROP TRIGGER payments_no_delete",
    )
    last = app.ledger.audit.head(company).n
    rows = app.ledger.conn.execute(
        "SELECT action, ref FROM audit_log WHERE company = ? AND n > ?", (company, last - entries)
    ).fetchall()
    for action, ref in rows:
        if action == "entitlement.recorded":
            sql(
                app,
                "DELETE FROM payments WHERE entitlement = ?",
                "DELETE FROM entitlements WHERE id = ?",
                args=(ref,),
            )
        elif action == "event.recorded":
            sql(
                app,
                "DELETE FROM payments WHERE event_id = ?",
                "DELETE FROM findings WHERE event_id = ?",
                "DELETE FROM dispatches WHERE event_id = ?",
                "DELETE FROM events WHERE id = ?",
                args=(ref,),
            )
    sql(app, "DELETE FROM audit_log WHERE company = ? AND n > ?", args=(company, last - entries))


def test_a_truncated_tail_passes_without_a_checkpoint_and_fails_with_one(app, key, tmp_path):
    cp = checkpoint_file(app, key, tmp_path)
    # the results event and its whole intéressement dispatch are the last things recorded for DURAND: remove them
    n = app.ledger.conn.execute(
        "SELECT MIN(n) FROM audit_log WHERE company = 'DURAND' AND ref = 'DURAND-results-2025'"
    ).fetchone()[0]
    truncate_tail(app, "DURAND", app.ledger.audit.head("DURAND").n - n + 1)
    without = app.verify()
    assert [p for p in without.problems if "checkpoint" in str(p)] == []  # the threat model: a clean tail cut
    found = problems(app, checkpoints=[cp])
    assert any("DURAND's chain no longer reaches entry" in p for p in found)


def test_a_payment_removed_at_the_tail_is_found_with_a_checkpoint(app, key, tmp_path):
    ent = app.ledger.conn.execute(
        "SELECT id, amount_cents, company FROM entitlements WHERE scheme = 'interessement' LIMIT 1"
    ).fetchone()
    from datetime import date

    from paybonus.events import PaymentRecorded

    pay = Event(
        "pay-1",
        "payment_recorded",
        ent[2],
        datetime(2026, 5, 1, tzinfo=UTC),
        PaymentRecorded(ent[0], ent[1], date(2026, 5, 1)),
    )
    app.publish([pay])
    cp = checkpoint_file(app, key, tmp_path)
    n = app.ledger.conn.execute(
        "SELECT n FROM audit_log WHERE action = 'event.recorded' AND ref = 'pay-1'"
    ).fetchone()[0]
    truncate_tail(
        app, "DURAND", app.ledger.audit.head("DURAND").n - n + 1
    )  # the payment and what followed it
    assert app.ledger.payments.paid_cents(ent[0]) == 0
    assert any("DURAND's chain no longer reaches entry" in p for p in problems(app, checkpoints=[cp]))


def test_an_amount_and_its_explanation_rewritten_with_a_rebuilt_chain_is_found(app, key, tmp_path):
    cp = checkpoint_file(app, key, tmp_path)
    cur = app.ledger.conn.cursor()
    cur.row_factory = sqlite3.Row
    row = dict(cur.execute("SELECT * FROM entitlements WHERE scheme = 'prime_nao' LIMIT 1").fetchone())
    expl = json.loads(row["explanation"])
    expl["inputs"]["full_cents"] = int(expl["inputs"]["full_cents"]) * 2  # amount and explanation agree again
    row["explanation"] = json.dumps(expl, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    from paybonus.hooks import Explanation
    from paybonus.plugins.salary.prime_nao import recompute

    row["amount_cents"] = recompute(Explanation.from_dict(app.ledger.entitlements.explanation(row)))
    row["digest"] = entitlement_digest(row)
    sql(app, "DROP TRIGGER entitlements_immutable", "DROP TRIGGER audit_log_no_update")
    sql(
        app,
        "UPDATE entitlements SET amount_cents = ?, explanation = ?, digest = ? WHERE id = ?",
        args=(row["amount_cents"], row["explanation"], row["digest"], row["id"]),
    )
    rebuild_chain(app, "DURAND", {("entitlement.recorded", row["id"]): row["digest"]})
    assert not [
        p for p in problems(app) if "checkpoint" not in p and row["id"] in p
    ]  # consistent without one
    assert any("history was rewritten" in p for p in problems(app, checkpoints=[cp]))
    replayed = app.replay()
    assert any(row["id"] in str(p) for p in replayed.problems)


def rebuild_chain(app, company, new_digests):
    """Recompute every hash of a company's chain after changing some entries' digests (a forger's work)."""
    entries = app.ledger.conn.execute(
        "SELECT n, at, action, ref, digest, prev_hash FROM audit_log WHERE company = ? ORDER BY n", (company,)
    ).fetchall()
    prev = entries[0][5]
    for n, at, action, ref, digest, _ in entries:
        digest = new_digests.get((action, ref), digest)
        hsh = chain_hash(prev, company, n, at, action, ref, digest)
        sql(
            app,
            "UPDATE audit_log SET digest = ?, prev_hash = ?, hash = ? WHERE company = ? AND n = ?",
            args=(digest, prev, hsh, company, n),
        )
        prev = hsh


def test_a_forged_entitlement_appended_with_its_chain_entries_is_found_by_replay(app):
    cur = app.ledger.conn.cursor()
    cur.row_factory = sqlite3.Row
    row = dict(
        cur.execute("SELECT * FROM entitlements WHERE scheme = 'pmt' ORDER BY seq DESC LIMIT 1").fetchone()
    )
    row.update(id="ENT-00000000000000forged", seq=None)  # the same award once more: it recomputes fine
    row["digest"] = entitlement_digest(row)
    cols = [c for c in row if c != "seq"]
    sql(
        app,
        f"INSERT INTO entitlements ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        args=tuple(row[c] for c in cols),
    )
    with app.ledger.write():  # the forger appends consistent entries: verify alone cannot tell
        app.ledger.audit.append(
            "DURAND",
            row["recorded_at"],
            [
                ("entitlement.recorded", row["id"], row["digest"]),
                (
                    "dispatch.completed",
                    f"{row['event_id']}/pmt",
                    app.ledger.dispatch_digest(row["company"], row["event_id"], "pmt"),
                ),
            ],
        )
    assert app.verify().ok
    replayed = app.replay()
    assert any(
        "ENT-00000000000000forged" in str(p) and "without following from its inputs" in str(p)
        for p in replayed.problems
    )


def test_the_replay_of_an_untouched_ledger_agrees_everywhere(app):
    rep = app.replay()
    assert rep.problems == [] and rep.dispatches > 20 and rep.amounts == app.ledger.entitlements.count()


def test_the_replay_writes_each_parameter_set_s_document_once_not_once_a_dispatch(app, monkeypatch):
    # each dispatch set its recorded parameters on the replay's bus, which wrote the set's JSON again: a sixth of
    # a replay's time went to the same document
    from paybonus.params import Parameters

    written = []
    to_document = Parameters.to_document
    monkeypatch.setattr(Parameters, "to_document", lambda self: written.append(self) or to_document(self))
    rep = app.replay()
    assert rep.problems == [] and rep.dispatches > 20
    assert 0 < len(written) <= 2 * len({id(p) for p in written})  # its digest's and its document's, per set


def test_a_throwaway_ledger_does_not_wait_for_the_disk_and_a_ledger_opened_on_it_does(tmp_path):
    from paybonus import Ledger

    scratch = Ledger.create(tmp_path / "scratch.db").throwaway()
    try:
        assert scratch.conn.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        with Ledger.open(tmp_path / "scratch.db") as again:  # the setting is the connection's, not the file's
            assert again.conn.execute("PRAGMA synchronous").fetchone()[0] != 0
    finally:
        scratch.close()


# -- checkpoints themselves -------------------------------------------------------------------------------------


def test_a_checkpoint_signed_with_another_key_or_altered_is_refused(app, key, tmp_path):
    other = new_key(tmp_path / "other.pem")
    path = tmp_path / "cp.json"
    path.write_text(app.checkpoint(other).to_json(), encoding="utf-8")
    with pytest.raises(UserError, match="not with the trusted key"):
        read(path, key.public_key())
    path.write_text(app.checkpoint(key).to_json().replace('"n": ', '"n": 1'), encoding="utf-8")
    with pytest.raises(UserError, match="altered"):
        read(path, key.public_key())


def test_a_checkpoint_of_another_ledger_is_a_problem(app, key, tmp_path, sample_ledger):
    other_path = tmp_path / "other.db"
    with Paybonus.create(other_path) as other:
        other.load_company(sample_dir())
        cp = create(other.ledger.audit.ledger_id(), other.ledger.audit.heads(), key)
    assert any("is for ledger" in p for p in problems(app, checkpoints=[cp]))


def test_the_expected_head_is_the_root_over_every_chain(app):
    rep = app.verify()
    assert app.verify(expect_root=rep.root).ok and not app.verify(expect_root="0" * 64).ok


def test_verify_reads_a_ledger_with_a_plugin_host_missing_nothing(app):
    # the built-in families recompute every amount of the sample; nothing is left unexplained
    rep = app.verify()
    assert rep.recomputed == rep.entitlements > 50 and set(load_plugins().schemes) >= {"interessement", "pmt"}


# -- shared explanation parts (docs/ledger.md) ---------------------------------------------------------------------


def test_a_shared_explanation_part_altered_or_removed_is_found(app):
    key, body = app.ledger.conn.execute(
        "SELECT hash, body FROM shared_explanations WHERE body LIKE '%pool_cents%'"
    ).fetchone()
    users = [
        r[0]
        for r in app.ledger.conn.execute(
            "SELECT id FROM entitlements WHERE json_extract(explanation, '$.shared') = ?", (key,)
        )
    ]
    assert len(users) > 1  # one intéressement computation: every beneficiary names the same part
    part = json.loads(body)
    part["inputs"]["pool_cents"] = int(part["inputs"]["pool_cents"]) * 2  # a bigger pool for everyone
    sql(app, "DROP TRIGGER shared_explanations_no_update", "DROP TRIGGER shared_explanations_no_delete")
    sql(
        app,
        "UPDATE shared_explanations SET body = ? WHERE hash = ?",
        args=(json.dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False), key),
    )
    assert f"shared explanation {key[:16]}: its text was altered (it no longer has this hash)" in problems(
        app
    )
    sql(app, "DELETE FROM shared_explanations WHERE hash = ?", args=(key,))
    found = problems(app)
    assert sum("the explanation part it shares with its dispatch is missing" in p for p in found) == len(
        users
    )


def test_each_entitlement_stores_only_its_own_part_and_reads_back_whole(app):
    row = app.ledger.conn.execute(
        "SELECT id, explanation FROM entitlements WHERE scheme = 'interessement' LIMIT 1"
    ).fetchone()
    own = json.loads(row[1])
    assert "pool_cents" not in own["inputs"] and "pass" not in own["parameters"] and "shared" in own
    whole = app.explain(row[0])
    assert whole.entitlement.explanation.inputs["pool_cents"] > 0  # I-3: the pool, from the shared part
    assert whole.entitlement.explanation.steps[0].startswith("pool = ")  # the pool's steps come first
    assert whole.recomputed_cents == whole.row["amount_cents"]
    assert whole.to_dict()["explanation"]["parameters"]["pass"]
    lines = {
        (s, n)
        for s, n in app.ledger.conn.execute(
            "SELECT section, name FROM explanation_lines WHERE entitlement = ?", (row[0],)
        )
    }
    assert (
        ("input", "pool_cents") in lines
        and ("input", "salary_cents") in lines
        and ("parameter", "pass") in lines
    )


# -- the recompute reads each row's own part joined to its shared part (issue 17, verify's fourth pass) ------------


def _rewrite_own(app, row_id, edit):
    """A row's own explanation part edited with its digest re-derived: only the recompute can see it."""
    sql(app, "DROP TRIGGER entitlements_immutable")
    cur = app.ledger.conn.cursor()
    cur.row_factory = sqlite3.Row
    row = dict(cur.execute("SELECT * FROM entitlements WHERE id = ?", (row_id,)).fetchone())
    own = json.loads(row["explanation"])
    edit(own)
    row["explanation"] = json.dumps(own, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    sql(
        app,
        "UPDATE entitlements SET explanation = ?, digest = ? WHERE id = ?",
        args=(row["explanation"], entitlement_digest(row), row_id),
    )
    return row


def _shared_nao_rows(app):
    return app.ledger.conn.execute(
        "SELECT id, seq, amount_cents, json_extract(explanation, '$.shared') FROM entitlements "
        "WHERE scheme = 'prime_nao' AND json_extract(explanation, '$.shared') IS NOT NULL ORDER BY seq"
    ).fetchall()


def test_an_own_input_of_a_row_that_shares_its_part_is_recomputed(app):
    rows = _shared_nao_rows(app)
    assert len(rows) > 2  # a NAO close: each beneficiary's own part names the schedule they share
    ident, seq, amount, _ = rows[1]
    _rewrite_own(
        app, ident, lambda own: own["inputs"].__setitem__("full_cents", own["inputs"]["full_cents"] * 3)
    )
    found = [p for p in problems(app) if f"(row {seq})" in p]
    assert any(f"amount {amount} cents differs from" in p for p in found), found


def test_a_schedule_of_instalments_edited_in_a_shared_part_or_a_row_is_recomputed(app):
    rows = _shared_nao_rows(app)
    key = rows[0][3]
    body = app.ledger.conn.execute("SELECT body FROM shared_explanations WHERE hash = ?", (key,)).fetchone()[
        0
    ]
    part = json.loads(body)
    assert part["inputs"]["instalments"] == ["0.5", "0.5"]
    # one row's own part with another schedule (its own inputs win over its shared part's)
    ident, seq, amount, _ = rows[-1]
    _rewrite_own(app, ident, lambda own: own["inputs"].__setitem__("instalments", ["0.1", "0.9"]))
    found = problems(app)
    assert any(f"(row {seq}): amount {amount} cents differs from" in p for p in found), found
    # the shared part itself: every row naming it is recomputed with the altered schedule
    part["inputs"]["instalments"] = ["0.2", "0.8"]
    sql(app, "DROP TRIGGER shared_explanations_no_update")
    sql(
        app,
        "UPDATE shared_explanations SET body = ? WHERE hash = ?",
        args=(json.dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False), key),
    )
    found = [
        str(p) for p in verify(app.ledger, app.host.schemes, params=app.params, max_problems=10_000).problems
    ]
    users = [r for r in rows if r[3] == key and r[2]]
    assert f"shared explanation {key[:16]}: its text was altered (it no longer has this hash)" in found
    assert sum("recomputed from its explanation" in p for p in found) >= len(users) > 1


def test_a_paid_entitlement_set_back_to_due_is_found(app):
    """A status moved back to 'due' while its payment is still recorded: the payments check must compare the status
    with what the payments give, not skip every row whose status reads 'due'."""
    from datetime import date

    from paybonus.events import PaymentRecorded

    ent = app.ledger.conn.execute(
        "SELECT id, amount_cents, company FROM entitlements WHERE scheme = 'interessement' AND amount_cents > 0 LIMIT 1"
    ).fetchone()
    pay = Event(
        "pay-back-to-due",
        "payment_recorded",
        ent[2],
        datetime(2026, 5, 1, tzinfo=UTC),
        PaymentRecorded(ent[0], ent[1], date(2026, 5, 1)),
    )
    app.publish([pay])
    assert (
        app.ledger.conn.execute("SELECT status FROM entitlements WHERE id = ?", (ent[0],)).fetchone()[0]
        == "paid"
    )
    assert not [p for p in problems(app) if ent[0] in p]
    sql(app, "UPDATE entitlements SET status = 'due' WHERE id = ?", args=(ent[0],))
    assert any(ent[0] in p for p in problems(app))
    # and a row without payments that does not read 'due'
    unpaid = app.ledger.conn.execute(
        "SELECT id FROM entitlements WHERE id <> ? AND status = 'due' AND amount_cents > 0 LIMIT 1", (ent[0],)
    ).fetchone()[0]
    sql(app, "UPDATE entitlements SET status = 'paid' WHERE id = ?", args=(unpaid,))
    assert f"entitlement {unpaid}: status 'paid' does not follow from its payments ('due')" in problems(app)


def test_dispatches_whose_rows_are_interleaved_are_not_altered(app):
    """The dispatches' digests list their rows' ids as the walk of the entitlements read them: two dispatches
    whose rows alternate (each in its own order) are read whole, as a query for each dispatch reads them."""
    first, second = app.ledger.conn.execute(
        "SELECT company, event_id, scheme FROM entitlements GROUP BY 1, 2, 3 HAVING COUNT(*) > 1 LIMIT 2"
    ).fetchall()
    top = app.ledger.conn.execute("SELECT MAX(seq) FROM entitlements").fetchone()[0] + 1
    for k, (company, event_id, scheme) in enumerate((first, second)):
        seqs = app.ledger.entitlements.conn.execute(
            "SELECT seq FROM entitlements WHERE company = ? AND event_id = ? AND scheme = ? ORDER BY seq",
            (company, event_id, scheme),
        ).fetchall()
        for i, (seq,) in enumerate(seqs):  # the rows' order is not in their digests nor in the chain
            sql(app, "UPDATE entitlements SET seq = ? WHERE seq = ?", args=(top + 2 * i + k, seq))
    assert problems(app) == []


def test_an_entitlements_check_that_stops_leaves_the_dispatches_checked_as_recorded(app):
    """When the walk of the entitlements stops at a row it cannot read, the dispatches' digests read their ids
    by a query (the walk's are partial): no dispatch is named altered for it."""
    sql(app, "DROP TRIGGER entitlements_immutable")
    sql(app, "UPDATE entitlements SET explanation = '[1]' WHERE seq = (SELECT MIN(seq) FROM entitlements)")
    found = problems(app)
    assert any(p.startswith("entitlements: holds rows paybonus did not write") for p in found)
    assert not [p for p in found if p.startswith("dispatch ")]


def test_a_row_recorded_after_the_walk_of_the_entitlements_is_in_its_dispatchs_digest(app, monkeypatch):
    """The dispatches' check takes the ids the walk of the entitlements read; a row recorded after that walk (a
    publisher writing meanwhile, here a forged one) is read by a query, and its dispatch's digest covers it."""
    from paybonus import audit

    company, event_id, scheme = app.ledger.conn.execute(
        "SELECT company, event_id, scheme FROM dispatches d WHERE status = 'completed' AND NOT EXISTS (SELECT 1 "
        "FROM entitlements e WHERE e.company = d.company AND e.event_id = d.event_id AND e.scheme = d.scheme) "
        "LIMIT 1"
    ).fetchone()
    real = audit._check_dispatches

    def after_a_write(ledger, *args, **kw):
        sql(
            app,
            "INSERT INTO entitlements (id, scheme, scheme_version, company, employee, period_start, period_end, "
            "amount_cents, kind, social_regime, status, event_id, explanation, digest, recorded_at) SELECT "
            "'ENT-late', ?, scheme_version, ?, employee, period_start, period_end, amount_cents, kind, "
            "social_regime, status, ?, explanation, digest, recorded_at FROM entitlements LIMIT 1",
            args=(scheme, company, event_id),
        )
        return real(ledger, *args, **kw)

    monkeypatch.setattr(audit, "_check_dispatches", after_a_write)
    assert (
        f"dispatch {event_id}/{scheme} ({company}): its row, findings or entitlements differ from its audit entry "
        "(altered)" in problems(app)
    )


def test_an_entitlement_given_anothers_id_and_one_deleted_are_missing_from_the_table(app):
    """Each chain entry about an entitlement that no row has is named: also when the rows are as many as the
    entries and each found its own (a row given another's id: the verifier's shortcut needs the ids all
    different), and when a row was deleted."""
    (first, second, third) = app.ledger.conn.execute(
        "SELECT id FROM entitlements ORDER BY seq LIMIT 3"
    ).fetchall()
    assert not [p for p in problems(app) if "missing from the entitlements table" in p]
    sql(app, "DROP TRIGGER entitlements_no_delete", "DROP TRIGGER entitlements_immutable")
    sql(app, "PRAGMA foreign_keys = OFF", "DROP INDEX idx_entitlements_id")
    sql(app, "UPDATE entitlements SET id = ? WHERE id = ?", args=(second[0], third[0]))
    found = [p for p in problems(app) if "missing from the entitlements table" in p]
    assert found == [
        f"DURAND chain entry {_entry_n(app, third[0])}: entitlement {third[0]} is missing from the entitlements table"
    ]
    sql(app, "DELETE FROM entitlements WHERE id = ?", args=first)
    found = [p for p in problems(app) if "missing from the entitlements table" in p]
    assert found == [
        f"DURAND chain entry {_entry_n(app, ref)}: entitlement {ref} is missing from the entitlements table"
        for ref in (first[0], third[0])
    ]


def _entry_n(app, ref):
    return app.ledger.conn.execute(
        "SELECT MAX(n) FROM audit_log WHERE action = 'entitlement.recorded' AND ref = ?", (ref,)
    ).fetchone()[0]


def test_the_dispatches_check_reads_the_chains_configurations_only_for_a_dispatch_not_there(app, monkeypatch):
    """Whether an event's scheme was in force when it was recorded is asked only of a dispatch that is not there
    (and whose scheme its company configures): an untouched ledger reads no configuration of the chains for it,
    and a company's configuration is parsed once at most."""
    from paybonus import audit

    built, parsed = [], []
    real_in_force, real_parse = audit.SchemesInForce, audit.parse_company_toml
    monkeypatch.setattr(audit, "SchemesInForce", lambda *a: built.append(1) or real_in_force(*a))
    monkeypatch.setattr(audit, "parse_company_toml", lambda *a: parsed.append(a[1]) or real_parse(*a))
    assert problems(app) == []
    assert built == [] and len(parsed) == len(set(parsed))
    company, event_id, scheme = app.ledger.conn.execute(
        "SELECT company, event_id, scheme FROM dispatches WHERE status = 'completed' LIMIT 1"
    ).fetchone()
    sql(app, "PRAGMA foreign_keys = OFF")
    sql(
        app,
        "DELETE FROM dispatches WHERE company = ? AND event_id = ? AND scheme = ?",
        args=(company, event_id, scheme),
    )
    parsed.clear()
    found = problems(app)
    assert built == [1] and parsed == [company]
    assert (
        f"dispatch {event_id}/{scheme} ({company}): never ran (an interrupted publish): run `paybonus retry`"
        in found
    )
