"""What the checkout's revisions and models mean for a deploy. Pure: Facts in, plain data out.

Shared by the models and pre-deploy checks: which revisions the job's ``upgrade head`` runs next
(in the order it runs them), what each does to tables, the tables and columns the revisions up to
head leave standing, and the pending operations replayed over the database's real catalog.
"""

from __future__ import annotations

import os

from netra_doctor.core.facts import DatabaseFacts, Facts, MigrationFacts, RevisionFacts, TableUsage
from netra_doctor.core.records import record
from netra_doctor.migrations.expected import ancestors, split_name, table_ops


def plain(name: str) -> str:
    """``public.x`` and ``x`` are one table for a default search_path."""
    return name[len("public."):] if name.startswith("public.") else name


def usage_of(facts: Facts, db: DatabaseFacts, name: str) -> TableUsage | None:
    """A table's rows and use, found as the service's search_path finds ``name``."""
    schema, _, table = name.rpartition(".")
    path = [schema] if schema else (db.search_path or ["public"])
    usage = {(u.schema, u.name): u for u in facts.table_usage or []}
    return next((usage[(s, table)] for s in path if (s, table) in usage), None)


def op_line(r: RevisionFacts, index: int) -> int:
    return r.op_lines[index] if index < len(r.op_lines) else 0


def where(facts: Facts, r: RevisionFacts, line: int = 0) -> str:
    """The revision's file as a repository path (``path:line`` when the line is known)."""
    path = repo_path(facts, r.path) if r.path else r.revision
    return f"{path}:{line}" if line else path


def repo_path(facts: Facts, path: str) -> str:
    """A file as the checkout names it (relative to the repository root when under it)."""
    root = facts.repo.root if facts.repo else ""
    if root and os.path.isabs(path):
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return rel
    return path


def actions(r: RevisionFacts) -> list[str]:
    """What the revision's upgrade() does to tables and columns, in words, in its order."""
    out = []
    for kind, *names in table_ops(r):
        if kind == "rename" and len(names) == 2:
            out.append(f"renames table {names[0]} to {names[1]}")
        elif names:
            out.append(f"{kind}s table {names[0]}")
    created = {n for k, *ns in table_ops(r) if k == "create" for n in ns}
    added = [f"{t}.{c}" for t, c in (p for p in r.adds_columns if len(p) == 2) if t not in created]
    if added:
        out.append("adds column " + ", ".join(added))
    out += [f"drops column {t}.{c}" for t, c in (p for p in r.drops_columns if len(p) == 2)]
    if r.opaque:
        out.append("does more that could not be read (" + "; ".join(r.opaque[:2]) + ")")
    return out or ["no table operation read"]


def standing_columns(m: MigrationFacts, tips: list[str]) -> dict[str, set[str]]:
    """Table -> the columns the revisions up to ``tips`` leave it (create_table columns, add/drop column)."""
    chosen = ancestors(m, tips)
    tables: dict[str, set[str]] = {}
    for rev in m.revisions:
        if rev.revision not in chosen:
            continue
        ops = table_ops(rev)
        if rev.column_ops and len(rev.op_columns_before) == len(ops):
            # upgrade()'s own order: create t_new with its columns, drop t, rename t_new -> t leaves t them
            done = 0
            for op, before in zip(ops, rev.op_columns_before, strict=True):
                _replay_columns(tables, rev.column_ops[done:before])
                done = max(done, before)
                _replay_table(tables, op)
            _replay_columns(tables, rev.column_ops[done:])
            continue
        for op in ops:  # a snapshot saved before the interleaving was recorded: tables first
            _replay_table(tables, op)
        if rev.column_ops:  # in upgrade()'s order: add new_id, drop id, rename new_id -> id leaves id
            _replay_columns(tables, rev.column_ops)
            continue
        for pair in rev.adds_columns:  # a snapshot saved before column_ops: adds, then drops
            if len(pair) == 2:
                tables.setdefault(plain(pair[0]), set()).add(pair[1])
        for pair in rev.drops_columns:
            if len(pair) == 2:
                tables.get(plain(pair[0]), set()).discard(pair[1])
    return tables


def _replay_table(tables: dict[str, set[str]], op: list[str]) -> None:
    kind, *names = op
    if kind == "create" and len(names) == 1:
        tables[plain(names[0])] = set()
    elif kind == "rename" and len(names) == 2:
        tables[plain(names[1])] = tables.pop(plain(names[0]), set())
    elif kind == "drop" and len(names) == 1:
        tables.pop(plain(names[0]), None)


