"""One plain, serialisable snapshot of everything the sources gathered.

Checks read only this, so every check is testable with hand-built Facts and a saved
snapshot replays the whole diagnosis with no network. Secret values never enter it:
the sources reduce them to fingerprints (see ``netra_doctor.safety.secrecy``) before storing.

A field that is ``None`` means "not gathered" (source missing or failed), which the
engine turns into a ``skip`` for checks that need it; an empty list means "gathered,
and there were none".

Unlike the other modules, no ``from __future__ import annotations``: the field types are objects made
once at import, so neither dataclasses nor the snapshot reader (``typing.get_type_hints``) parses them as
text at every start (2 ms of a replay). A type named before its class is written as a string.
"""

import dataclasses
import functools
import json
import math
import operator
import types
import typing
from dataclasses import field
from typing import Any

from netra_doctor.core.records import record

SNAPSHOT_FORMAT = 1


@record
class SecretRef:
    """An env var whose value comes from Secret Manager."""

    secret: str  # short name, e.g. postgres-password-staging
    version: str = "latest"  # "latest" or a number, as written in the workload
    project: str | None = None  # when the ref names another project (projects/P/secrets/S)

    @property
    def key(self) -> str:
        return f"{self.secret}@{self.version}"


@record
class EnvVar:
    name: str
    value: str | None = None  # literal value (None when it comes from a secret)
    secret: SecretRef | None = None


@record
class VolumeMount:
    name: str
    mount_path: str


@record
class Container:
    name: str = ""
    image: str = ""
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    working_dir: str = ""
    ports: list[int] = field(default_factory=list)  # container ports; the service's ingress container has one


@record
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown" (v1 spelling; v2 states are mapped onto it)
    reason: str = ""
    message: str = ""
    last_transition: str = ""  # RFC 3339: when the status last changed (a Ready=False: when it failed)


@record
class Workload:
    """A Cloud Run service or job, normalised from the v1 (gcloud YAML) or v2 (API) form."""

    kind: str  # "service" | "job"
    name: str
    project: str = ""  # id or number, as the source gave it
    region: str = ""
    containers: list[Container] = field(default_factory=list)
    cloudsql_instances: list[str] = field(default_factory=list)
    cloudsql_mounts: list[str] = field(default_factory=list)  # mount paths of cloud_sql volumes (v2)
    service_account: str = ""
    conditions: list[Condition] = field(default_factory=list)
    latest_revision: str = ""  # service: latest ready revision; job: latest created execution
    source_format: str = ""  # "v1-yaml" | "v2-json" | "v2-api"
    # service: the latest created revision, the one its Ready condition reports on (newer than
    # latest_revision while a deploy is failing)
    latest_created: str = ""
    # Cloud SQL instances a Cloud SQL Auth Proxy serves to this workload: a sidecar container, or
    # `cloud-sql-proxy` started by the job's own command ([instance, "tcp:PORT" | "unix:DIR"])
    proxies: list[list[str]] = field(default_factory=list)

    @property
    def main(self) -> Container:
        """The application's container (see app_container); the others are sidecars."""
        return app_container(self.containers)

    @property
    def sidecars(self) -> list[Container]:
        main = self.main
        return [c for c in self.containers if c is not main]

    @property
    def image(self) -> str:
        return self.main.image

    def env(self) -> dict[str, EnvVar]:
        """Env vars of the main container by name (the last definition wins, as in Kubernetes)."""
        return {e.name: e for e in self.main.env}


PROXY_IMAGES = ("cloud-sql-proxy", "cloudsql-proxy", "cloud_sql_proxy", "gce-proxy")


