"""Signed checkpoints: the heads of every company's chain, signed, kept by the operator outside the ledger.

Like Certificate Transparency's signed tree heads: a checkpoint holds the ledger's id, the time, each company's
chain length and head hash, and a Merkle root over them (RFC 6962 hashing), signed with Ed25519. Verifying the
ledger against it proves that nothing recorded before it was removed or rewritten: every head it names must still
be in the chain, at its position, with its hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import signing
from .errors import UserError
from .store import Head

FORMAT = "paybonus-checkpoint/1"


def merkle_root(heads: Mapping[str, Head]) -> str:
    """RFC 6962 Merkle tree hash over the companies' heads, in company order (leaf: 'company|n|hash')."""
    leaves = [f"{c}|{h.n}|{h.hash}".encode() for c, h in sorted(heads.items())]
    return _tree(leaves).hex()


def _tree(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _tree(leaves[:k]) + _tree(leaves[k:])).digest()


@frozen
class Checkpoint:
    ledger_id: str
    created_at: str
    heads: dict[str, Head]
    root: str
    public_key: str
    signature: str
    source: str = ""  # the file it was read from

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "ledger_id": self.ledger_id,
            "created_at": self.created_at,
            "heads": [{"company": c, "n": h.n, "hash": h.hash} for c, h in sorted(self.heads.items())],
            "root": self.root,
            "public_key": self.public_key,
            "key_id": signing.key_id(self.public_key),
        }

    def to_json(self) -> str:
        return json.dumps({**self.body(), "signature": self.signature}, indent=2, ensure_ascii=False) + "\n"


def _message(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def create(
    ledger_id: str, heads: Mapping[str, Head], key: Ed25519PrivateKey, now: datetime | None = None
) -> Checkpoint:
    at = (now or datetime.now(UTC)).isoformat()
    unsigned = Checkpoint(ledger_id, at, dict(heads), merkle_root(heads), signing.public_text(key), "")
    return attrs.evolve(unsigned, signature=signing.sign(key, _message(unsigned.body())))


def read(path: Path, trusted: Ed25519PublicKey | None) -> Checkpoint:
    """A checkpoint file, its signature checked (against `trusted` when given: an attacker can sign a forged
    checkpoint with a key of his own) and its root recomputed. Raises UserError naming the file and what is wrong."""
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(where, f"cannot read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError):
        raise UserError(where, "not a paybonus checkpoint (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(where, f"not a paybonus checkpoint (format is not {FORMAT})")
    try:
        heads = {h["company"]: Head(int(h["n"]), str(h["hash"])) for h in data["heads"]}
        cp = Checkpoint(
            str(data["ledger_id"]),
            str(data["created_at"]),
            heads,
            str(data["root"]),
            str(data["public_key"]),
            str(data["signature"]),
            where,
        )
    except (KeyError, TypeError, ValueError):
        raise UserError(where, "a field of the checkpoint is missing or malformed") from None
    public = signing.parse_public(cp.public_key, where)
    if trusted is not None and signing.public_text(trusted) != cp.public_key:
        raise UserError(
            where,
            f"signed with key {signing.key_id(cp.public_key)}, not with the trusted key {signing.key_id(signing.public_text(trusted))}",
        )
    if not signing.verify(public, _message(cp.body()), cp.signature):
        raise UserError(where, "the signature does not match the checkpoint's content (altered)")
    if merkle_root(heads) != cp.root:
        raise UserError(where, "the root does not match the heads it lists (altered)")
    return cp
