"""The benchmark command works end to end on a small size (the full run is `paybonus bench`, see docs)."""

import subprocess
import sys

import pytest
from paybonus.bench import run


@pytest.mark.slow
def test_a_small_benchmark_run_reports_every_figure():
    r = run(1500, 1)
    assert r["audit_ok"] and r["failed_dispatches"] == 0
    assert set(r["phases_s"]) == {"generate", "load", "publish", "verify", "replay"}
    assert r["events"] > 100 and r["entitlements"] > 1000
    assert r["floor_s"] > 0 and r["publish_over_floor"] > 1 and r["publish_cpu_s"] > 0
    assert r["events_per_s"] > 0 and r["entitlements_per_s"] > 0 and r["peak_rss_mib"] > 0
    # verify and replay run each in a fresh process (as `paybonus audit verify` does): the run's peak is the largest
    # of the processes' peaks, never one of them alone
    peaks = [r["publish_peak_rss_mib"], r["verify_peak_rss_mib"], r["replay_peak_rss_mib"]]
    assert all(p > 0 for p in peaks) and r["peak_rss_mib"] == max(peaks)
    assert r["verify_cpu_s"] > 0 and r["audit_entries"] > r["entitlements"]


@pytest.mark.slow
def test_a_small_vendor_month_with_many_companies():
    r = run(600, 20)
    assert r["audit_ok"] and r["failed_dispatches"] == 0 and r["companies"] == 20


def _result(run, employees, companies, publish, floor, rss, verify):
    return {
        "run": run,
        "employees": employees,
        "companies": companies,
        "phases_s": {"publish": publish, "verify": verify},
        "publish_over_floor": round(publish / floor, 2),
        "peak_rss_mib": rss,
    }


def test_each_target_of_the_performance_issue_gets_a_verdict():
    from paybonus.bench import verdicts

    got = verdicts(
        [
            _result("growth", 25_000, 1, 4.0, 1.0, 300, 1.0),
            {**_result("large employer", 200_000, 1, 29.0, 15.0, 1100, 9.0), "publish_peak_rss_mib": 900},
            _result("vendor month", 250_000, 2_000, 41.0, 20.0, 900, 9.0),
        ]
    )
    assert {(t, v) for t, _, _, v in got} == {
        ("large employer 200,000: publish_s", "met"),
        ("large employer 200,000: publish_over_floor", "met"),  # 29 / 15 = 1.93
        ("large employer 200,000: publish_peak_rss_mib", "met"),  # the publish alone: 900 MiB
        ("large employer 200,000: peak_rss_mib", "MISSED"),  # 1 100 MiB > 1 GiB, verify and replay included
        ("large employer 200,000: verify_s", "met"),
        ("vendor month 250,000: publish_s", "MISSED"),  # 41 s > 40 s
        ("vendor month 250,000: publish_over_floor", "met"),
        ("vendor month 250,000: peak_rss_mib", "met"),
        ("growth 25,000 -> 200,000: publish x", "met"),  # 29 / 4 = 7.25 for 8 x the staff
    }
    assert verdicts([_result("growth", 2_000, 1, 1.0, 0.5, 50, 0.1)]) == []  # no target for a quick run


def test_a_process_started_by_a_large_one_reports_its_own_peak_not_its_parents():
    """The verifier is started by the publish's process: its peak must be its own (Linux carries the parent's
    peak over exec in getrusage's ru_maxrss; `own_peak_mib` reads VmHWM). Found when the bench printed the
    publish's peak, to the tenth of a MiB, as the verifier's at every size."""
    import subprocess
    import sys

    from paybonus.bench import own_peak_mib

    ballast = bytearray(300 * 2**20)  # this process now holds 300 MiB more than a fresh interpreter needs
    ballast[::4096] = b"x" * len(ballast[::4096])  # touched: resident
    assert own_peak_mib() > 300
    child = subprocess.run(
        [sys.executable, "-c", "from paybonus.bench import own_peak_mib; print(own_peak_mib())"],
        capture_output=True,
        text=True,
        check=True,
    )
    del ballast
    assert float(child.stdout) < 150, child.stdout


@pytest.mark.parametrize(
    "argv", [["prepare", "--help"], ["prepare", "10"], [], ["ten"], ["measure", "x", "y"]]
)
def test_a_bench_step_asked_wrongly_prints_its_usage_and_exits_2(argv):
    """`python -m paybonus.bench prepare --help` ended in a traceback (int('--help')), exit 1."""
    r = subprocess.run(
        [sys.executable, "-m", "paybonus.bench", *argv], capture_output=True, text=True, check=False
    )
    assert r.returncode == 2 and r.stdout == ""
    assert (
        r.stderr.startswith("usage: python -m paybonus.bench prepare N COMPANIES FOLDER")
        and "Traceback" not in r.stderr
    )


def test_a_bench_step_on_a_folder_that_is_not_there_says_so_in_one_line(tmp_path):
    """`python -m paybonus.bench prepare 10 1 MISSING` ended in a traceback (the ledger's UserError), exit 1."""
    missing = tmp_path / "missing"
    r = subprocess.run(
        [sys.executable, "-m", "paybonus.bench", "prepare", "10", "1", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert (
        r.stderr == f"error: {missing / 'bench.db'}: cannot create the ledger (No such file or directory)\n"
    )
    assert not missing.exists()
