"""`paybonus browse`: the ledger in datasette, read in a real headless browser (Debian's chromium and
chromium-driver, which `make test` installs), and the metadata that describes every table, view and column."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from paybonus import Paybonus
from paybonus.browse import ledger_metadata
from paybonus.fixtures import sample_dir
from paybonus.money import format_euros

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    path = tmp_path_factory.mktemp("browse") / "acme-ledger.db"
    with Paybonus.create(path) as app:
        app.load_company(sample_dir())
        app.publish(sample_dir() / "events.jsonl")
    return path


def test_the_metadata_describes_every_table_view_and_column(ledger):
    meta = ledger_metadata(ledger)
    db = meta["databases"]["acme-ledger"]
    import sqlite3

    conn = sqlite3.connect(ledger)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    missing = []
    for name in names:
        if name.startswith("sqlite_"):
            continue
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
        described = db["tables"].get(name, {})
        if not described.get("description"):
            missing.append(name)
        missing += [f"{name}.{c}" for c in cols if c not in described.get("columns", {})]
    assert not missing, f"describe these in core/data/ledger.toml: {missing}"
    assert set(db["queries"]) == {"employee", "explanation", "due_in_month"}
    assert db["tables"]["overdue"]["units"] == {"days_late": "day"}


def test_the_canned_queries_run_on_a_ledger(ledger):
    from paybonus.store.queries import CANNED_QUERIES

    conn = __import__("sqlite3").connect(ledger)
    eid = conn.execute("SELECT id FROM entitlements WHERE scheme = 'interessement' LIMIT 1").fetchone()[0]
    params = {"employee": "E0007", "entitlement": eid, "month": "2026-05"}
    for name, sql in CANNED_QUERIES.items():
        assert conn.execute(sql, params).fetchall(), name


def test_print_metadata_and_a_missing_datasette(ledger, tmp_path, monkeypatch, capsys):
    from paybonus.cli import main

    assert main(["--db", str(ledger), "browse", "--print-metadata"]) == 0
    assert "acme-ledger" in json.loads(capsys.readouterr().out)["databases"]
    monkeypatch.setitem(sys.modules, "datasette", None)  # as if the extra were not installed
    assert main(["--db", str(ledger), "browse", "--no-open"]) == 2
    assert "pip install 'paybonus[browse]'" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(ledger):
    port = _free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "paybonus", "--db", str(ledger), "browse", "--port", str(port), "--no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as r:
                assert r.status == 200
            break
        except OSError:
            if p.poll() is not None or time.monotonic() > deadline:
                p.kill()
                pytest.fail(f"paybonus browse did not start: {p.stdout.read().decode() if p.stdout else ''}")
            time.sleep(0.2)
    yield base
    p.terminate()
    p.wait(timeout=30)


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        message = "Debian's chromium and chromium-driver are needed (make test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,1200"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_an_employees_entitlements_and_an_explanation_are_readable_in_a_browser(
    ledger, server, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("PAYBONUS_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with Paybonus.open(ledger) as app:
        mine = app.entitlements(employee="E0007")
        name = app.ledger.companies.display_name("DURAND", "E0007")
    interessement = next(e for e in mine if e.scheme == "interessement")

    # the database page lists the views and the queries
    browser.get(f"{server}/acme-ledger")
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "An employee's entitlements" in page and "entitlements_in_euros" in page

    # an employee's entitlements: the canned query's form, filled in as a person would
    browser.find_element(By.LINK_TEXT, "An employee's entitlements").click()
    field = browser.find_element(By.CSS_SELECTOR, "input[name=employee]")
    field.clear()
    field.send_keys("E0007")
    field.submit()
    WebDriverWait(browser, 30).until(lambda b: "employee=E0007" in b.current_url)  # the answer, not the form
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return document.readyState") == "complete")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.rows-and-columns tbody tr")
    assert len(rows) == len(mine)
    text = browser.find_element(By.CSS_SELECTOR, "table.rows-and-columns").text
    assert name in text
    for e in mine:
        assert format_euros(e.amount_cents, french=True) in text  # "1 388,59 €"
    cell = browser.find_element(By.CSS_SELECTOR, "span.paybonus-euros")
    assert cell.value_of_css_property("text-align") == "right"
    browser.save_screenshot(str(shots / "browse-employee.png"))

    # one explanation: click the entitlement's id
    browser.find_element(By.LINK_TEXT, interessement.id).click()
    WebDriverWait(browser, 30).until(lambda b: "Why an amount" in b.title + b.page_source[:5000])
    assert "Why an amount is what it is" in browser.title + browser.find_element(By.TAG_NAME, "h1").text
    text = browser.find_element(By.CSS_SELECTOR, "table.rows-and-columns").text
    assert format_euros(interessement.amount_cents, french=True) in text and name in text
    assert ", ".join(interessement.explanation.rules) in text
    for step in interessement.explanation.steps:
        assert step[:60] in text, step
    browser.save_screenshot(str(shots / "browse-explanation.png"))


def test_cells_the_plugin_renders_and_those_it_leaves_to_datasette():
    from paybonus.datasette_plugin import render

    def cell(value, column, row=None, table="t"):
        out = render(row or {}, value, column, table, "acme-ledger", "/")
        return None if out is None else str(out)

    assert "1\u202f234,56 €" in cell("1234.56", "amount_euros") and "text-align:right" in cell(5, "x_euros")
    assert "-0,05 €" in cell("-0.05", "amount_euros")
    assert cell("12.3", "amount_euros") is None and cell("abc", "amount_euros") is None  # not an exact amount
    assert "text-align:left" in cell("10.00", "value", {"section": "amount"})  # an explanation's first line
    assert "1\u202f000,00 €" in cell("100000", "value", {"name": "pass_cents"})  # a parameter in cents
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    other = conn.execute("SELECT 1 AS a").fetchone()  # a row of another query: no section, no name
    assert cell("0.3", "value", {"name": "share"}) is None and cell("x", "value", other) is None
    link = cell("ENT-1<x>", "entitlement")
    assert (
        link
        == '<a href="/acme-ledger/explanation?entitlement=ENT-1&lt;x&gt;" style="white-space:nowrap">ENT-1&lt;x&gt;</a>'
    )
    assert "explanation?entitlement=ENT-2" in cell("ENT-2", "id", table="entitlements_in_euros")
    assert cell("ENT-2", "id", table="entitlements") is None and cell(None, "amount_euros") is None
