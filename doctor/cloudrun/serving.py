"""Which of the service's log entries are about what runs now, the same live and offline.

A service's logs hold every revision it ever ran. Only two revisions matter for a diagnosis:
the latest created one (the newest deploy, which the service's Ready condition reports on) and
the latest ready one (which serves). An older revision's errors are history: after a fix, the
socket errors the previous revision logged an hour ago say nothing about the revision that now
starts cleanly. Pure: Facts in, entries out; the live logs source reads exactly these revisions'
entries and the checks select them again here, so an offline export of every revision gives the
same result.
"""

from __future__ import annotations

from netra_doctor.cloudrun import logparse
from netra_doctor.core.facts import Facts, LogEntry, ServingRevision, Workload


def current_revisions(facts: Facts) -> list[str]:
    """The latest created revision, then the serving one (once when they are the same); empty when
    the latest created is unknown (a manifest without status, a snapshot saved before it was read):
    the newest revision that logged then stands for it, as it did before."""
    rev = facts.serving_revision
    service = facts.service
    created = (rev.latest_created if rev else "") or (service.latest_created if service else "")
    if not created:
        return []
    serving = (rev.name if rev else "") or (service.latest_revision if service else "")
    return list(dict.fromkeys(n for n in (created, serving) if n))


def condition_revision(facts: Facts) -> str:
    """The revision the service's Ready condition reports on (the latest created), or "" if unknown."""
    names = current_revisions(facts)
    return names[0] if names else ""


def service_entries(facts: Facts, revisions: list[str] | None = None) -> list[LogEntry]:
    """The service's entries of the current revisions (or of ``revisions``), oldest first.

    Entries that name no revision, or a service whose revisions are unknown, fall back to the
    newest revision that wrote any, as before the revisions were known.
    """
    entries = logparse.service_entries(facts.logs or [])
    wanted = revisions if revisions is not None else current_revisions(facts)
    if not wanted or not any(e.origin for e in entries):
        return logparse.latest_origin(entries)
    keep = set(wanted)
    return logparse.in_time_order(e for e in entries if e.origin in keep)


def read_cut(facts: Facts) -> str | None:
    """Why the logs were read only in part (a bound in entries or seconds), when they were."""
    status = facts.source("logs")
    return status.error if status is not None and status.status == "partial" else None


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
