"""What the schema checks may claim about missing tables, and when rewriting alembic_version is safe.

Two rules keep a fix from doing harm on a guess:

- A table an *opaque* revision could have renamed or dropped (one applied after the revision that
  created it, whose effect on tables could not be fully read) is never claimed missing "because
  the database was stamped": the opaque revision may have removed it on purpose.
- ``alembic stamp REV`` is printed only when the evidence is complete: the database records one
  revision; every revision the stamp marks unapplied (and the next upgrade therefore reruns) was
  fully read, creates tables, all of them absent, and does nothing else the catalog could show
  (renames, drops, columns added to tables it does not create). It comes with a ``psql`` guard
  query that must return the expected answer, and says how many revisions the upgrade reruns.
  Otherwise the fix says what to look at instead.
"""

from __future__ import annotations

from netra_doctor.core.causes import OMIT
from netra_doctor.core.facts import DatabaseFacts, MigrationFacts, RevisionFacts
from netra_doctor.migrations.expected import ancestors, split_name, table_ops


class Catalog:
    """The database's tables indexed once, by (schema, name) and by name (linear in the catalog)."""

    def __init__(self, db: DatabaseFacts):
        self.pairs = {(t.schema, t.name) for t in db.tables}
        self.names = {t.name for t in db.tables}

    def present(self, name: str) -> bool:
        """In any schema (``schema.table``: only in that schema)."""
        schema, table = split_name(name)
        return table in self.names if schema is None else (schema, table) in self.pairs


def positions(m: MigrationFacts) -> dict[str, int]:
    return {r.revision: i for i, r in enumerate(m.revisions)}


def opaque_applied(m: MigrationFacts, applied: set[str]) -> list[RevisionFacts]:
    return [r for r in m.revisions if r.opaque and r.revision in applied]


def opaque_after(rev: RevisionFacts, opaque: list[RevisionFacts], pos: dict[str, int]) -> list[RevisionFacts]:
    """The opaque revisions (of ``opaque``) that run after ``rev``: each could have renamed or dropped
    its tables."""
    at = pos.get(rev.revision, -1)
    return [r for r in opaque if pos.get(r.revision, -1) > at]


def opaque_note(r: RevisionFacts) -> str:
    reasons = "; ".join(r.opaque[:2]) + (f"; {len(r.opaque) - 2} more" if len(r.opaque) > 2 else "")
    return f"revision {r.revision} could not be fully read ({reasons})"


def made(r: RevisionFacts) -> list[str]:
    """Tables the revision creates or renames into existence."""
    return [names[-1] for kind, *names in table_ops(r) if kind in ("create", "rename")]


def last_complete(m: MigrationFacts, catalog: Catalog, applied: set[str]) -> str:
    """The last applied revision (base first) before the first after which some standing table is
    absent: one replay, counting absent standing tables as they come and go."""
    standing: dict[str, bool] = {}  # name -> present
    absent = 0
    before = "base"

    def put(name: str) -> None:
        nonlocal absent
        if name in standing:
            return
        standing[name] = catalog.present(name)
        absent += not standing[name]

    def remove(name: str) -> None:
        nonlocal absent
        if name in standing:
            absent -= not standing.pop(name)

    for r in m.revisions:
        if r.revision not in applied:
            continue
        for kind, *names in table_ops(r):
            if kind == "create" and len(names) == 1:
                put(names[0])
            elif kind == "rename" and len(names) == 2:
                remove(names[0])
                put(names[1])
            elif kind == "drop" and len(names) == 1:
                remove(names[0])
        if absent:
            return before
        before = r.revision
    return before


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def guard_query(version_schema: str, recorded: str, tables: list[str]) -> str:
    """A psql query whose answer must be ``recorded | 0`` before stamping."""
    conds = []
    for name in tables:
        schema, table = split_name(name)
        conds.append(f"tablename = {_literal(table)}" if schema is None
                     else f"(schemaname = {_literal(schema)} AND tablename = {_literal(table)})")
    present = f"(SELECT count(*) FROM pg_catalog.pg_tables WHERE {' OR '.join(conds) or 'false'})"
    return (f"SELECT (SELECT string_agg(version_num, ',') FROM {_ident(version_schema)}.alembic_version) AS recorded, "
            f"{present} AS present;  -- stamp only if this returns {recorded} | 0")


def stamp_fix(m: MigrationFacts, catalog: Catalog, versions: list[str], version_schema: str) -> dict[str, str]:
    """Fix variables for ``revision-stamped-without-schema``: the guarded stamp when the evidence is
    complete, else a step that says what to look at (the stamp lines are then left out)."""
    applied = ancestors(m, versions)
    before = last_complete(m, catalog, applied)
    kept = ancestors(m, [before]) if before != "base" else set()
    marked = [r for r in m.revisions if r.revision in applied and r.revision not in kept]
    reasons: list[str] = []
    if len(versions) != 1:
        reasons.append(f"the database records {len(versions)} revisions ({', '.join(versions)})")
    for r in marked:
        tables = made(r)
        if r.opaque:
            reasons.append(opaque_note(r))
        elif not tables:
            reasons.append(f"{r.revision} creates no table, so what rerunning it does to the existing schema "
                           "(columns, indexes, data) is unknown")
        elif any(catalog.present(t) for t in tables):
            reasons.append(f"{r.revision} creates {', '.join(t for t in tables if catalog.present(t))}, which "
                           "exist: rerunning it would fail")
        elif r.drops or r.drops_columns or any(kind == "rename" for kind, *_ in table_ops(r)):
            reasons.append(f"{r.revision} also renames or drops, which rerunning on this schema may not survive")
        elif any(col[0] not in tables for col in r.adds_columns):
            reasons.append(f"{r.revision} adds columns to tables it does not create (the catalog read has no columns)")
    if reasons:
        shown = "; ".join(reasons[:3]) + (f"; {len(reasons) - 3} more" if len(reasons) > 3 else "")
        return {"before": OMIT, "stamp_guard": OMIT, "rerun": OMIT, "recreates": OMIT,
                "look_at": f"do not stamp on this evidence ({shown}); compare the revisions after {before} with the "
                           "database by hand and create what is missing, or restore it from a backup"}
    absent = sorted({t for r in marked for t in made(r)})
    ids = ", ".join(r.revision for r in marked)
    return {
        "before": before, "look_at": OMIT,
        "stamp_guard": guard_query(version_schema, versions[0], absent),
        "rerun": f"the next upgrade reruns {len(marked)} revision(s): {ids}",
        "recreates": f"the upgrade creates {', '.join(absent)} again",
    }
