"""`paybonus lint`: compliance checks of a company's agreements, each finding citing its rule."""

from __future__ import annotations

from pathlib import Path

from paybonus.hooks.types import Finding, Level

from .config import CompanyConfig, parse_company_toml
from .errors import UserError
from .host import PluginHost
from .params import Parameters


def lint_company(
    company_dir: Path, host: PluginHost, params: Parameters
) -> tuple[CompanyConfig, list[Finding]]:
    """The company's configuration and what its schemes' own checks find in it."""
    toml_path = company_dir / "company.toml"
    try:
        text = toml_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(str(toml_path), f"cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(str(toml_path), "not UTF-8 text") from None
    config = parse_company_toml(text, str(toml_path))
    findings: list[Finding] = []
    for name, raw in config.schemes.items():
        scheme = host.schemes.get(name)
        if scheme is None:
            findings.append(
                Finding(Level.ERROR, "config", f"schemes.{name}: no installed scheme has that name")
            )
        elif scheme.lint is not None:
            findings += scheme.lint(raw, config.info, params)
    return config, findings
