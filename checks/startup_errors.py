"""Startup errors: what the service's current revisions and the job's latest execution logged, mapped to causes."""

from __future__ import annotations

from netra_doctor.cloudrun import logparse, serving
from netra_doctor.cloudrun.cloudsql_attach import attach_value
from netra_doctor.cloudrun.jobcommand import analyse
from netra_doctor.cloudrun.jobcommand import fix_vars as command_fix
from netra_doctor.cloudrun.logparse import Hit
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, warn
from netra_doctor.core.facts import Facts, LogEntry, Workload
from netra_doctor.safety.untrusted import sql_ident

MAPPED = (
    "database-auth-failed", "database-missing", "cloudsql-connector-missing", "tables-invisible-to-role",
    "job-command-invalid", "job-never-succeeded",
)


def _secret(facts: Facts, workload: Workload | None, role: str) -> str | None:
    """The secret behind a workload's database setting (e.g. the password), for the fix line."""
    env_name = facts.target.secret_envs.get(role, "")
    var = workload.env().get(env_name) if workload else None
    return var.secret.secret if var and var.secret else None


def _instance(facts: Facts, kind: str, hit: Hit | None = None) -> str:
    if hit and hit.groups.get("instance"):
        return hit.groups["instance"]
    target = (facts.targets or {}).get(kind)
    return target.instance if target and target.instance else ""


def _connection_findings(facts: Facts, kind: str, found: list[Hit]) -> list[Finding]:
    """Errors any workload can log while connecting: socket, password, database name."""
    w = facts.workload(kind)
    name = w.name if w else kind
    out: list[Finding] = []
    for hit in found:
        quote = [f"{kind} log: {hit.quote()}"]
        if hit.pattern in logparse.SOCKET_PATTERNS and "no such file" in hit.groups["reason"].lower():
            instance = hit.groups["instance"]
            out.append(fail(
                f"{kind} {name} could not open the Cloud SQL socket for {instance}: no connector attached",
                "cloudsql-connector-missing", obj=kind, evidence=quote,
                fix_vars={"kind": kind, "name": name, "instance": attach_value(w, instance)},
            ))
        elif hit.pattern == "auth-failed":
            instance = _instance(facts, kind)
            out.append(fail(
                f"{kind} {name}: password authentication failed for user {hit.groups['user']}",
                "database-auth-failed", obj=kind, evidence=quote,
                fix_vars={"user": hit.groups["user"], "instance_name": instance.rsplit(":", 1)[-1],
                          "secret": _secret(facts, w, "password") or ""},
            ))
        elif hit.pattern == "database-missing":
            instance = _instance(facts, kind)
            out.append(fail(
                f"{kind} {name}: database {hit.groups['database']} does not exist on the server it reached",
                "database-missing", obj=kind, evidence=quote,
                fix_vars={"database": hit.groups["database"], "instance_name": instance.rsplit(":", 1)[-1]},
            ))
    return _first_per_cause(out)


def _first_per_cause(findings: list[Finding]) -> list[Finding]:
    """A crash loop repeats one error many times: keep the newest of each cause, and count the rest."""
    newest: dict[tuple[str | None, str | None], Finding] = {}
    counts: dict[tuple[str | None, str | None], int] = {}
    for f in findings:
        key = (f.cause, f.obj)
        newest[key] = f
        counts[key] = counts.get(key, 0) + 1
    for key, f in newest.items():
        if counts[key] > 1:
            f.evidence.append(f"(logged {counts[key]} times)")
    return list(newest.values())


def _grant_lines(hit: Hit, user: str) -> str:
    obj = hit.groups["object"]
    if hit.groups["kind"] == "schema":
        return f"GRANT USAGE ON SCHEMA {obj} TO {user};"
    if hit.groups["kind"] == "sequence":
        return f"GRANT USAGE, SELECT ON SEQUENCE {obj} TO {user};"
    return f"GRANT SELECT, INSERT, UPDATE, DELETE ON {obj} TO {user};"


