"""Dated legal parameters (PASS, SMIC, CSG/CRDS, forfait social, TMOP, ...) with their sources.

Values are data (`paybonus/data/params.toml`), looked up by date: `Parameters.default().value("pass_annual",
date(2025, 3, 1))`. Plugins never write a legal number as a literal; they ask for it here and copy the value and
its source into the entitlement's explanation.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from attrs import frozen

from .errors import UserError

UNITS = ("cents", "rate", "count")


@frozen
class CsgCrds:
    """CSG and CRDS withheld from an épargne salariale amount (LAW 0.3), each part rounded once."""

    base_cents: int
    csg_cents: int  # at the total rate (9.2 %)
    csg_deductible_cents: int  # the part deductible from taxable income when the sum is paid out (6.8 %)
    crds_cents: int
    csg_rate: Decimal
    csg_deductible_rate: Decimal
    crds_rate: Decimal

    @property
    def csg_non_deductible_cents(self) -> int:
        return self.csg_cents - self.csg_deductible_cents

    @property
    def withheld_cents(self) -> int:
        """What is withheld, the same whether the sum is paid out or placed (only its tax treatment differs)."""
        return self.csg_cents + self.crds_cents

    @property
    def rate(self) -> Decimal:
        return self.csg_rate + self.crds_rate


def csg_crds(params: Parameters, cents: int, on: date) -> CsgCrds:
    """CSG/CRDS on 100 % of an intéressement-type amount with the rates in force on `on` (LAW 0.3).

    CSG is rounded once at its total rate and its deductible part once; the non-deductible part is the
    difference. Rounding 6.8 % and 2.4 % separately could differ by a cent from 9.2 %, which made "paid" and
    "placed" withhold different amounts for the same sum.
    """

    def part(rate: Decimal) -> int:
        return int((Decimal(cents) * rate).to_integral_value(ROUND_HALF_UP))

    total, deductible, crds = (params.value(n, on) for n in ("csg_total", "csg_deductible", "crds"))
    return CsgCrds(cents, part(total), part(deductible), part(crds), total, deductible, crds)


@frozen
class ParamValue:
    """One dated value of a parameter."""

    name: str
    value: int | Decimal
    valid_from: date
    valid_until: date | None
    source: str
    ref: str | None = None

    def cite(self) -> dict[str, Any]:
        """JSON form for an explanation: the value, its dates and where it comes from."""
        return {
            "name": self.name,
            "value": str(self.value),
            "from": self.valid_from.isoformat(),
            "source": self.source + (f" ({self.ref})" if self.ref else ""),
        }


@frozen
class Parameter:
    name: str
    label: str
    unit: str
    source: str
    law: str
    values: tuple[ParamValue, ...]  # sorted by valid_from


class Parameters:
    """A set of dated parameters. Immutable once built; `with_file` returns a new set with a host's overrides."""

    def __init__(self, params: Mapping[str, Parameter]) -> None:
        self._params = dict(params)
        self._digest: str | None = None

    @classmethod
    def default(cls) -> Parameters:
        """The parameters shipped with paybonus."""
        global _DEFAULT
        if _DEFAULT is None:
            text = resources.files("paybonus").joinpath("data/params.toml").read_text(encoding="utf-8")
            _DEFAULT = cls(_parse(tomllib.loads(text), "paybonus/data/params.toml"))
        return _DEFAULT

    def with_file(self, path: Path) -> Parameters:
        """Add or override parameters from a TOML file in the same format (e.g. newer TMOP values)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UserError(str(path), f"cannot read parameters: {exc}") from exc
        extra = _parse(data, str(path))
        merged = dict(self._params)
        for name, p in extra.items():
            if name in merged:
                values = {v.valid_from: v for v in merged[name].values}
                values.update({v.valid_from: v for v in p.values})
                p = Parameter(
                    name, p.label, p.unit, p.source, p.law, tuple(sorted(values.values(), key=_from))
                )
            merged[name] = p
        return Parameters(merged)

    def names(self) -> list[str]:
        return sorted(self._params)

    def parameter(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except KeyError:
            raise KeyError(f"unknown legal parameter {name!r}") from None

    def get(self, name: str, on: date) -> ParamValue:
        """The value in force on `on`. Raises LookupError when none is known for that date."""
        p = self.parameter(name)
        found: ParamValue | None = None
        for v in p.values:
            if v.valid_from <= on:
                found = v
            else:
                break
        if found is None or (found.valid_until is not None and on > found.valid_until):
            raise LookupError(
                f"no value of {name} ({p.label}) is known for {on.isoformat()}; add one with --params"
            )
        return found

    def value(self, name: str, on: date) -> Any:
        """Shortcut for `get(name, on).value` (an int for cents and counts, a Decimal for rates)."""
        return self.get(name, on).value

    def segments(self, name: str, start: date, end: date) -> list[tuple[date, date, ParamValue]]:
        """The values in force over [start, end], as (first day, last day, value) pieces covering it whole."""
        out: list[tuple[date, date, ParamValue]] = []
        day = start
        while day <= end:
            v = self.get(name, day)
            nxt = [x.valid_from for x in self.parameter(name).values if x.valid_from > day]
            stop = end
            if v.valid_until is not None:
                stop = min(stop, v.valid_until)
            if nxt:
                stop = min(stop, nxt[0] - timedelta(days=1))
            out.append((day, stop, v))
            day = stop + timedelta(days=1)
        return out

    # -- the set as recorded in a ledger -----------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        """The whole set as JSON-ready data (what a ledger records with the amounts computed from it)."""
        return {
            name: {
                "label": p.label,
                "unit": p.unit,
                "source": p.source,
                "law": p.law,
                "values": [
                    {
                        "from": v.valid_from.isoformat(),
                        "until": v.valid_until.isoformat() if v.valid_until else None,
                        "value": str(v.value) if isinstance(v.value, Decimal) else v.value,
                        "source": v.source,
                        "ref": v.ref,
                    }
                    for v in p.values
                ],
            }
            for name, p in sorted(self._params.items())
        }

    def digest(self) -> str:
        """sha256 of the canonical JSON of `to_document()`: the identity of this set."""
        if self._digest is None:
            text = json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            self._digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self._digest

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Parameters:
        """A set back from `to_document()` (e.g. as a ledger recorded it)."""
        params = {}
        for name, body in doc.items():
            values = tuple(
                ParamValue(
                    name,
                    Decimal(v["value"]) if body["unit"] == "rate" else int(v["value"]),
                    date.fromisoformat(v["from"]),
                    date.fromisoformat(v["until"]) if v["until"] else None,
                    v["source"],
                    v["ref"],
                )
                for v in body["values"]
            )
            params[name] = Parameter(name, body["label"], body["unit"], body["source"], body["law"], values)
        return cls(params)

    def changes_from(self, recorded: Parameters) -> list[str]:
        """How this set differs from a recorded one for what the recorded one said: a value changed or removed
        (one line each). Values added after the recorded ones (a new year) are not changes."""
        out = []
        for name in recorded.names():
            if name not in self._params:
                out.append(f"{name}: no longer known")
                continue
            now = {v.valid_from: v for v in self._params[name].values}
            for v in recorded.parameter(name).values:
                cur = now.get(v.valid_from)
                if cur is None:
                    out.append(f"{name} from {v.valid_from}: {v.value} was recorded, no such value now")
                elif (cur.value, cur.valid_until) != (v.value, v.valid_until):
                    out.append(f"{name} from {v.valid_from}: {v.value} was recorded, {cur.value} now")
        return out


_DEFAULT: Parameters | None = None


def _from(v: ParamValue) -> date:
    return v.valid_from


def _parse(data: dict[str, Any], where: str) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    for name, body in data.items():
        here = f"{where}: [{name}]"
        if not isinstance(body, dict):
            raise UserError(here, "expected a table")
        unit = body.get("unit")
        if unit not in UNITS:
            raise UserError(here, f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        source = body.get("source")
        if not isinstance(source, str) or not source:
            raise UserError(here, "every parameter needs a source")
        values = []
        for i, raw in enumerate(body.get("values", [])):
            vwhere = f"{here} values[{i}]"
            start = raw.get("from")
            if not isinstance(start, date):
                raise UserError(vwhere, "'from' must be a date (YYYY-MM-DD)")
            until = raw.get("until")
            if until is not None and not isinstance(until, date):
                raise UserError(vwhere, "'until' must be a date (YYYY-MM-DD)")
            values.append(
                ParamValue(name, _value(raw.get("value"), unit, vwhere), start, until, source, raw.get("ref"))
            )
        if not values:
            raise UserError(here, "no values")
        values.sort(key=_from)
        out[name] = Parameter(name, body.get("label", name), unit, source, body.get("law", ""), tuple(values))
    return out


def _value(raw: Any, unit: str, where: str) -> int | Decimal:
    if unit == "rate":
        if not isinstance(raw, str):
            raise UserError(where, 'a rate is written as a string, e.g. "0.20" (never a float)')
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise UserError(where, f"{raw!r} is not a decimal number") from None
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise UserError(where, f"a {unit} value must be an integer")
    return raw