def is_proxy_image(image: str) -> bool:
    """gcr.io/cloud-sql-connectors/cloud-sql-proxy, gcr.io/cloudsql-docker/gce-proxy (v1) and mirrors."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return name in PROXY_IMAGES


def app_container(containers: list[Container]) -> Container:
    """The application's container: the one that serves the port (the ingress container), else the
    first that is no Cloud SQL Auth Proxy (a service's, a job's, an execution's or a revision's)."""
    if not containers:
        return Container()
    serving = [c for c in containers if c.ports]
    if serving:
        return serving[0]
    apps = [c for c in containers if not is_proxy_image(c.image)]
    return (apps or containers)[0]


@record
class Execution:
    name: str
    status: str  # "succeeded" | "failed" | "running" | "cancelled" | "unknown"
    started: str = ""  # RFC 3339
    completed: str = ""
    image: str = ""
    message: str = ""
    job: str = ""  # the job it is a run of ("": not said by the export)


@record
class ServingRevision:
    name: str
    image: str = ""
    created: str = ""
    ready: str = ""  # condition status "True" | "False" | "Unknown" | ""
    message: str = ""
    # the revision the service's Ready condition is about (the latest created), and when it was
    # created (live: GetRevision; unknown offline); equal to name/created when the newest is serving
    latest_created: str = ""
    latest_created_at: str = ""
    ready_since: str = ""  # the Ready condition's last transition (a Ready=False: when it failed)
    images: list[str] = field(default_factory=list)  # every container's image, the app's first


@record
class SecretValue:
    """What a secret ref resolved to, never the value itself."""

    ref: SecretRef
    fingerprint: str | None = None
    resolved_version: str | None = None  # the number "latest" pointed at, when known
    error: str | None = None  # why it could not be resolved


@record
class DbTarget:
    """The database a workload will reach, resolved from its env and secrets."""

    workload: str  # "service" | "job"
    instance: str | None = None  # P:R:I, from a /cloudsql/P:R:I host
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    password_fingerprint: str | None = None
    origin: dict[str, str] = field(default_factory=dict)  # field -> "env NAME" / "secret S@V"
    problems: list[str] = field(default_factory=list)  # e.g. "POSTGRES_HOST unresolved"

    def where(self) -> str:
        """Human form without any secret: instance or host:port, then /database."""
        place = self.instance or (f"{self.host}:{self.port}" if self.port else (self.host or "?"))
        return f"{place}/{self.database or '?'}"

    def identity(self) -> tuple:
        """What makes two targets the same database as the same user."""
        return (self.instance or self.host, self.port if not self.instance else None, self.database, self.user)


@record
class TableInfo:
    schema: str
    name: str
    owner: str = ""
    in_information_schema: bool = True  # does information_schema.tables show it to this role
    can_select: bool = True
    schema_usage: bool = True


@record
class AlembicVersion:
    schema: str
    versions: list[str] = field(default_factory=list)
    error: str | None = None  # the table exists but this role could not read it (versions unknown)


@record
class DatabaseFacts:
    """What one workload's role sees when it connects to its resolved target."""

    workload: str  # "service" | "job"
    target: str = ""  # DbTarget.where(), for the report
    via: str = ""  # "proxy 127.0.0.1:5432" | "dsn" | "direct"
    reached: bool = False
    error: str | None = None  # scrubbed message
    error_kind: str | None = None  # "auth" | "missing-database" | "unreachable" | "timeout" | "other"
    current_user: str = ""
    current_database: str = ""
    search_path: list[str] = field(default_factory=list)  # effective schemas (current_schemas(false))
    # the search_path setting as written: names a schema the role has no USAGE on, which the
    # effective list above leaves out
    search_path_setting: str = ""
    server_version: str = ""
    databases: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    tables: list[TableInfo] = field(default_factory=list)
    alembic_versions: list[AlembicVersion] = field(default_factory=list)
    # tables seen in the instance's other databases (db name -> "schema.table" names), where reachable
    other_databases: dict[str, list[str]] = field(default_factory=dict)
    other_database_errors: dict[str, str] = field(default_factory=dict)  # db name -> why it was not read
    # pg_default_acl: what tables (and sequences) roles create will be granted to (None: not read)
    default_privileges: "list[DefaultPrivilege] | None" = None
    # roles whose privileges the connecting role has (pg_has_role USAGE, itself included; None: not read)
    member_of: list[str] | None = None
    superuser: bool = False


