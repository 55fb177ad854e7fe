"""Issue 13, "Identity and paths": company and employee ids cannot hold a path; one company cannot take an event
id that begins with another company's id; statements are written inside --out only."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from helpers.hostile import attempt, cli
from paybonus.errors import UserError


@pytest.mark.parametrize("cid", ["A/../../etc", "DURAND/x", "A..B", "..", "A\\B", "A:B", "x" * 65, "É"])
def test_company_ids_cannot_hold_a_path(work, cid):
    work.toml('id = "DURAND"', f"id = {json.dumps(cid)}")
    line = attempt(f"company id {cid!r}", work.fresh, "load", str(work.company))
    assert "company.id" in line


@pytest.mark.parametrize("emp", ["../E1", "E/1", "E..1", "E\\1", ".E1"])
def test_employee_ids_cannot_hold_a_path(work, emp):
    f = work.company / "employees.csv"
    f.write_text(f.read_text() + f"{emp},X Y,2024-01-01,,ouvrier,siege\n")
    line = attempt(f"employee id {emp!r}", work.fresh, "load", str(work.company))
    assert "employee_id" in line


@pytest.mark.parametrize("cid", ["DURAND/../x", "../DURAND", "DURAND/"])
def test_events_naming_a_company_with_a_path_are_refused(work, cid):
    e = {
        "id": "x-1",
        "type": "period_closed",
        "company": cid,
        "occurred_at": "2026-02-05T18:00:00+01:00",
        "payload": {"period": "2026-01"},
    }
    f = work.file("e.jsonl", json.dumps(e) + "\n")
    line = attempt(f"event company {cid!r}", work.db, "publish", str(f))
    assert "company" in line


def test_one_company_cannot_block_anothers_event_id(work):
    """Event ids are unique per company: EVIL publishing `DURAND-close-2026-01` first records EVIL's event, and
    DURAND's own event of that id is still recorded and computed (it used to be blocked; then a prefix rule
    refused EVIL's)."""
    evil = work.dir / "evil"
    shutil.copytree(work.company, evil)
    (evil / "company.toml").write_text(
        (evil / "company.toml").read_text().replace('id = "DURAND"', 'id = "EVIL"')
    )
    assert cli("--db", str(work.db), "load", str(evil))[0] == 0

    def close(company, id_="DURAND-close-2026-01"):
        e = {
            "id": id_,
            "type": "period_closed",
            "company": company,
            "occurred_at": "2026-02-05T18:00:00+01:00",
            "payload": {"period": "2026-01"},
        }
        return work.file(f"{company}.jsonl", json.dumps(e) + "\n")

    code, out, err = cli("--db", str(work.db), "publish", str(close("EVIL")))
    assert code == 0 and "1 recorded" in out, err
    code, out, err = cli("--db", str(work.db), "publish", str(close("DURAND")))
    assert code == 0 and "1 recorded" in out and "0 failed" in out, err
    code, out, err = cli("--db", str(work.db), "publish", str(close("DURAND")))
    assert code == 0 and "1 already known" in out, err


def test_statement_file_names_stay_inside_out():
    from paybonus.cli.followup import _statement_name

    assert _statement_name("DURAND", "interessement", date(2025, 1, 1), "E0001", "html") == (
        "DURAND-interessement-20250101-E0001.html"
    )
    for emp in ("../../x", "a/b", "a\\b", ".."):
        with pytest.raises(UserError):
            _statement_name("DURAND", "interessement", date(2025, 1, 1), emp, "html")
    with pytest.raises(UserError):
        _statement_name("A/../..", "interessement", date(2025, 1, 1), "E0001", "html")