def _service_findings(facts: Facts, entries: list[LogEntry]) -> list[Finding]:
    found = logparse.hits(entries)
    out = _connection_findings(facts, "service", found)
    target = (facts.targets or {}).get("service")
    user = target.user if target and target.user else "<service user>"
    denied = [h for h in found if h.pattern == "permission-denied"]
    if denied:
        objects = list(dict.fromkeys(f"{h.groups['kind']} {h.groups['object']}" for h in denied))
        grantee = sql_ident(user) if target and target.user else user  # a role name from a secret: quoted
        out.append(fail(
            f"the service's role is denied {', '.join(objects)}",
            "tables-invisible-to-role", obj="service",
            evidence=[f"service log: {h.quote()}" for h in denied[-3:]],
            fix_vars={"grants": " ".join(dict.fromkeys(_grant_lines(h, grantee) for h in denied)), "user": user,
                      "schema": next((h.groups["object"] for h in denied if h.groups["kind"] == "schema"), "public")},
        ))
    tables = [h for h in found if h.pattern in (*logparse.TABLE_PATTERNS, "relation-missing")]
    if tables:
        names = sorted(logparse.tables_named_in_startup_errors(entries)
                       | {h.groups["relation"] for h in tables if h.pattern == "relation-missing"})
        # evidence only: the tables check and the job's upgrade log decide why they are missing
        out.append(warn(
            f"the service's start-up says tables are missing: {', '.join(names)}",
            obj="service", evidence=[f"service log: {tables[-1].quote()}"],
        ))
    return out


def _job_findings(facts: Facts, entries: list[LogEntry]) -> list[Finding]:
    found = logparse.hits(entries)
    out = _connection_findings(facts, "job", found)
    job = facts.job
    syntax = [h for h in found if h.pattern == "python-syntax-error"]
    if syntax:
        hit = syntax[-1]
        # the job-command check's own fix, rendered by the same code: the report lists the line once
        fix = command_fix(facts, job, analyse(job, facts)) if job else {}
        out.append(fail(
            f"the job's command is not valid Python: {hit.groups['detail']}",
            "job-command-invalid", obj="job",
            evidence=[f"job log: {h.quote()}" for h in _with_context(entries, hit)],
            fix_vars=fix,
        ))
    missing = [h for h in found if h.pattern == "module-not-found"]
    if missing and facts.executions is None:
        # with executions known, the job-execution check quotes this line itself
        hit = missing[-1]
        out.append(fail(
            f"the migration job's run died on a missing module: {hit.groups['module']}",
            "job-never-succeeded", obj="job", evidence=[f"job log: {hit.quote()}"],
        ))
    return out


def _with_context(entries: list[LogEntry], hit: Hit) -> list[Hit]:
    """A SyntaxError's entry plus the two lines before it (the code and the caret), as Python printed them."""
    ordered = logparse.in_time_order(entries)
    i = next((n for n, e in enumerate(ordered) if e is hit.entry), None)
    before = ordered[max(0, i - 2):i] if i is not None else []
    return [*(Hit("context", {}, e) for e in before), hit]


@check(
    "startup-errors",
    "Startup errors in the service's and the job's logs",
    needs=("logs",),
    uses=("service", "serving_revision", "job", "executions", "targets", "repo"),
    causes=MAPPED,
)
def startup_errors(facts: Facts) -> list[Finding]:
    """Good: the service's current revisions (the latest created and the serving one) and the job's
    latest execution logged none of the known failures (Cloud SQL socket missing, password rejected,
    database missing, permission denied, a shell script handed to `python -c`, a module missing from
    the image). An older revision's errors are history: a fix deployed since is not blamed for them."""
    logs = facts.logs or []
    service = serving.service_entries(facts)
    if facts.executions:
        job = logparse.execution_entries(logs, facts.executions[0])
    else:
        job = logparse.latest_origin(logparse.job_entries(logs))
    if not service and not job:
        return [not_applicable("the logs hold no entries from the service or the job")]
    cut = serving.read_cut(facts)
    findings = _service_findings(facts, service) + _job_findings(facts, job)
    if findings:
        if cut:
            for f in findings:
                f.evidence.append(f"the logs were read in part: {cut}")
        return findings
    parts = []
    for origin in dict.fromkeys(e.origin for e in service):
        parts.append(f"service revision {origin or '?'}: {sum(e.origin == origin for e in service)} entries")
    if job:
        parts.append(f"job execution {job[-1].origin or '?'}: {len(job)} entries")
    if cut:
        parts.append(f"the logs were read in part: {cut}")
    return [ok("no known start-up or connection error in the current revisions' and the latest execution's logs",
               evidence=parts)]
