"""Pending migrations: what `alembic upgrade head` would run next, and whether it destroys data.

A pre-deploy gate: run with ``--fail-on warn`` and a revision that drops a table or a column
stops the pipeline until someone has looked (or silenced it for that revision, with a reason).
"""

from __future__ import annotations

import os

from netra_doctor.core.checking import Finding, check, not_applicable, ok, skip, warn
from netra_doctor.core.facts import Facts, MigrationFacts, RevisionFacts
from netra_doctor.migrations.recorded import label, pending, recorded, service_database, shown_path


def damage(r: RevisionFacts) -> list[str]:
    """What the revision's upgrade() destroys, in words."""
    out = [f"drops table {t}" for t in r.drops]
    out += [f"drops column {pair[0]}.{pair[1]}" for pair in r.drops_columns if len(pair) == 2]
    return out


def _instance_name(facts: Facts) -> str:
    target = (facts.targets or {}).get("service")
    return target.instance.rsplit(":", 1)[-1] if target and target.instance else ""


@check(
    "pending-migrations",
    "Pending migrations drop no tables or columns",
    needs=("migrations", "databases"),
    causes=("destructive-migration",),
    uses=("targets",),
)
def pending_migrations(facts: Facts) -> list[Finding]:
    """Good: none of the revisions between the service's database and head (what the next
    `alembic upgrade head` runs) drops a table or a column."""
    m: MigrationFacts = facts.migrations  # type: ignore[assignment]
    db = service_database(facts)
    if isinstance(db, Finding):
        return [db]
    rec = recorded(db)
    if rec is not None and rec.table.error:
        return [skip(f"{rec.table.schema}.alembic_version could not be read by {db.current_user}: {rec.table.error}")]
    versions = rec.versions if rec else []
    unknown = [v for v in versions if v not in m.by_id()]
    if unknown:
        return [not_applicable(f"recorded revision {', '.join(unknown)} is unknown to the scripts: what is pending "
                               "cannot be told (see the revision check)")]
    todo = pending(m, versions)
    where = f"from {', '.join(versions) or 'base'} to head {', '.join(m.heads) or 'none'}"
    if not todo:
        return [ok("nothing pending: the database is at head", "destructive-migration", obj="pending")]
    harmful = [(r, damage(r)) for r in todo if damage(r)]
    if not harmful:
        return [ok(f"{len(todo)} pending revision(s) {where}, none drops a table or column", "destructive-migration",
                   obj="pending", evidence=[f"pending: {label(r)}" for r in todo])]
    instance = _instance_name(facts)
    return [
        warn(
            f"pending revision {r.revision} ({r.message or os.path.basename(r.path)}) {', '.join(what)}",
            "destructive-migration", obj=r.revision,
            evidence=[f"{len(todo)} revision(s) pending {where}; {label(r)} is one of them",
                      *(f"upgrade() {w}" for w in what)],
            fix_vars={"revisions": shown_path(facts, r), "instance_name": instance},
        )
        for r, what in harmful
    ]
