"""Environment name -> Target: the names, routes and expectations one diagnosis uses.

Zero-config defaults follow the seed's naming (netra-{env}, us-central1, ...). A
``netra-doctor.toml`` or ``[tool.netra-doctor]`` in ``pyproject.toml`` (the nearest one
upwards from the working directory) overrides them, globally and per environment:

    project = "acme-{env}"
    [db_env]                      # which env vars carry the database settings
    password = "DB_PASS"
    [environments.staging]
    proxies = { "acme-staging:us-central1:pg" = "127.0.0.1:5432" }
    [[silence]]
    id = "job-image-differs"
    reason = "the job pins a digest on purpose"

The project and the region are, first to last: --project / --region, the config's explicit
setting (per environment, then global), gcloud's environment ($CLOUDSDK_CORE_PROJECT, then the
client libraries' $GOOGLE_CLOUD_PROJECT; $CLOUDSDK_RUN_REGION), gcloud's active configuration
(``core/project``, ``run/region``, read as files: gcloud is never run), then netra-{env} / us-central1.
``Target.origins`` says where each came from (``-v`` prints it).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import field
from pathlib import Path
from typing import Any

# tomli, not the standard library's tomllib (a pure-Python copy of it): its wheels are compiled
# (mypyc), and a config naming 10,000 expected tables parses in 3.4 ms instead of 11
import tomli
from netra_doctor.core.diagnosis import Silence
from netra_doctor.core.errors import ConfigError, value_problem
from netra_doctor.core.instances import is_instance_name
from netra_doctor.core.records import record
from netra_doctor.core.typos import nearest

DEFAULT_DB_ENV = {
    "host": "POSTGRES_HOST",
    "port": "POSTGRES_PORT",
    "database": "POSTGRES_DB",
    "user": "POSTGRES_USER",
    "password": "POSTGRES_PASSWORD",
    "url": "DATABASE_URL",
}

DEFAULTS: dict[str, Any] = {
    "project": "netra-{env}",
    "region": "us-central1",
    "service": "netra-backend-{env}",
    "job": "netra-migrations-{env}",
    "alembic_ini": "netra_backend/alembic.ini",
    "alembic_name": "alembic",  # the ini section Alembic reads (`alembic -n NAME`), as the job runs it
    # the script folder, when the ini's script_location is not what runs (Flask-Migrate's `-d DIR`) or there
    # is no alembic.ini at all (Flask-Alembic's ALEMBIC["script_location"], default "migrations")
    "script_location": None,
    "version_locations": [],  # more revision folders (Flask-Alembic's per-package folders, a wrapper's)
    "expected_tables": [],
    "proxies": {},
    "dsn": None,
    "timeout": 10.0,
    "models": [],  # files or folders of SQLAlchemy models (default: env.py's target_metadata, else a scan)
    "models_import": None,  # opt-in "pkg.module:Base.metadata": import the app in a subprocess
    "pre_deploy": False,  # the checkout is about to ship: pending revisions are the plan
    "image": None,  # the image about to be deployed (--image, $NETRA_DOCTOR_IMAGE)
    "dockerfile": None,  # the Dockerfile that builds the image (default: found beside the Alembic project)
    "docker_context": None,  # its build context (default: its folder or the root, whichever holds its sources)
    "private_ip": False,  # a cloud-sql-proxy the doctor starts connects over the instance's private IP
    "iam_authn": False,  # ... and logs in with IAM database authentication (--auto-iam-authn)
}

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_HOSTPORT = re.compile(r"^[^\s:]+:\d{1,5}$")


SERVICE_ROLES = ("primary", "reader")
JOB_ROLES = ("migrate", "check", "other")
_WORKLOAD_KEYS = {"name", "kind", "role", "models", "tables", "dockerfile", "docker_context", "db_env", "image"}


@record
class WorkloadSpec:
    """One ``[[workloads]]`` entry: another Cloud Run service or job on the environment's database."""

    name: str  # {env} already substituted
    kind: str  # service | job
    role: str = ""  # service: primary | reader; job: migrate | check | other ("": from its command)
    models: list[str] = field(default_factory=list)  # repo-relative files or folders of its models
    tables: list[str] = field(default_factory=list)  # globs of the tables it owns or uses
    dockerfile: str | None = None
    docker_context: str | None = None
    db_env: dict[str, list[str]] = field(default_factory=dict)  # role -> env names, over the shared db_env
    image: str = ""  # the image about to ship from its own dockerfile (the deploy-image check's, for a job)


