"""Cloud Logging, live: the service's startup errors and the job's latest execution, two bounded queries at once.

Uses the GAPIC ``LoggingServiceV2Client`` (the high-level ``Client.list_entries`` appends a
24 h timestamp filter of its own). Each query is bounded by time and by count. Entries are
turned into the JSON that ``gcloud logging read --format=json`` prints and read by the same
function as an offline ``logs.json``, so live and offline logs cannot drift apart.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from doctor.config import Target
from doctor.sources import Context
from doctor.sources import live_api as gcp
from doctor.sources.offline import log_entries

SERVICE_HOURS = 24  # at least this far back, and back to an hour before the last deploy
SERVICE_MAX = 200
JOB_MAX = 500
PAGE_SIZE = 100
JOB_FALLBACK_DAYS = 30  # Cloud Logging's default retention, when the execution's start is unknown
# plain stdout/stderr lines carry no severity on Cloud Run: keep the ones that read like a failure
ERROR_TERMS = ("error", "exception", "traceback", "failed", "fatal", "missing", "denied", "does not exist")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def service_filter(t: Target, now: datetime, updated: str | None = None) -> str:
    since = now - timedelta(hours=SERVICE_HOURS)
    deployed = _parse(updated)
    if deployed is not None:
        since = min(since, deployed - timedelta(hours=1))
    terms = " OR ".join(_quote(term) for term in ERROR_TERMS)
    return " AND ".join([
        'resource.type="cloud_run_revision"',
        f"resource.labels.service_name={_quote(t.service)}",
        f"resource.labels.location={_quote(t.region)}",
        f'timestamp>="{_rfc3339(since)}"',
        f"(severity>=ERROR OR (severity=DEFAULT AND (textPayload:({terms}) OR jsonPayload.message:({terms}))))",
    ])


def job_filter(t: Target, execution: str, now: datetime, created: str | None = None) -> str:
    started = _parse(created)
    since = started - timedelta(minutes=1) if started else now - timedelta(days=JOB_FALLBACK_DAYS)
    return " AND ".join([
        'resource.type="cloud_run_job"',
        f"resource.labels.job_name={_quote(t.job)}",
        f"resource.labels.location={_quote(t.region)}",
        f'labels."run.googleapis.com/execution_name"={_quote(execution)}',
        f'timestamp>="{_rfc3339(since)}"',
    ])


def _sortable(stamp: str) -> str:
    """RFC 3339 with 0-9 fraction digits -> a string that sorts in time order."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return f"{head}.{frac.ljust(9, '0')}"


def gcloud_form(entry: Any) -> dict[str, Any]:
    """A LogEntry as `gcloud logging read --format=json` prints it (the fields the doctor reads)."""
    from google.logging.type.log_severity_pb2 import LogSeverity
    from google.protobuf.json_format import MessageToDict

    pb = type(entry).pb(entry)
    out: dict[str, Any] = {
        "timestamp": pb.timestamp.ToJsonString() if pb.HasField("timestamp") else "",
        "resource": {"type": pb.resource.type, "labels": dict(pb.resource.labels)},
        "labels": dict(pb.labels),
    }
    if pb.severity:  # DEFAULT (0) is left out of the JSON, as gcloud does
        out["severity"] = LogSeverity.Name(pb.severity) if pb.severity in LogSeverity.values() else str(pb.severity)
    payload = pb.WhichOneof("payload")
    if payload == "text_payload":
        out["textPayload"] = pb.text_payload
    elif payload == "json_payload":
        out["jsonPayload"] = MessageToDict(pb.json_payload)
    return out


def gather(ctx: Context) -> None:
    clients = gcp.clients(ctx)
    client = clients.client("logging")
    t = ctx.target
    now = datetime.now(timezone.utc)
    queries = [(service_filter(t, now, clients.hints.get("service_updated")), "timestamp desc", SERVICE_MAX)]
    execution = ctx.facts.job.latest_revision if ctx.facts.job else ""
    if execution:  # oldest first: `Running upgrade` lines come at the start of a run
        queries.append((job_filter(t, execution, now, clients.hints.get("execution_created")), "timestamp asc",
                        JOB_MAX))

    def run(query: tuple[str, str, int]) -> list[Any] | Exception:
        text, order, limit = query
        try:
            return clients.pages("logging", client.list_log_entries, limit, resource_names=[f"projects/{t.project}"],
                                 filter=text, order_by=order, page_size=min(PAGE_SIZE, limit))
        except Exception as exc:
            return gcp.failure(exc, "logging", "read logs", t.project, t.timeout)

    with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="logs") as pool:
        results = list(pool.map(run, queries))
    gcp.outcome([r for r in results if isinstance(r, Exception)])
    entries = log_entries([gcloud_form(e) for found in results for e in found])  # type: ignore[union-attr]
    entries.sort(key=lambda e: _sortable(e.timestamp), reverse=True)  # newest first, as gcloud prints
    ctx.facts.logs = entries
