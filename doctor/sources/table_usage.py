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
    except psycopg.Error as exc:
        raise SourceError(f"table use not read: {database.describe(exc)}") from None
    except database.CatalogTooLarge as exc:
        raise SourceError(f"table use not read: {exc}") from None
