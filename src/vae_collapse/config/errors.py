"""The error type a user sees as one line: it names the key, the value and what is valid."""


class ConfigError(Exception):
    """A bad configuration value, key or group option, found before training starts."""


def as_typed(value: object) -> str:
    """A value as the command line spells it (``seed=null``, ``true``), not as Python does (None, True)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
