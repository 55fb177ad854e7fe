"""Loading plugins and the typed facade over pluggy's hooks.

Built-in plugins register by module name (`paybonus.plugins.DEFAULT_PLUGINS`); external ones come from the
`paybonus` entry-point group and are loaded one by one: one that fails to import is reported and skipped, or
is fatal with `strict`. `PAYBONUS_PLUGINS` (comma-separated names) limits which plugins load. Two schemes with
one name are an error.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import re
from collections.abc import Iterable
from typing import Any

import pluggy
from attrs import define, field, frozen
from paybonus.hooks import specs
from paybonus.hooks.markers import PROJECT
from paybonus.hooks.types import CompanyInfo, DsnMapping, LedgerView, PayrollSource, SchemeDescriptor

from . import guard, logs
from .errors import PluginError
from .events import BUILTIN_EVENT_TYPES, EventType, EventTypes

log = logs.get_logger("paybonus.plugins")
ENTRY_POINT_GROUP = "paybonus"
CORE_PLUGINS = ("paybonus.sources", "paybonus.nats_source")  # always loaded: payroll source, NATS source


@frozen
class PluginInfo:
    name: str
    version: str
    distribution: str
    hooks: tuple[str, ...]
    schemes: tuple[str, ...]


@frozen
class LoadFailure:
    name: str
    error: str


@define
class PluginHost:
    """The loaded plugins: schemes by name, event types, the payroll source, and what failed to load."""

    pm: pluggy.PluginManager
    schemes: dict[str, SchemeDescriptor] = field(factory=dict)
    scheme_plugin: dict[str, str] = field(factory=dict)
    event_types: EventTypes = field(factory=EventTypes)
    failures: list[LoadFailure] = field(factory=list)
    distributions: dict[str, str] = field(factory=dict)
    commands: dict[str, Any] = field(factory=dict)  # extra `paybonus` sub-commands (click), by name
    warnings: list[str] = field(factory=list)  # what loaded but looks wrong (e.g. an unknown hook name)

    def payroll_source(self, company: CompanyInfo, ledger: LedgerView) -> PayrollSource:
        source = self.pm.hook.paybonus_payroll_source(company=company, ledger=ledger)
        if source is None:  # pragma: no cover - the core's default source always answers
            raise PluginError("no plugin supplies payroll data")
        return source

    def interested(self, event_type: str) -> list[SchemeDescriptor]:
        """Schemes handling `event_type`, in a deterministic order (by name)."""
        return [self.schemes[n] for n in sorted(self.schemes) if event_type in self.schemes[n].handlers]

    def notify_recorded(
        self, event: Any, scheme: str, ids: list[str], timeout: float | None = guard.DEFAULT_TIMEOUT_S
    ) -> None:
        """Tell the plugins, as guests: a hook that fails, hangs past `timeout` or exits is logged and skipped."""

        def notify() -> None:
            self.pm.hook.paybonus_entitlements_recorded(event=event, scheme=scheme, entitlement_ids=ids)

        try:
            guard.call(notify, timeout=timeout, what="the entitlements_recorded hook")
        except Exception as exc:
            log.warning(
                "plugins.notify.failed",
                scheme=scheme,
                event_id=event.id,
                company=event.company,
                error_type=type(exc).__name__,
            )

    def plugin_infos(self) -> list[PluginInfo]:
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda x: x[0]):
            if plugin is None:
                continue
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            dist = self.distributions.get(name, "paybonus")
            version = _dist_version(dist)
            schemes = tuple(sorted(s for s, p in self.scheme_plugin.items() if p == name))
            out.append(PluginInfo(name, version, dist, hooks, schemes))
        return out


def default_plugins() -> tuple[str, ...]:
    from paybonus.plugins import DEFAULT_PLUGINS

    return tuple(DEFAULT_PLUGINS)


def load_plugins(
    *,
    strict: bool = False,
    allow: Iterable[str] | None = None,
    builtins: Iterable[str] | None = None,
    extra: Iterable[object] = (),
    entry_points: bool = True,
) -> PluginHost:
    """Build a plugin host.

    `allow`: plugin names to load (default: `PAYBONUS_PLUGINS` if set, else all). Built-in plugins are named by
    their module's last part (`interessement`), external ones by their entry-point name. `extra`: plugin objects
    to register as well (tests, embedding hosts).
    """
    from_env = allow is None and bool(os.environ.get("PAYBONUS_PLUGINS", "").strip())
    if from_env:
        allow = [n.strip() for n in os.environ["PAYBONUS_PLUGINS"].split(",") if n.strip()]
    allowed = set(allow) if allow is not None else None
    if from_env and allowed is not None:  # a name that loads nothing is a typo: refused, not ignored
        known = {m.rsplit(".", 1)[-1] for m in (builtins if builtins is not None else default_plugins())}
        if entry_points:
            known |= {ep.name for ep in md.entry_points(group=ENTRY_POINT_GROUP)}
        unknown = sorted(allowed - known)
        if unknown:
            raise PluginError(
                f"PAYBONUS_PLUGINS: no plugin named {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(known))})"
            )
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(specs)
    host = PluginHost(pm)

    for module in CORE_PLUGINS:
        pm.register(importlib.import_module(module), name=module.rsplit(".", 1)[-1])
    for module in builtins if builtins is not None else default_plugins():
        short = module.rsplit(".", 1)[-1]
        if allowed is not None and short not in allowed:
            continue
        pm.register(importlib.import_module(module), name=short)
    if entry_points:
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if allowed is not None and ep.name not in allowed:
                continue
            if pm.has_plugin(ep.name):
                raise PluginError(f"plugin name {ep.name!r} is used twice (entry point of {_ep_dist(ep)})")
            try:
                plugin = ep.load()
            except Exception as exc:  # an import failure must not take the host down (unless strict)
                msg = f"{type(exc).__name__}: {exc}"
                log.error("plugins.load.failed", plugin=ep.name, error=msg)
                if strict:
                    raise PluginError(f"plugin {ep.name!r} failed to load: {msg}") from exc
                host.failures.append(LoadFailure(ep.name, msg))
                continue
            try:
                pm.register(plugin, name=ep.name)
            except (ValueError, pluggy.PluginValidationError) as exc:
                raise PluginError(f"plugin {ep.name!r} cannot be registered: {exc}") from exc
            host.distributions[ep.name] = _ep_dist(ep)
    for i, plugin in enumerate(extra):
        pm.register(plugin, name=getattr(plugin, "__name__", None) or f"extra-{i}")
    _check_hook_names(host, strict)
    _collect(host, strict)
    log.debug("plugins.loaded", plugins=len(pm.get_plugins()), schemes=len(host.schemes))
    return host


def _check_hook_names(host: PluginHost, strict: bool) -> None:
    """A function marked @hookimpl whose name is no paybonus hook (a typo such as `paybonus_register_scheme`):
    an error with `strict`, else a warning. This is pluggy's `check_pending`, reporting every one by name."""
    for name in sorted(vars(host.pm.hook)):
        caller = getattr(host.pm.hook, name)
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            msg = f"plugin {impl.plugin_name!r} implements {name!r}, which is not a paybonus hook"
            log.warning("plugins.hook.unknown", plugin=impl.plugin_name, hook=name)
            if strict:
                raise PluginError(msg + " (see docs/plugins.md for the hooks)")
            host.warnings.append(msg)


