"""The datasette plugin `paybonus browse` registers in its own process: euros the French way, right-aligned;
entitlement ids linked to their explanation (see `paybonus.browse`). Imported only when datasette is installed."""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from markupsafe import Markup, escape

from .money import format_euros


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    return render(row, value, column, table, database, datasette.setting("base_url"))


def euros_cell(text: Any, align: str = "right") -> str | None:
    """An exact euro amount (cents as int, or '1234.56') shown the French way, right-aligned, as HTML."""
    try:
        cents = int(text) if isinstance(text, int) else _cents(str(text))
    except ValueError:
        return None
    return Markup(
        f'<span class="paybonus-euros" style="display:block;text-align:{align};white-space:nowrap">'
        f"{escape(format_euros(cents, french=True))}</span>"
    )


def _cents(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    units, _, dec = text.lstrip("-").partition(".")
    if not units.isdigit() or len(dec) != 2 or not dec.isdigit():
        raise ValueError(text)
    return sign * (int(units) * 100 + int(dec))


def render(row: Any, value: Any, column: str, table: str | None, database: str, base_url: str) -> Any:
    """What the plugin shows for a cell (None: datasette's default)."""
    if value is None:
        return None
    if column.endswith("_euros"):
        return euros_cell(value)
    if column == "value" and _get(row, "section") == "amount":  # the explanation query's first line
        return euros_cell(value, align="left")
    if (
        column == "value"
        and str(_get(row, "name") or "").endswith("_cents")
        and str(value).lstrip("-").isdigit()
    ):
        return euros_cell(int(value), align="left")  # an input or parameter in cents
    if column == "entitlement" or (column == "id" and table == "entitlements_in_euros"):
        href = f"{base_url}{database}/explanation?entitlement={escape(value)}"
        return Markup(f'<a href="{href}" style="white-space:nowrap">{escape(value)}</a>')
    return None


def _get(row: Any, key: str) -> Any:
    try:
        return row[key]
    except (IndexError, KeyError):
        return None