@record
class RevisionFacts:
    revision: str
    down_revisions: list[str] = field(default_factory=list)
    message: str = ""
    path: str = ""
    creates: list[str] = field(default_factory=list)  # tables op.create_table makes
    drops: list[str] = field(default_factory=list)
    renames: list[list[str]] = field(default_factory=list)  # [old, new]
    drops_columns: list[list[str]] = field(default_factory=list)  # [table, column]
    # the table operations above in upgrade()'s order: ["create", t], ["rename", old, new], ["drop", t]
    # (within one revision, `rename a -> b` then `create a` leaves both; `drop t` then `create t` leaves t)
    ops: list[list[str]] = field(default_factory=list)
    # where each entry of ``ops`` stands in its file (1-based line; 0 when not known)
    op_lines: list[int] = field(default_factory=list)
    # columns this revision creates: [table, column] for each create_table column and add_column
    adds_columns: list[list[str]] = field(default_factory=list)
    # why what this revision does to tables could not be fully read (empty: fully read)
    opaque: list[str] = field(default_factory=list)
    # the revision's branch_labels (a job may upgrade `label@head` for each branch)
    branch_labels: list[str] = field(default_factory=list)
    # revisions it depends_on (ordered after them, not a parent in the history)
    depends_on: list[str] = field(default_factory=list)
    # column operations in upgrade()'s order: ["add", t, c], ["drop", t, c], ["rename", t, old, new]
    # (a renamed column keeps its data: it is in neither adds_columns nor drops_columns); empty in
    # snapshots saved before it was recorded, where adds/drops stand in
    column_ops: list[list[str]] = field(default_factory=list)
    # per entry of ``ops``: how many entries of ``column_ops`` upgrade() ran before it, so table and column
    # operations replay interleaved (create t_new with its columns, drop t, rename t_new -> t leaves t
    # those columns); empty in snapshots saved before it was recorded, where table operations replay first
    op_columns_before: list[int] = field(default_factory=list)
    # indexes into ``ops`` of creates that skip a table already there (SQLAlchemy's create_all(), or
    # .create(checkfirst=True)): a present table is no conflict for them
    creates_if_absent: list[int] = field(default_factory=list)
    # tables this revision creates or adds to with a column the reader could not read: their columns
    # are not all known (empty in snapshots saved before it was recorded)
    columns_unknown: list[str] = field(default_factory=list)
    # statements that take a table lock, and what shapes the transaction around them (autocommit blocks,
    # SET lock_timeout), in upgrade()'s order: weighed by netra_doctor.migrations.locks
    lock_ops: "list[LockOp]" = field(default_factory=list)


@record
class LockOp:
    """One statement of a revision's upgrade() as the lock weighing needs it (read statically)."""

    kind: str  # add_column | alter_type | set_not_null | create_index | add_foreign_key | add_check | add_unique |
    #            add_primary_key | validate | rename_table | rename_column | lock_timeout | autocommit_begin |
    #            autocommit_end
    table: str = ""
    line: int = 0  # in the revision file (the call's line when a helper does it)
    column: str = ""
    detail: str = ""  # the type given, the new name, the timeout, the referenced table, the default
    existing: str = ""  # alter_column's existing_type, as written
    flags: list[str] = field(default_factory=list)  # not_null, volatile_default, concurrently, not_valid, unique,
    #                                                  local, sql (read from op.execute), using_index


