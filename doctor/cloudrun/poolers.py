"""Connection poolers in front of one database: two URLs that reach the same database through a known
pooler (Supabase's Supavisor, Neon's pooled endpoint) are one database, the pooling a fact.

Pure: the rules read only host, port and user, as the providers document their endpoints.
"""

from __future__ import annotations

import re

from netra_doctor.core.facts import DbTarget
from netra_doctor.core.records import record

# Supabase's shared pooler: aws-0-REGION.pooler.supabase.com, user ROLE.PROJECT_REF; 6543 transaction mode,
# 5432 session mode. The direct endpoint is db.PROJECT_REF.supabase.co:5432 as ROLE.
_SUPABASE_SHARED = re.compile(r"^aws-\d+-[a-z0-9-]+\.pooler\.supabase\.com$")
_SUPABASE_DIRECT = re.compile(r"^db\.([a-z0-9]+)\.supabase\.co$")
# Neon: ep-NAME-pooler.REGION.aws.neon.tech pools ep-NAME.REGION.aws.neon.tech
_NEON_POOLED = re.compile(r"^(ep-[a-z0-9-]+)-pooler(\.[a-z0-9.-]+\.neon\.tech)$")


@record(frozen=True)
class Endpoint:
    """Where a target's connections really end: the database's direct endpoint, and the pooler if any."""

    host: str | None
    port: int | None
    user: str | None
    pooler: str = ""  # "" when the target is the database's own endpoint


def endpoint(t: DbTarget) -> Endpoint:
    host, port, user = (t.host or "").lower(), t.port, t.user
    if _SUPABASE_SHARED.match(host) and user and "." in user:
        role, ref = user.rsplit(".", 1)
        mode = "transaction" if port == 6543 else "session"
        return Endpoint(f"db.{ref}.supabase.co", 5432, role,
                        f"Supabase pooler {host}:{port or 5432} ({mode} mode) for project {ref}")
    m = _SUPABASE_DIRECT.match(host)
    if m and port == 6543:
        return Endpoint(host, 5432, user, f"Supabase dedicated pooler {host}:6543 for project {m.group(1)}")
    m = _NEON_POOLED.match(host)
    if m:
        return Endpoint(m.group(1) + m.group(2), port or 5432, user, f"Neon pooled endpoint {host}")
    return Endpoint(t.host, t.port, t.user)


def place(t: DbTarget) -> tuple:
    """What makes two targets the same database, whichever role and pooler reach it: the instance, or
    the direct host and port; and the database name."""
    if t.instance:
        return (t.instance, None, t.database)
    e = endpoint(t)
    port = (e.port or 5432) if e.host and not e.host.startswith("/") else e.port  # libpq's default port
    return (e.host, port, t.database)


def role(t: DbTarget) -> str | None:
    """The database role, as the pooler passes it on (Supavisor's ROLE.PROJECT_REF is ROLE)."""
    return t.user if t.instance else endpoint(t).user
