"""Publisher process for the crash tests: publishes a JSON-lines file, printing one line per event done.

With `--step`, it waits after each line for a line on its standard input before the next event: the test that
kills it knows how far it got, however far behind the test reads (a loaded machine, coverage)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/, for `helpers`

from paybonus import EventBus, Ledger, load_plugins
from paybonus.logs import configure

from helpers.plugins import FlatPlugin


def main(db: str, events_file: str, step: bool = False) -> None:
    configure("json", "warning", stream=sys.stderr)  # a host configures logging; stdout carries progress only
    ledger = Ledger.open(db)
    bus = EventBus(ledger, load_plugins(builtins=(), extra=[FlatPlugin()], entry_points=False))
    events = bus.host.event_types.read_jsonl(events_file, Path(events_file).read_text())

    def progress(n: int) -> None:
        print(n, flush=True)
        if step:
            sys.stdin.readline()

    bus.publish_all(events, on_progress=progress)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], step="--step" in sys.argv[3:])
