"""One plain, serialisable snapshot of everything the sources gathered.

Checks read only this, so every check is testable with hand-built Facts and a saved
snapshot replays the whole diagnosis with no network. Secret values never enter it:
the sources reduce them to fingerprints (see ``doctor.secrecy``) before storing.

A field that is ``None`` means "not gathered" (source missing or failed), which the
engine turns into a ``skip`` for checks that need it; an empty list means "gathered,
and there were none".
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

SNAPSHOT_FORMAT = 1


@dataclass
class SecretRef:
    """An env var whose value comes from Secret Manager."""

    secret: str  # short name, e.g. postgres-password-staging
    version: str = "latest"  # "latest" or a number, as written in the workload
    project: str | None = None  # when the ref names another project (projects/P/secrets/S)

    @property
    def key(self) -> str:
        return f"{self.secret}@{self.version}"


@dataclass
class EnvVar:
    name: str
    value: str | None = None  # literal value (None when it comes from a secret)
    secret: SecretRef | None = None


@dataclass
class VolumeMount:
    name: str
    mount_path: str


@dataclass
class Container:
    name: str = ""
    image: str = ""
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    working_dir: str = ""


@dataclass
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown" (v1 spelling; v2 states are mapped onto it)
    reason: str = ""
    message: str = ""


@dataclass
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

    @property
    def main(self) -> Container:
        return self.containers[0] if self.containers else Container()

    @property
    def image(self) -> str:
        return self.main.image

    def env(self) -> dict[str, EnvVar]:
        """Env vars of the main container by name (the last definition wins, as in Kubernetes)."""
        return {e.name: e for e in self.main.env}


@dataclass
class Execution:
    name: str
    status: str  # "succeeded" | "failed" | "running" | "cancelled" | "unknown"
    started: str = ""  # RFC 3339
    completed: str = ""
    image: str = ""
    message: str = ""


@dataclass
class ServingRevision:
    name: str
    image: str = ""
    created: str = ""
    ready: str = ""  # condition status "True" | "False" | "Unknown" | ""
    message: str = ""


@dataclass
class SecretValue:
    """What a secret ref resolved to, never the value itself."""

    ref: SecretRef
    fingerprint: str | None = None
    resolved_version: str | None = None  # the number "latest" pointed at, when known
    error: str | None = None  # why it could not be resolved


@dataclass
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


@dataclass
class TableInfo:
    schema: str
    name: str
    owner: str = ""
    in_information_schema: bool = True  # does information_schema.tables show it to this role
    can_select: bool = True
    schema_usage: bool = True


@dataclass
class AlembicVersion:
    schema: str
    versions: list[str] = field(default_factory=list)
    error: str | None = None  # the table exists but this role could not read it (versions unknown)


@dataclass
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


@dataclass
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


@dataclass
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

    def by_id(self) -> dict[str, RevisionFacts]:
        return {r.revision: r for r in self.revisions}


@dataclass
class LogEntry:
    timestamp: str
    text: str
    severity: str = ""
    resource: str = ""  # "service" | "job" | ""
    origin: str = ""  # revision or execution name, when the entry's labels give it


@dataclass
class RepoFacts:
    """The checkout being diagnosed: which files the job's command may point at."""

    root: str
    files: list[str] = field(default_factory=list)  # repo-relative paths of *.ini and alembic env.py files


@dataclass
class SourceStatus:
    name: str
    status: str  # "ok" | "error" | "skipped"
    duration_ms: int = 0
    error: str | None = None


@dataclass
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


@dataclass
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
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("not a netra-doctor snapshot (format 1)")
        data = {k: v for k, v in data.items() if k != "format"}
        return _build(cls, data)


def _build(tp: Any, value: Any) -> Any:
    """Rebuild typed dataclasses from plain JSON data, strictly enough to reject garbage."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(options[0], value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {tp.__name__}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _build(hints[k], v) for k, v in value.items() if k in names})
    if origin is list:
        if not isinstance(value, list):
            raise ValueError("expected a list")
        (item,) = typing.get_args(tp)
        return [_build(item, v) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError("expected an object")
        _, item = typing.get_args(tp)
        return {str(k): _build(item, v) for k, v in value.items()}
    if tp in (str, int, float, bool):
        if (tp is int and isinstance(value, bool)) or not isinstance(value, (tp, int) if tp is float else tp):
            raise ValueError(f"expected {tp.__name__}, got {type(value).__name__}")
        return value
    return value