@record
class MigrationFacts:
    alembic_ini: str
    script_location: str = ""
    heads: list[str] = field(default_factory=list)
    revisions: list[RevisionFacts] = field(default_factory=list)  # base first (topological)
    # what could not be read as Alembic would (e.g. a revision file whose imports fail, so the
    # graph was read from the files' source instead); the facts above are still usable
    problems: list[str] = field(default_factory=list)
    # what makes the reading itself doubtful: a script_location outside the checkout, a version folder
    # that does not exist (the revision check shows each as a warning)
    warnings: list[str] = field(default_factory=list)
    # env.py, read statically: context.configure(transaction_per_migration=True) (None: env.py not read),
    # and a lock_timeout it sets on the connection ("" for none; "path:line value" otherwise)
    transaction_per_migration: bool | None = None
    env_lock_timeout: str = ""
    # why the revisions read may not be the ones alembic runs (revision files only in subfolders Alembic
    # does not walk, env.py setting version_locations at run time, no revision file at all): the model
    # checks judge nothing against them. Each but "no revision file" is also in ``warnings``.
    unknown: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, RevisionFacts]:
        return {r.revision: r for r in self.revisions}


@record
class LogEntry:
    timestamp: str
    text: str
    severity: str = ""
    resource: str = ""  # "service" | "job" | ""
    origin: str = ""  # revision or execution name, when the entry's labels give it
    workload: str = ""  # the service or job that wrote it (resource.labels service_name / job_name)


@record
class ModelTable:
    """One table the checkout's SQLAlchemy models declare."""

    name: str  # bare, or schema.name when the model gives a schema
    path: str  # repo-relative file of the class or Table() that declares it
    line: int
    model: str  # class name, or the variable a Table() is assigned to
    columns: list[str] = field(default_factory=list)
    column_lines: list[int] = field(default_factory=list)  # parallel to columns (0 when not known)
    # a folder of Alembic revisions the model's package carries that the project's alembic.ini does not
    # run (a plug-in's migrations/): what they do to the table is not known (doctor/migrations/models.py)
    own_migrations: str = ""


@record
class ModelFacts:
    """The models and how they were read: which files, and ``ast`` or an opted-in import."""

    reading: str = "ast"  # "ast" | "import MODULE:ATTR"
    where: str = ""  # how the files were chosen (config models, env.py's target_metadata, a checkout scan)
    files: list[str] = field(default_factory=list)  # repo-relative files read
    tables: list[ModelTable] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read (a computed __tablename__, say)


@record
class RepoFacts:
    """The checkout being diagnosed: which files the job's command may point at."""

    root: str
    files: list[str] = field(default_factory=list)  # repo-relative paths of *.ini and alembic env.py files
    # the SQLAlchemy models the checkout declares (None: not read, see the repo source's status)
    models: ModelFacts | None = None
    # how the Dockerfile that builds the image lays the checkout out (None: no Dockerfile found)
    image: "ImageFacts | None" = None
    # is the root an application's checkout: "files" (it holds files the listing looks for), "git"
    # (a git work tree), "config" (only the doctor's config says so), "" (an empty folder); None in
    # snapshots saved before this was recorded
    checkout: str | None = None


@record
class SourceStatus:
    name: str
    status: str  # "ok" | "error" | "skipped" | "partial" (facts gathered, a bound cut the read)
    duration_ms: int = 0
    error: str | None = None


@record
class TargetInfo:
    """The names the fixes are rendered with (a copy of config's Target, without routes)."""

    environment: str
    project: str
    region: str
    service: str
    job: str
    alembic_ini: str
    secret_envs: dict[str, str] = field(default_factory=dict)  # role -> env name (host, port, ...)
    expected_tables: list[str] = field(default_factory=list)
    # the config's [[silence]] entries ({id, reason[, object]}), so a replay reports what the run did
    silence: list[dict[str, str]] = field(default_factory=list)
    # the pre-deploy gate: the checkout is about to ship, its pending revisions are the plan
    pre_deploy: bool = False
    repo_only: bool = False  # only the checkout was gathered (no cloud, no database)
    image: str = ""  # the image about to be deployed (--image / NETRA_DOCTOR_IMAGE)
    # per workload: role -> every env name that may carry it, in order (config db_env, [db_env.job] ...)
    db_envs: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    alembic_name: str = "alembic"  # the ini section the scripts are read from (`alembic -n NAME`)


