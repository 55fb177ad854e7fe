"""`paybonus browse`: the ledger in datasette, with its views, descriptions and canned queries."""

from __future__ import annotations

import json

import click

from .base import State, WholeNumber, pass_state


@click.command(
    epilog="""\b
Examples:
  paybonus --db paybonus-demo.db browse           # opens http://127.0.0.1:8001/ in the browser
  paybonus browse --port 9000 --no-open
  paybonus browse --print-metadata > metadata.json && datasette paybonus.db -m metadata.json
Needs the optional extra: pip install 'paybonus[browse]'."""
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to serve on (local only by default)."
)
@click.option("--port", default=8001, show_default=True, type=WholeNumber(1, 65535), help="Port to serve on.")
@click.option(
    "--open/--no-open", "open_browser", default=True, show_default=True, help="Open a browser on it."
)
@click.option(
    "--print-metadata", is_flag=True, help="Print datasette's metadata (JSON) for this ledger and exit."
)
@pass_state
def browse(state: State, host: str, port: int, open_browser: bool, print_metadata: bool) -> None:
    """Open the ledger in datasette: entitlements in euros with names, totals, what is overdue, choice windows,
    an employee's entitlements and why each amount is what it is. Read-only; Ctrl-C stops it."""
    from .. import browse as b

    if print_metadata:
        click.echo(json.dumps(b.ledger_metadata(state.db), ensure_ascii=False, indent=2))
        return
    b.serve(state.db, host, port, open_browser)
