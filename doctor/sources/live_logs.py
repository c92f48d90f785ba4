"""Cloud Logging, live: every entry of the service's current revisions and of the job's latest execution.

The checks select the entries they judge by revision and execution (``netra_doctor.cloudrun.serving``), never by
how error-like a line looks, and the same selection is read here: an INFO-only revision that now
serves is as much evidence as the errors an older one logged, and an offline ``logs.json`` of every
revision gives the same result. The current revisions are the latest created (the newest deploy,
which the Ready condition reports on) and the latest ready (serving); the latest execution is the
job's latest created one.

Each query pages until its entries are all read, within a bound in entries and in seconds. When the
bound cuts a newest-first service read, each revision's oldest entries (its start-up) are read too,
and when it cuts the oldest-first job read, the run's newest entries (how it ended): the decisive
lines of a start-up are never pushed out by a flood of later ones. A cut read is said in the
source's status ("partial") and the startup-errors evidence.

Uses the GAPIC ``LoggingServiceV2Client`` (the high-level ``Client.list_entries`` appends a 24 h
timestamp filter of its own). Entries are turned into the JSON that ``gcloud logging read
--format=json`` prints and read by the same function as an offline ``logs.json``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from netra_doctor.core.config import Target
from netra_doctor.core.errors import Partial
from netra_doctor.core.records import record
from netra_doctor.sources import live_api as gcp
from netra_doctor.sources.context import Context
from netra_doctor.sources.offline import log_entries

SERVICE_MAX = 100_000  # entries of the current revisions, newest first
JOB_MAX = 50_000  # entries of the latest execution, oldest first
EDGE_MAX = 1_000  # after a cut: each revision's first entries, the execution's last ones
READ_SECONDS = 60.0  # per query, all of its pages
PAGE_SIZE = 1_000  # the largest page Cloud Logging serves
RETENTION_DAYS = 30  # Cloud Logging's default retention: the bound when no creation time is known
UNKNOWN_HOURS = 24  # how far back the service is read when its revisions are unknown


@record(frozen=True)
class Query:
    what: str  # for the cut note: "the service's revisions a, b"
    filter: str
    order: str  # "timestamp desc" | "timestamp asc"
    limit: int


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


def _since(created: str | None, now: datetime, margin: timedelta) -> str:
    start = _parse(created)
    return _rfc3339(start - margin if start else now - timedelta(days=RETENTION_DAYS))


def service_filter(t: Target, revisions: list[str], now: datetime, created: str | None = None) -> str:
    """Every entry of these revisions of the service, since the service was created (no revision of
    it is older), or within the default retention when that is unknown."""
    parts = [
        'resource.type="cloud_run_revision"',
        f"resource.labels.service_name={_quote(t.service)}",
        f"resource.labels.location={_quote(t.region)}",
    ]
    if revisions:
        parts.append(f"resource.labels.revision_name=({' OR '.join(_quote(r) for r in revisions)})")
    parts.append(f'timestamp>="{_since(created, now, timedelta(minutes=1))}"')
    return " AND ".join(parts)


def job_filter(t: Target, execution: str, now: datetime, created: str | None = None) -> str:
    return " AND ".join([
        'resource.type="cloud_run_job"',
        f"resource.labels.job_name={_quote(t.job)}",
        f"resource.labels.location={_quote(t.region)}",
        f'labels."run.googleapis.com/execution_name"={_quote(execution)}',
        f'timestamp>="{_since(created, now, timedelta(minutes=1))}"',
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
        "insertId": pb.insert_id,
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


def _queries(ctx: Context, now: datetime, hints: dict[str, str]) -> list[Query]:
    t = ctx.target
    out = []
    revisions = _revisions(ctx)
    what = f"the service's revision{'s' if len(revisions) > 1 else ''} {', '.join(revisions)}" if revisions \
        else "the service"
    # without the service's revisions (Cloud Run unreadable), its entries of the last day: the checks
    # then judge the newest revision that wrote any
    created = hints.get("service_created") if revisions else _rfc3339(now - timedelta(hours=UNKNOWN_HOURS))
    out.append(Query(what, service_filter(t, revisions, now, created), "timestamp desc", SERVICE_MAX))
    execution = ctx.facts.job.latest_revision if ctx.facts.job else ""
    if execution:  # oldest first: `Running upgrade` lines come at the start of a run
        out.append(Query(f"the job's execution {execution}",
                         job_filter(t, execution, now, hints.get("execution_created")), "timestamp asc", JOB_MAX))
    return out


def _revisions(ctx: Context) -> list[str]:
    """The service's current revisions: the latest created, then the serving one."""
    service = ctx.facts.service
    if service is None:
        return []
    return list(dict.fromkeys(r for r in (service.latest_created, service.latest_revision) if r))