def _collect(host: PluginHost, strict: bool) -> None:
    """Ask each plugin for its schemes and event types, itself, so a broken one is named."""
    for impl in host.pm.hook.paybonus_register_event_types.get_hookimpls():
        for t in _call(host, impl, strict):
            if not isinstance(t, EventType):
                _refuse(host, impl.plugin_name, f"registered {t!r}, not an EventType", strict)
                continue
            if t.name in {b.name for b in BUILTIN_EVENT_TYPES}:
                raise PluginError(f"plugin {impl.plugin_name!r} redefines the built-in event type {t.name!r}")
            try:
                host.event_types.add(t)
            except ValueError as exc:
                raise PluginError(f"plugin {impl.plugin_name!r}: {exc}") from None
    for impl in host.pm.hook.paybonus_register_schemes.get_hookimpls():
        for s in _call(host, impl, strict):
            problem = _scheme_problem(s)
            if problem:
                _refuse(host, impl.plugin_name, problem, strict)
                continue
            if s.name in host.schemes:
                raise PluginError(
                    f"two schemes named {s.name!r}: from plugin {host.scheme_plugin[s.name]!r} and {impl.plugin_name!r}"
                )
            unknown = sorted(t for t in s.handlers if t not in host.event_types)
            if unknown:
                _refuse(
                    host,
                    impl.plugin_name,
                    f"scheme {s.name!r} handles unknown event type {unknown[0]!r}",
                    strict,
                )
                continue
            host.schemes[s.name] = s
            host.scheme_plugin[s.name] = impl.plugin_name
    for impl in host.pm.hook.paybonus_register_commands.get_hookimpls():
        for c in _call(host, impl, strict):
            name = getattr(c, "name", None)
            if not isinstance(name, str) or not callable(getattr(c, "main", None)):
                _refuse(host, impl.plugin_name, f"registered {c!r}, not a click command", strict)
                continue
            if name in host.commands:
                raise PluginError(f"two plugins add the command {name!r}")
            host.commands[name] = c


def _call(host: PluginHost, impl: pluggy.HookImpl, strict: bool) -> list[Any]:
    """What a registration hook returns, as a list; a hook that raises, exits or returns something else than a
    list is reported by name (fatal with `strict`) and counts as registering nothing."""
    try:
        found = guard.call(impl.function, timeout=None, what=f"plugin {impl.plugin_name!r}")
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}"
        log.error("plugins.register.failed", plugin=impl.plugin_name, error=msg)
        if strict:
            raise PluginError(f"plugin {impl.plugin_name!r} failed to register: {msg}") from exc
        host.failures.append(LoadFailure(impl.plugin_name, msg))
        host.pm.unregister(name=impl.plugin_name)
        return []
    if found is None:
        return []
    if not isinstance(found, list | tuple):
        _refuse(
            host, impl.plugin_name, f"{impl.function.__name__} returned {found!r:.80}, not a list", strict
        )
        return []
    return list(found)


def _refuse(host: PluginHost, plugin: str, what: str, strict: bool) -> None:
    """Something a plugin registered is not usable: fatal with `strict`, else reported and skipped."""
    msg = f"plugin {plugin!r}: {what}"
    log.error("plugins.register.refused", plugin=plugin, error=what[:200])
    if strict:
        raise PluginError(msg)
    host.failures.append(LoadFailure(plugin, what))


def _scheme_problem(s: Any) -> str | None:
    if not isinstance(s, SchemeDescriptor):
        return f"registered {s!r:.80}, not a SchemeDescriptor"
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", s.name):
        return f"scheme name {s.name!r:.80} must be lower_snake_case"
    if not s.handlers:
        return f"scheme {s.name!r} handles no event type"
    if not all(callable(h) for h in s.handlers.values()) or not callable(s.recompute):
        return f"scheme {s.name!r}: its handlers and recompute must be functions"
    if not (isinstance(s.dsn, DsnMapping) and type(s.dsn.block) is str and type(s.dsn.code) is str):
        return f"scheme {s.name!r}: its dsn must be a DsnMapping of a block and a code (str)"
    return None


def _ep_dist(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "?"


def _dist_version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "?"