@record
class Target:
    environment: str
    project: str
    region: str
    service: str
    job: str
    alembic_ini: str
    root: Path  # the repository the config (and alembic.ini) is relative to
    db_env: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DB_ENV))
    expected_tables: list[str] = field(default_factory=list)
    proxies: dict[str, str] = field(default_factory=dict)  # instance -> host:port
    dsn: str | None = None
    timeout: float = 10.0  # seconds, per network call
    silence: list[Silence] = field(default_factory=list)
    config_file: Path | None = None
    models: list[str] = field(default_factory=list)
    models_import: str | None = None
    pre_deploy: bool = False
    repo_only: bool = False  # --repo-only: gather the checkout only
    cache: bool = True  # keep what each file of the checkout yields between runs (--no-cache: read afresh)
    image: str = ""
    dockerfile: str | None = None  # repo-relative; None: look beside the Alembic project
    # per workload ("service", "job"): role -> env names tried in order (db_env, then [db_env.service] ...)
    db_envs: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    docker_context: str | None = None
    alembic_name: str = "alembic"  # the ini section with script_location (`alembic -n NAME`)
    script_location: str | None = None  # repo-relative (or absolute) script folder that overrides the ini's
    version_locations: list[str] = field(default_factory=list)  # repo-relative revision folders added to it
    workloads: list[WorkloadSpec] = field(default_factory=list)  # [[workloads]]: the others on this database
    origins: dict[str, str] = field(default_factory=dict)  # project/region -> where the value came from
    private_ip: bool = False  # the cloud-sql-proxy the doctor starts: --private-ip
    iam_authn: bool = False  # ... and --auto-iam-authn
    exports_label: str = "the --from folder"  # how messages name the offline exports (the demo has its own)


VCS_MARKERS = (".git", ".hg", ".svn", ".jj")
MAX_CONFIG_BYTES = 1 * 2**20


def home_folder() -> Path | None:
    """The user's home, resolved; None where there is none (no HOME, no passwd entry)."""
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


def is_vcs_root(folder: Path) -> bool:
    """A repository's root: it holds .git, .hg, .svn or .jj."""
    return any(os.path.lexists(folder / m) for m in VCS_MARKERS)


def search_folders(start: Path) -> list[Path]:
    """Where to look for the config, nearest first: up to the repository's root (a folder holding
    .git, .hg, ...), the home folder or the file system's root, whichever comes first. Started from
    `/` or a home folder, that is that folder alone: a config above the checkout is not its config."""
    home = home_folder()
    folders = []
    for folder in [start, *start.parents]:
        folders.append(folder)
        if folder == home or is_vcs_root(folder):
            break
    return folders


def repository_root(start: Path) -> Path:
    """The checkout ``start`` is in: the nearest folder with a VCS marker, within search_folders;
    else ``start`` itself."""
    return next((folder for folder in search_folders(start) if is_vcs_root(folder)), start)


def find_config(start: Path) -> tuple[Path | None, dict[str, Any]]:
    """The nearest netra-doctor.toml, or pyproject.toml with [tool.netra-doctor], upwards (see
    search_folders); one that is a FIFO, a device or a symlink loop is bad input, not absent."""
    from netra_doctor.core.files import present

    for folder in search_folders(start):
        own = folder / "netra-doctor.toml"
        if present(own):
            return own, _read_toml(own)
        pyproject = folder / "pyproject.toml"
        if present(pyproject):
            table = _read_toml(pyproject).get("tool", {}).get("netra-doctor")
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f"{pyproject}: [tool.netra-doctor] must be a table")
                return pyproject, table
    return None, {}


