"""Ctrl-C while the `paybonus` command starts (its imports, before `paybonus.cli.main` runs) ends with one line, not
a traceback; Python then ends the process as interrupted (exit status 130). Imported first by `paybonus`; a program
that embeds paybonus (another argv[0]) keeps its own handling."""

from __future__ import annotations

import os
import sys
from types import TracebackType


def _interrupted(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("error: aborted\n")
    else:
        sys.__excepthook__(kind, value, tb)


if sys.argv and os.path.basename(sys.argv[0]) == "paybonus" and sys.excepthook is sys.__excepthook__:
    sys.excepthook = _interrupted
