"""Workloads exist: the service and the job are where the config says (project, region, name)."""

from __future__ import annotations

from netra_doctor.core.checking import Finding, check, fail, ok, skip
from netra_doctor.core.facts import Facts

KINDS = ("service", "job")


def _parts(name: str) -> dict[str, str]:
    """projects/P/locations/R/services/S -> {"projects": P, "locations": R, "services": S}"""
    bits = name.split("/")
    return {bits[i]: bits[i + 1] for i in range(0, len(bits) - 1, 2)}


@check(
    "workloads-exist",
    "The service and the job exist in the project and region searched",
    uses=("service", "job", "not_found"),
    causes=("workload-not-found",),
)
def workloads_exist(facts: Facts) -> list[Finding]:
    """Good: the Cloud Run API returns both the service and the job under the configured project,
    region and names. A NotFound names what was searched, so a typo in a name, region or project
    is told apart from a workload that cannot be read."""
    t = facts.target
    missing = {("service" if "/services/" in n else "job"): _parts(n) for n in facts.not_found}
    out: list[Finding] = []
    for kind in KINDS:
        name = t.service if kind == "service" else t.job
        if kind in missing:
            where = missing[kind]
            project, region = where.get("projects", t.project), where.get("locations", t.region)
            out.append(fail(
                f"the {kind} {name} does not exist in project {project}, region {region}",
                "workload-not-found", obj=kind,
                evidence=[f"Cloud Run answered NotFound for {kind} {name} (project {project}, region {region})"],
                fix_vars={"kind": kind, "project": project, "region": region},
            ))
        elif facts.workload(kind) is not None:
            out.append(ok(f"the {kind} {name} exists", obj=kind))
        else:
            status = facts.source("cloudrun")
            why = f": {status.error}" if status and status.error else ""
            out.append(skip(f"could not look the {kind} up{why}", obj=kind))
    return out