def _read_toml(path: Path) -> dict[str, Any]:
    from netra_doctor.core.files import read_text

    try:
        return tomli.loads(read_text(path, MAX_CONFIG_BYTES))
    except (RecursionError, tomli.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValueError as exc:  # a number of thousands of digits, which Python refuses to convert
        raise ConfigError(f"{path}: not valid TOML: {value_problem(exc)}") from None


_KEYS = {*DEFAULTS, "db_env", "silence", "environments", "workloads"}


def load_target(environment: str, start: Path | None = None, overrides: dict[str, Any] | None = None) -> Target:
    if not _ENV_NAME.match(environment):
        hint = f": did you mean `{environment.lower()}`?" if _ENV_NAME.match(environment.lower()) else ""
        raise ConfigError(f"environment name {environment!r} is not valid (lowercase letters, digits, dashes){hint}")
    start = (start or Path.cwd()).resolve()
    path, data = find_config(start)
    where = str(path) if path else "defaults"
    _no_unknown_keys(data, _KEYS, where)
    envs = data.get("environments", {})
    if not isinstance(envs, dict):
        raise ConfigError(f"{where}: 'environments' must be a table")
    if envs and environment not in envs:
        known = ", ".join(sorted(envs))
        guess = nearest(environment, envs)
        hint = f": did you mean `{guess}`?" if guess else ""
        raise ConfigError(f"unknown environment {environment!r} ({where} defines: {known}){hint}")
    own = envs.get(environment, {})
    if not isinstance(own, dict):
        raise ConfigError(f"{where}: [environments.{environment}] must be a table")
    _no_unknown_keys(own, _KEYS - {"environments"}, f"{where} [environments.{environment}]")

    merged: dict[str, Any] = {**DEFAULTS}
    origins = {"project": "default", "region": "default"}
    gcloud = gcloud_settings()
    named = (("", {k: v[0] for k, v in gcloud.items()}), (where, data), (f"{where} [environments.{environment}]", own),
             ("flag", overrides or {}))
    for label, layer in named:
        merged.update({k: v for k, v in layer.items() if k in DEFAULTS and v is not None})
        for key in origins:
            if layer.get(key) is not None:
                origins[key] = gcloud[key][1] if not label else "--" + key if label == "flag" else label

    def text(key: str) -> str:
        value = merged[key]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key} must be a non-empty string")
        try:
            return value.format(env=environment)
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"{where}: {key} = {value!r}: only {{env}} may be substituted") from None

    db_env, db_envs = read_db_env([data, own], where)

    tables = merged["expected_tables"]
    if not isinstance(tables, list) or not all(isinstance(t, str) and t for t in tables):
        raise ConfigError(f"{where}: expected_tables must be a list of table names")
    proxies = merged["proxies"]
    if not isinstance(proxies, dict):
        raise ConfigError(f"{where}: proxies must map INSTANCE to HOST:PORT")
    for instance, address in proxies.items():
        check_proxy(instance, address, where)
    timeout = merged["timeout"]
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 600:
        raise ConfigError(f"{where}: timeout must be a number of seconds between 0 and 600")
    dsn = merged["dsn"]
    if dsn is not None and not isinstance(dsn, str):
        raise ConfigError(f"{where}: dsn must be a string")
    for key in ("dockerfile", "docker_context"):
        if merged[key] is not None and (not isinstance(merged[key], str) or not merged[key].strip()):
            raise ConfigError(f"{where}: {key} must be a path relative to the repository")

    gate = _gate_settings(merged, where)
    root = path.parent if path else repository_root(start)
    alembic_ini = text("alembic_ini")
    if all(layer.get("alembic_ini") is None for layer in (data, own, overrides or {})):
        # a script folder named instead (Flask-Alembic has no ini) is not a reason to search for one
        alembic_ini, origins["alembic_ini"] = (fallback_ini(alembic_ini, root, start) if gate["script_location"] is None
                                               else (alembic_ini, "default"))
    elif (overrides or {}).get("alembic_ini") is not None:
        origins["alembic_ini"] = "--alembic-ini"
        if Path(alembic_ini).is_absolute():
            alembic_ini = _repo_relative(Path(alembic_ini), root)
    else:
        origins["alembic_ini"] = where

    silences = []
    for layer in (data, own):
        entries = layer.get("silence", [])
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: silence must be a list of tables ([[silence]])")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise ConfigError(f"{where}: each [[silence]] needs an id")
            if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
                raise ConfigError(f"{where}: silence {entry['id']!r} needs a reason")
            obj = entry.get("object")
            if obj is not None and not isinstance(obj, str):
                raise ConfigError(f"{where}: silence {entry['id']!r}: object must be a string")
            _no_unknown_keys(entry, {"id", "reason", "object"}, f"{where} silence {entry['id']!r}")
            silences.append(Silence(entry["id"], entry["reason"].strip(), obj))

    root = path.parent if path else repository_root(start)
    workloads = read_workloads([data, own], where, environment, root, db_env_names(db_envs))

    return Target(
        environment=environment,
        project=text("project"),
        region=text("region"),
        service=text("service"),
        job=text("job"),
        alembic_ini=alembic_ini,
        alembic_name=text("alembic_name"),
        root=root,
        db_env=db_env,
        db_envs=db_envs,
        expected_tables=list(tables),
        proxies={str(k): str(v) for k, v in proxies.items()},
        dsn=dsn,
        timeout=float(timeout),
        silence=silences,
        config_file=path,
        dockerfile=merged["dockerfile"],
        docker_context=merged["docker_context"],
        workloads=workloads,
        origins=origins,
        private_ip=_flag(merged, "private_ip", where),
        iam_authn=_flag(merged, "iam_authn", where),
        **gate,
    )


