"""The seal of a statement: derived from its canonical content, carried in the file, checked against the ledger.

A statement file carries its content (`content.py`) and a seal naming the content's hash:

- HTML: `<meta name="paybonus-ledger" content="paybonus-seal-v2;<sha256>">` and the content as JSON in
  `<script type="application/json" id="paybonus-statement">`;
- PDF: the seal in the document's Keywords, the content as the attached file `paybonus-statement.json`.

`paybonus notice verify FILE` checks that the content still has the hash the seal names, that each amount line is
printed in the file as the content says, and that the ledger entries it shows are still those of the ledger
(ids, digests, owner, total). The seal is an unkeyed hash: it shows that a file was changed, not who issued it
(a signature over the same canonical content comes with the proof issue). Files sealed with the first form
(`paybonus-seal-v1`: entry ids, digests and total) are still checked as before.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from io import BytesIO
from pathlib import Path
from typing import Any

from ..calendar import Period
from ..errors import UserError
from ..french import eur
from ..money import format_euros
from ..store import Ledger
from .content import FORMAT, canonical

SEAL_V1 = "paybonus-seal-v1"
SEAL_V2 = "paybonus-seal-v2"
ATTACHMENT = "paybonus-statement.json"
SCRIPT_ID = "paybonus-statement"


def seal_of(content: dict[str, Any]) -> str:
    """The seal: "paybonus-seal-v2;" and the sha256 of the content's canonical JSON."""
    return f"{SEAL_V2};{hashlib.sha256(canonical(content)).hexdigest()}"


def short(seal: str) -> str:
    """What the statement prints: the first 16 hex digits of the hash, in groups of four ("595B-D1FA-...")."""
    h = seal.rsplit(";", 1)[-1][:16].upper()
    return "-".join(h[i : i + 4] for i in range(0, 16, 4))


def html_head(content: dict[str, Any]) -> str:
    """What goes into the HTML head: the seal and the content (JSON safe inside a script element)."""
    data = canonical(content).decode("utf-8").replace("<", "\\u003c").replace(">", "\\u003e")
    data = data.replace("&", "\\u0026")
    return (
        f'<meta name="paybonus-ledger" content="{seal_of(content)}">\n'
        f'<script type="application/json" id="{SCRIPT_ID}">{data}</script>\n'
    )


# -- checking ------------------------------------------------------------------------------------------------


def verify_file(ledger: Ledger, path: Path) -> tuple[bool, str]:
    """Check a statement file against the ledger. Returns (ok, one line); UserError if it is no statement."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(str(path), f"cannot read ({exc.strerror})") from None
    seal, content, text = _read(raw, path)
    if seal.startswith(SEAL_V1 + ";"):
        return _verify_v1(ledger, path, seal)
    if not seal.startswith(SEAL_V2 + ";"):
        raise UserError(str(path), "no paybonus seal in this file")
    if content is None:
        return False, f"{path}: the seal is there but the statement's content is missing"
    if seal_of(content) != seal:
        return False, f"{path}: the statement's content was altered (its hash does not match its seal)"
    if content.get("format") != FORMAT:
        return False, f"{path}: unknown statement format {content.get('format')!r}"
    flat = _flat(text)
    for line in content["lines"]:
        if _flat(line["text"]) not in flat:
            return False, f"{path}: the amount {line['label']!r} is not printed as sealed ({line['text']})"
    return _against_ledger(ledger, path, content)


def _against_ledger(ledger: Ledger, path: Path, content: dict[str, Any]) -> tuple[bool, str]:
    company, employee = content["company"]["id"], content["employee"]["id"]
    scheme = content["scheme"]["id"]
    rights = 0
    for eid, digest in content["entries"]:
        row = ledger.entitlements.get(eid)
        if row is None:
            return False, f"{path}: entitlement {eid} is not in the ledger"
        if row["digest"] != digest:
            return False, f"{path}: entitlement {eid} differs from the ledger (digest)"
        if row["company"] != company or row["employee"] != employee or row["scheme"] != scheme:
            return False, f"{path}: entitlement {eid} belongs to another statement"
        if row["kind"] != "interest":
            rights += row["amount_cents"]
    total = next(line["cents"] for line in content["lines"] if line["key"] == "total")
    if rights != total:
        return False, f"{path}: total {eur(total)} differs from the ledger's {eur(rights)}"
    period = Period.parse(f"{content['period']['start']}..{content['period']['end']}")
    now = sorted(
        r["id"] for r in ledger.entitlements.rows(company, scheme, period, employee, exact_period=True)
    )
    n = len(content["entries"])
    if now != sorted(eid for eid, _ in content["entries"]):
        return (
            True,
            f"{path}: OK, but the ledger now holds later entries for this period (a newer statement is due)",
        )
    return (
        True,
        f"{path}: OK ({n} ledger entries, total {format_euros(total)} EUR, issued {content['issued_on']})",
    )


def _verify_v1(ledger: Ledger, path: Path, seal: str) -> tuple[bool, str]:
    """A statement sealed before the content existed: entry ids and digests, and their total."""
    parts = seal.split(";")
    if len(parts) != 8:
        raise UserError(str(path), "no paybonus seal in this file")
    _, company, scheme, employee, period, total, entries, seal_hash = parts
    pairs = sorted(tuple(e.split("=", 1)) for e in entries.split(",") if "=" in e)
    expected = hashlib.sha256(
        "|".join(f"{i}={d}" for i, d in pairs).encode() + f"|{total}".encode()
    ).hexdigest()
    if expected != seal_hash:
        return False, f"{path}: the seal was altered (its hash does not match its content)"
    content = {
        "company": {"id": company},
        "employee": {"id": employee},
        "scheme": {"id": scheme},
        "period": dict(zip(("start", "end"), period.split(".."), strict=True)),
        "entries": [list(p) for p in pairs],
        "lines": [{"key": "total", "cents": int(total)}],
        "issued_on": "before the content seal",
    }
    ok, line = _against_ledger(ledger, path, content)
    return ok, line.replace(", issued before the content seal", "")


def visible_text(raw: bytes, where: str) -> str:
    """The text a reader sees in an HTML or PDF statement, with every kind of space made one plain space."""
    return _flat(_read(raw, Path(where))[2])


def _read(raw: bytes, path: Path) -> tuple[str, dict[str, Any] | None, str]:
    """(seal, content, visible text) of an HTML or PDF statement."""
    if raw.startswith(b"%PDF"):
        from pypdf import PdfReader

        try:
            reader = PdfReader(BytesIO(raw))
            meta = reader.metadata
            seal = str(meta.get("/Keywords", "")) if meta is not None else ""
            attached = reader.attachments.get(ATTACHMENT) or []
            text = "\n".join(page.extract_text() or "" for page in reader.pages)
        except Exception:
            raise UserError(str(path), "not a readable PDF") from None
        return seal, _json(attached[0] if attached else None), text
    page = raw.decode("utf-8", errors="replace")
    m = re.search(r'<meta name="paybonus-ledger" content="([^"]+)"', page)
    found = re.search(rf'<script type="application/json" id="{SCRIPT_ID}">(.*?)</script>', page, re.S)
    body = re.sub(r"<(script|style|title)\b.*?</\1>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return (m.group(1) if m else ""), _json(found.group(1).encode() if found else None), text


def _json(data: bytes | None) -> dict[str, Any] | None:
    try:
        found = json.loads(data) if data else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _flat(text: str) -> str:
    """Text with every kind of space made one plain space, for comparing what is printed."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text).strip()
