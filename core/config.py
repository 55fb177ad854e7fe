"""Company configuration: `company.toml`, structured with cattrs into attrs classes, with precise errors.

[company]
id = "ACME"
name = "Acme Industrie SAS"
fiscal_year_start = "01-01"
headcount = 28
has_savings_plan = true

[schemes.interessement]      # one table per scheme the company runs; validated by the scheme's config_type
...
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from attrs import frozen
from paybonus.hooks.types import CompanyInfo, SchemeDescriptor

from .convert import structure
from .errors import UserError


@frozen
class CompanyConfig:
    info: CompanyInfo
    schemes: dict[str, dict[str, Any]]  # raw tables, structured per scheme by `scheme_config`
    toml: str  # the text as loaded, stored in the ledger so that computations need no files


def parse_company_toml(text: str, where: str) -> CompanyConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(where, f"not valid TOML ({exc})") from None
    extra = sorted(set(data) - {"company", "schemes"})
    if extra:
        raise UserError(where, f"unknown table [{extra[0]}] (expected [company] and [schemes.<name>])")
    if "company" not in data:
        raise UserError(where, "missing [company] table")
    try:
        info = structure(data["company"], CompanyInfo)
    except ValueError as exc:
        raise UserError(where, f"company.{exc}") from None
    if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])", info.fiscal_year_start):
        raise UserError(where, f"company.fiscal_year_start: expected MM-DD, got {info.fiscal_year_start!r}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}", info.id):
        raise UserError(where, f"company.id: {info.id!r} must be letters, digits or ._:/@- without spaces")
    if info.headcount is not None and info.headcount < 0:
        raise UserError(where, "company.headcount: must not be negative")
    schemes = data.get("schemes", {})
    if not isinstance(schemes, dict) or not all(isinstance(v, dict) for v in schemes.values()):
        raise UserError(where, "schemes: expected tables [schemes.<name>]")
    return CompanyConfig(info, schemes, text)


def scheme_config(config: CompanyConfig, scheme: SchemeDescriptor, where: str) -> Any:
    """The company's table for `scheme`, structured into its `config_type` (None when not configured)."""
    raw = config.schemes.get(scheme.name)
    if raw is None or scheme.config_type is None:
        return raw
    try:
        return structure(raw, scheme.config_type)
    except ValueError as exc:
        raise UserError(where, f"schemes.{scheme.name}.{exc}") from None


def check_schemes_known(config: CompanyConfig, known: dict[str, SchemeDescriptor], where: str) -> None:
    """Every configured scheme is installed, and the schemes it requires are configured too."""
    for name in config.schemes:
        if name not in known:
            raise UserError(
                where, f"[schemes.{name}]: no installed scheme has that name (see `paybonus plugins`)"
            )
        for needed in known[name].requires:
            if needed not in config.schemes:
                raise UserError(
                    where,
                    f"[schemes.{name}]: the company also needs [schemes.{needed}] "
                    f"({known[name].label} requires {known[needed].label if needed in known else needed})",
                )