_NOT_SEARCHED = {".git", ".hg", ".svn", ".jj", ".venv", "venv", "node_modules", "site-packages", "__pycache__",
                 ".tox", ".nox", "build", "dist"}
MAX_SEARCHED = 20_000  # folders looked into for the checkout's one alembic.ini


def fallback_ini(default: str, root: Path, cwd: Path) -> tuple[str, str]:
    """No --alembic-ini and no config: the seed's layout (``netra_backend/alembic.ini``) when it is
    there, else Alembic's own default (``./alembic.ini`` where the doctor runs, then at the checkout's
    root), else the checkout's one alembic.ini. Returns the path (relative to the root when inside it)
    and which rule found it; the seed's default when none did (the source then says it is missing)."""
    if (root / default).is_file():
        return default, "default"
    for base, why in ((cwd, "./alembic.ini, Alembic's default"), (root, "alembic.ini at the repository's root")):
        if (base / "alembic.ini").is_file():
            return _repo_relative(base / "alembic.ini", root), why
    if root == home_folder() or root == Path(root.anchor):
        return default, "default"  # a home folder or / is not a checkout to search
    found: list[Path] = []
    for searched, (folder, dirs, files) in enumerate(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d not in _NOT_SEARCHED and not d.startswith("."))
        if "alembic.ini" in files:
            found.append(Path(folder) / "alembic.ini")
        if len(found) > 1 or searched > MAX_SEARCHED:
            return default, "default"
    if found:
        return _repo_relative(found[0], root), "the checkout's only alembic.ini"
    return default, "default"


def _repo_relative(path: Path, root: Path) -> str:
    """As the job and the printed commands name it: relative to the repository root, else absolute."""
    full = path.resolve()
    return full.relative_to(root.resolve()).as_posix() if full.is_relative_to(root.resolve()) else str(path)


def _flag(merged: dict[str, Any], key: str, where: str) -> bool:
    if not isinstance(merged[key], bool):
        raise ConfigError(f"{where}: {key} must be true or false")
    return merged[key]


def _gate_settings(merged: dict[str, Any], where: str) -> dict[str, Any]:
    """models, models_import, pre_deploy and image, checked (the pre-deploy gate's settings)."""
    models = merged["models"]
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise ConfigError(f"{where}: models must be a list of paths (files or folders of SQLAlchemy models)")
    spec = merged["models_import"]
    if spec is not None and (not isinstance(spec, str) or ":" not in spec):
        raise ConfigError(f"{where}: models_import must be MODULE:ATTRIBUTE, e.g. \"app.models:Base.metadata\"")
    if not isinstance(merged["pre_deploy"], bool):
        raise ConfigError(f"{where}: pre_deploy must be true or false")
    image = merged["image"] or os.environ.get("NETRA_DOCTOR_IMAGE", "").strip()
    if not isinstance(image, str):
        raise ConfigError(f"{where}: image must be a string")
    script = merged["script_location"]
    if script is not None and (not isinstance(script, str) or not script):
        raise ConfigError(f"{where}: script_location must be a folder (the Alembic script folder)")
    versions = merged["version_locations"]
    if not isinstance(versions, list) or not all(isinstance(v, str) and v for v in versions):
        raise ConfigError(f"{where}: version_locations must be a list of folders")
    return {"models": list(models), "models_import": spec, "pre_deploy": merged["pre_deploy"], "image": image,
            "script_location": script, "version_locations": list(versions)}


