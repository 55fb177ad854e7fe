"""Forfait social on intéressement (LAW 0.4, docs/rules.md D-10): golden cases on 1 000.00 € of exercise 2025.

The deadline is 31 May 2026, so the headcount rule is judged in 2026: the average headcounts of 2021 to 2025
(L130-1 CSS: a threshold counts once reached five consecutive calendar years). At or above 250: 20 % (L137-16),
16 % of what is placed in a PER d'entreprise meeting the default-allocation condition; below: none (LFSS 2019).
"""

from datetime import date

import pytest
from helpers.companies import close_year, company, person, toml, world
from paybonus.audit import verify
from paybonus.export import rows
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters

P = Parameters.default()


def headcounts(counts: dict[int, int] | None, per: bool = False, legacy: int | None = None) -> str:
    text = toml(headcount=0).replace("headcount = 0\n", "")
    lines = ""
    if counts is not None:
        lines += "average_headcounts = { " + ", ".join(f"{y} = {n}" for y, n in counts.items()) + " }\n"
    if legacy is not None:
        lines += f"headcount = {legacy}\n"
    if per:
        lines += "per_qualifying = true\n"
    return text.replace("has_savings_plan = true\n", "has_savings_plan = true\n" + lines)


def thousand(tmp_path, text):
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text))
    out = close_year(bus, rcai=1_000)
    return bus, ledger, out


def forfait(ledger):
    row = ledger.entitlements.rows(scheme="interessement")[0]
    return row, ledger.entitlements.explanation(row)["parameters"]["contributions"]["forfait_social"]


ALL_260 = {y: 260 for y in range(2021, 2026)}


def test_f1_reached_five_years_running_is_subject_at_20_percent(tmp_path):
    # L130-1 II CSS, L137-16: 260 employees on average each year 2021-2025 -> 20 % x 100 000 = 20 000
    _, ledger, _ = thousand(tmp_path, headcounts(ALL_260))
    _, fs = forfait(ledger)
    assert fs["subject"] is True and fs["cents"] == 20_000
    assert fs["headcount_rule"]["year"] == 2026 and len(fs["headcount_rule"]["average_headcounts"]) == 5


def test_f2_one_year_below_and_the_threshold_is_not_crossed(tmp_path):
    # L130-1 II CSS: 2021 at 240, then 260: not five consecutive years at 250 or more -> exempt (LFSS 2019)
    _, ledger, _ = thousand(tmp_path, headcounts({**ALL_260, 2021: 240}))
    _, fs = forfait(ledger)
    assert fs["subject"] is False and fs["cents"] == 0


@pytest.mark.parametrize(("placed_per", "expected"), [(100_000, 16_000), (40_000, 6_400 + 12_000)])
def test_f3_f4_sums_placed_in_a_qualifying_per_bear_16_percent(tmp_path, placed_per, expected):
    # L137-16 CSS (LAW 0.4): 16 % for sums placed in a PER d'entreprise meeting the default-allocation condition,
    # 20 % for the rest: all placed in the PER: 16 000; 400.00 placed in it and 600.00 paid: 6 400 + 12 000
    bus, ledger, _ = thousand(tmp_path, headcounts(ALL_260, per=True))
    row, fs = forfait(ledger)
    assert (fs["rate"], fs["rate_if_placed_in_per"]) == ("0.20", "0.16")
    f = EventFactory("ACME")
    bus.publish(f.payment_recorded(row["id"], placed_per, date(2026, 5, 20), "placed_per", id="per"))
    if placed_per < 100_000:
        bus.publish(f.payment_recorded(row["id"], 100_000 - placed_per, date(2026, 5, 20), id="paid"))
    [out] = [r for r in rows(ledger, P, date(2026, 6, 1)) if r["entitlement"] == row["id"]]
    assert out["forfait_social_cents"] == expected and out["forfait_social_placed_per_cents"] == placed_per
    assert ledger.entitlements.get(row["id"])["status"] == (
        "placed" if placed_per == 100_000 else "paid_and_placed"
    )
    assert verify(ledger, bus.host.schemes).ok


def test_f5_a_single_headcount_still_works_without_the_five_year_rule(tmp_path):
    # LAW 0.4 with the former `headcount = 260`: subject, 20 %; the explanation says the rule was not applied
    _, ledger, _ = thousand(tmp_path, headcounts(None, legacy=260))
    _, fs = forfait(ledger)
    assert fs["cents"] == 20_000 and "five-year rule is not applied" in fs["headcount_rule"]["rule"]


def test_f6_a_missing_year_is_named(tmp_path):
    # L130-1 II CSS needs 2021-2025: without 2023, the computation stops with the year named (a dead letter)
    counts = {y: 260 for y in (2021, 2022, 2024, 2025)}
    _, _, out = thousand(tmp_path, headcounts(counts))
    [d] = out.dispatches
    assert d.status == "failed" and "company.average_headcounts: 2023 is needed" in d.error


def test_average_headcounts_are_checked_at_load():
    from paybonus.config import parse_company_toml
    from paybonus.errors import UserError

    with pytest.raises(UserError, match=r"company\.average_headcounts: '25' is not a calendar year"):
        parse_company_toml(headcounts({25: 10}), "company.toml")
    with pytest.raises(UserError, match=r"company\.average_headcounts\.2024: must not be negative"):
        parse_company_toml(headcounts({2024: -1}), "company.toml")
