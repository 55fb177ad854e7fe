"""French typography for what a person reads: amounts, numbers, rates, dates, with the right spaces.

    eur(177301)                  -> "1 773,01 €"   (U+202F between thousands, U+00A0 before €)
    date_fr(date(2025, 1, 1))    -> "1er janvier 2025"   (no-break spaces inside)
    percent(Decimal("0.097"))    -> "9,7 %"
    period_fr(start, end)        -> "du 1er janvier au 31 décembre 2025"

Part of the toolkit: a plugin that writes French text for a document (a statement's annex) formats with these,
so that every part of the document looks alike.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"  # no-break space: before € and %, inside dates
NNBSP = "\u202f"  # narrow no-break space: between groups of thousands
MINUS = "\u2013"  # en dash: the shipped font has no U+2212 minus sign
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_VOWELS = "aeiouyàâäéèêëîïôöûùüœ"


def number(value: Decimal | int, decimals: int | None = None) -> str:
    """12345.5 -> "12 345,5"; with `decimals`, rounded half-up to that many decimals."""
    d = Decimal(value)
    if decimals is not None:
        d = d.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    text = format(abs(d) if decimals is not None else abs(d).normalize(), "f")
    units, _, frac = text.partition(".")
    grouped = f"{int(units):,}".replace(",", NNBSP)
    return (MINUS if d < 0 else "") + grouped + ("," + frac if frac else "")


def eur(cents: int) -> str:
    """Integer cents as euros with their cents: 177301 -> "1 773,01 €"."""
    units, dec = divmod(abs(int(cents)), 100)
    return (MINUS if cents < 0 else "") + f"{units:,}".replace(",", NNBSP) + f",{dec:02d}{NBSP}€"


def eur0(cents: int) -> str:
    """Whole euros without ",00": 4710000 -> "47 100 €" (cents shown when there are some)."""
    return eur(cents).replace(f",00{NBSP}", NBSP)


def euros(value: Decimal | int, cents: bool = False) -> str:
    """A Decimal number of euros: "50 000 €", or "32 540,55 €" when it has cents (or `cents` is asked)."""
    d = Decimal(value)
    if cents or d != d.to_integral_value():
        return number(d, 2) + NBSP + "€"
    return number(d, 0) + NBSP + "€"


def percent(rate: Decimal | int | str) -> str:
    """A rate as a percentage: Decimal("0.097") -> "9,7 %"."""
    return number(Decimal(str(rate)) * 100) + NBSP + "%"


def date_fr(d: date | str) -> str:
    """ "1er janvier 2025", "31 mai 2026" (an ISO string is accepted)."""
    if isinstance(d, str):
        d = date.fromisoformat(d)
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day}{NBSP}{MONTHS[d.month - 1]}{NBSP}{d.year}"


def period_fr(start: date | str, end: date | str) -> str:
    """ "du 1er janvier au 31 décembre 2025" (the year once when both ends share it)."""
    s = date.fromisoformat(start) if isinstance(start, str) else start
    e = date.fromisoformat(end) if isinstance(end, str) else end
    first = date_fr(s)
    if s.year == e.year:
        first = first.rsplit(NBSP, 1)[0]
    return f"du {first} au {date_fr(e)}"


def plural(n: int, one: str, many: str) -> str:
    """ "1 jour", "365 jours" (French: 0 and 1 take the singular)."""
    return f"{number(n)}{NBSP}{one if abs(n) < 2 else many}"


def de(name: str) -> str:
    """ "de" before a name, elided before a vowel: "d'Atelier Durand SAS", "de Durand SA"."""
    return ("d'" if name[:1].lower() in _VOWELS else "de ") + name


def siren(number_: str) -> str:
    """ "812345678" -> "812 345 678"."""
    digits = "".join(ch for ch in number_ if ch.isdigit())
    return NBSP.join((digits[:3], digits[3:6], digits[6:])) if len(digits) == 9 else number_


def nb(text: str) -> str:
    """French punctuation in free text: a no-break space before : ; ? ! and inside « »."""
    for mark in (" :", " ;", " ?", " !", " »"):
        text = text.replace(mark, NBSP + mark[1])
    return text.replace("« ", "«" + NBSP)
