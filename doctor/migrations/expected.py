"""Which tables the service needs, and where that expectation comes from. Pure: Facts in, names out.

Order of authority: ``expected_tables`` in config (the user said so) wins outright;
otherwise the tables that the migration scripts leave standing at head, plus any table
the service itself names in its startup errors (``Failed to create tables: {...}``).
"""

from __future__ import annotations

from collections.abc import Iterable

from netra_doctor.cloudrun.logparse import tables_named_in_startup_errors
from netra_doctor.cloudrun.serving import service_entries
from netra_doctor.core.facts import Facts, LogEntry, MigrationFacts, RevisionFacts


def split_name(name: str) -> tuple[str | None, str]:
    """``"schema.table"`` -> (schema, table); a bare name has no schema."""
    schema, dot, table = name.partition(".")
    return (schema, table) if dot and schema and table else (None, name)


def ancestors(migrations: MigrationFacts, tips: Iterable[str]) -> set[str]:
    """Every revision reachable from ``tips`` through down_revisions, the tips included."""
    by_id = migrations.by_id()
    seen: set[str] = set()
    stack = [t for t in tips if t in by_id]
    while stack:
        rev = stack.pop()
        if rev in seen:
            continue
        seen.add(rev)
        stack.extend(d for d in by_id[rev].down_revisions if d in by_id)
    return seen


def tables_at(migrations: MigrationFacts, tips: Iterable[str]) -> dict[str, RevisionFacts]:
    """Tables standing after the revisions up to ``tips``: table -> the revision that gave it its name.

    Replays creates, renames and drops in the scripts' topological order (base first), and
    within a revision in the order its upgrade() runs them. A renamed table is attributed to the
    rename: that is the revision it needs to exist as named.
    """
    chosen = ancestors(migrations, tips)
    standing: dict[str, RevisionFacts] = {}
    for rev in migrations.revisions:
        if rev.revision not in chosen:
            continue
        for kind, *names in table_ops(rev):
            if kind == "create" and len(names) == 1:
                standing[names[0]] = rev
            elif kind == "rename" and len(names) == 2:
                standing.pop(names[0], None)
                standing[names[1]] = rev
            elif kind == "drop" and len(names) == 1:
                standing.pop(names[0], None)
    return standing


def table_ops(rev: RevisionFacts) -> list[list[str]]:
    """The revision's table operations in its upgrade()'s order; a snapshot saved before that order
    was recorded gives creates, then renames, then drops."""
    if rev.ops or not (rev.creates or rev.renames or rev.drops):
        return rev.ops
    return [*(["create", t] for t in rev.creates), *(["rename", *p] for p in rev.renames),
            *(["drop", t] for t in rev.drops)]


def origin_of(table: str, rev: RevisionFacts) -> str:
    made = "created" if table in rev.creates else "renamed to this name"
    return f"{made} by revision {rev.revision}" + (f" ({rev.path})" if rev.path else "")


def tables_at_head(migrations: MigrationFacts) -> dict[str, RevisionFacts]:
    """Tables the scripts leave standing at head (every head, when there are several)."""
    return tables_at(migrations, migrations.heads)


def service_logs(logs: list[LogEntry]) -> list[LogEntry]:
    return [e for e in logs if e.resource in ("service", "")]


def tables_from_logs(logs: list[LogEntry] | None) -> set[str]:
    """Tables the service names in its startup errors."""
    if not logs:
        return set()
    return {str(t) for t in tables_named_in_startup_errors(service_logs(logs)) if t}


def expected_tables(facts: Facts) -> dict[str, str]:
    """Table name -> where the expectation comes from (for the report's evidence)."""
    if facts.target.expected_tables:
        return {t: "listed in expected_tables (config)" for t in facts.target.expected_tables}
    expected: dict[str, str] = {}
    if facts.migrations is not None:
        for table, rev in sorted(tables_at_head(facts.migrations).items()):
            expected[table] = origin_of(table, rev)
    # the current revisions' start-up errors (an older revision's are history), and entries of no
    # known resource
    current = service_entries(facts) + [e for e in facts.logs or [] if e.resource == ""]
    for table in sorted(tables_from_logs(current)):
        expected.setdefault(table, "named in the service's startup errors")
    return expected


def expectation_known(facts: Facts) -> bool:
    """Whether 'which tables' could be answered at all (config, migrations or logs gathered)."""
    return bool(facts.target.expected_tables) or facts.migrations is not None or facts.logs is not None
