"""The one exception the report raises for bad input; the console script prints it as one line."""


class ReportError(Exception):
    """A path, option or file the user gave cannot be used; the message says what would work."""
