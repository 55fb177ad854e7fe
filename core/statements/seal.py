"""The seal of a statement: derived from its canonical content, carried in the file, checked against the ledger.

A statement file carries its content (`content.py`) and a seal naming the content's hash:

- HTML: `<meta name="paybonus-ledger" content="paybonus-seal-v2;<sha256>">` and the content as JSON in
  `<script type="application/json" id="paybonus-statement">`;
- PDF: the seal in the document's Keywords, the content as the attached file `paybonus-statement.json`.

A statement issued with the ledger's signing key (`paybonus statements --key`, or $PAYBONUS_SIGNING_KEY) is
sealed `paybonus-seal-v3;<sha256>;<public key>;<Ed25519 signature of the content's canonical JSON>`: anyone with
the company's public key can check who issued it and that nothing was changed, without the ledger. Without a
key it is sealed `paybonus-seal-v2;<sha256>` (a hash: it shows a change, not who issued the file).

`paybonus notice verify FILE` checks the signature (against the trusted public key, when given: a forger can sign
with a key of his own), that the content still has the hash the seal names, that each amount line is printed in
the file as the content says, and, unless `--offline`, that the ledger entries it shows are still those of the
ledger (ids, digests, owner, total). Files sealed with the first form (`paybonus-seal-v1`: entry ids, digests and
total) are still checked as before.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .. import signing
from ..calendar import Period
from ..errors import UserError
from ..french import eur
from ..parsing import MAX_FILE_BYTES, read_bounded
from ..store import Ledger
from .content import FORMAT, canonical

SEAL_V1 = "paybonus-seal-v1"
SEAL_V2 = "paybonus-seal-v2"
SEAL_V3 = "paybonus-seal-v3"
ATTACHMENT = "paybonus-statement.json"
SCRIPT_ID = "paybonus-statement"


def seal_of(content: dict[str, Any], key: Ed25519PrivateKey | None = None) -> str:
    """The seal of a content: signed with `key` (v3), else its hash alone (v2)."""
    data = canonical(content)
    digest = hashlib.sha256(data).hexdigest()
    if key is None:
        return f"{SEAL_V2};{digest}"
    return f"{SEAL_V3};{digest};{signing.public_text(key)};{signing.sign(key, data)}"


def short(seal: str) -> str:
    """What the statement prints: the first 16 hex digits of the hash, in groups of four ("595B-D1FA-...")."""
    return _groups(seal.split(";")[1] if seal.startswith(SEAL_V3) else seal.rsplit(";", 1)[-1])


def signer(seal: str) -> str | None:
    """The short id of the key that signed a v3 seal ("1A2B-3C4D-..."), None for an unsigned one."""
    parts = seal.split(";")
    return _groups(signing.key_id(parts[2])) if seal.startswith(SEAL_V3) and len(parts) == 4 else None


def _groups(hex_text: str) -> str:
    h = hex_text[:16].upper()
    return "-".join(h[i : i + 4] for i in range(0, 16, 4))


def html_head(content: dict[str, Any], seal: str) -> str:
    """What goes into the HTML head: the seal and the content (JSON safe inside a script element)."""
    data = canonical(content).decode("utf-8").replace("<", "\\u003c").replace(">", "\\u003e")
    data = data.replace("&", "\\u0026")
    return (
        f'<meta name="paybonus-ledger" content="{seal}">\n'
        f'<script type="application/json" id="{SCRIPT_ID}">{data}</script>\n'
    )


# -- checking ------------------------------------------------------------------------------------------------


def verify_file(
    ledger: Ledger | None, path: Path, trusted: Ed25519PublicKey | None = None
) -> tuple[bool, str]:
    """Check a statement file: its signature (against `trusted` when given), its content and what it prints, and
    unless `ledger` is None the ledger entries it shows. Returns (ok, one line); UserError if it is no statement."""
    try:
        raw = read_bounded(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise UserError(str(path), f"cannot read ({exc.strerror})") from None
    seal, content, text = _read(raw, path)
    try:
        return _verify_read(ledger, path, raw, seal, content, text, trusted)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, StopIteration) as exc:
        # a content or seal whose hash matches (anyone can compute it) but whose fields are not a statement's
        return False, f"{path}: the seal or the statement's content is malformed ({type(exc).__name__})"


def _verify_read(
    ledger: Ledger | None,
    path: Path,
    raw: bytes,
    seal: str,
    content: dict[str, Any] | None,
    text: str,
    trusted: Ed25519PublicKey | None,
) -> tuple[bool, str]:
    if seal.startswith(SEAL_V1 + ";"):
        if ledger is None:
            return False, f"{path}: a statement of paybonus 0.x is checked against the ledger only"
        return _verify_v1(ledger, path, seal)
    if not seal.startswith((SEAL_V2 + ";", SEAL_V3 + ";")):
        raise UserError(str(path), "no paybonus seal in this file")
    if content is None:
        return False, f"{path}: the seal is there but the statement's content is missing"
    problem = _check_seal(seal, content, trusted)
    if problem:
        return False, f"{path}: {problem}"
    if content.get("format") != FORMAT:
        return False, f"{path}: unknown statement format {content.get('format')!r}"
    flat = _flat(text)
    for line in content["lines"]:
        if not re.search(r"(?<![\d,.])(?<!\d )" + re.escape(_flat(line["text"])), flat):
            return False, f"{path}: the amount {line['label']!r} is not printed as sealed ({line['text']})"
    sealed = {a for value in _strings(content) for a in AMOUNT.findall(_flat(value))}
    for amount in AMOUNT.findall(flat):
        if amount not in sealed:
            return False, f"{path}: the amount {amount} is printed but is not in the sealed content"
    if raw.startswith(b"%PDF") and b"/ByteRange" in raw:
        broken = _pdf_signature_problem(raw)
        if broken:
            return False, f"{path}: {broken}"
    who = signer(seal)
    signed = f"signed by key {who}" if who else "not signed"
    if ledger is None:
        return (
            True,
            f"{path}: OK ({signed}; content as issued on {content['issued_on']}, ledger not consulted)",
        )
    ok, line = _against_ledger(ledger, path, content)
    return ok, line.replace(": OK (", f": OK ({signed}; ", 1) if ok else line


def _pdf_signature_problem(raw: bytes) -> str | None:
    """A PDF signed with the company's certificate: whether its signature still covers the document."""
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext
    except ImportError:
        return None  # the statement's own seal was checked; the PDF signature is for PDF readers
    try:
        for sig in PdfFileReader(BytesIO(raw)).embedded_signatures:
            # integrity only: who the certificate belongs to is for the reader's trust list, not for paybonus
            status = validate_pdf_signature(sig, ValidationContext(trust_roots=[]))
            if not status.intact or not status.valid:
                return "the PDF's signature no longer matches the document (changed after it was signed)"
    except Exception:
        return "the PDF's signature cannot be read (the file was altered)"
    return None