@record
class TableUsage:
    """What a table holds and how it was used since statistics were reset (pg_class, pg_stat_user_tables)."""

    schema: str
    name: str
    rows: float = -1  # pg_class.reltuples: an estimate; -1 when never analysed
    seq_scan: int = 0
    idx_scan: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    live_rows: int = 0  # n_live_tup
    stats_reset: str = ""  # when the database's statistics were last reset ("" = never, or not known)
    indexes: int = 0  # building each index scans the table once: that many seq_scan are no use
    size_bytes: int = -1  # pg_relation_size (the main fork): what a rewrite, scan or index build works through
    pages: int = -1  # pg_class.relpages


@record
class LockSettings:
    """What lock_timeout the migration job's session starts with, from the catalog (pg_db_role_setting)."""

    role: str  # the job's role (current_user of its connection)
    database: str
    # each setting in force, most specific first: "role X in database D: lock_timeout=5s"
    timeouts: list[str] = field(default_factory=list)
    # column types of the tables the pending revisions alter: "schema.table.column" -> format_type()
    column_types: dict[str, str] = field(default_factory=dict)
    error: str = ""  # why the settings could not be read ("" when they were)


@record
class ImageFacts:
    """Where the Dockerfile's WORKDIR and COPY/ADD put the checkout's files in the image."""

    dockerfile: str  # repo-relative path of the Dockerfile read
    context: str = "."  # the build context, repo-relative
    workdir: str = ""  # the final stage's WORKDIR ("": none set, the base image's, usually /)
    # the final stage's copies in order: [image path, repo path]; repo path "" = from another image
    # (its content unknown). An image path equal to or under the first is the repo path (+ the rest).
    copies: list[list[str]] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)  # exec form words; shell form as [sh, -c, TEXT]
    cmd: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be read (the layout may be partial)
    error: str | None = None  # the Dockerfile could not be read at all: the layout is unknown
    dockerignore: list[str] = field(default_factory=list)  # the context's .dockerignore patterns, in order


@record
class DefaultPrivilege:
    """One grant of pg_default_acl: objects ``owner`` creates (in ``schema``; "" = every schema) are
    granted ``privileges`` to ``grantee`` ("PUBLIC" for everyone)."""

    owner: str
    schema: str
    object_type: str  # "r" tables, "S" sequences, "f" functions, "T" types, "n" schemas
    grantee: str
    privileges: list[str] = field(default_factory=list)


@record
class OtherWorkload:
    """Another Cloud Run service or job on the environment's database (configured or discovered), or the
    primary job's own entry (``primary``: its ``[[workloads]]`` entry gives it an image recipe of its own)."""

    name: str
    kind: str  # "service" | "job"
    role: str = ""  # service: primary | reader; job: migrate | check | other
    found_by: str = ""  # "config" | "services.yaml" | "jobs.yaml" | "ListServices" | "ListJobs"
    configured: bool = False  # named in the config's [[workloads]]
    primary: bool = False  # the environment's own service or job
    exists: bool | None = None  # False: looked for and not there; None: could not be looked for
    workload: Workload | None = None
    target: DbTarget | None = None
    same_database: bool | None = None  # its target is the primary service's database (None: unknown)
    tables: list[str] = field(default_factory=list)  # globs of the tables it owns or uses (config)
    models: ModelFacts | None = None  # the tables its models declare (config `models`)
    executions: list[Execution] | None = None  # a job's own runs, newest first
    logs: list[LogEntry] | None = None  # its own entries (None: not read)
    dockerfile: str = ""  # its own image recipe (config), repo-relative
    image: ImageFacts | None = None  # how that recipe lays the checkout out
    ship_image: str = ""  # the image about to ship from that recipe (config `image`)
    database: DatabaseFacts | None = None  # what its own role sees (a reader's grants)
    notes: list[str] = field(default_factory=list)  # how it was found, what could not be read


