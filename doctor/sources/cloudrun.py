"""Cloud Run: the service, the job, the job's executions and the serving revision."""

from __future__ import annotations

import re

from doctor.facts import EnvVar, ServingRevision, Workload
from doctor.secrecy import fingerprint, remember, scrub
from doctor.sources import Context, SourceError

# literal env values that are secrets by their name; they are fingerprinted in Facts
_SENSITIVE = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|DSN|DATABASE_URL|_URL$", re.I)


def redact(workload: Workload, ctx: Context) -> None:
    """Move literal secret-bearing env values into the vault; Facts keep a fingerprint or a scrubbed URL."""
    main = workload.main
    for container in workload.containers:
        for var in container.env:
            if var.secret is None and container is main:  # the app's values resolve its database target
                ctx.vault[f"{workload.kind}:{var.name}"] = var.value
            if var.value and _SENSITIVE.search(var.name):
                _hide(var)


def _hide(var: EnvVar) -> None:
    value = var.value or ""
    if "://" in value:
        from doctor.targets import DsnError, parse_dsn

        try:
            parse_dsn(value)  # registers the password for scrubbing
        except DsnError:
            remember(value)
        var.value = scrub(value)
    else:
        remember(value)
        var.value = fingerprint(value)


def serving_from_service(service: Workload) -> ServingRevision:
    """The serving revision as the service describes it; its Ready condition reports on the latest
    created revision (Knative's ConfigurationsReady), which is newer than the serving one while a
    deploy fails."""
    ready = next((c for c in service.conditions if c.type == "Ready"), None)
    return ServingRevision(
        name=service.latest_revision, image=service.image,
        ready=ready.status if ready else "", message=ready.message if ready else "",
        latest_created=service.latest_created or service.latest_revision,
        ready_since=ready.last_transition if ready else "",
        images=[service.image, *(c.image for c in service.sidecars)] if service.containers else [],
    )


def publish(ctx: Context) -> None:
    """Redact the workloads, then let the sources that need only them (secrets, logs) start."""
    for workload in (ctx.facts.service, ctx.facts.job):
        if workload is not None:
            redact(workload, ctx)
    ctx.announce("workloads")


def gather(ctx: Context) -> None:
    if ctx.live:
        from doctor.sources import live_cloudrun

        live_cloudrun.gather(ctx)  # calls publish() as soon as the service and the job are in
    else:
        exports = ctx.exports
        ctx.facts.service, ctx.facts.job = exports.service, exports.job
        ctx.facts.executions = exports.executions
        if exports.service is not None:
            ctx.facts.serving_revision = serving_from_service(exports.service)
        publish(ctx)
    missing = [k for k in ("service", "job") if getattr(ctx.facts, k) is None]
    if missing:
        raise SourceError(f"no {' and no '.join(missing)} export in the --from folder" if not ctx.live
                          else f"could not read the {' and '.join(missing)}")
