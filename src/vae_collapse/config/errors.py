"""The error type a user sees as one line: it names the key, the value and what is valid."""


class ConfigError(Exception):
    """A bad configuration value, key or group option, found before training starts."""
