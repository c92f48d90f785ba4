"""The serving revision: did it fail (or start) before the migration that should have fixed it?"""

from __future__ import annotations

from datetime import datetime

from checks.job_execution import last_success
from doctor import logparse
from doctor.checking import Finding, check, not_applicable, ok, warn
from doctor.facts import Facts, LogEntry

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
    uses=("logs",),
    causes=("service-revision-stale",),
)
def service_revision(facts: Facts) -> list[Finding]:
    """Good: the serving revision is ready, or its failures come after the last successful migration
    (so a redeploy would meet them again: the cause is elsewhere). Stale: it failed, or was created,
    before that migration finished and never retried, so a redeploy picks up the migrated schema."""
    rev = facts.serving_revision
    success = last_success(facts.executions or [])
    if success is None:
        return [not_applicable("no successful migration to compare the serving revision with")]
    done = logparse.parse_time(success.completed or success.started)
    migrated = f"the migration {success.name} succeeded at {success.completed or success.started or '?'}"
    entries = logparse.service_entries(facts.logs or [])
    errors = _errors(entries)
    if rev.ready == "True" or (rev.ready != "False" and not errors):
        return [ok(f"the serving revision {rev.name or '?'} is ready", "service-revision-stale", obj="service",
                   evidence=[f"service Ready condition: {rev.ready or 'unknown'}", migrated])]
    state = f"service Ready condition: {rev.ready or 'unknown'}" + (f" ({rev.message})" if rev.message else "")
    evidence = [state, migrated]
    fails = [t for t in (logparse.parse_time(e.timestamp) for e in errors) if t]
    created = logparse.parse_time(rev.created) if rev.created else None
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
    if created and done and created < done:
        evidence.append(f"revision {rev.name} was created at {rev.created}")
        return [warn(f"the serving revision {rev.name} is not ready and predates the last successful migration",
                     "service-revision-stale", obj="service", evidence=evidence)]
    evidence.append("no timed error of the service in the logs, so when it failed is unknown")
    return [warn(f"the serving revision {rev.name or '?'} is not ready", "service-revision-stale", obj="service",
                 evidence=evidence, confidence=UNTIMED_CONFIDENCE)]
