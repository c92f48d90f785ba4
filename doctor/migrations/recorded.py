"""What the revision, schema and pending checks share: the service's database facts, which
``alembic_version`` the recorded revision comes from, what is pending, and how a revision is named
in evidence. A check module is a leaf: shared helpers live here, not in another check."""

from __future__ import annotations

import os

from netra_doctor.core.checking import Finding, skip
from netra_doctor.core.facts import AlembicVersion, DatabaseFacts, Facts, MigrationFacts, RevisionFacts
from netra_doctor.core.records import record
from netra_doctor.migrations.expected import ancestors


def service_database(facts: Facts) -> DatabaseFacts | Finding:
    """The service's database facts, or the skip that says why they are missing."""
    db = (facts.databases or {}).get("service")
    if db is None:
        return skip("the service's database was not examined (its target could not be resolved)")
    if not db.reached:
        if db.error_kind in ("no-route", "unresolved"):
            return skip(db.error or "the service's database was not reached")
        return skip(f"could not read the service's database ({db.error_kind}): {db.error}")
    return db


@record
class Recorded:
    """The alembic_version the service's database holds, as Alembic would find it."""

    table: AlembicVersion
    on_path: bool  # in a schema on the service role's effective search_path
    others: list[AlembicVersion]  # further alembic_version tables in other schemas

    @property
    def versions(self) -> list[str]:
        return self.table.versions

    def describe(self, db: DatabaseFacts) -> str:
        what = ", ".join(self.versions) or "no row (empty)"
        return f"{db.current_database}.{self.table.schema}.alembic_version records {what}"


def recorded(db: DatabaseFacts) -> Recorded | None:
    """The first alembic_version on the role's search_path (what an unqualified name resolves
    to), else the first one anywhere; None when the database has none."""
    tables = db.alembic_versions
    if not tables:
        return None
    order = {schema: i for i, schema in enumerate(db.search_path)}
    chosen = min(tables, key=lambda a: (order.get(a.schema, len(order)), a.schema))
    return Recorded(chosen, chosen.schema in order, [a for a in tables if a is not chosen])


def pending(m: MigrationFacts, versions: list[str]) -> list[RevisionFacts]:
    """Revisions not yet applied to a database at ``versions``, base first."""
    applied = ancestors(m, versions)
    return [r for r in m.revisions if r.revision not in applied]


def label(r: RevisionFacts) -> str:
    """``id (message, file)`` for evidence lines."""
    extra = ", ".join(x for x in (r.message, os.path.basename(r.path)) if x)
    return f"{r.revision} ({extra})" if extra else r.revision


def shown_path(facts: Facts, r: RevisionFacts) -> str:
    """The revision file as the user knows it: under the configured alembic.ini's folder."""
    m = facts.migrations
    if not r.path or m is None:
        return r.revision
    rel = os.path.relpath(r.path, os.path.dirname(m.alembic_ini) or ".")
    if rel.startswith(".."):
        return r.path
    return os.path.normpath(os.path.join(os.path.dirname(facts.target.alembic_ini), rel))


def job_elsewhere(facts: Facts, db: DatabaseFacts) -> list[str]:
    """Evidence when the job's role reaches a different database from the service's."""
    job = (facts.databases or {}).get("job")
    if job is None or not job.reached or (job.target, job.current_database) == (db.target, db.current_database):
        return []
    found = "; ".join(
        f"{a.schema}.alembic_version records {', '.join(a.versions) or 'nothing'}" for a in job.alembic_versions
    ) or "no alembic_version table"
    return [f"the job's role reaches another database, {job.current_database} on {job.target}, where {found}"]
