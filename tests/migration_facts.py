"""Facts for the revision, schema and pending checks: the real Alembic projects' migrations
(read by the source) with hand-built database facts, diagnosed the way `replay` does."""

from __future__ import annotations

import copy
from functools import cache

from netra_doctor.core.diagnosis import Diagnosis
from netra_doctor.core.facts import (
    AlembicVersion,
    DatabaseFacts,
    DbTarget,
    Facts,
    MigrationFacts,
    TableInfo,
    TargetInfo,
)
from netra_doctor.engine import replay
from netra_doctor.sources.migrations import read_migrations

from tests.helpers import DATA, INSTANCE

TARGET = TargetInfo(
    environment="staging", project="netra-staging", region="us-central1", service="netra-backend-staging",
    job="netra-migrations-staging", alembic_ini="netra_backend/alembic.ini",
)


@cache
def _read(project: str) -> MigrationFacts:
    return read_migrations(DATA / "alembic" / project / "alembic.ini")


def scripts(project: str) -> MigrationFacts:
    """A fresh copy (checks must not mutate facts, but a test must not depend on that)."""
    return copy.deepcopy(_read(project))


def database(tables: list[str] = (), versions: list[str] | None = None, *, version_schema: str = "public",
             search_path: tuple[str, ...] = ("public",), workload: str = "service", **kw) -> DatabaseFacts:
    """A reached database: ``tables`` as "name" (public) or "schema.name"; ``versions`` None = no
    alembic_version table at all."""
    infos = [TableInfo(*(t.split(".", 1) if "." in t else ("public", t)), owner="netra_app") for t in tables]
    versions_tables = [] if versions is None else [AlembicVersion(version_schema, list(versions))]
    base = dict(workload=workload, target=f"{INSTANCE}/netra_staging", via="proxy 127.0.0.1:5432", reached=True,
                current_user="netra_app", current_database="netra_staging", search_path=list(search_path),
                search_path_setting=", ".join(search_path), schemas=sorted({"public", *(i.schema for i in infos)}),
                tables=infos, alembic_versions=versions_tables)
    return DatabaseFacts(**{**base, **kw})


def facts(project: str, service: DatabaseFacts | None, job: DatabaseFacts | None = None) -> Facts:
    dbs = {k: v for k, v in (("service", service), ("job", job)) if v is not None}
    return Facts(
        target=TARGET, migrations=scripts(project), databases=dbs,
        targets={"service": DbTarget("service", instance=INSTANCE, database="netra_staging", user="netra_app")},
    )


def diagnose(f: Facts, *checks: str) -> Diagnosis:
    return replay(f, only=checks)


def cause_ids(d: Diagnosis) -> list[str]:
    return [c.id for c in d.causes]


def ruled_out_ids(d: Diagnosis) -> list[str]:
    return [r.id for r in d.ruled_out]


def status(d: Diagnosis, check: str) -> str:
    return next(c.status for c in d.checks if c.id == check)


def findings(d: Diagnosis, check: str):
    return next(c.findings for c in d.checks if c.id == check)
