"""The log lines that matter, as a table of patterns, and pure functions over ``LogEntry`` lists.

Cloud Logging stores one entry per line a container writes (a traceback arrives as several
entries), so every pattern matches within one entry's text. Each pattern has a test with
the real message and its near misses (tests/test_logparse.py). No I/O here: the logs
source gathers, checks call these functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import cached_property, lru_cache

from netra_doctor.core.facts import Execution, LogEntry
from netra_doctor.core.records import record
from netra_doctor.safety.secrecy import scrub


@record(frozen=True)
class Pattern:
    """A known log line. Compiled on first use: a run without logs (a replay, most offline runs) never
    pays the 1.3 ms these patterns take to compile."""

    name: str
    source: str
    means: str
    flags: int = 0

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.source, self.flags)


_TABLES = r"(?P<tables>\{[^{}]*\}|\[[^\[\]]*\]|\([^()]*\))"
_REV = r"[\w.-]+"

PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "tables-create-failed",
        r"Failed to create tables:\s*" + _TABLES,
        "the service's start-up create_all could not create these tables: they are not in its database",
    ),
    Pattern(
        "tables-missing",
        r"Missing required database tables:\s*" + _TABLES,
        "the service's start-up check found these tables missing from its database",
    ),
    Pattern(
        "auth-failed",
        r'password authentication failed for user "(?P<user>[^"]+)"',
        "PostgreSQL rejected the password for this user",
    ),
    Pattern(
        "database-missing",
        r'(?<![\w.])(?<!template )database "(?P<database>[^"]+)" does not exist',
        "the database name the workload uses is not on the server it reached",
    ),
    Pattern(
        "cloudsql-socket",
        (
            r'connection to server on socket "(?P<socket>/cloudsql/(?P<instance>[^"/]+)/\.s\.PGSQL\.(?P<port>\d+))"'
            r" failed: (?P<reason>[^\n]*)"
        ),
        "libpq could not use the Cloud SQL socket; 'No such file or directory' means no connector is attached",
    ),
    Pattern(
        "cloudsql-socket-legacy",
        (
            r"could not connect to server: (?P<reason>[^\n]*?)\s+Is the server running locally and accepting\s+"
            r'connections on Unix domain socket "(?P<socket>/cloudsql/(?P<instance>[^"/]+)/\.s\.PGSQL\.(?P<port>\d+))"'
        ),
        "libpq (before 14) could not use the Cloud SQL socket",
    ),
    Pattern(
        "permission-denied",
        (
            r"permission denied for (?P<kind>table|relation|schema|sequence|view|database) "
            r'(?P<object>"[^"]+"|[\w$]+(?:\.[\w$]+)?)'
        ),
        "the connecting role lacks a privilege on this object (often: tables owned by the migration role)",
    ),
    Pattern(
        "relation-missing",
        r'relation "(?P<relation>[^"]+)" does not exist',
        "a query named a table that the role cannot find in its search_path",
    ),
    Pattern(
        "alembic-upgrade",
        rf"Running upgrade (?P<from>(?:{_REV}(?:, {_REV})*)?) -> (?P<to>{_REV})(?:, (?P<message>[^\n]*))?",
        "Alembic applied this revision",
    ),
    Pattern(
        "alembic-context",
        r"Context impl (?P<impl>\w+)Impl\.",
        "Alembic connected and configured its migration context (an upgrade ran, possibly as a no-op)",
    ),
    Pattern(
        "python-syntax-error",
        r"^\s*SyntaxError: (?P<detail>[^\n]+)",
        "Python was handed text that is not Python: typically `python -c` given a shell command",
        re.M,
    ),
    Pattern(
        "module-not-found",
        r"ModuleNotFoundError: No module named '(?P<module>[^']+)'",
        "the image lacks a Python module the command imports (wrong image, cwd or PYTHONPATH)",
    ),
)

BY_NAME = {p.name: p for p in PATTERNS}
SOCKET_PATTERNS = ("cloudsql-socket", "cloudsql-socket-legacy")
TABLE_PATTERNS = ("tables-create-failed", "tables-missing")
# the line that best explains a failed job run, most specific first
FAILURE_ORDER = (
    "python-syntax-error", "module-not-found", "cloudsql-socket", "cloudsql-socket-legacy", "auth-failed",
    "database-missing", "permission-denied", "relation-missing",
)
_ERRORISH = r"\b(?:Error|Exception|FATAL|Traceback)\b|exit\(([1-9]\d*)\)"  # re's own cache keeps it compiled
_SEVERE = {"ERROR", "CRITICAL", "ALERT", "EMERGENCY"}


@record(frozen=True)
class Hit:
    """One pattern matched in one log entry."""

    pattern: str
    groups: dict[str, str]
    entry: LogEntry

    @property
    def means(self) -> str:
        known = BY_NAME.get(self.pattern)
        return known.means if known else "the last error the run logged"

    def quote(self, width: int = 220) -> str:
        """The entry as a report line: time, where it came from, and its text (clipped).

        Scrubbed before it is clipped: a cut through a DSN would leave a piece of its password
        that no later scrub recognises."""
        text = scrub(" ".join(self.entry.text.split()))
        if len(text) > width:
            text = text[: width - 1] + "…"
        where = f" {self.entry.origin}" if self.entry.origin else ""
        return f"{self.entry.timestamp}{where}: {text}"


def match_text(text: str, patterns: Iterable[Pattern] = PATTERNS) -> list[tuple[str, dict[str, str]]]:
    """Every pattern that matches ``text``, with its named groups (None groups become "")."""
    out = []
    for p in patterns:
        for m in p.regex.finditer(text):
            out.append((p.name, {k: v or "" for k, v in m.groupdict().items()}))
    return out


def hits(entries: Iterable[LogEntry], names: Iterable[str] | None = None) -> list[Hit]:
    """Matches over entries in time order, optionally only the named patterns."""
    # only the named patterns are tried: 50,000 entries through every pattern cost seconds
    wanted = set(names) if names is not None else None
    patterns = PATTERNS if wanted is None else tuple(p for p in PATTERNS if p.name in wanted)
    return [Hit(name, groups, e) for e in in_time_order(entries) for name, groups in match_text(e.text, patterns)]


def parse_table_names(text: str) -> list[str]:
    """``{'a', 'b'}``, ``['a', "b"]`` or ``(a, b)`` -> names in the order written."""
    inner = text.strip()[1:-1]
    quoted = re.findall(r"'([^']+)'|\"([^\"]+)\"", inner)
    names = [a or b for a, b in quoted] if quoted else [p.strip() for p in inner.split(",")]
    return [n.strip() for n in names if re.fullmatch(r"[\w$.]+", n.strip())]


@lru_cache(maxsize=1 << 17)  # every check sorts the same entries again: 50,000 of them, parsed once
def parse_time(value: str) -> datetime | None:
    """RFC 3339 as Cloud Logging and Cloud Run write it (``Z``, up to nanoseconds) -> aware datetime."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", value.strip())
    if not m:
        return None
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = m.group(3) or "Z"
    try:
        parsed = datetime.fromisoformat(f"{m.group(1)}.{frac}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def _sort_key(e: LogEntry) -> tuple[int, datetime]:
    t = parse_time(e.timestamp)
    return (0, t) if t else (1, datetime.min.replace(tzinfo=timezone.utc))


def in_time_order(entries: Iterable[LogEntry]) -> list[LogEntry]:
    """Oldest first (gcloud prints newest first); entries without a time keep their order at the end."""
    return sorted(entries, key=_sort_key)


# --- which entries belong to what -------------------------------------------------------


def service_entries(logs: Iterable[LogEntry]) -> list[LogEntry]:
    return [e for e in logs if e.resource == "service"]


def job_entries(logs: Iterable[LogEntry]) -> list[LogEntry]:
    return [e for e in logs if e.resource == "job"]


def latest_origin(entries: list[LogEntry]) -> list[LogEntry]:
    """The entries of the newest revision (or execution) that wrote any: older ones are history."""
    ordered = in_time_order(entries)
    labelled = [e for e in ordered if e.origin]
    if not labelled:
        return ordered
    newest = labelled[-1].origin
    return [e for e in ordered if e.origin == newest]


def execution_entries(logs: Iterable[LogEntry], execution: Execution) -> list[LogEntry]:
    """A job execution's entries: by its execution-name label, else by its time window."""
    jobs = job_entries(logs)
    named = [e for e in jobs if e.origin == execution.name]
    if named:
        return in_time_order(named)
    start, end = parse_time(execution.started), parse_time(execution.completed)
    if start is None:
        return []
    window = []
    for e in jobs:
        t = parse_time(e.timestamp)
        if not e.origin and t and t >= start and (end is None or t <= end):
            window.append(e)
    return in_time_order(window)


# --- what the entries say -----------------------------------------------------------------


def tables_named_in_startup_errors(logs: Iterable[LogEntry] | None) -> set[str]:
    """Tables the service's own start-up errors say are missing (they become expected tables)."""
    if not logs:
        return set()
    names: set[str] = set()
    for hit in hits((e for e in logs if e.resource != "job"), TABLE_PATTERNS):
        names.update(n.rsplit(".", 1)[-1] for n in parse_table_names(hit.groups["tables"]))
    return names


@record
class UpgradeLog:
    """What one execution's log says Alembic did."""

    ran: bool  # Alembic configured a context (it reached the database)
    steps: list[tuple[str, str]]  # (from, to) per `Running upgrade`
    context_line: Hit | None = None

    @property
    def noop(self) -> bool:
        return self.ran and not self.steps


def upgrade_log(entries: Iterable[LogEntry]) -> UpgradeLog:
    found = hits(entries, ("alembic-upgrade", "alembic-context"))
    steps = [(h.groups["from"], h.groups["to"]) for h in found if h.pattern == "alembic-upgrade"]
    context = next((h for h in found if h.pattern == "alembic-context"), None)
    return UpgradeLog(ran=context is not None or bool(steps), steps=steps, context_line=context)


def failure_line(entries: Iterable[LogEntry]) -> Hit | None:
    """The line that best explains a failed run: a known pattern first, else the last error-looking line."""
    ordered = in_time_order(entries)
    found = hits(ordered, FAILURE_ORDER)
    for name in FAILURE_ORDER:
        last = [h for h in found if h.pattern == name]
        if last:
            return last[-1]
    for e in reversed(ordered):
        if e.severity.upper() in _SEVERE or re.search(_ERRORISH, e.text):
            return Hit("error-line", {}, e)
    return None

