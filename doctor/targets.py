"""Resolve a workload's effective database target from its env vars and resolved secrets.

The result holds no secret: the password becomes a fingerprint and a DATABASE_URL is
parsed into fields, never kept whole. The password itself is returned separately, for
the database source to connect with, and lives only in memory.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from doctor.facts import DbTarget, Workload
from doctor.secrecy import fingerprint, remember

CLOUDSQL_PREFIX = "/cloudsql/"


class DsnError(ValueError):
    """A DATABASE_URL / --dsn that is not a PostgreSQL URL (message holds no password)."""


def parse_dsn(url: str) -> dict[str, object]:
    """Split a postgres URL into fields; ``+driver`` suffixes (postgresql+asyncpg) are accepted."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.split("+", 1)[0]
        port = parts.port
    except ValueError as exc:
        raise DsnError(f"not a valid database URL ({exc})") from None
    if scheme not in ("postgres", "postgresql"):
        raise DsnError(f"not a PostgreSQL URL (scheme {parts.scheme or 'missing'!r})")
    if parts.password:
        remember(unquote(parts.password))
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    host = query.pop("host", None) or (unquote(parts.hostname) if parts.hostname else None)
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
    workload: Workload, db_env: dict[str, str], values: dict[str, str | None]
) -> tuple[DbTarget, str | None]:
    """``values`` maps env name -> resolved value (None: the secret could not be resolved)."""
    target = DbTarget(workload=workload.kind)
    env = workload.env()
    password: str | None = None

    def get(role: str) -> str | None:
        name = db_env.get(role, "")
        var = env.get(name)
        if var is None:
            return None
        target.origin[role] = f"secret {var.secret.key}" if var.secret else f"env {name}"
        value = values.get(name)
        if value is None:
            target.problems.append(f"{name} could not be resolved")
        return value

    url = get("url")
    if url:
        try:
            fields = parse_dsn(url)
        except DsnError as exc:
            target.problems.append(f"{db_env['url']}: {exc}")
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
                target.problems.append(f"{db_env['port']} is not a port number")
        else:
            setattr(target, role, value)
    if target.host and target.host.startswith(CLOUDSQL_PREFIX):
        target.instance = target.host[len(CLOUDSQL_PREFIX):].rstrip("/")
    if password is not None:
        remember(password)
        target.password_fingerprint = fingerprint(password)
    if not target.instance and not target.host:
        target.problems.append("no database host (neither POSTGRES_HOST nor DATABASE_URL)")
    return target, password
