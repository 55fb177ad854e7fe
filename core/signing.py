"""Keys and signatures: Ed25519 (`cryptography`), for checkpoints and statement seals.

The private key lives outside the ledger: a PEM file named by `--key` or `PAYBONUS_SIGNING_KEY`. Anyone checks a
signature with the public key alone (`paybonus audit public-key` prints it, base64 of the 32 raw bytes).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import UserError
from .parsing import MAX_KEY_BYTES, read_bounded

KEY_ENV = "PAYBONUS_SIGNING_KEY"


def new_key(path: Path) -> Ed25519PrivateKey:
    """Create a private key at `path` (PEM, readable by its owner only); refuses to overwrite one."""
    if path.exists():
        raise UserError(str(path), "a file is already there: a signing key is never overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def load_key(path: str | Path | None) -> Ed25519PrivateKey:
    """The private key at `path`, or at $PAYBONUS_SIGNING_KEY."""
    where = str(path or os.environ.get(KEY_ENV, "")).strip()
    if not where:
        raise UserError(
            "--key",
            f"no signing key: give --key FILE or set {KEY_ENV} (create one with `paybonus audit keygen`)",
        )
    try:
        key = serialization.load_pem_private_key(
            read_bounded(where, MAX_KEY_BYTES, what="the signing key"), password=None
        )
    except OSError as exc:
        raise UserError(where, f"cannot read the signing key ({exc.strerror})") from None
    except (ValueError, TypeError):
        raise UserError(where, "not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(where, "not an Ed25519 key")
    return key


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes (what an auditor or an employee is given)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(
        pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()


def key_id(public: str) -> str:
    """A short fingerprint of a public key (sha256 of its raw bytes, 16 hex digits)."""
    return hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]


def parse_public(text: str, where: str) -> Ed25519PublicKey:
    """A public key from its base64 text, or from a file holding it."""
    raw = text.strip()
    try:
        if raw and Path(raw).is_file():
            raw = read_bounded(raw, MAX_KEY_BYTES).decode("utf-8").strip()
        data = base64.b64decode(raw, validate=True)
        return Ed25519PublicKey.from_public_bytes(data)
    except (ValueError, OSError):  # not base64, not 32 bytes, a file not UTF-8 or not readable
        raise UserError(
            where, "not an Ed25519 public key (base64 of 32 bytes, as `paybonus audit public-key` prints)"
        ) from None


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def verify(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
