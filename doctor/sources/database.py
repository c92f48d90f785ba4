"""Database: connect as each workload's own role, read-only, and read what that role sees.

Each workload's resolved target (``facts.targets``) is reached through the Cloud SQL Auth
Proxy the user runs locally (``--proxy INSTANCE=HOST:PORT``), straight for a plain host,
or through ``--dsn`` (which overrides resolution for both workloads). A failed connection
is a fact too (``DatabaseFacts.reached = False`` with an ``error_kind``), never a crash.

Every session is read-only twice over: ``default_transaction_read_only=on`` is set at
connect time and the catalog is read inside ``BEGIN READ ONLY``. ``statement_timeout``
and ``connect_timeout`` bound every call by ``ctx.target.timeout``. Identifiers that come
from the database (schema names) are only ever quoted through ``psycopg.sql``.

psycopg is imported inside the functions: `netra-doctor --help` must not pay for it.
"""

from __future__ import annotations

import copy
import math
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from itertools import starmap
from typing import TYPE_CHECKING

from netra_doctor.cloudrun.targets import DsnError, parse_dsn
from netra_doctor.core.errors import BadInput, Skipped, SourceError
from netra_doctor.core.facts import (
    AlembicVersion,
    DatabaseFacts,
    DbTarget,
    DefaultPrivilege,
    LockSettings,
    TableInfo,
    TableUsage,
)
from netra_doctor.core.records import record
from netra_doctor.safety.secrecy import fingerprint, remember, scrub
from netra_doctor.sources.context import Context

if TYPE_CHECKING:
    import psycopg

KINDS = ("service", "job")
MAX_OTHER_DATABASES = 20  # other databases of the server read for "present only elsewhere"
# per database: a bound on memory, far above real catalogs. A read that meets it is incomplete, and
# said to be: the checks that judge missing tables from it skip rather than advise a fix from part of it
MAX_TABLES = 200_000
LOCK_TIMEOUT_MS = 3000
SKIP_DATABASES = frozenset({"cloudsqladmin"})  # Cloud SQL's own; no user can connect to it
# libpq parameters a DATABASE_URL may carry that matter for reaching the server as the service does
DIRECT_PARAMS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options", "channel_binding", "gssencmode")

SYSTEM_SCHEMAS_SQL = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'"
)
# relkinds a service can query as a table: table, partitioned table, view, materialized view, foreign table.
# One statement gives each table's owner, USAGE on its schema, SELECT on it, and whether
# information_schema.tables shows it, each as PostgreSQL itself decides:
# - SELECT: a table with no ACL (relacl NULL, the owner's default) is readable by whoever has the
#   owner's privileges (pg_has_role USAGE; superusers too) or pg_read_all_data (PostgreSQL 14+), which
#   is what pg_class_aclmask does for it; only a table with an ACL asks has_table_privilege. On a fresh
#   connection that function's catalog-cache misses cost 15 ms per 10,000 tables.
# - shown: information_schema.tables' own rule (relkind r/p/v/f, not another session's temp schema,
#   and the owner's privileges or any table or column privilege), asked only when SELECT is not held.
#   Querying the view cost 12 ms more per 10,000 tables.
# tests/test_catalog_privileges.py compares both with has_table_privilege and the view, role by role.
# The columns are TableInfo's fields in order, never NULL (a table dropped meanwhile answers NULL).
TABLES_SQL = f"""
WITH reader AS (
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                   WHERE rolname = 'pg_read_all_data' AND pg_catalog.pg_has_role(oid, 'USAGE')) AS reads_all
)
SELECT nspname, relname, owner,
       coalesce(relkind IN ('r', 'p', 'v', 'f') AND NOT pg_catalog.pg_is_other_temp_schema(nsp)
                AND CASE WHEN can_select THEN true
                         ELSE pg_catalog.pg_has_role(relowner, 'USAGE')
                              OR pg_catalog.has_table_privilege(
                                  oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                              OR pg_catalog.has_any_column_privilege(oid, 'SELECT, INSERT, UPDATE, REFERENCES')
                    END, false),
       coalesce(can_select, false), coalesce(usage, false)
FROM (
    SELECT n.nspname, c.relname, coalesce(r.rolname, '') AS owner, c.oid, n.oid AS nsp, c.relkind, c.relowner,
           pg_catalog.has_schema_privilege(n.oid, 'USAGE') AS usage,
           CASE WHEN c.relacl IS NULL
                THEN pg_catalog.pg_has_role(c.relowner, 'USAGE') OR (SELECT reads_all FROM reader)
                ELSE pg_catalog.has_table_privilege(c.oid, 'SELECT') END AS can_select
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {SYSTEM_SCHEMAS_SQL}
    OFFSET 0
) AS t
ORDER BY nspname, relname
"""
OTHER_TABLES_SQL = f"""
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {SYSTEM_SCHEMAS_SQL}
ORDER BY n.nspname, c.relname
"""


