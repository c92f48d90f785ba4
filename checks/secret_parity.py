"""Secret parity: the job and the service read the same secrets and so reach the same database.

Compares, name by name, the env vars that carry the database settings (config ``db_env``)
and every other secret-backed var the two share: same secret, same version, same value
(by fingerprint). Then puts the effective database target of each side by side. Values
never appear: host, port, database and user are shown (they are the target), the
password only as a fingerprint.
"""

from __future__ import annotations

from netra_doctor.cloudrun import containers
from netra_doctor.cloudrun.poolers import endpoint, place, role
from netra_doctor.cloudrun.shellcmd import gcloud_join
from netra_doctor.cloudrun.targets import URL_NAME
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, skip, warn
from netra_doctor.core.facts import DbTarget, EnvVar, Facts, SecretRef, SecretValue, Workload

DIFFERENT_DB = "job-service-different-database"
DRIFT = "secret-version-drift"
UNRESOLVABLE = "secret-unresolvable"
KINDS = ("service", "job")
MARK = "  <- differs"


def _value(facts: Facts, ref: SecretRef) -> SecretValue | None:
    return (facts.secrets or {}).get(ref.key)


def _version(facts: Facts, ref: SecretRef) -> str | None:
    """The version number a ref reads: pinned, or what `latest` resolved to (None: unknown)."""
    if ref.version != "latest":
        return ref.version
    value = _value(facts, ref)
    return value.resolved_version if value else None


def _describe(facts: Facts, var: EnvVar | None) -> str:
    if var is None:
        return "not set"
    if var.secret is None:
        return "a literal value"
    ref = var.secret
    where = f" (project {ref.project})" if ref.project else ""
    resolved = _version(facts, ref) if ref.version == "latest" else None
    return f"secret {ref.secret}@{ref.version}{f' (= version {resolved})' if resolved else ''}{where}"


def _fingerprint(facts: Facts, var: EnvVar | None) -> str | None:
    if var is None or var.secret is None:
        return None
    value = _value(facts, var.secret)
    return value.fingerprint if value else None


