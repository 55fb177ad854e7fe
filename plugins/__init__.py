"""Built-in bonus plugins. Each is a module registered by name; `PAYBONUS_PLUGINS` can limit which load."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "paybonus.plugins.interessement",
    "paybonus.plugins.interessement_projet",
    "paybonus.plugins.prime_objectif",
    "paybonus.plugins.prime_nao",
    "paybonus.plugins.pmt",
)
