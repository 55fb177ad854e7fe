"""Built-in bonus plugins, one per family: `interessement` (classic and projet) and `salary` (prime sur objectif,
prime NAO, PMT). Each is registered by module name; `PAYBONUS_PLUGINS` can limit which load."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "paybonus.plugins.interessement",
    "paybonus.plugins.salary",
)