def _same_ref(a: EnvVar | None, b: EnvVar | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.secret is None or b.secret is None:
        return a.secret is None and b.secret is None and a.value == b.value
    return (a.secret.secret, a.secret.version, a.secret.project) == (b.secret.secret, b.secret.version,
                                                                      b.secret.project)


def _ref_line(facts: Facts, name: str, s: EnvVar | None, j: EnvVar | None) -> str:
    """One env name, service | job, with what differs; never a value."""
    left = _describe(facts, s)
    if _same_ref(s, j):
        return f"{name}: service {left} | job the same"
    line = f"{name}: service {left} | job {_describe(facts, j)}"
    fs, fj = _fingerprint(facts, s), _fingerprint(facts, j)
    if fs and fj:
        line += " (same value)" if fs == fj else f" (values differ: {fs} vs {fj})"
    elif s is not None and j is not None and s.secret is None and j.secret is None:
        line += " (values differ)"
    return line + MARK


def _names(facts: Facts) -> list[str]:
    """The database env names either side sets (every name config gives a role, and any other variable
    named like a database URL), then every other secret-backed name both set."""
    senv, jenv = facts.service.env(), facts.job.env()
    configured = [*facts.target.secret_envs.values(),
                  *(n for roles in facts.target.db_envs.values() for names in roles.values() for n in names)]
    urls = sorted(n for n in senv.keys() | jenv.keys() if URL_NAME.search(n))
    db = [n for n in dict.fromkeys([*configured, *urls]) if n in senv or n in jenv]
    shared = sorted(n for n in senv.keys() & jenv.keys()
                    if n not in db and (senv[n].secret is not None or jenv[n].secret is not None))
    return db + shared


# --- secret-unresolvable -----------------------------------------------------------


def _unresolvable(facts: Facts) -> list[Finding]:
    users: dict[str, list[str]] = {}
    refs: dict[str, SecretRef] = {}
    for w in (facts.service, facts.job):
        main = w.main
        for c in w.containers:  # sidecars' secrets must resolve too, or the revision does not start
            side = "" if c is main else f" (sidecar {c.name or c.image})"
            for var in c.env:
                if var.secret is not None:
                    refs.setdefault(var.secret.key, var.secret)
                    users.setdefault(var.secret.key, []).append(f"{w.kind} {var.name}{side}")
    if not refs or facts.secrets is None:
        return []
    out = []
    for key, ref in refs.items():
        value = facts.secrets.get(key)
        error = "not resolved" if value is None else value.error
        if error is None and value.fingerprint is None:
            error = "no value"
        if error:
            out.append(fail(
                f"secret {ref.secret}@{ref.version} cannot be resolved: {error}", UNRESOLVABLE, obj=ref.secret,
                evidence=[f"read by {', '.join(users[key])}"],
                fix_vars={"secret": ref.secret, **({"project": ref.project} if ref.project else {})},
            ))
    if not out:
        out.append(ok(f"all {len(refs)} secret refs of the service and the job resolve", UNRESOLVABLE,
                      evidence=[f"{key}: read by {', '.join(users[key])}" for key in refs]))
    return out


# --- secret-version-drift ----------------------------------------------------------


def _drift(facts: Facts, names: list[str]) -> list[Finding]:
    senv, jenv = facts.service.env(), facts.job.env()
    out, same = [], []
    for name in names:
        s, j = senv.get(name), jenv.get(name)
        if s is None or j is None or s.secret is None or j.secret is None or s.secret.secret != j.secret.secret:
            continue
        if any(v is None or v.error for v in (_value(facts, s.secret), _value(facts, j.secret))) and facts.secrets:
            continue  # a version that does not resolve is secret-unresolvable, not drift
        sv, jv = s.secret.version, j.secret.version
        if sv == jv:
            same.append(f"{name}: both read {s.secret.secret}@{sv}")
            continue
        rs, rj = _version(facts, s.secret), _version(facts, j.secret)
        if rs and rj and rs == rj:
            same.append(f"{name}: service {s.secret.secret}@{sv}, job @{jv}: both version {rs} today "
                        "(a new version will reach only the one on latest)")
            continue
        known = f" (versions {rs or '?'} and {rj or '?'})" if rs or rj else ""
        out.append(warn(
            f"{name}: the service reads {s.secret.secret}@{sv}, the job @{jv}{known}: "
            "a rotation reaches one and not the other", DRIFT, obj=name,
            evidence=[_ref_line(facts, name, s, j)],
            fix_vars={"env": name, "secret": s.secret.secret, "version": sv},
        ))
    if same and not out:
        out.append(ok(f"the job and the service read the same versions of {len(same)} shared secret(s)", DRIFT,
                      evidence=same))
    return out


# --- the effective targets ---------------------------------------------------------


def _show(t: DbTarget, field: str) -> str:
    if field == "instance":
        return t.instance or t.host or "-"
    if field == "options":
        return ",".join(f"{k}={v}" for k, v in sorted(t.options.items())) or "-"
    if field == "password":
        return t.password_fingerprint or "-"
    value = getattr(t, field)
    return "-" if value is None else str(value)


FIELDS = ("instance", "port", "database", "user", "options", "password")


def side_by_side(service: DbTarget, job: DbTarget) -> tuple[list[str], list[str]]:
    """Evidence lines `field: service | job`, and the fields that differ."""
    lines, differ = ["effective database target, service | job:"], []
    for field in FIELDS:
        a, b = _show(service, field), _show(job, field)
        label = "instance/host" if field == "instance" else field
        if field == "password":
            label = "password fingerprint"
        if a == b:
            lines.append(f"  {label}: {a} | same")
        else:
            differ.append(field)
            lines.append(f"  {label}: {a} | {b}{MARK}")
    return lines, differ


def secret_pairs(service: Workload, names: list[str]) -> str:
    """ENV=SECRET:VERSION for the service's database settings: what the job should bind too."""
    env = service.env()
    return gcloud_join([f"{n}={env[n].secret.secret}:{env[n].secret.version}"  # ^DELIM^ if a name holds a comma
                        for n in names if n in env and env[n].secret is not None])


def _targets(facts: Facts, names: list[str]) -> list[Finding]:
    senv, jenv = facts.service.env(), facts.job.env()
    refs = [_ref_line(facts, n, senv.get(n), jenv.get(n)) for n in names]
    if facts.secrets is None or facts.targets is None:
        status = facts.source("secrets")
        why = f"secrets source: {status.error}" if status and status.error else "no secrets.yaml, or not read"
        out = [skip(f"secret values unknown ({why}): the refs are compared, the databases they resolve "
                    "to are not", evidence=refs)]
        db = set(facts.target.secret_envs.values())
        differing = [n for n in names if n in db and not _same_ref(senv.get(n), jenv.get(n))]
        if differing:
            out.append(warn(
                f"the job binds {', '.join(differing)} differently from the service (values unknown)",
                DIFFERENT_DB, obj="job", evidence=refs, confidence=0.5,
                fix_vars={"secret_pairs": secret_pairs(facts.service, list(facts.target.secret_envs.values()))},
            ))
        return out
    ts, tj = facts.targets.get("service"), facts.targets.get("job")
    if ts is None or tj is None:
        return [skip("the effective database target of each side was not resolved", evidence=refs)]
    lines, differ = side_by_side(ts, tj)
    # the target is read from the app container; say which one it is when there are several
    evidence = [*lines, *refs, *(d for d in (containers.describe(facts.service), containers.describe(facts.job)) if d)]
    unresolved = [f"{t.workload}: {p}" for t in (ts, tj) for p in t.problems if "could not be resolved" in p]
    if unresolved:
        return [skip(f"cannot tell which database each side reaches: {unresolved[0]}", evidence=evidence)]
    if not (ts.instance or ts.host) and not (tj.instance or tj.host):
        return [not_applicable("neither the service nor the job names a database host", evidence=refs)]
    blind = [t for t in (ts, tj) if not (t.instance or t.host) and not t.origin.keys() & {"host", "url"}]
    if blind:
        # it reads its database from variables the config does not name: unknown, not another database
        kind = blind[0].workload
        return [skip(f"the {kind} sets none of the database variables the config names (and no one variable "
                     f"named like a database URL): which database it reaches is unknown; name its variable in "
                     f"[db_env.{kind}] (url = \"...\")", evidence=evidence)]
    out: list[Finding] = []
    if place(ts) != place(tj):
        what = [f for f in differ if f not in ("options", "password", "user")]
        out.append(fail(
            f"the job reaches {tj.where()} as {tj.user or '?'}, the service {ts.where()} as {ts.user or '?'} "
            f"({', '.join(what)} {'differs' if len(what) == 1 else 'differ'})", DIFFERENT_DB, obj="job",
            evidence=evidence,
            fix_vars={"secret_pairs": secret_pairs(facts.service, list(facts.target.secret_envs.values()))},
        ))
        return out
    pooled = [f"the {t.workload} reaches it through the {endpoint(t).pooler}" for t in (ts, tj) if endpoint(t).pooler]
    evidence = [*pooled, *evidence]
    if role(ts) != role(tj):
        # a least-privilege migration role is one database reached as two roles: the grants and default
        # privileges (tables, default-privileges checks) say whether the service can use what it creates
        out.append(ok(f"the job and the service reach the same database {ts.where()}: the job migrates as "
                      f"{role(tj) or '?'}, the service runs as {role(ts) or '?'}", DIFFERENT_DB, evidence=evidence))
    elif pooled:
        e = endpoint(tj if not endpoint(tj).pooler else ts)
        out.append(ok(f"the job and the service reach the same database {e.host}:{e.port}/{ts.database or '?'} as "
                      f"{role(ts) or '?'}, {' and '.join(p.split(' reaches it')[0] for p in pooled)} through a "
                      "connection pooler", DIFFERENT_DB, evidence=evidence))
    else:
        out.append(ok(f"the job and the service reach the same database: {ts.where()} as {ts.user or '?'}",
                      DIFFERENT_DB, evidence=evidence))
    if "password" in differ and role(ts) == role(tj):
        out.append(warn(
            f"the job and the service log in as {ts.user or '?'} with different passwords: one of them is "
            "rejected", obj="password", evidence=[lines[0], *(line for line in lines if "password" in line)],
        ))
    if "options" in differ:
        out.append(warn("the job and the service connect with different options (search_path, sslmode ...)",
                        obj="options", evidence=[lines[0], *(line for line in lines if "options" in line)]))
    return out


@check(
    "secret-parity",
    "Job and service read the same secrets and reach the same database",
    needs=("service", "job"),
    uses=("secrets", "targets"),
    causes=(DIFFERENT_DB, DRIFT, UNRESOLVABLE),
)
def secret_parity(facts: Facts) -> list[Finding]:
    """Good: for every database env var (config db_env) and every other secret both use, the job
    and the service bind the same secret at the same version; every ref resolves; and the
    effective targets (instance/host, port, database, user, options, password fingerprint) match."""
    names = _names(facts)
    return [*_unresolvable(facts), *_drift(facts, names), *_targets(facts, names)]
