"""The benchmark command works end to end on a small size (the full run is `paybonus bench`, see docs)."""

import pytest
from paybonus.bench import run


@pytest.mark.slow
def test_a_small_benchmark_run_reports_every_figure():
    r = run(1500, 1)
    assert r["audit_ok"] and r["failed_dispatches"] == 0
    assert set(r["phases_s"]) == {"generate", "load", "publish", "verify", "replay"}
    assert r["events"] > 100 and r["entitlements"] > 1000
    assert r["floor_s"] > 0 and r["publish_over_floor"] > 1
    assert r["events_per_s"] > 0 and r["entitlements_per_s"] > 0 and r["peak_rss_mib"] > 0


@pytest.mark.slow
def test_a_small_vendor_month_with_many_companies():
    r = run(600, 20)
    assert r["audit_ok"] and r["failed_dispatches"] == 0 and r["companies"] == 20