_proxies_lock = threading.Lock()


@record
class Route:
    """How to reach one database as one role. Holds the password in memory only."""

    host: str
    port: int | None
    dbname: str
    user: str
    password: str | None = field(repr=False)
    via: str  # "proxy 127.0.0.1:5432" | "dsn" | "direct"
    where: str  # DbTarget.where(), for the report
    params: dict[str, str] = field(default_factory=dict)  # extra libpq parameters (sslmode, options)

    def key(self) -> tuple:
        """Two routes with the same key reach the same database as the same role."""
        pw = fingerprint(self.password) if self.password is not None else None
        return (self.host, self.port, self.dbname, self.user, pw, tuple(sorted(self.params.items())))


# --- routing -------------------------------------------------------------------------


def _failed(kind: str, where: str, via: str, error_kind: str, error: str) -> DatabaseFacts:
    # error is redacted with the rest of the facts when gathering ends, names kept whole (redact_facts)
    return DatabaseFacts(workload=kind, target=where, via=via, reached=False, error_kind=error_kind, error=error)


def _dsn_route(kind: str, dsn: str) -> Route | DatabaseFacts:
    try:
        fields = parse_dsn(dsn)
    except DsnError as exc:
        return _failed(kind, "--dsn", "dsn", "unresolved", f"--dsn: {exc}")
    where = DbTarget(workload=kind, host=fields["host"], port=fields["port"], database=fields["database"]).where()
    if not fields["host"] or not fields["database"] or not fields["user"]:
        return _failed(kind, where, "dsn", "unresolved", "--dsn must name a host, a database and a user")
    # a password typed into --dsn shows in `ps` and shell history: libpq's PGPASSWORD may carry it instead
    password = fields["password"] if fields["password"] is not None else os.environ.get("PGPASSWORD") or None
    if password:
        remember(password)
    return Route(
        str(fields["host"]), fields["port"], str(fields["database"]), str(fields["user"]),  # type: ignore[arg-type]
        password, "dsn", where, _libpq_params(fields["options"]),  # type: ignore[arg-type]
    )


def _libpq_params(options: dict[str, str]) -> dict[str, str]:
    """The URL's query parameters that libpq understands (asyncpg's ``ssl=`` becomes sslmode)."""
    params = {k: v for k, v in options.items() if k in DIRECT_PARAMS}
    if "ssl" in options and "sslmode" not in params and options["ssl"] in ("disable", "allow", "prefer", "require"):
        params["sslmode"] = options["ssl"]
    return params


def route_for(ctx: Context, kind: str) -> Route | DatabaseFacts:
    """The route to one workload's database, or the fact that explains why there is none."""
    if ctx.target.dsn:
        return _dsn_route(kind, ctx.target.dsn)
    return route_to(ctx, kind, (ctx.facts.targets or {}).get(kind), ctx.passwords.get(kind))


