"""`paybonus audit ...`: verify the ledger (with checkpoints, with a full replay), keys and signed checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .. import logs, signing
from ..checkpoint import read as read_checkpoint
from ..errors import VerificationFailed
from ..outputs import check_file, write_text
from .base import State, SuggestingGroup, err, out, pass_state
from .output import plural, progress

log = logs.get_logger("paybonus.cli")


@click.group("audit", cls=SuggestingGroup)
def audit_group() -> None:
    """The audit trail: verify it, sign checkpoints of it (docs/audit.md)."""


@audit_group.command(
    "verify",
    epilog="""\b
Examples:
  paybonus audit verify
  paybonus audit verify --checkpoint cp-2026-06.json --public-key ops.pub
  paybonus audit verify --replay     # also re-run every dispatch (slow)
Exit code 1 names every problem found.""",
)
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A signed checkpoint kept outside the ledger (repeat): nothing recorded before it may have changed.",
)
@click.option(
    "--public-key", help="The key the checkpoints must be signed with (base64, or a file); default: --key's."
)
@click.option(
    "--key", type=click.Path(path_type=Path), help="Private key file (default $PAYBONUS_SIGNING_KEY)."
)
@click.option(
    "--expect-head", help="The ledger's head it must have: the root over every company's chain head."
)
@click.option("--replay", is_flag=True, help="Also re-run every dispatch from its recorded inputs (slow).")
@pass_state
def audit_verify(
    state: State,
    checkpoints: tuple[Path, ...],
    public_key: str | None,
    key: Path | None,
    expect_head: str | None,
    replay: bool,
) -> None:
    """Check everything the chains vouch for and recompute every amount; exit 1 on any problem."""
    # a key given (or set in $PAYBONUS_SIGNING_KEY) is checked even when no checkpoint needs it: a bad one is a
    # mistake to tell, not to ignore
    trusted = signing.parse_public(public_key, "--public-key") if public_key else None
    if key is not None or (not public_key and os.environ.get(signing.KEY_ENV, "").strip()):
        private = signing.load_key(key)
        trusted = trusted or private.public_key()
    if checkpoints and trusted is None:
        trusted = signing.load_key(key).public_key()  # the one-line "no signing key" error
    cps = [read_checkpoint(p, trusted) for p in checkpoints]
    with state.app() as app:
        total = sum(h.n for h in app.heads().values())
        with progress("verifying the audit chains", total) as advance:
            rep = app.verify(checkpoints=cps, expect_root=expect_head, on_progress=advance)
        replayed = app.replay() if replay else None
    problems = list(rep.problems) + (list(replayed.problems) if replayed else [])
    log.info(
        "audit.verified",
        ok=not problems,
        entries=rep.entries,
        problems=len(problems),
        companies=len(rep.heads),
        root=rep.root,
        checkpoints=rep.checkpoints,
        replayed=replayed.dispatches if replayed else 0,
    )
    out.print(
        f"audit: {plural(rep.entries, 'entry')} in {plural(len(rep.heads), 'chain')}, {plural(rep.events, 'event')}, "
        f"{plural(rep.entitlements, 'entitlement')} ({rep.recomputed} recomputed), "
        f"{plural(rep.dispatches, 'dispatch')}; head {rep.root}",
        markup=False,
    )
    if rep.checkpoints:
        out.print(f"checkpoints: {rep.checkpoints} checked", markup=False)
    if replayed is not None:
        out.print(
            f"replay: {replayed.dispatches} dispatches re-run from their recorded inputs, "
            f"{replayed.amounts} amounts compared",
            markup=False,
        )
    for note in rep.notes:
        err.print(f"NOTE {note}", markup=False)
    if problems:
        for p in problems:
            err.print(f"FAIL {p}", markup=False)
        if rep.more:
            err.print(f"... and {rep.more} more problems", markup=False)
        raise VerificationFailed(f"{len(problems) + rep.more} problems; first: {problems[0]}")
    out.print("audit: OK", markup=False)


@audit_group.command(
    "keygen",
    epilog="""\b
Examples:
  paybonus audit keygen --out /etc/paybonus/signing.pem""",
)
@click.option(
    "--out", "out_file", type=click.Path(path_type=Path), required=True, help="Private key file to create."
)
def keygen(out_file: Path) -> None:
    """Create a signing key (Ed25519, PEM, readable by you only) and print its public key."""
    check_file(out_file, "--out")
    key = signing.new_key(out_file)
    out.print(f"private key written to {out_file}; keep it outside the ledger", markup=False)
    out.print(f"public key: {signing.public_text(key)}", markup=False)


@audit_group.command(
    "public-key",
    epilog="""\b
Examples:
  paybonus audit public-key --key /etc/paybonus/signing.pem > ops.pub""",
)
@click.option(
    "--key", type=click.Path(path_type=Path), help="Private key file (default $PAYBONUS_SIGNING_KEY)."
)
def public_key_cmd(key: Path | None) -> None:
    """Print the public key that checks what this key signs (give it to auditors and employees)."""
    click.echo(signing.public_text(signing.load_key(key)))


@audit_group.command(
    "checkpoint",
    epilog="""\b
Examples:
  PAYBONUS_SIGNING_KEY=/etc/paybonus/signing.pem paybonus audit checkpoint --out cp-$(date +%F).json""",
)
@click.option(
    "--key", type=click.Path(path_type=Path), help="Private key file (default $PAYBONUS_SIGNING_KEY)."
)
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Write it here (default: stdout).")
@pass_state
def checkpoint_cmd(state: State, key: Path | None, out_file: Path | None) -> None:
    """Sign the heads of every company's chain: keep the file outside the ledger (WORM storage, the auditor)."""
    private = signing.load_key(key)
    if out_file is not None:
        check_file(out_file, "--out")
    with state.app() as app:
        cp = app.checkpoint(private)
    text = cp.to_json()
    log.info(
        "audit.checkpoint.signed", root=cp.root, companies=len(cp.heads), key_id=signing.key_id(cp.public_key)
    )
    if out_file is None:
        click.echo(text, nl=False)
    else:
        write_text(out_file, text, "--out")
        err.print(
            f"checkpoint of {len(cp.heads)} chains written to {out_file} (root {cp.root[:16]})", markup=False
        )