@record
class Facts:
    target: TargetInfo
    service: Workload | None = None
    job: Workload | None = None
    executions: list[Execution] | None = None  # newest first
    serving_revision: ServingRevision | None = None
    secrets: dict[str, SecretValue] | None = None  # SecretRef.key -> value
    targets: dict[str, DbTarget] | None = None  # "service"/"job" -> target
    databases: dict[str, DatabaseFacts] | None = None
    migrations: MigrationFacts | None = None
    logs: list[LogEntry] | None = None
    repo: RepoFacts | None = None
    # live: full resource names the API said do not exist (projects/P/locations/R/services/S)
    not_found: list[str] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)
    gathered_at: str = ""
    mode: str = "offline"  # "offline" | "live" | "replay"
    # pre-deploy: rows and use of the service database's tables that pending revisions drop or alter
    table_usage: list[TableUsage] | None = None
    # pre-deploy: the lock_timeout the job's role starts with, and the types of columns pending revisions alter
    lock_settings: LockSettings | None = None
    # the other services and jobs on the same database (configured [[workloads]], or discovered);
    # None: not looked for
    workloads: list[OtherWorkload] | None = None

    def workload(self, kind: str) -> Workload | None:
        return self.service if kind == "service" else self.job

    def source(self, name: str) -> SourceStatus | None:
        return next((s for s in self.sources if s.name == name), None)

    # --- snapshot ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"format": SNAPSHOT_FORMAT, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)  # insertion order, as saved snapshots keep it

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Facts":
        if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError('no "format": 1')
        data = {k: v for k, v in data.items() if k != "format"}
        return _build(cls, data, "snapshot")


_JSON_TYPE = {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number",
              bool: "true/false", type(None): "null"}


