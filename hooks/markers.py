"""paybonus's own pluggy markers (project name "paybonus")."""

import pluggy

PROJECT = "paybonus"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
