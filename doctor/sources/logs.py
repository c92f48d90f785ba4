"""Logs: the service's recent startup errors and the migration job's execution logs."""

from __future__ import annotations

from netra_doctor.cloudrun.workloads import primary_entries
from netra_doctor.core.errors import Skipped
from netra_doctor.sources.context import Context


def gather(ctx: Context) -> None:
    if ctx.live:
        from netra_doctor.sources import live_logs

        live_logs.gather(ctx)
        return
    if ctx.exports.logs is None:
        raise Skipped(f"no logs.json in {ctx.target.exports_label}: startup errors and job logs unknown")
    t = ctx.target
    # a logs.json of the whole project holds other workloads' lines: the primary pair's are theirs alone
    ctx.facts.logs = primary_entries(ctx.exports.logs, t.service, t.job)