@functools.cache
def _schema(tp: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A dataclass's field types and the fields without a default, computed once per class
    (typing.get_type_hints per object made a 10,000-table snapshot take a second to load)."""
    fields = dataclasses.fields(tp)
    required = tuple(f.name for f in fields
                     if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    hints = typing.get_type_hints(tp)
    return {f.name: hints[f.name] for f in fields}, required


@record
class _Flat:
    """How to build a dataclass of plain fields (str, int, bool, optional or not, no default factory)
    straight from its JSON object: the types each field takes, the defaults, the required fields,
    and the shapes (keys and value types) already found valid."""

    allowed: dict[str, frozenset[type]]
    defaults: dict[str, Any]
    required: tuple[str, ...]
    valid: set[tuple[tuple[str, ...], tuple[type, ...]]] = field(default_factory=set)


@functools.cache
def _flat(tp: type) -> _Flat | None:
    allowed: dict[str, frozenset[type]] = {}
    for name, hint in _schema(tp)[0].items():
        kinds = {hint}
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            kinds = set(typing.get_args(hint))
        if not kinds <= {str, int, bool, type(None)}:
            return None
        allowed[name] = frozenset(kinds)
    fields = dataclasses.fields(tp)
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        return None
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    return _Flat(allowed, defaults, _schema(tp)[1])


def _flat_build(tp: type, flat: _Flat, value: dict[str, Any]) -> Any:
    """The object, built without __init__ (its fields are plain values), or None when anything is
    off (the slow path then says what). A shape checked once (the same keys with the same value
    types: every log entry of a snapshot) is not checked again."""
    shape = (tuple(value), tuple(map(type, value.values())))
    if shape not in flat.valid:
        for k in flat.required:
            if k not in value:
                return None
        for k, v in value.items():
            kinds = flat.allowed.get(k)
            if kinds is None or type(v) not in kinds:
                return None
        if len(flat.valid) < 1024:
            flat.valid.add(shape)
    obj = object.__new__(tp)
    attrs = obj.__dict__
    if len(value) != len(flat.allowed):
        attrs.update(flat.defaults)
    attrs.update(value)
    return obj


def _flat_list(tp: type, flat: _Flat, values: list[Any]) -> list[Any] | None:
    """The objects, when every item is a whole object of the flat dataclass (what --save writes):
    checked a field at a time over the list (C loops, a fifth of the per-item cost over 10,000
    tables), then each object takes its JSON object as its attributes. None when any item differs:
    the per-item path then builds it or says what is wrong."""
    if set(map(type, values)) - {dict} or set(map(len, values)) - {len(flat.allowed)}:
        return None
    try:  # with as many keys as fields, every field present means no other key
        for name, kinds in flat.allowed.items():
            if not set(map(type, map(operator.itemgetter(name), values))) <= kinds:
                return None
    except KeyError:
        return None
    new, out = object.__new__, []
    for value in values:
        obj = new(tp)
        obj.__dict__ = value
        out.append(obj)
    return out


def _got(value: Any) -> str:
    if type(value) is float:  # "expected a number, got a number" said nothing: say which number
        return f"{value!r} (not a whole number)" if math.isfinite(value) else f"{value!r} (not a finite number)"
    return _JSON_TYPE.get(type(value), type(value).__name__)


class _Invalid(ValueError):
    """A value that does not fit the schema; the path is prefixed on the way out."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(f"{path}: {problem}")
        self.problem, self.path = problem, path

    def at(self, step: str) -> "_Invalid":
        return _Invalid(self.problem, step + self.path)


def _build(tp: Any, value: Any, where: str = "snapshot") -> Any:
    """Rebuild typed dataclasses from plain JSON data, strictly enough to reject garbage: every
    value has its field's type, null only where the field may be None, every field without a
    default present. Errors name the path (``snapshot.sources[0]: must not be null``)."""
    try:
        return _value(tp, value)
    except _Invalid as exc:
        raise ValueError(f"{where}{exc.path}: {exc.problem}") from None


def _value(tp: Any, value: Any) -> Any:
    if tp is str or tp is int or tp is bool:  # the common case first: most values are names
        if type(value) is tp:
            return value
        raise _Invalid(f"expected {_JSON_TYPE[tp]}, got {_got(value)}")
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        return _value(next(a for a in args if a is not type(None)), value)
    if tp is Any:
        return value
    if value is None:
        raise _Invalid("must not be null")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Invalid(f"expected an object, got {_got(value)}")
        hints, required = _schema(tp)
        for name in required:
            if name not in value:
                raise _Invalid(f"{name} is missing")
        flat = _flat(tp)
        if flat is not None:
            built = _flat_build(tp, flat, value)
            if built is not None:
                return built
        kwargs = {}
        for k, v in value.items():
            if k in hints:
                try:
                    kwargs[k] = _value(hints[k], v)
                except _Invalid as exc:
                    raise exc.at("." + k) from None
        return tp(**kwargs)
    if origin is list:
        if not isinstance(value, list):
            raise _Invalid(f"expected a list, got {_got(value)}")
        (item,) = typing.get_args(tp)
        if (item is str or item is int or item is bool) and not set(map(type, value)) - {item}:
            return value  # names: 10,000 expected tables in a big config, checked in one C loop
        out = []
        flat = _flat(item) if dataclasses.is_dataclass(item) else None
        if flat is not None:  # log entries, tables: the bulk of a big snapshot
            whole = _flat_list(item, flat, value)
            if whole is not None:
                return whole
            for v in value:
                built = _flat_build(item, flat, v) if type(v) is dict else None
                if built is None:
                    break
                out.append(built)
            else:
                return out
            out = []
        for i, v in enumerate(value):
            try:
                out.append(_value(item, v))
            except _Invalid as exc:
                raise exc.at(f"[{i}]") from None
        return out
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(f"expected an object, got {_got(value)}")
        _, item = typing.get_args(tp)
        built = {}
        for k, v in value.items():
            try:
                built[str(k)] = _value(item, v)
            except _Invalid as exc:
                raise exc.at("." + str(k)[:40]) from None
        return built
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"expected a number, got {_got(value)}")
        return value
    return value
