"""Pre-deploy: rows and use of the service database's tables, to weigh what a pending drop destroys.

Runs only with --pre-deploy, after the database source: one more read-only session as the service's
own role, reading statistics views only (see ``database.read_table_usage``).
"""

from __future__ import annotations

from netra_doctor.core.errors import Skipped, SourceError
from netra_doctor.sources.context import Context


def gather(ctx: Context) -> None:
    import psycopg
    from netra_doctor.sources import database

    db = (ctx.facts.databases or {}).get("service")
    if db is None or not db.reached:
        raise Skipped("the service's database was not reached")
    route = database.route_for(ctx, "service")
    if not isinstance(route, database.Route):
        raise Skipped(route.error or "no route to the service's database")
    try:
        with database.connect(route, ctx.target.timeout) as conn:
            ctx.facts.table_usage = database.read_table_usage(conn)
            _lock_settings(ctx, conn)
    except psycopg.Error as exc:
        raise SourceError(f"table use not read: {database.describe(exc)}") from None
    except database.CatalogTooLarge as exc:
        raise SourceError(f"table use not read: {exc}") from None


def _lock_settings(ctx: Context, conn) -> None:
    """The job's role's lock_timeout settings and the types of the columns revisions alter; a refusal is
    recorded, never fatal (the lock weighing then says the role's settings were not read)."""
    import psycopg
    from netra_doctor.core.facts import LockSettings
    from netra_doctor.sources import database

    job = (ctx.facts.databases or {}).get("job")
    target = (ctx.facts.targets or {}).get("job")
    role = job.current_user if job is not None and job.reached else (target.user if target else "") or ""
    columns = [(op.table, op.column) for r in (ctx.facts.migrations.revisions if ctx.facts.migrations else [])
               for op in r.lock_ops if op.kind == "alter_type" and op.column]
    try:
        ctx.facts.lock_settings = database.read_lock_settings(conn, role, columns[:10_000])
    except psycopg.Error as exc:
        ctx.facts.lock_settings = LockSettings(role=role, database=conn.info.dbname, error=database.describe(exc))
    if not role:
        ctx.facts.lock_settings.error = "the job's role is unknown (its target was not resolved)"

