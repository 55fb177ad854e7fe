"""Loading plugins: built-ins by module name, entry points one by one, allow-list, strictness, name clashes."""

import re

import pytest
from helpers.plugins import DuplicatePlugin, FlatPlugin
from paybonus.errors import PluginError
from paybonus.host import load_plugins


@pytest.fixture
def broken_dist(tmp_path, monkeypatch):
    """A distribution whose `paybonus` entry point cannot be imported."""
    info = tmp_path / "broken_bonus-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-bonus\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[paybonus]\nbroken_bonus = no_such_module_for_paybonus\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    importlib.invalidate_caches()
    return "broken_bonus"


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(broken_dist):
    host = load_plugins()
    assert [f.name for f in host.failures] == ["broken_bonus"]
    assert "ModuleNotFoundError" in host.failures[0].error
    assert "prime_fin_annee" in host.schemes  # the other external plugin still loads


def test_strict_makes_an_import_failure_fatal(broken_dist):
    with pytest.raises(PluginError, match="broken_bonus"):
        load_plugins(strict=True)


def test_allow_list_limits_what_loads(broken_dist, monkeypatch):
    monkeypatch.setenv("PAYBONUS_PLUGINS", "prime_fin_annee")
    host = load_plugins()
    assert host.failures == [] and set(host.schemes) == {"prime_fin_annee"}
    monkeypatch.setenv("PAYBONUS_PLUGINS", "something_else")  # a typo: refused, not "no scheme at all"
    with pytest.raises(PluginError, match="PAYBONUS_PLUGINS: no plugin named 'something_else'"):
        load_plugins()


def test_two_schemes_with_one_name_is_an_error():
    with pytest.raises(PluginError, match="two schemes named 'flat_bonus'"):
        load_plugins(builtins=(), extra=[FlatPlugin(), DuplicatePlugin()], entry_points=False)


def test_a_plugin_whose_registration_raises_is_named():
    from paybonus.hooks import hookimpl

    class Raising:
        @hookimpl
        def paybonus_register_schemes(self):
            raise RuntimeError("bad config")

    host = load_plugins(builtins=(), extra=[Raising()], entry_points=False)
    assert host.failures and "bad config" in host.failures[0].error
    with pytest.raises(PluginError, match="failed to register"):
        load_plugins(builtins=(), extra=[Raising()], entry_points=False, strict=True)


def test_registering_something_else_than_a_descriptor_is_refused():
    from paybonus.hooks import hookimpl

    class Wrong:
        @hookimpl
        def paybonus_register_schemes(self):
            return [{"name": "x"}]

    host = load_plugins(builtins=(), extra=[Wrong()], entry_points=False)  # reported, not fatal
    assert not host.schemes and "not a SchemeDescriptor" in host.failures[0].error
    with pytest.raises(PluginError, match="not a SchemeDescriptor"):
        load_plugins(builtins=(), extra=[Wrong()], entry_points=False, strict=True)


def test_builtin_plugins_register_by_module_name():
    from paybonus.plugins import DEFAULT_PLUGINS

    host = load_plugins(entry_points=False)
    names = {n for n, _ in host.pm.list_name_plugin()}
    assert {m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS} <= names
    assert "sources" in names  # the default payroll source


def _command_plugin(name: str):
    import click
    from paybonus.hooks import hookimpl

    @click.command(name)
    def hello() -> None:
        """Say hello."""
        click.echo("hello from a plugin")

    class CommandPlugin:
        @staticmethod
        @hookimpl
        def paybonus_register_commands():
            return [hello]

    return CommandPlugin


@pytest.mark.parametrize(
    ("name", "code", "text"), [("hello", 0, "hello from a plugin"), ("load", 2, "built-in command")]
)
def test_a_plugin_adds_a_command_and_cannot_take_a_built_in_name(monkeypatch, capsys, name, code, text):
    import structlog
    from paybonus import cli

    real = cli.load_plugins
    monkeypatch.setattr(
        cli, "load_plugins", lambda **kw: real(entry_points=False, extra=[_command_plugin(name)], **kw)
    )
    saved = structlog.get_config()
    try:
        assert cli.main([name] if code == 0 else ["hello-missing"]) == code
    finally:
        structlog.configure(**saved)
    got = capsys.readouterr()
    assert text in (got.out if code == 0 else got.err)


def test_project_commands_come_from_the_built_in_plugin():
    host = load_plugins(entry_points=False)
    assert set(host.commands) == {"project"}


def test_a_version_1_descriptor_still_works_with_a_deprecation_warning(paybonus_bus, paybonus_events):
    # CHANGELOG, engine v2: `handles` + `compute` is the old form; one line migrates it to `handlers`
    from helpers.plugins import DSN, FlatConfig, flat_compute, flat_recompute
    from paybonus.hooks import SchemeDescriptor, SocialRegime, hookimpl

    with pytest.warns(DeprecationWarning, match="handlers="):
        old = SchemeDescriptor(
            name="flat_bonus",
            version="1.0",
            label="Flat (version 1 form)",
            handles=frozenset({"period_closed"}),
            compute=flat_compute,
            recompute=flat_recompute,
            dsn=DSN,
            social_regime=SocialRegime.SALARY,
            config_type=FlatConfig,
        )
    assert old.handlers == {"period_closed": flat_compute} and old.handles == {"period_closed"}

    class OldPlugin:
        @hookimpl
        def paybonus_register_schemes(self):
            return [old]

    bus = paybonus_bus(OldPlugin(), schemes_toml="[schemes.flat_bonus]\namount_cents = 10000\n")
    out = bus.publish(paybonus_events.period_closed("2025-01"))
    assert out.dispatches[0].status == "completed" and out.dispatches[0].entitlements > 0


