"""The one error type a user sees (a single line, exit status 2), and the parsing of durations a user types."""

import re


class ArcError(Exception):
    """Bad input or a bad request. The CLI prints `error: <message>` and exits with 2."""


def parse_duration(text: str) -> float:
    """'90', '90s', '30m', '12h', '1h30m' -> seconds."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", t)
    if not t or not m:
        raise ArcError(f"bad duration '{text}': use e.g. 90s, 30m, 12h, 1h30m")
    h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return h * 3600 + mi * 60 + s