def route_to(ctx: Context, kind: str, target: DbTarget | None, password: str | None) -> Route | DatabaseFacts:
    """The route to one resolved target as its own role (a reader workload's, say)."""
    if target is None:
        return _failed(kind, "?", "", "unresolved", f"the {kind}'s database target is unknown")
    where = target.where()
    problems = list(target.problems)
    # a setting whose secret could not be resolved is already named in the problems
    if not target.database and not target.origin.keys() & {"database", "url"}:
        problems.append("no database name")
    if not target.user and not target.origin.keys() & {"user", "url"}:
        problems.append("no database user")
    if problems:
        return _failed(kind, where, "", "unresolved", f"{kind} target not resolved: " + "; ".join(problems))
    if target.instance:
        address = ctx.target.proxies.get(target.instance)
        via = f"proxy {address}"
        if not address:
            address, why = _started_proxy(ctx, target.instance)
            via = f"cloud-sql-proxy started by the doctor on {address}"
        if not address:
            return _failed(kind, where, "", "no-route",
                           f"no route to /cloudsql/{target.instance}: pass --proxy {target.instance}=127.0.0.1:5432"
                           f" ({why})")
        host, _, port = address.rpartition(":")
        # the proxy speaks plain TCP locally and does TLS itself: keep only the session options
        params = {k: v for k, v in _libpq_params(target.options).items() if k == "options"}
        return Route(host, int(port), target.database, target.user, password, via, where, params)
    return Route(
        str(target.host), target.port, target.database, target.user, password, "direct", where,
        _libpq_params(target.options),
    )


def _started_proxy(ctx: Context, instance: str) -> tuple[str | None, str]:
    """A Cloud SQL Auth Proxy the doctor starts for ``instance`` (sources/sqlproxy.py): its address,
    or None and why not (no binary: how to install it; a failed start: what it said)."""
    from netra_doctor.sources import sqlproxy

    if sqlproxy.available() is None:
        return None, sqlproxy.INSTALL
    with _proxies_lock:
        proxies = ctx.shared.get("sqlproxy")
        if proxies is None:
            proxies = ctx.shared["sqlproxy"] = sqlproxy.Proxies(
                timeout=ctx.target.timeout, private_ip=ctx.target.private_ip, iam_authn=ctx.target.iam_authn)
    try:
        return proxies.address(instance), ""
    except SourceError as exc:
        return None, str(exc)


# --- connecting ----------------------------------------------------------------------