def _edges(ctx: Context, query: Query, now: datetime, hints: dict[str, str]) -> list[Query]:
    """After a cut: the other end of what was cut (a revision's start-up, an execution's end)."""
    if query.order == "timestamp asc":
        return [Query(query.what, query.filter, "timestamp desc", EDGE_MAX)]
    return [Query(query.what, service_filter(ctx.target, [r], now, hints.get("service_created")), "timestamp asc",
                  EDGE_MAX) for r in _revisions(ctx)]


def gather(ctx: Context) -> None:
    clients = gcp.clients(ctx)
    client = clients.client("logging")
    t = ctx.target
    now = datetime.now(timezone.utc)
    hints = dict(clients.hints)

    def run(query: Query) -> tuple[list[Any], str] | Exception:
        try:
            return clients.read("logging", client.list_log_entries, "entries", query.limit, READ_SECONDS,
                                resource_names=[f"projects/{t.project}"], filter=query.filter,
                                order_by=query.order, page_size=min(PAGE_SIZE, query.limit))
        except Exception as exc:
            return gcp.failure(exc, "logging", "read logs", t.project, t.timeout)

    queries = _queries(ctx, now, hints)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="logs") as pool:
        results = list(pool.map(run, queries))
        cut = [(q, r) for q, r in zip(queries, results, strict=True) if not isinstance(r, Exception) and r[1]]
        edges = [e for q, _ in cut for e in _edges(ctx, q, now, hints)]
        more = list(pool.map(run, edges))
    gcp.outcome([r for r in (*results, *more) if isinstance(r, Exception)])
    forms: dict[Any, dict[str, Any]] = {}
    for found in (*results, *more):
        for entry in found[0]:  # type: ignore[index]
            form = gcloud_form(entry)
            # one entry read twice (a cut read and its other end overlap): Cloud Logging's own identity
            key = (form["timestamp"], form["insertId"] or str(form.get("textPayload", form.get("jsonPayload"))))
            forms.setdefault(key, form)
    entries = log_entries(list(forms.values()))
    entries.sort(key=lambda e: _sortable(e.timestamp), reverse=True)  # newest first, as gcloud prints
    ctx.facts.logs = entries
    if cut:
        raise Partial("; ".join(_cut_note(q, *r) for q, r in cut))  # type: ignore[misc]


def _cut_note(query: Query, items: list[Any], bound: str) -> str:
    which = "newest" if query.order == "timestamp desc" else "oldest"
    other = "each revision's first" if query.order == "timestamp desc" else "the run's last"
    return (f"{query.what}: the bound of {bound} cut the read after the {which} {len(items):,} entries; "
            f"{other} {EDGE_MAX:,} were read too, the entries between were not")


OTHER_MAX = 2_000  # entries of another workload, newest first


def workload_entries(ctx: Context, kind: str, name: str) -> list[Any]:
    """Another workload's recent entries (its own service_name / job_name), newest first, bounded;
    read as the same gcloud JSON form an offline logs.json holds."""
    t = ctx.target
    clients = gcp.clients(ctx)
    client = clients.client("logging")
    since = _since(clients.hints.get(f"created:{kind}:{name}"), datetime.now(timezone.utc), timedelta(minutes=1))
    rtype, label = ("cloud_run_revision", "service_name") if kind == "service" else ("cloud_run_job", "job_name")
    query = " AND ".join([f'resource.type="{rtype}"', f"resource.labels.{label}={_quote(name)}",
                          f"resource.labels.location={_quote(t.region)}", f'timestamp>="{since}"'])
    items, _ = clients.read("logging", client.list_log_entries, "entries", OTHER_MAX, READ_SECONDS,
                            resource_names=[f"projects/{t.project}"], filter=query, order_by="timestamp desc",
                            page_size=min(PAGE_SIZE, OTHER_MAX))
    return log_entries([gcloud_form(e) for e in items])