def test_a_misspelled_hook_is_a_warning_and_fatal_when_strict():
    from paybonus.hooks import hookimpl

    class Typo:
        @hookimpl
        def paybonus_register_scheme(self):  # missing "s"
            return []

    host = load_plugins(builtins=(), extra=[Typo()], entry_points=False)
    assert any("paybonus_register_scheme" in w for w in host.warnings)
    with pytest.raises(PluginError, match="not a paybonus hook"):
        load_plugins(builtins=(), extra=[Typo()], entry_points=False, strict=True)


def _registering(hook: str, *things):
    """A plugin whose `hook` returns `things`."""
    from paybonus.hooks import hookimpl

    class Plugin:
        pass

    def impl(self):
        return list(things)

    impl.__name__ = hook
    setattr(Plugin, hook, hookimpl(impl))
    return Plugin()


def _scheme(name="flat_bonus", **changes):
    from helpers.plugins import DSN, FlatConfig, flat_compute, flat_recompute
    from paybonus.hooks import SchemeDescriptor, SocialRegime

    fields = {
        "name": name,
        "version": "1.0",
        "label": "test",
        "handlers": {"period_closed": flat_compute},
        "recompute": flat_recompute,
        "dsn": DSN,
        "social_regime": SocialRegime.SALARY,
        "config_type": FlatConfig,
        **changes,
    }
    return SchemeDescriptor(**fields)


def _command(name):
    import click

    return click.Command(name, callback=lambda: None)


# what a plugin may not register: reported by name and skipped, or fatal with --strict-plugins
REFUSED_REGISTRATIONS = {
    "an event type that is a string": (
        ("paybonus_register_event_types", "bonus_paid"),
        "registered 'bonus_paid', not an EventType",
    ),
    "a scheme named in capitals": (
        ("paybonus_register_schemes", _scheme("FlatBonus")),
        "scheme name 'FlatBonus' must be lower_snake_case",
    ),
    "a scheme that handles nothing": (
        ("paybonus_register_schemes", _scheme(handlers={})),
        "scheme 'flat_bonus' handles no event type",
    ),
    "a handler that is not a function": (
        ("paybonus_register_schemes", _scheme(handlers={"period_closed": "compute"})),
        "scheme 'flat_bonus': its handlers and recompute must be functions",
    ),
    "a DSN mapping that is a dict": (
        ("paybonus_register_schemes", _scheme(dsn={"block": "S21.G00.52", "code": "026"})),
        "scheme 'flat_bonus': its dsn must be a DsnMapping of a block and a code (str)",
    ),
    "a handler of an event type nobody registered": (
        ("paybonus_register_schemes", _scheme(handlers={"bonus_paid": lambda e, c: None})),
        "scheme 'flat_bonus' handles unknown event type 'bonus_paid'",
    ),
    "a command that is a function": (
        ("paybonus_register_commands", print),
        "not a click command",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED_REGISTRATIONS))
def test_what_a_plugin_may_not_register_is_named_and_skipped_or_fatal_when_strict(case):
    (hook, thing), words = REFUSED_REGISTRATIONS[case]
    host = load_plugins(builtins=(), extra=[_registering(hook, thing)], entry_points=False)
    assert [words in f.error for f in host.failures] == [True], host.failures
    assert "flat_bonus" not in host.schemes
    with pytest.raises(PluginError, match=re.escape(words)):
        load_plugins(builtins=(), extra=[_registering(hook, thing)], entry_points=False, strict=True)


def test_a_built_in_event_type_or_a_command_cannot_be_taken_twice():
    from paybonus.events import EventType, PeriodClosed

    again = EventType("period_closed", PeriodClosed, "a second close")
    with pytest.raises(PluginError, match="redefines the built-in event type 'period_closed'"):
        load_plugins(
            builtins=(), extra=[_registering("paybonus_register_event_types", again)], entry_points=False
        )
    twice = [_registering("paybonus_register_commands", _command("tally")) for _ in range(2)]
    with pytest.raises(PluginError, match="two plugins add the command 'tally'"):
        load_plugins(builtins=(), extra=twice, entry_points=False)


@pytest.mark.parametrize("reported", ["seen_on", ("seen_at",)])
def test_reported_dates_that_are_not_fields_of_the_payload_are_refused_at_load(reported):
    # found at load, not by the first event of the type (admission's `not_ahead`: an AttributeError, the string
    # read letter by letter)
    from datetime import date

    from attrs import frozen
    from paybonus.events import EventType

    @frozen
    class Seen:
        employee: str
        seen_on: date

    thing = EventType("thing_seen", Seen, "a thing seen", reported=reported)
    with pytest.raises(PluginError, match=re.escape("'thing_seen': reported=")):
        load_plugins(
            builtins=(), extra=[_registering("paybonus_register_event_types", thing)], entry_points=False
        )
    ok = EventType("thing_seen", Seen, "a thing seen", reported=("seen_on",))
    host = load_plugins(
        builtins=(), extra=[_registering("paybonus_register_event_types", ok)], entry_points=False
    )
    assert host.event_types.get("thing_seen").reported == ("seen_on",)


def test_an_optional_hook_of_another_name_is_no_typo():
    from paybonus.hooks import hookimpl

    class Optional:
        @hookimpl(optionalhook=True)
        def paybonus_future_hook(self):
            return None

    host = load_plugins(builtins=(), extra=[Optional()], entry_points=False, strict=True)
    assert host.warnings == [] and host.failures == []
