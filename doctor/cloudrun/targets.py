"""Resolve a workload's effective database target from its env vars and resolved secrets.

The result holds no secret: the password becomes a fingerprint and a DATABASE_URL is
parsed into fields, never kept whole. The password itself is returned separately, for
the database source to connect with, and lives only in memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from netra_doctor.cloudrun.containers import proxy_instance
from netra_doctor.core.facts import DbTarget, EnvVar, Workload
from netra_doctor.safety.secrecy import fingerprint, remember

CLOUDSQL_PREFIX = "/cloudsql/"


class DsnError(ValueError):
    """A DATABASE_URL / --dsn that is not a PostgreSQL URL (message holds no password)."""


SCHEMES = ("postgres", "postgresql", "ecto")  # ecto://: Elixir's Ecto repos read the same URL form


def parse_dsn(url: str) -> dict[str, object]:
    """Split a postgres URL into fields; ``+driver`` suffixes (postgresql+asyncpg) are accepted, and the
    socket forms Python and Elixir apps use (``?host=/cloudsql/...``, Ecto's ``?socket_dir=`` and
    ``?socket=DIR/.s.PGSQL.PORT``)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.split("+", 1)[0]
        port = parts.port
    except ValueError as exc:
        # urllib's own message quotes the part it choked on: with an unencoded password, a piece of it
        why = "its port is not a number from 0 to 65535" if "Port" in str(exc) else "it cannot be split into parts"
        raise DsnError(f"not a valid database URL: {why} (a password with @ : / # ? % must be URL-encoded)") from None
    if scheme.lower() not in SCHEMES:
        raise DsnError(f"not a PostgreSQL URL (scheme {parts.scheme or 'missing'!r})")
    if parts.password:
        remember(unquote(parts.password))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    socket = query.pop("socket", None)
    m = re.match(r"^(.*)/\.s\.PGSQL\.(\d+)$", socket or "")
    if m:
        socket, port = m.group(1), int(m.group(2))
    host = (query.pop("host", None) or query.pop("socket_dir", None) or socket
            or (unquote(parts.hostname) if parts.hostname else None))
    password = query.pop("password", None) or (unquote(parts.password) if parts.password else None)
    if password:
        remember(password)
    if "port" in query:
        try:
            port = int(query.pop("port"))
        except ValueError:
            raise DsnError("port in the URL's query is not a number") from None
    return {
        "host": host,
        "port": port,
        "database": unquote(parts.path.lstrip("/")) or query.pop("dbname", None),
        "user": unquote(parts.username) if parts.username else query.pop("user", None),
        "password": password,
        "options": query,
    }


def resolve_target(
    workload: Workload, db_env: Mapping[str, str | list[str]], values: dict[str, str | None],
    why: dict[str, str] | None = None,
) -> tuple[DbTarget, str | None]:
    """``values`` maps env name -> resolved value (None: the secret could not be resolved); ``why``
    says why a name has none (secret missing, not readable by the doctor), quoted in the problem.
    A role may name several env vars (the first one the workload sets counts); a workload that sets
    none of the URL or host variables is searched for the one variable whose value is a database URL."""
    target = DbTarget(workload=workload.kind)
    env = workload.env()
    password: str | None = None
    unresolved: dict[str, list[str]] = {}  # reason -> env names, so one denial is quoted once
    chosen: dict[str, str] = {}  # role -> the env name that carried it

    def candidates(role: str) -> list[str]:
        names = db_env.get(role, [])
        return [names] if isinstance(names, str) else list(names)

    if not any(n in env for role in ("url", "host") for n in candidates(role)):
        found = discover_url(env, values)
        if found:
            chosen["url"] = found

    def get(role: str) -> str | None:
        name = chosen.get(role) or next((n for n in candidates(role) if n in env), "")
        var = env.get(name)
        if var is None:
            return None
        chosen[role] = name
        target.origin[role] = f"secret {var.secret.key}" if var.secret else f"env {name}"
        value = values.get(name)
        if value is None and name not in [n for names in unresolved.values() for n in names]:
            unresolved.setdefault((why or {}).get(name, ""), []).append(name)
        return value

    url = get("url")
    if url:
        try:
            fields = parse_dsn(url)
        except DsnError as exc:
            target.problems.append(f"{chosen['url']}: {exc}")
        else:
            target.host = fields["host"]  # type: ignore[assignment]
            target.port = fields["port"]  # type: ignore[assignment]
            target.database = fields["database"]  # type: ignore[assignment]
            target.user = fields["user"]  # type: ignore[assignment]
            target.options = dict(fields["options"])  # type: ignore[arg-type]
            password = fields["password"]  # type: ignore[assignment]
            for key in ("host", "port", "database", "user", "password"):
                target.origin.setdefault(key, target.origin["url"])
    for role in ("host", "port", "database", "user", "password"):
        value = get(role)
        if value is None:
            continue
        value = value.strip() if role != "password" else value
        if role == "password":
            password = value
        elif role == "port":
            try:
                target.port = int(value)
            except ValueError:
                target.problems.append(f"{chosen['port']} is not a port number")
        else:
            setattr(target, role, value)
    target.problems[:0] = [_unresolved(env, names, reason) for reason, names in unresolved.items()]
    if target.host and target.host.startswith(CLOUDSQL_PREFIX):
        target.instance = target.host[len(CLOUDSQL_PREFIX):].rstrip("/")
    else:
        served = proxy_instance(workload, target.host, target.port)
        if served:  # localhost:PORT of a Cloud SQL Auth Proxy sidecar (or one the job's command starts)
            target.instance = served
            target.origin["instance"] = f"Cloud SQL Auth Proxy at {target.host}:{target.port or 5432}"
    if password is not None:
        remember(password)
        target.password_fingerprint = fingerprint(password)
    if not target.instance and not target.host and not target.origin.keys() & {"host", "url"}:
        target.problems.append("no database host (neither POSTGRES_HOST nor DATABASE_URL)")
    return target, password


URL_NAME = re.compile(r"(DATABASE|DB|POSTGRES|PG|SQL)\w*_(URL|URI|DSN)$|^(DIRECT_URL|DSN)$", re.I)


def discover_url(env: dict[str, EnvVar], values: dict[str, str | None]) -> str | None:
    """The env var carrying the workload's database URL when none of the configured names is set: the
    one whose name says database URL and whose value parses as one (Prisma's DIRECT_URL, a job's
    ``..._DIRECT_DATABASE_URL`` beside the service's pooled ``..._DATABASE_URL``). None if not exactly one."""
    found = []
    for name in env:
        value = values.get(name)
        if not URL_NAME.search(name) or not value:
            continue
        try:
            parse_dsn(value)
        except DsnError:
            continue
        found.append(name)
    return found[0] if len(found) == 1 else None


def _unresolved(env: dict[str, EnvVar], names: list[str], reason: str) -> str:
    """`A, B could not be resolved: secrets a@latest, b@latest not readable (...)`: the secrets are
    named unless the reason already names them."""
    text = f"{', '.join(names)} could not be resolved"
    if not reason:
        return text
    secrets = [env[n].secret for n in names if env[n].secret is not None]
    if secrets and not any(s.secret in reason for s in secrets):
        reason = f"secret{'s' if len(secrets) > 1 else ''} {', '.join(s.key for s in secrets)} {reason}"
    return f"{text}: {reason}"
