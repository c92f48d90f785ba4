"""Publish the workloads: move their literal secrets into the vault, then let the sources waiting on them start.

Shared by the offline and the live Cloud Run gatherers (``cloudrun``, ``live_cloudrun``).
"""

from __future__ import annotations

import re

from netra_doctor.core.facts import EnvVar, Workload
from netra_doctor.safety.secrecy import fingerprint, remember, scrub
from netra_doctor.sources.context import Context

# literal env values that are secrets by their name; they are fingerprinted in Facts
_SENSITIVE = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|DSN|DATABASE_URL|_URL$", re.I)


def redact(workload: Workload, ctx: Context, key: str = "") -> None:
    """Move literal secret-bearing env values into the vault (under ``key``, default the workload's kind);
    Facts keep a fingerprint or a scrubbed URL."""
    main = workload.main
    for container in workload.containers:
        for var in container.env:
            if var.secret is None and container is main:  # the app's values resolve its database target
                ctx.vault[f"{key or workload.kind}:{var.name}"] = var.value
            if var.value and _SENSITIVE.search(var.name):
                _hide(var)


def _hide(var: EnvVar) -> None:
    value = var.value or ""
    if "://" in value:
        from netra_doctor.cloudrun.targets import DsnError, parse_dsn

        try:
            parse_dsn(value)  # registers the password for scrubbing
        except DsnError:
            remember(value)
        var.value = scrub(value)
    else:
        remember(value)
        var.value = fingerprint(value)


def publish(ctx: Context) -> None:
    """Redact the workloads, then let the sources that need only them (secrets, logs) start."""
    for workload in (ctx.facts.service, ctx.facts.job):
        if workload is not None:
            redact(workload, ctx)
    ctx.announce("workloads")
