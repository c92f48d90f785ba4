"""The errors the doctor reports as such: bad input (exit 2) and the outcomes a source can end with.

Kept apart so that ``netra_doctor.sources`` (the runner) and ``netra_doctor.sources.live_api`` (the Google
clients) both import them without importing each other.
"""

from __future__ import annotations


class Skipped(Exception):
    """The source had nothing to read (an optional file absent): facts stay unknown."""


class SourceError(Exception):
    """The source failed in a way worth one clear line (already free of secrets)."""


class Partial(Exception):
    """The source gathered its facts, but a bound (entries, seconds) cut the read: the line says what
    was left unread. Raised after the facts are stored; the run is not incomplete for it."""


class ConfigError(Exception):
    """Bad input the user must fix: reported as one line, exit code 2."""


def value_problem(exc: ValueError) -> str:
    """What a parser's ValueError says, in a few words: Python refuses integers of more than 4300
    digits (`port: 999...9`), and its message names a setting the user has nothing to do with."""
    import re

    digits = re.search(r"value has (\d+) digits", str(exc))
    return f"a number of {digits.group(1)} digits" if digits else " ".join(str(exc).split())[:200]


class BadInput(ConfigError):
    """Something the user typed for this run is wrong (the credentials in --dsn or PGPASSWORD): raised
    by a source, it ends the run as bad input (one line, exit 2) instead of becoming a finding whose
    fix would change the environment (rotating a real password because of a typo)."""
