"""Cloud SQL connector: each workload attaches the instance its database host points at."""

from __future__ import annotations

from netra_doctor.cloudrun import containers
from netra_doctor.cloudrun.cloudsql_attach import attach_value
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok
from netra_doctor.core.facts import DbTarget, Facts, Workload
from netra_doctor.core.instances import is_instance_name

KINDS = ("service", "job")


def _attached(w: Workload) -> str:
    form = "cloud_sql_instance volume" if w.source_format.startswith("v2") else "run.googleapis.com/cloudsql-instances"
    line = f"{w.kind} {w.name} attaches {', '.join(w.cloudsql_instances) or 'no instance'} ({form})"
    for instance, route in w.proxies:
        line += f"; a Cloud SQL Auth Proxy serves {instance} at {route}"
    described = containers.describe(w)
    return f"{line} ({described})" if described and w.proxies else line


def _reached(w: Workload) -> list[str]:
    """Instances the workload can reach: attached (connector), or served by a Cloud SQL Auth Proxy."""
    return list(dict.fromkeys([*w.cloudsql_instances, *(i for i, _ in w.proxies)]))


def _workload_findings(w: Workload, target: DbTarget | None) -> list[Finding]:
    out: list[Finding] = []
    fix = {"kind": w.kind, "name": w.name}
    for name in w.cloudsql_instances:
        if not is_instance_name(name):
            wanted = (target.instance if target and target.instance else None) or "P:R:I"
            out.append(fail(
                f"{w.kind} attaches {name!r}, which is not PROJECT:REGION:INSTANCE",
                "cloudsql-connector-missing", obj=w.kind, evidence=[_attached(w)],
                fix_vars={**fix, "instance": attach_value(w, wanted)},
            ))
    if target is None or not target.instance:
        return out
    host = f"{w.kind} database host is /cloudsql/{target.instance} ({target.origin.get('host', 'env')})"
    if target.instance not in _reached(w):
        out.append(fail(
            f"{w.kind} {w.name} connects to /cloudsql/{target.instance} but does not attach that instance",
            "cloudsql-connector-missing", obj=w.kind, evidence=[host, _attached(w)],
            fix_vars={**fix, "instance": attach_value(w, target.instance)},
        ))
        return out
    bad_mounts = [m for m in w.cloudsql_mounts if m.rstrip("/") != "/cloudsql"]
    if bad_mounts and "/cloudsql" not in w.cloudsql_mounts and target.instance in w.cloudsql_instances:
        out.append(fail(
            f"{w.kind} mounts its Cloud SQL volume at {bad_mounts[0]}, but its host is under /cloudsql",
            "cloudsql-connector-missing", obj=w.kind, evidence=[host, _attached(w)],
            fix_vars={**fix, "instance": target.instance},
        ))
        return out
    out.append(ok(f"{w.kind} attaches the instance its host points at", "cloudsql-connector-missing",
                  obj=w.kind, evidence=[host, _attached(w)]))
    return out


@check(
    "cloudsql-connector",
    "Cloud SQL connector attached where the database host points",
    needs=("service", "job"),
    uses=("targets",),
    causes=("cloudsql-connector-missing", "cloudsql-instance-mismatch"),
)
def cloudsql_connector(facts: Facts) -> list[Finding]:
    """Good: every workload whose host is /cloudsql/P:R:I attaches P:R:I (v1 annotation or v2
    volume mounted at /cloudsql), instance names are well formed, and the job and the service
    attach the same instance."""
    targets = facts.targets or {}
    workloads = [facts.service, facts.job]
    findings = [f for w in workloads for f in _workload_findings(w, targets.get(w.kind))]

    service, job = facts.service, facts.job
    uses_cloudsql = any(_reached(w) for w in workloads) or any(t.instance for t in targets.values())
    if not uses_cloudsql:
        return findings or [not_applicable("neither workload uses Cloud SQL (no /cloudsql host, none attached)")]

    # what each side really reaches: the host's instance when known, else what it attaches
    def reach(w: Workload) -> set[str]:
        t = targets.get(w.kind)
        return {t.instance} if t and t.instance else set(_reached(w))

    evidence = [_attached(service), _attached(job)]
    s_reach, j_reach = reach(service), reach(job)
    if s_reach and j_reach and not s_reach & j_reach:
        findings.append(fail(
            f"the job reaches {', '.join(sorted(j_reach))}, the service {', '.join(sorted(s_reach))}",
            "cloudsql-instance-mismatch", obj="job", evidence=evidence,
            fix_vars={"kind": "job", "name": job.name, "instance": ",".join(sorted(s_reach))},
        ))
    elif s_reach and s_reach == j_reach:
        findings.append(ok(
            f"job and service reach the same Cloud SQL instance {', '.join(sorted(s_reach))}",
            "cloudsql-instance-mismatch", evidence=evidence,
        ))
    return findings