def read_db_env(layers: list[dict[str, Any]], where: str) -> tuple[dict[str, str], dict[str, dict[str, list[str]]]]:
    """``db_env`` maps a role to an env name or a list of them (several URL variables, tried in order);
    ``[db_env.service]`` and ``[db_env.job]`` override it per workload (the service's pooled URL, the
    job's direct one). Returns the shared role -> first name map and the per-workload lists."""
    shared: dict[str, list[str]] = {k: [v] for k, v in DEFAULT_DB_ENV.items()}
    per: dict[str, dict[str, list[str]]] = {"service": {}, "job": {}}

    def names(value: Any, label: str) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
            raise ConfigError(f"{where}: db_env must map roles to env var names ({label}: a name or a list of names)")
        return list(items)

    for layer in layers:
        extra = layer.get("db_env", {})
        if not isinstance(extra, dict):
            raise ConfigError(f"{where}: db_env must map roles to env var names")
        _no_unknown_keys(extra, {*DEFAULT_DB_ENV, "service", "job"}, f"{where} db_env")
        for role, value in extra.items():
            if role in per:
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: db_env.{role} must be a table of roles")
                _no_unknown_keys(value, set(DEFAULT_DB_ENV), f"{where} db_env.{role}")
                per[role].update({r: names(v, f"db_env.{role}.{r}") for r, v in value.items()})
            else:
                shared[role] = names(value, f"db_env.{role}")
    by_kind = {kind: {**shared, **own} for kind, own in per.items()}
    return {role: values[0] for role, values in shared.items()}, by_kind



