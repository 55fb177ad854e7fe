"""`paybonus lint`: compliance checks of a company's agreements, each finding citing its rule."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from paybonus.hooks.types import Finding, Level

from .app import config_refusals
from .config import CompanyConfig, parse_company_toml
from .errors import UserError
from .host import PluginHost
from .params import Parameters
from .parsing import MAX_FILE_BYTES, decode, read_bounded


def lint_company(
    company_dir: Path, host: PluginHost, params: Parameters
) -> tuple[CompanyConfig, list[Finding]]:
    """The company's configuration and what its schemes' own checks find in it. What `load` would refuse in
    the configuration is an error too (rule "config", load's own words): a configuration without lint errors
    loads."""
    toml_path = company_dir / "company.toml"
    try:
        text = decode(read_bounded(toml_path, MAX_FILE_BYTES))
    except OSError as exc:
        raise UserError(str(toml_path), f"cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise UserError(str(toml_path), str(exc)) from None
    config = parse_company_toml(text, str(toml_path))
    findings: list[Finding] = []
    for name, raw in config.schemes.items():
        scheme = host.schemes.get(name)
        if scheme is not None and scheme.lint is not None:
            try:
                findings += scheme.lint(raw, config.info, params)
            except ValueError as exc:  # a value the checks cannot read: the user's to fix
                raise UserError(str(toml_path), str(exc)) from None
    # the scheme's own check of a key, citing its rule, says it better than load's refusal of the same key
    named = {_key(f.message) for f in findings if f.level == Level.ERROR}
    for refusal in config_refusals(company_dir, config, host):
        message = str(refusal).removeprefix(f"{toml_path}: ")  # the summary line names company.toml
        if _key(message) not in named:
            findings.append(Finding(Level.ERROR, "config", message))
    findings += value_sharing(config, params)
    return config, findings


def _key(message: str) -> str:
    """ "schemes.interessement.seniority_months" of "schemes.interessement.seniority_months: 4 is ..." """
    return message.split(":", 1)[0]


def value_sharing(config: CompanyConfig, params: Parameters) -> list[Finding]:
    """The duty of companies of 11 to 49 employees with a net taxable profit of at least 1 % of their turnover
    three exercises running to apply, for the next exercise, participation, intéressement, an abondement or a
    PPV (loi 2023-1107 art. 5, an experiment for exercises opened from 1 January 2025; docs/rules.md V-1)."""
    info = config.info
    results = {int(r.exercise): r for r in info.fiscal_results}
    out: list[Finding] = []
    month, day = (int(x) for x in info.fiscal_year_start.split("-"))
    for year in sorted({y + 1 for y in results}):
        opens = date(year, month, day)
        try:
            rate = params.value("value_sharing_profit_rate", opens)
            years = params.value("value_sharing_years", opens)
            least = params.value("value_sharing_min_headcount", opens)
            participation = params.value("participation_min_headcount", opens)
        except LookupError:  # outside the experiment
            continue
        past = [results.get(y) for y in range(year - years, year)]
        if any(
            r is None or r.chiffre_affaires <= 0 or r.benefice_net_fiscal < rate * r.chiffre_affaires
            for r in past
        ):
            continue
        try:
            small, _ = info.headcount_reached(least, year, 1)
            bound, _ = info.headcount_reached(
                participation, year, params.value("headcount_threshold_years", opens)
            )
        except LookupError as exc:
            out.append(Finding(Level.INFO, "V-1", f"company: {exc} (loi 2023-1107 art. 5)"))
            continue
        if small is None:
            out.append(
                Finding(
                    Level.INFO,
                    "V-1",
                    f"company.average_headcounts: give {year - 1}'s to check the value-sharing duty of {year} "
                    "(loi 2023-1107 art. 5)",
                )
            )
            continue
        if not small or bound:
            continue
        if info.value_sharing.get(str(year)) or _interessement_covers(config, opens):
            continue
        out.append(
            Finding(
                Level.WARNING,
                "V-1",
                f"company: a net taxable profit of at least {rate * 100:f} % of the turnover in {year - years} to "
                f"{year - 1}: a value-sharing scheme is due for the exercise opened in {year} (participation, "
                f"intéressement, abondement or PPV; loi 2023-1107 art. 5): declare it in [schemes.interessement] "
                f'or company.value_sharing = {{ {year} = ["ppv"] }}',
            )
        )
    return out


def _interessement_covers(config: CompanyConfig, opens: date) -> bool:
    """Whether the company's intéressement agreement covers the exercise opened on `opens` (raw table: the
    plugin is not imported here)."""
    raw = config.schemes.get("interessement")
    if not isinstance(raw, dict):
        return False
    starts, ends = _day(raw.get("starts_on")), _day(raw.get("ends_on"))
    closes = date(opens.year + 1, opens.month, opens.day) - timedelta(days=1)
    return starts is not None and starts <= closes and (ends is None or ends >= opens)


def _day(value: object) -> date | None:
    """A raw TOML date as `load` reads it: a date-time (2025-01-01T00:00:00) counts as its day (it is a `date` in
    Python too, and compares with none); anything else is not a date."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None
