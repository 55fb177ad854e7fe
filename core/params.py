"""Dated legal parameters (PASS, SMIC, CSG/CRDS, forfait social, TMOP, ...) with their sources.

Values are data (`paybonus/data/params.toml`), looked up by date: `Parameters.default().value("pass_annual",
date(2025, 3, 1))`. Plugins never write a legal number as a literal; they ask for it here and copy the value and
its source into the entitlement's explanation.

A half-yearly published value (the TMOP, LAW 0.5) names its `semester` on each row: it is in force from `from`,
the day after its notice appeared in the Journal officiel (`jo`), until the next semester's `from`; a row whose
JO date is not verified says `estimated = true`. Such a parameter is looked up by date (the value published on a
day) or by semester (`Parameter.of_semester`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

from attrs import frozen

from .calendar import semester_period
from .convert import DECIMAL_TEXT, FIRST_YEAR, LAST_YEAR
from .errors import MissingParameterValue, UserError
from .parsing import MAX_FILE_BYTES, decode, load_toml, read_bounded

UNITS = ("cents", "rate", "count")
TABLE_KEYS = ("label", "unit", "law", "source", "values")
ROW_KEYS = ("from", "until", "value", "ref", "semester", "jo", "estimated")


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
    semester: str | None = None  # the half-year the value is for (TMOP), e.g. "2025-S1"
    jo: date | None = None  # the day its notice appeared in the Journal officiel
    estimated: bool = False  # the JO date (hence `valid_from`) is estimated, not verified

    def cite(self) -> dict[str, Any]:
        """JSON form for an explanation: the value, its dates and where it comes from."""
        out: dict[str, Any] = {
            "name": self.name,
            "value": str(self.value),
            "from": self.valid_from.isoformat(),
            "source": self.source + (f" ({self.ref})" if self.ref else ""),
        }
        if self.semester is not None:
            out["semester"] = self.semester
            out["jo"] = self.jo.isoformat() if self.jo else None
            out["estimated"] = self.estimated
        return out


@frozen
class Parameter:
    name: str
    label: str
    unit: str
    source: str
    law: str
    values: tuple[ParamValue, ...]  # sorted by valid_from

    @property
    def by_semester(self) -> bool:
        """Each value is a half-year's, in force from the day after its JO notice (the TMOP, LAW 0.5)."""
        return bool(self.values) and self.values[0].semester is not None

    def of_semester(self, semester: str) -> ParamValue | None:
        """The value for a half-year ('2025-S1'), or None when it is not known."""
        return next((v for v in self.values if v.semester == semester), None)


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
            data = load_toml(decode(read_bounded(path, MAX_FILE_BYTES, what="parameters")))
        except OSError as exc:
            raise UserError(str(path), f"cannot read parameters ({exc.strerror})") from None
        except ValueError as exc:
            raise UserError(str(path), f"cannot read parameters: {exc}") from None
        extra = _parse(data, str(path))
        merged = dict(self._params)
        for name, p in extra.items():
            if name in merged:
                base = merged[name]
                if base.unit != p.unit:
                    raise UserError(
                        f"{path}: [{name}]", f"unit: this parameter is in {base.unit}, not {p.unit}"
                    )
                if base.unit == "rate" and all(v.value >= 0 for v in base.values):
                    negative = next((v for v in p.values if v.value < 0), None)
                    if negative is not None:
                        raise UserError(f"{path}: [{name}]", f"{negative.value}: this rate is never negative")
                if base.unit == "rate" and all(v.value <= 1 for v in base.values):
                    over = next((v for v in p.values if v.value > 1), None)
                    if over is not None:
                        raise UserError(
                            f"{path}: [{name}]",
                            f"{over.value} is not a fraction: write 0.092 for 9.2 % (the shipped values are at most 1)",
                        )
                if base.by_semester != p.by_semester:
                    raise UserError(
                        f"{path}: [{name}]",
                        'each value names its semester (e.g. semester = "2024-S1", with its jo date)'
                        if base.by_semester
                        else "this parameter is not by semester: remove `semester`",
                    )
                if base.by_semester:  # a user's row replaces the shipped row of the same semester
                    by_sem = {v.semester: v for v in base.values}
                    by_sem.update({v.semester: v for v in p.values})
                    values = list(by_sem.values())
                else:
                    by_from = {v.valid_from: v for v in base.values}
                    by_from.update({v.valid_from: v for v in p.values})
                    values = list(by_from.values())
                values.sort(key=_from)
                p = Parameter(name, p.label, p.unit, p.source, p.law, tuple(values))
                if p.by_semester:
                    _check_semester_order(p.values, f"{path}: [{name}]")
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
            raise MissingParameterValue(
                f"no value of {name} ({p.label}) is known for {on.isoformat()}; add one with --params"
            )
        return found

    def of_semester(self, name: str, semester: str) -> ParamValue | None:
        """A half-yearly parameter's value for `semester` ('2025-S1'), or None when it is not known."""
        return self.parameter(name).of_semester(semester)

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
                        # a half-yearly value (TMOP): its semester and JO date, only where given
                        **(
                            {
                                "semester": v.semester,
                                "jo": v.jo.isoformat() if v.jo else None,
                                "estimated": v.estimated,
                            }
                            if v.semester is not None
                            else {}
                        ),
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
                    v.get("semester"),
                    date.fromisoformat(v["jo"]) if v.get("jo") else None,
                    bool(v.get("estimated", False)),
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
        unknown = sorted(set(body) - set(TABLE_KEYS))
        if unknown:
            raise UserError(here, f"unknown key {unknown[0]!r} (allowed: {', '.join(TABLE_KEYS)})")
        unit = body.get("unit")
        if unit not in UNITS:
            raise UserError(here, f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        source = body.get("source")
        if not isinstance(source, str) or not source:
            raise UserError(here, "every parameter needs a source")
        values = []
        for i, raw in enumerate(body.get("values", [])):
            vwhere = f"{here} values[{i}]"
            if not isinstance(raw, dict):
                raise UserError(vwhere, "expected a table { from = ..., value = ... }")
            unknown = sorted(set(raw) - set(ROW_KEYS))
            if unknown:
                raise UserError(vwhere, f"unknown key {unknown[0]!r} (allowed: {', '.join(ROW_KEYS)})")
            start = raw.get("from")
            if not _is_day(start) or not FIRST_YEAR <= start.year <= LAST_YEAR:
                raise UserError(
                    vwhere, f"'from' must be a date (YYYY-MM-DD) from {FIRST_YEAR} to {LAST_YEAR}"
                )
            until = raw.get("until")
            if until is not None and not _is_day(until):
                raise UserError(vwhere, "'until' must be a date (YYYY-MM-DD)")
            if until is not None and until < start:
                raise UserError(
                    vwhere, f"'until' ({until}) is before 'from' ({start}): the value would never apply"
                )
            ref = raw.get("ref")
            if ref is not None and not isinstance(ref, str):
                raise UserError(vwhere, "'ref' must be a string")
            semester, jo, estimated = _semester_fields(raw, start, until, vwhere)
            values.append(
                ParamValue(
                    name,
                    _value(raw.get("value"), unit, vwhere),
                    start,
                    until,
                    source,
                    ref,
                    semester,
                    jo,
                    estimated,
                )
            )
        if not values:
            raise UserError(here, "no values")
        if len({v.semester is None for v in values}) > 1:
            raise UserError(here, "either every value names its semester or none does")
        values.sort(key=_from)
        if values[0].semester is not None:
            _check_semester_order(values, here)
        twice = next((b for a, b in itertools.pairwise(values) if a.valid_from == b.valid_from), None)
        if twice is not None:  # which of the two holds from that day? the last was used, without a word
            raise UserError(here, f"two values from {twice.valid_from}: a day's value is given twice")
        out[name] = Parameter(name, body.get("label", name), unit, source, body.get("law", ""), tuple(values))
    return out


def _is_day(value: Any) -> TypeGuard[date]:
    """A TOML date (2027-01-01), not a date-time (2027-01-01T00:00:00 is a `datetime`, which is a `date` too, and
    compares with no day)."""
    return isinstance(value, date) and not isinstance(value, datetime)


def _semester_fields(
    raw: dict[str, Any], start: date, until: Any, where: str
) -> tuple[str | None, date | None, bool]:
    """`semester`, `jo` and `estimated` of a half-yearly value, checked: in force the day after its JO notice,
    which appears after the semester ends (LAW 0.5)."""
    semester, jo, estimated = raw.get("semester"), raw.get("jo"), raw.get("estimated", False)
    if not isinstance(estimated, bool):
        raise UserError(where, "'estimated' must be true or false")
    if jo is not None and not _is_day(jo):
        raise UserError(where, "'jo' must be a date (YYYY-MM-DD)")
    if semester is None:
        if jo is not None or estimated:
            raise UserError(where, "'jo' and 'estimated' go with a 'semester'")
        return None, None, False
    if not isinstance(semester, str):
        raise UserError(where, "'semester' must be a string such as \"2024-S1\"")
    try:
        period = semester_period(semester)
    except ValueError as exc:
        raise UserError(where, f"semester: {exc}") from None
    if until is not None:
        raise UserError(
            where, f"{semester}: no 'until': a semester's value holds until the next one's 'from'"
        )
    if start <= period.end:
        raise UserError(
            where,
            f"{semester}: from {start} is not after the end of its semester ({period.end}): its notice "
            "appears in the JO after the semester",
        )
    if jo is not None and estimated:
        raise UserError(where, f"{semester}: give 'jo' (the notice's date) or 'estimated = true', not both")
    if jo is None and not estimated:
        raise UserError(
            where, f"{semester}: give 'jo', the date its notice appeared in the JO (or 'estimated = true')"
        )
    if jo is not None and start != date.fromordinal(jo.toordinal() + 1):
        raise UserError(where, f"{semester}: from {start} must be the day after jo {jo} (LAW 0.5)")
    return semester, jo, estimated


def _check_semester_order(values: Sequence[ParamValue], where: str) -> None:
    """One value per semester, and a later semester never in force before an earlier one."""
    seen: dict[str, ParamValue] = {}
    for v in values:
        assert v.semester is not None
        if v.semester in seen:
            raise UserError(where, f"semester {v.semester} is given twice")
        seen[v.semester] = v
    ordered = sorted(values, key=lambda v: semester_period(v.semester or "").start)
    for a, b in itertools.pairwise(ordered):
        if b.valid_from <= a.valid_from:
            raise UserError(
                where,
                f"semester {b.semester} is in force from {b.valid_from}, not after {a.semester} ({a.valid_from})",
            )


MAX_RATE = Decimal(10_000)  # "rate" holds multipliers (3.15 SMIC) and hours (151.67) too; see with_file
MAX_INTEGER = 10**15  # cents or a count


def _value(raw: Any, unit: str, where: str) -> int | Decimal:
    """A parameter's value: a rate is an exact decimal from -1 to 10 000 (a TMOP was negative in 2021), cents and
    counts integers from 0 to 10^15; never NaN or infinite. `with_file` also keeps a rate's sign and scale."""
    if raw is None:
        example = '"0.20"' if unit == "rate" else "12345"
        raise UserError(where, f"no value: write one, e.g. value = {example}")
    if unit == "rate":
        if not isinstance(raw, str):
            raise UserError(where, 'a rate is written as a string, e.g. "0.20" (never a float)')
        if not DECIMAL_TEXT.fullmatch(raw):  # Decimal() also takes '+0.2', '0_2', '٠٫٢' digits and 'NaN'
            raise UserError(where, f'{raw[:40]!r} is not a decimal number in ASCII digits (e.g. "0.092")')
        d = Decimal(raw)
        if not d.is_finite() or not -1 <= d <= MAX_RATE or (d and d.adjusted() < -18):
            raise UserError(
                where, f'{raw[:40]!r} is not a rate (a decimal from -1 to {MAX_RATE}, e.g. "0.092")'
            )
        return d
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise UserError(where, f"a {unit} value must be an integer")
    if not 0 <= raw < MAX_INTEGER:
        raise UserError(where, f"a {unit} value is from 0 to 10^15, got {str(raw)[:40]}")
    return raw