def _check_seal(seal: str, content: dict[str, Any], trusted: Ed25519PublicKey | None) -> str | None:
    """What is wrong with a v2 or v3 seal of this content, or None."""
    parts = seal.split(";")
    digest = hashlib.sha256(canonical(content)).hexdigest()
    if parts[1] != digest:
        return "the statement's content was altered (its hash does not match its seal)"
    if parts[0] == SEAL_V2:
        if trusted is not None:
            return "the statement is not signed, and a signature by the trusted key was asked for"
        return None
    if len(parts) != 4:
        return "the seal is malformed"
    try:
        public = signing.parse_public(parts[2], "seal")
    except UserError:
        return "the seal's public key is malformed"
    if not signing.verify(public, canonical(content), parts[3]):
        return "the signature does not match the statement's content (altered)"
    if trusted is not None and signing.public_text(trusted) != parts[2]:
        return f"signed with key {signer(seal)}, not with the trusted key {_groups(signing.key_id(signing.public_text(trusted)))}"
    return None


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
        f"{path}: OK ({n} ledger {'entry' if n == 1 else 'entries'}, total {eur(total)}, issued {content['issued_on']})",
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


AMOUNT = re.compile(r"(?<![\d,.])\d{1,3}(?: \d{3})*,\d\d ?€")  # "1 773,01 €" (spaces made plain)


def _strings(value: Any) -> list[str]:
    """Every text of a content, at any depth."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _json(data: bytes | None) -> dict[str, Any] | None:
    try:
        found = json.loads(data) if data else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _flat(text: str) -> str:
    """Text with every kind of space made one plain space, for comparing what is printed."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text).strip()