def db_env_names(db_envs: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    """The shared role -> env names (what [db_env] gives every workload before its own overrides)."""
    service = db_envs.get("service", {})
    return {role: list(service.get(role, [name])) for role, name in DEFAULT_DB_ENV.items()}


def read_workloads(layers: list[dict[str, Any]], where: str, environment: str, root: Path,
                   shared: dict[str, list[str]]) -> list[WorkloadSpec]:
    """``[[workloads]]`` (global, then the environment's): each entry checked, one line naming it when bad."""
    out: list[WorkloadSpec] = []
    for layer in layers:
        entries = layer.get("workloads", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"{where}: workloads must be a list of tables ([[workloads]])")
        for i, entry in enumerate(entries):
            raw = entry.get("name")
            label = f"{where}: workloads[{i}]" + (f" ({raw})" if isinstance(raw, str) else "")
            _no_unknown_keys(entry, _WORKLOAD_KEYS, label)
            if not isinstance(raw, str) or not raw.strip():
                raise ConfigError(f"{label}: needs a name (the Cloud Run service or job, {{env}} allowed)")
            try:
                name = raw.format(env=environment)
            except (KeyError, IndexError, ValueError):
                raise ConfigError(f"{label}: name {raw!r}: only {{env}} may be substituted") from None
            kind = entry.get("kind")
            if kind not in ("service", "job"):
                raise ConfigError(f"{label}: unknown kind {kind!r} (service or job)")
            roles = SERVICE_ROLES if kind == "service" else JOB_ROLES
            role = entry.get("role", "reader" if kind == "service" else "")
            if role != "" and role not in roles:
                raise ConfigError(f"{label}: unknown role {role!r} for a {kind} ({' | '.join(roles)})")
            if any(w.name == name for w in out):
                raise ConfigError(f"{label}: workload {name} is named twice")
            models, tables = _strings(entry, "models", label), _strings(entry, "tables", label)
            for pattern in tables:
                if not valid_glob(pattern):
                    raise ConfigError(f"{label}: tables pattern {pattern!r} is not a valid glob")
            for model in models:
                if not (root / model).exists():
                    raise ConfigError(f"{label}: models path {model!r} does not exist under {root}")
            for key in ("dockerfile", "docker_context", "image"):
                if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                    raise ConfigError(f"{label}: {key} must be a non-empty string")
            extra = entry.get("db_env", {})
            if not isinstance(extra, dict):
                raise ConfigError(f"{label}: db_env must map roles to env var names")
            _no_unknown_keys(extra, set(DEFAULT_DB_ENV), f"{label} db_env")
            own = {r: ([v] if isinstance(v, str) else v) for r, v in extra.items()}
            if not all(isinstance(v, list) and v and all(isinstance(n, str) and n for n in v) for v in own.values()):
                raise ConfigError(f"{label}: db_env must map roles to env var names")
            out.append(WorkloadSpec(name, kind, role, models, tables, entry.get("dockerfile"),
                                    entry.get("docker_context"), {**shared, **own}, entry.get("image", "")))
    return out


def valid_glob(pattern: str) -> bool:
    """A table pattern fnmatch reads as the user meant: no unclosed `[`, no path separator."""
    if not pattern or "/" in pattern or pattern.count("[") != pattern.count("]"):
        return False
    try:
        re.compile(fnmatch.translate(pattern))
    except re.error:
        return False
    return True


def _strings(entry: dict[str, Any], key: str, label: str) -> list[str]:
    value = entry.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{label}: {key} must be a list of strings")
    return list(value)


def gcloud_settings(environ: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """The project and region gcloud itself would use, each with where it came from: its environment
    ($CLOUDSDK_CORE_PROJECT, the client libraries' $GOOGLE_CLOUD_PROJECT, $CLOUDSDK_RUN_REGION), else its
    active configuration's ``core/project`` and ``run/region``. Above the zero-config defaults, below
    the config's explicit settings and the flags."""
    env = os.environ if environ is None else environ
    found: dict[str, tuple[str, str]] = {}
    for key, names in (("project", ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT")),
                       ("region", ("CLOUDSDK_RUN_REGION",))):
        for name in names:
            value = env.get(name, "").strip()
            if value:
                found[key] = (value, f"${name}")
                break
    if len(found) < 2:
        configured, where = active_gcloud_configuration(env)
        for key, (section, option) in (("project", ("core", "project")), ("region", ("run", "region"))):
            value = configured.get(section, {}).get(option, "").strip()
            if key not in found and value:
                found[key] = (value, f"gcloud configuration {where}: {section}/{option}")
    return {k: (v.replace("{", "{{").replace("}", "}}"), origin) for k, (v, origin) in found.items()}


def active_gcloud_configuration(env) -> tuple[dict[str, dict[str, str]], str]:
    """gcloud's active named configuration, read as gcloud reads it: $CLOUDSDK_CONFIG (else
    ~/.config/gcloud, %APPDATA%\\gcloud on Windows), the name in $CLOUDSDK_ACTIVE_CONFIG_NAME or the
    ``active_config`` file (else ``default``), and ``configurations/config_NAME`` as INI. A file that
    is missing or unreadable is no configuration: gcloud would have none either."""
    import configparser

    from netra_doctor.core.files import read_text

    base = env.get("CLOUDSDK_CONFIG", "").strip()
    if base:
        folder = Path(base).expanduser()
    elif os.name == "nt" and env.get("APPDATA"):
        folder = Path(env["APPDATA"]) / "gcloud"
    else:
        home = home_folder()
        if home is None:
            return {}, ""
        folder = home / ".config" / "gcloud"
    try:
        name = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "").strip()
        if not name and (folder / "active_config").is_file():
            name = read_text(folder / "active_config", 4096).strip()
        name = name or "default"
        path = folder / "configurations" / f"config_{name}"
        if not re.fullmatch(r"[a-z][-a-z0-9]*", name) or not path.is_file():
            return {}, ""
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(read_text(path, MAX_CONFIG_BYTES))
    except (OSError, ValueError, configparser.Error, ConfigError):
        return {}, ""
    return {section: dict(parser[section]) for section in parser.sections()}, f"'{name}'"


def check_proxy(instance: str, address: str, where: str = "--proxy") -> None:
    if not isinstance(instance, str) or not is_instance_name(instance):
        raise ConfigError(f"{where}: {instance!r} is not a Cloud SQL instance name (PROJECT:REGION:INSTANCE)")
    if not isinstance(address, str) or not _HOSTPORT.match(address) or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise ConfigError(f"{where}: {address!r} for {instance} is not HOST:PORT")


def parse_proxy(spec: str) -> tuple[str, str]:
    """``INSTANCE=HOST:PORT`` from the command line."""
    instance, sep, address = spec.partition("=")
    if not sep:
        raise ConfigError(f"--proxy {spec!r}: expected INSTANCE=HOST:PORT")
    check_proxy(instance, address)
    return instance, address


def _no_unknown_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