def session_options(route: Route, timeout: float) -> str:
    """libpq ``options``: the target's own first (its search_path, say), read-only last so it wins."""
    ms = max(1, int(timeout * 1000))
    # a lock held for seconds means a migration is running: say so rather than wait it out
    lock_ms = max(1, min(ms // 2, LOCK_TIMEOUT_MS))  # below statement_timeout, so a lock reads as a lock
    ours = f"-c default_transaction_read_only=on -c statement_timeout={ms} -c lock_timeout={lock_ms}"
    own = route.params.get("options", "").strip()
    return f"{own} {ours}" if own else ours


# A path that can never exist (below a file, not a folder): libpq skips a missing password file without a
# word, where /dev/null made it warn `password file "/dev/null" is not a plain file` on every run, and no
# one can create a file there to hand libpq a password.
NO_PASSFILE = os.path.join(os.devnull, "netra-doctor-no-pgpass")


def connect(route: Route, timeout: float, dbname: str | None = None) -> psycopg.Connection:
    """A read-only session as the route's role: the only way this source opens a connection."""
    import psycopg

    params = {k: v for k, v in route.params.items() if k != "options"}
    conn = psycopg.connect(
        host=route.host, port=route.port, dbname=dbname or route.dbname, user=route.user,
        password=route.password or "",
        passfile=NO_PASSFILE,  # only the workload's own password: never the user's ~/.pgpass
        connect_timeout=max(2, math.ceil(timeout)),
        options=session_options(route, timeout),
        application_name="netra-doctor (read-only)",
        autocommit=True,
        **params,
    )
    conn.read_only = True  # every conn.transaction() is BEGIN READ ONLY
    return conn


_AUTH = re.compile(
    r'password authentication failed|no password supplied|no pg_hba\.conf entry|role "[^"]*" does not exist'
)
_MISSING_DB = re.compile(r'database "[^"]*" does not exist')
_TIMEOUT = re.compile(r"timeout expired|timed out|canceling statement due to (statement|lock) timeout")
_UNREACHABLE = re.compile(
    r"connection refused|no such file or directory|could not translate host name|name or service not known"
    r"|network is unreachable|no route to host|server closed the connection unexpectedly|connection reset"
    r"|could not connect"
)


def error_kind(exc: BaseException) -> str:
    """auth | missing-database | unreachable | timeout | other, from libpq's message."""
    text = str(exc).lower()
    for kind, pattern in (("missing-database", _MISSING_DB), ("auth", _AUTH), ("timeout", _TIMEOUT),
                          ("unreachable", _UNREACHABLE)):
        if pattern.search(text):
            return kind
    return "other"


def describe(exc: BaseException) -> str:
    """One scrubbed line: psycopg's message can echo connection parameters."""
    text = " ".join(str(exc).split())
    return scrub(text)[:500]


# --- reading the catalog -------------------------------------------------------------


def _bounded(query: str) -> str:
    """One row past the bound, so a read that meets it is known to be partial."""
    return f"{query.rstrip()}\nLIMIT {int(MAX_TABLES) + 1}"


class CatalogTooLarge(Exception):
    """More tables than the doctor reads: the read would be partial, so it is none."""

    def __init__(self, database: str):
        super().__init__(f"{database} holds more than {MAX_TABLES} tables, more than the doctor reads; checks "
                         "that need every table (tables, revision, schema) cannot judge from part of them")


def read_catalog(conn: psycopg.Connection, facts: DatabaseFacts) -> list[str]:
    """Fill ``facts`` from one READ ONLY transaction; return the other databases worth reading."""
    from psycopg import errors, sql

    with conn.transaction(), conn.cursor() as cur:
        user, db, schemas, setting, version = cur.execute(
            "SELECT current_user, current_database(), current_schemas(false), "
            "current_setting('search_path'), current_setting('server_version')"
        ).fetchone()
        facts.current_user, facts.current_database, facts.server_version = user, db, version
        facts.search_path, facts.search_path_setting = list(schemas), setting
        rows = cur.execute(
            "SELECT datname, datallowconn FROM pg_catalog.pg_database WHERE NOT datistemplate ORDER BY datname"
        ).fetchall()
        facts.databases = [name for name, _ in rows]
        others = [name for name, allow in rows if allow and name != db and name not in SKIP_DATABASES]
        facts.schemas = [r[0] for r in cur.execute(
            f"SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE {SYSTEM_SCHEMAS_SQL} ORDER BY 1"
        )]
        # information_schema hides what the role has no privilege on: that difference is a fact
        rows = cur.execute(_bounded(TABLES_SQL)).fetchall()
        if len(rows) > MAX_TABLES:
            raise CatalogTooLarge(db)
        facts.tables = list(starmap(TableInfo, rows))
        for table in facts.tables:
            if table.name != "alembic_version":
                continue
            version = AlembicVersion(table.schema)
            query = sql.SQL("SELECT version_num FROM {}.{} ORDER BY 1").format(
                sql.Identifier(table.schema), sql.Identifier("alembic_version")
            )
            try:
                with conn.transaction():  # a savepoint: a refused read leaves the rest intact
                    version.versions = [str(r[0]) for r in cur.execute(query)]
            except (errors.InsufficientPrivilege, errors.UndefinedColumn) as exc:
                version.error = describe(exc)
            except (errors.LockNotAvailable, errors.QueryCanceled):
                version.error = "locked by another session (a migration may be running now): not read"
            facts.alembic_versions.append(version)
    return others


DEFAULT_ACL_SQL = """
SELECT pg_catalog.pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype::text,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END, a.privilege_type
FROM pg_catalog.pg_default_acl d
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a
ORDER BY 1, 2, 3, 4, 5
"""
MEMBER_OF_SQL = """
SELECT r.rolname FROM pg_catalog.pg_roles r
WHERE r.rolname NOT LIKE 'pg\\_%' AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE') ORDER BY 1
"""


def read_default_privileges(conn: psycopg.Connection, facts: DatabaseFacts) -> None:
    """pg_default_acl (readable by every role) and the roles whose rights the connecting role has: whether
    tables a migration role creates later will be usable by the service's role. A refusal leaves them None."""
    from psycopg import errors

    try:
        with conn.transaction(), conn.cursor() as cur:
            grouped: dict[tuple[str, str, str, str], list[str]] = {}
            for owner, schema, objtype, grantee, privilege in cur.execute(DEFAULT_ACL_SQL):
                grouped.setdefault((owner, schema, objtype, grantee), []).append(privilege)
            members = [r[0] for r in cur.execute(MEMBER_OF_SQL)]
            (superuser,) = cur.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"
                                       ).fetchone() or (False,)
    except (errors.InsufficientPrivilege, errors.QueryCanceled, errors.UndefinedFunction):
        return
    facts.default_privileges = [DefaultPrivilege(*key, privileges=sorted(set(p))) for key, p in grouped.items()]
    facts.member_of, facts.superuser = members, bool(superuser)


def _tables_of(route: Route, timeout: float, dbname: str, deadline: float) -> list[str] | str:
    """Tables of another database as "schema.table", or why they could not be listed."""
    import psycopg

    if time.monotonic() > deadline:
        return "not read: the doctor's time for other databases ran out"
    try:
        with connect(route, timeout, dbname) as conn, conn.transaction():
            rows = conn.execute(_bounded(OTHER_TABLES_SQL)).fetchall()
        if len(rows) > MAX_TABLES:
            return f"not read: more than {MAX_TABLES} tables, more than the doctor reads"
        return [f"{schema}.{name}" for schema, name in rows]
    except psycopg.Error as exc:
        return describe(exc)


def read_other_databases(route: Route, timeout: float, names: list[str], facts: DatabaseFacts) -> None:
    """The server's other databases, as the same role: tolerated when one cannot be read."""
    chosen, skipped = names[:MAX_OTHER_DATABASES], names[MAX_OTHER_DATABASES:]
    for name in skipped:
        facts.other_database_errors[name] = f"not read (the doctor reads at most {MAX_OTHER_DATABASES} databases)"
    if not chosen:
        return
    deadline = time.monotonic() + 2 * timeout  # all of them together, not per database
    with ThreadPoolExecutor(max_workers=min(4, len(chosen)), thread_name_prefix="db-other") as pool:
        results = pool.map(lambda d: _tables_of(route, timeout, d, deadline), chosen)
        for name, result in zip(chosen, results, strict=True):
            if isinstance(result, str):
                facts.other_database_errors[name] = result
            else:
                facts.other_databases[name] = result


def probe(route: Route, kind: str, timeout: float) -> DatabaseFacts:
    """Connect as the route's role and read what it sees; a failure becomes the fact."""
    import psycopg

    facts = DatabaseFacts(workload=kind, target=route.where, via=route.via)
    try:
        with connect(route, timeout) as conn:
            others = read_catalog(conn, facts)
            read_default_privileges(conn, facts)
    except psycopg.Error as exc:
        why = error_kind(exc)
        if route.via == "dsn" and why in ("auth", "missing-database"):
            raise _typed_wrong(route, why, exc) from None
        if route.via.startswith("proxy ") and why in ("unreachable", "timeout"):
            address = route.via.removeprefix("proxy ")
            return _failed(kind, route.where, route.via, why, f"is the Cloud SQL Auth Proxy running on {address}? "
                           f"Nothing answered there for {route.where.split('/', 1)[0]} ({describe(exc)})")
        return _failed(kind, route.where, route.via, why, describe(exc))
    except CatalogTooLarge as exc:
        return _failed(kind, route.where, route.via, "incomplete", str(exc))
    facts.reached = True
    read_other_databases(route, timeout, others, facts)
    return facts


def _typed_wrong(route: Route, why: str, exc: BaseException) -> BadInput:
    """--dsn's credentials or database name are the user's own: a failed login with them is a typo to fix
    here, never a cause whose fix resets the environment's password or creates a database."""
    where = f"user {route.user}, host {route.host}:{route.port or 5432}, database {route.dbname}"
    said = describe(exc)
    said = said[said.find("FATAL:") + 6:].strip() if "FATAL:" in said else said  # the server's own words
    if why == "auth":
        source = "PGPASSWORD" if route.password and route.password == os.environ.get("PGPASSWORD") else "--dsn"
        return BadInput(f"--dsn: the login failed ({where}): check the user and password you gave ({source}); "
                        f"nothing about the environment was judged ({said})")
    return BadInput(f"--dsn: no such database ({where}): check the database name you gave; nothing about the "
                    f"environment was judged ({said})")


# --- the source ----------------------------------------------------------------------


def _kinds(ctx: Context) -> list[str]:
    if ctx.facts.targets:
        return [k for k in KINDS if k in ctx.facts.targets]
    if ctx.target.dsn:
        return list(KINDS)
    return []


def gather(ctx: Context) -> None:
    kinds = _kinds(ctx)
    if not kinds:
        why = "no workload to connect for"
        if ctx.facts.targets is None:
            status = ctx.finished.get("secrets")
            why = f"secrets source: {status.error}" if status and status.error else "secrets not resolved"
        raise Skipped(f"no database targets ({why}); --dsn URL connects without them")
    routes = {kind: route_for(ctx, kind) for kind in kinds}
    unique: dict[tuple, Route] = {}
    for r in routes.values():
        if isinstance(r, Route):
            unique.setdefault(r.key(), r)  # job and service on the same target: connect once
    timeout = ctx.target.timeout
    with ThreadPoolExecutor(max_workers=max(1, len(unique)), thread_name_prefix="db") as pool:
        probed = dict(zip(unique, pool.map(lambda r: probe(r, "", timeout), unique.values()), strict=True))
    results: dict[str, DatabaseFacts] = {}
    for kind, r in routes.items():
        if isinstance(r, DatabaseFacts):
            results[kind] = r
        else:
            results[kind] = _own_copy(probed[r.key()], kind)
    ctx.facts.databases = results
    _report(results)


def _own_copy(facts: DatabaseFacts, kind: str) -> DatabaseFacts:
    """The facts for one workload: its own lists and maps, the table records shared (nothing changes
    them; a deep copy of 10,000 of them cost most of a second)."""
    out = copy.copy(facts)
    out.workload = kind
    for name, value in vars(out).items():
        if isinstance(value, (list, dict)):
            setattr(out, name, copy.copy(value))
    return out


def _report(results: dict[str, DatabaseFacts]) -> None:
    """The source status names each workload that was not reached, and why."""
    failed = {k: f for k, f in results.items() if not f.reached}
    if not failed:
        return
    text = "; ".join(f"{k}: {f.error_kind}: {f.error}" for k, f in failed.items())
    if all(f.error_kind in ("no-route", "unresolved") for f in failed.values()):
        raise Skipped(text)
    raise SourceError(text)


# --- pre-deploy: what a drop would destroy ---------------------------------------------------------

USAGE_SQL = f"""
SELECT n.nspname, c.relname, c.reltuples::float8,
       coalesce(s.seq_scan, 0), coalesce(s.idx_scan, 0), coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0),
       coalesce(s.n_tup_del, 0), coalesce(s.n_live_tup, 0),
       coalesce((SELECT d.stats_reset::text FROM pg_catalog.pg_stat_database d
                 WHERE d.datname = current_database()), ''),
       (SELECT count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid),
       pg_catalog.pg_relation_size(c.oid), c.relpages
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND {SYSTEM_SCHEMAS_SQL}
ORDER BY n.nspname, c.relname
"""


def read_table_usage(conn: psycopg.Connection) -> list[TableUsage]:
    """Estimated rows (pg_class.reltuples) and use since statistics were reset (pg_stat_user_tables:
    scans, inserts, updates, deletes) of every table, in one READ ONLY transaction. Reads statistics
    only: no user table is scanned."""
    with conn.transaction(), conn.cursor() as cur:
        rows = cur.execute(_bounded(USAGE_SQL)).fetchall()
    if len(rows) > MAX_TABLES:  # complete or none, as the catalog: a drop past a cut would look harmless
        raise CatalogTooLarge(conn.info.dbname)
    return [TableUsage(schema, name, float(n), int(seq), int(idx), int(ins), int(upd), int(dele), int(live),
                       str(reset), int(indexes), int(size), int(pages))
            for schema, name, n, seq, idx, ins, upd, dele, live, reset, indexes, size, pages in rows]


# the settings a role's sessions start with in this database, most specific first (ALTER ROLE r IN DATABASE d
# SET, ALTER ROLE r SET, ALTER DATABASE d SET, ALTER ROLE ALL SET): pg_db_role_setting is readable by every role
ROLE_SETTINGS_SQL = """
SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), s.setconfig
FROM pg_catalog.pg_db_role_setting s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
WHERE (s.setrole = 0 OR r.rolname = %s) AND (s.setdatabase = 0 OR d.datname = current_database())
ORDER BY (s.setrole <> 0 AND s.setdatabase <> 0) DESC, (s.setrole <> 0) DESC, (s.setdatabase <> 0) DESC
"""
COLUMN_TYPES_SQL = f"""
SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND {SYSTEM_SCHEMAS_SQL.replace("%", "%%")}
  AND c.relname = ANY(%s) AND a.attname = ANY(%s)
ORDER BY 1, 2, 3
"""


def read_lock_settings(conn: psycopg.Connection, role: str, columns: list[tuple[str, str]]) -> LockSettings:
    """The lock_timeout sessions of ``role`` start with here (role and database settings), and the current
    types of ``columns`` ([table, column] a pending revision alters), in one READ ONLY transaction. The
    server-wide setting (postgresql.conf, a Cloud SQL flag) is not in the catalog and is not counted."""
    with conn.transaction(), conn.cursor() as cur:
        database = cur.execute("SELECT current_database()").fetchone()[0]
        out = LockSettings(role=role, database=database)
        for who, where, config in cur.execute(ROLE_SETTINGS_SQL, (role,)):
            for item in config or ():
                name, _, value = item.partition("=")
                if name.strip().lower() == "lock_timeout" and value.strip() not in ("0", "0s", "0ms"):
                    scope = " ".join(p for p in (f"role {who}" if who else "every role",
                                                 f"in database {where}" if where else "") if p)
                    out.timeouts.append(f"{value.strip()} (ALTER ROLE/DATABASE setting: {scope})")
        if columns:
            tables = sorted({t.rpartition(".")[2] for t, _ in columns})
            names = sorted({c for _, c in columns})
            for schema, table, column, shown in cur.execute(COLUMN_TYPES_SQL, (tables, names)):
                out.column_types[f"{schema}.{table}.{column}"] = shown
    return out
