"""Cloud Run: the service, the job, the job's executions and the serving revision."""

from __future__ import annotations

from netra_doctor.cloudrun.serving import serving_from_service
from netra_doctor.core.errors import SourceError
from netra_doctor.sources.context import Context
from netra_doctor.sources.publish import publish


def gather(ctx: Context) -> None:
    if ctx.live:
        from netra_doctor.sources import live_cloudrun

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
        raise SourceError(f"no {' and no '.join(missing)} export in {ctx.target.exports_label}" if not ctx.live
                          else f"could not read the {' and '.join(missing)}")