def _replay_columns(tables: dict[str, set[str]], column_ops: list[list[str]]) -> None:
    for kind, table, *cols in column_ops:
        columns = tables.setdefault(plain(table), set()) if kind == "add" else tables.get(plain(table))
        if columns is None:
            continue
        if kind == "add" and len(cols) == 1:
            columns.add(cols[0])
        elif kind == "drop" and len(cols) == 1:
            columns.discard(cols[0])
        elif kind == "rename" and len(cols) == 2 and cols[0] in columns:
            columns.discard(cols[0])
            columns.add(cols[1])
        elif kind == "rename" and len(cols) == 2:
            columns.add(cols[1])  # a column this reading never saw made: the new name stands


def made_outside(m: MigrationFacts, tips: list[str]) -> list[str]:
    """Tables the revisions up to ``tips`` alter, rename or drop before any of them creates it: the
    schema's baseline was made outside Alembic (``create_all``, then ``alembic stamp``, as redash does),
    so what that baseline holds is unknown from the scripts."""
    chosen = ancestors(m, tips)
    made: set[str] = set()
    outside: set[str] = set()
    for rev in m.revisions:
        if rev.revision not in chosen:
            continue
        for kind, *names in table_ops(rev):
            if kind == "create" and len(names) == 1:
                made.add(plain(names[0]))
            elif kind in ("rename", "drop") and names and plain(names[0]) not in made:
                outside.add(plain(names[0]))
            if kind == "rename" and len(names) == 2:  # a baseline table renamed is still the baseline's
                (made if plain(names[0]) in made else outside).add(plain(names[1]))
        touched = [op[1] for op in rev.column_ops if len(op) > 2] or [p[0] for p in (*rev.adds_columns,
                                                                                     *rev.drops_columns) if p]
        outside.update(plain(t) for t in touched if plain(t) not in made)
    return sorted(outside)


def unreadable(m: MigrationFacts, tips: list[str]) -> list[str]:
    """Revisions up to ``tips`` whose table operations could not all be read: the verdicts they weaken."""
    chosen = ancestors(m, tips)
    out = [f"{r.revision}: {'; '.join(r.opaque[:2])}" for r in m.revisions if r.revision in chosen and r.opaque]
    out += [p for p in m.problems if "not counted" in p or "operations are unknown" in p]
    return out


@record
class Conflict:
    revision: RevisionFacts
    index: int  # the operation's index in ``ops``
    table: str
    what: str  # why `alembic upgrade` fails there


def conflicts(db: DatabaseFacts, revisions: list[RevisionFacts]) -> list[Conflict]:
    """Replay the revisions' creates, renames and drops over the catalog the job's role sees: a create
    of a table that exists, or a rename/drop of one that does not, stops `alembic upgrade`."""
    path = db.search_path or ["public"]
    present = {(t.schema, t.name) for t in db.tables}

    def find(name: str) -> tuple[str, str] | None:
        schema, table = split_name(name)
        if schema is not None:
            return (schema, table) if (schema, table) in present else None
        return next(((s, table) for s in path if (s, table) in present), None)

    def place(name: str) -> tuple[str, str]:
        schema, table = split_name(name)
        return (schema or path[0], table)

    out: list[Conflict] = []
    for rev in revisions:
        for i, (kind, *names) in enumerate(table_ops(rev)):
            if kind == "create" and len(names) == 1:
                at = place(names[0])
                if at in present and i not in rev.creates_if_absent:
                    out.append(Conflict(rev, i, names[0], f"creates table {names[0]}, which already exists as "
                                                          f"{at[0]}.{at[1]} in {db.current_database}"))
                present.add(at)
            elif kind == "drop" and len(names) == 1:
                found = find(names[0])
                if found is None:
                    out.append(Conflict(rev, i, names[0], f"drops table {names[0]}, which does not exist in "
                                                          f"{db.current_database} (nor will, when it runs)"))
                else:
                    present.discard(found)
            elif kind == "rename" and len(names) == 2:
                found = find(names[0])
                if found is None:
                    out.append(Conflict(rev, i, names[0], f"renames table {names[0]}, which does not exist in "
                                                          f"{db.current_database} (nor will, when it runs)"))
                    continue
                new = (found[0], split_name(names[1])[1])
                if new in present:
                    out.append(Conflict(rev, i, names[1], f"renames {names[0]} to {names[1]}, which already exists"))
                present.discard(found)
                present.add(new)
    return out
