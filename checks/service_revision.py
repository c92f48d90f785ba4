"""The serving revision: did it fail (or start) before the migration that should have fixed it?"""

from __future__ import annotations

from datetime import datetime

from netra_doctor.cloudrun import logparse, serving
from netra_doctor.cloudrun.executions import last_success
from netra_doctor.core.checking import Finding, check, not_applicable, ok, warn
from netra_doctor.core.facts import Facts, LogEntry

UNTIMED_CONFIDENCE = 0.4  # not ready, but when it failed relative to the migration is unknown


def _errors(entries: list[LogEntry]) -> list[LogEntry]:
    """The service's entries that report a failure: a known pattern, or ERROR severity and worse."""
    known = {id(h.entry) for h in logparse.hits(entries) if h.pattern not in ("alembic-upgrade", "alembic-context")}
    return [e for e in entries if id(e) in known or e.severity.upper() in ("ERROR", "CRITICAL", "ALERT", "EMERGENCY")]


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@check(
    "service-revision",
    "The serving revision started after the last successful migration",
    needs=("serving_revision", "executions"),
    uses=("logs", "service"),
    causes=("service-revision-stale",),
)
def service_revision(facts: Facts) -> list[Finding]:
    """Good: the service is ready, or the revision its Ready condition reports on (the latest
    created, newer than the serving one while a deploy fails) failed or was created after the last
    successful migration (so a redeploy would meet the same failure: the cause is elsewhere).
    Stale: that revision failed, or was created, before the migration finished and was never
    retried, so a redeploy picks up the migrated schema."""
    rev = facts.serving_revision
    success = last_success(facts.executions or [])
    if success is None:
        return [not_applicable("no successful migration to compare the serving revision with")]
    done = logparse.parse_time(success.completed or success.started)
    migrated = f"the migration {success.name} succeeded at {success.completed or success.started or '?'}"
    about = serving.condition_revision(facts)
    errors = _errors(serving.service_entries(facts, [about]) if about else
                     logparse.service_entries(facts.logs or []))  # which revision failed is unknown
    about = about or rev.name
    if rev.ready == "True" or (rev.ready != "False" and not errors):
        return [ok(f"the serving revision {rev.name or '?'} is ready", "service-revision-stale", obj="service",
                   evidence=[f"service Ready condition: {rev.ready or 'unknown'}", migrated])]
    state = f"service Ready condition: {rev.ready or 'unknown'}" + (f" ({rev.message})" if rev.message else "")
    evidence = [state, migrated]
    if about and about != rev.name:
        evidence.append(f"the condition is about the latest created revision {about}; "
                        f"{rev.name or 'no revision'} still serves")
    fails = [t for t in (logparse.parse_time(e.timestamp) for e in errors) if t]
    created_at = rev.latest_created_at if about != rev.name else (rev.latest_created_at or rev.created)
    created = logparse.parse_time(created_at) if created_at else None
    failed = logparse.parse_time(rev.ready_since) if rev.ready == "False" and rev.ready_since else None
    if fails and done:
        last = max(fails)
        known = logparse.hits(errors, logparse.FAILURE_ORDER + logparse.TABLE_PATTERNS)
        newest = known[-1] if known else logparse.Hit("error-line", {}, logparse.in_time_order(errors)[-1])
        quote = newest.quote()
        evidence.append(f"its newest error is at {_fmt(last)}; service log: {quote}")
        if last > done:
            return [ok(f"the service still failed at {_fmt(last)}, after {success.name} finished at {_fmt(done)}: "
                       "a redeploy would meet the same error", "service-revision-stale", obj="service",
                       evidence=evidence)]
        return [warn(f"the service last failed at {_fmt(last)}, before {success.name} finished at {_fmt(done)}, "
                     "and has not started since", "service-revision-stale", obj="service", evidence=evidence)]
    if created and done:
        evidence.append(f"revision {about} was created at {created_at}")
        if created > done:
            return [ok(f"revision {about} was created at {_fmt(created)}, after {success.name} finished at "
                       f"{_fmt(done)}, and is not ready: a redeploy would meet the same failure",
                       "service-revision-stale", obj="service", evidence=evidence)]
        return [warn(f"revision {about} is not ready and predates the last successful migration",
                     "service-revision-stale", obj="service", evidence=evidence)]
    if failed and done:
        evidence.append(f"the Ready condition turned False at {rev.ready_since}")
        if failed > done:
            return [ok(f"revision {about or '?'} failed at {_fmt(failed)}, after {success.name} finished at "
                       f"{_fmt(done)}: a redeploy would meet the same failure", "service-revision-stale",
                       obj="service", evidence=evidence)]
        return [warn(f"revision {about or '?'} failed at {_fmt(failed)}, before {success.name} finished at "
                     f"{_fmt(done)}, and has not been retried since", "service-revision-stale", obj="service",
                     evidence=evidence)]
    evidence.append("no timed error of the service in the logs, so when it failed is unknown")
    return [warn(f"the revision {about or '?'} is not ready", "service-revision-stale", obj="service",
                 evidence=evidence, confidence=UNTIMED_CONFIDENCE)]
