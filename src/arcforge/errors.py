"""The one error type a user sees: a single line, exit status 2."""


class ArcError(Exception):
    """Bad input or a bad request. The CLI prints `error: <message>` and exits with 2."""
