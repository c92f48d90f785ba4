"""Cloud Run, live: GetService, GetJob and ListExecutions at once, then GetRevision for the serving image.

Responses go through ``type(msg).to_dict(msg)`` into the same normaliser as the offline v2
JSON (``cloudrun_model.from_v2``), so no check can tell live from offline facts. As soon as
the service and the job are in, ``publish`` lets the secrets and logs sources start while the
revision and the executions are still on their way.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import Any

from netra_doctor.cloudrun.model import execution_from_v2, from_v2, revision_from_v2
from netra_doctor.cloudrun.serving import serving_from_service
from netra_doctor.core.errors import SourceError
from netra_doctor.core.facts import Execution, Workload
from netra_doctor.sources import live_api as gcp
from netra_doctor.sources.context import Context
from netra_doctor.sources.publish import publish

MAX_EXECUTIONS = 10  # newest first; the checks read the latest and its predecessors
PAGE_SIZE = 5


def _as_dict(msg: Any) -> dict[str, Any]:
    return type(msg).to_dict(msg)


class _Run:
    """One gathering: the names it asks for and the problems it met."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.clients = gcp.clients(ctx)
        # built here, before any call is submitted: the first imports google.cloud.run_v2
        self.services, self.jobs = self.clients.client("services"), self.clients.client("jobs")
        self.executions_api, self.revisions = self.clients.client("executions"), self.clients.client("revisions")
        t = ctx.target
        self.parent = f"projects/{t.project}/locations/{t.region}"
        self.names = {"service": f"{self.parent}/services/{t.service}", "job": f"{self.parent}/jobs/{t.job}"}
        self.problems: list[Exception] = []

    def fail(self, exc: BaseException, what: str) -> None:
        t = self.ctx.target
        self.problems.append(gcp.failure(exc, "run", what, t.project, t.timeout))

    def get(self, kind: str) -> Any:
        method = self.services.get_service if kind == "service" else self.jobs.get_job
        return self.clients.call("run", method, name=self.names[kind])

    def workload(self, kind: str, future: Future) -> tuple[Workload | None, dict[str, Any]]:
        from google.api_core import exceptions

        t = self.ctx.target
        try:
            raw = _as_dict(future.result())
        except exceptions.NotFound:
            self.ctx.facts.not_found.append(self.names[kind])
            self.problems.append(SourceError(
                f"{kind} {getattr(t, kind)} not found in project {t.project}, region {t.region}"))
            return None, {}
        except Exception as exc:
            self.fail(exc, f"read {kind} {getattr(t, kind)}")
            return None, {}
        workload = from_v2(raw, kind)
        workload.source_format = "v2-api"
        return workload, raw

    def executions(self) -> list[Execution]:
        found = self.clients.pages("run", self.executions_api.list_executions, MAX_EXECUTIONS,
                                   parent=self.names["job"], page_size=PAGE_SIZE)
        return sorted((execution_from_v2(_as_dict(e)) for e in found), key=lambda e: e.started, reverse=True)

    def revision(self, name: str) -> Any:
        return self.clients.call("run", self.revisions.get_revision, name=name)


def gather(ctx: Context) -> None:
    run = _Run(ctx)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="cloudrun") as pool:
        futures = {kind: pool.submit(run.get, kind) for kind in ("service", "job")}
        executions = pool.submit(run.executions)
        # the project's other workloads, listed while these calls are on the wire (the others source reads them)
        lists = pool.submit(list_workloads, ctx) if "others" in ctx.planned else None
        # the next sources' clients get ready while these calls are on the wire
        run.clients.prefetch([c for c, s in (("secrets", "secrets"), ("logging", "logs")) if s in ctx.planned])
        service, service_raw = run.workload("service", futures["service"])
        job, job_raw = run.workload("job", futures["job"])
        ctx.facts.service, ctx.facts.job = service, job
        _hints(run.clients.hints, service_raw, job_raw)
        publish(ctx)
        # the serving revision (its image) and, while a deploy fails, the newer one the Ready
        # condition is about (when it was created), at once
        revisions = {}
        for key in ("latest_ready_revision", "latest_created_revision"):
            name = service_raw.get(key) if service is not None else None
            if name and name not in revisions.values():
                revisions[key] = name
        pending = {key: pool.submit(run.revision, name) for key, name in revisions.items()}
        _executions(run, executions, job)
        _serving(run, service, pending)
    if lists is not None:
        with suppress(Exception):  # else the others source lists again, and reports what fails
            ctx.shared["workload_lists"] = lists.result()
    gcp.outcome(run.problems)


def _hints(hints: dict[str, str], service: dict[str, Any], job: dict[str, Any]) -> None:
    """When the service was created and the job last started: the logs source's time bounds (no
    revision of the service is older than the service)."""
    if service.get("create_time"):
        hints["service_created"] = str(service["create_time"])
    created = (job.get("latest_created_execution") or {}).get("create_time")
    if created:
        hints["execution_created"] = str(created)


def _executions(run: _Run, future: Future, job: Workload | None) -> None:
    from google.api_core import exceptions

    try:
        run.ctx.facts.executions = future.result()
    except Exception as exc:
        if job is None and isinstance(exc, exceptions.NotFound):
            return  # the job itself is missing: already reported
        run.fail(exc, f"list executions of job {run.ctx.target.job}")


def _serving(run: _Run, service: Workload | None, pending: dict[str, Future]) -> None:
    """The serving revision: readiness from the service (as offline), image and age from GetRevision,
    and when the latest created revision (the Ready condition's) was made."""
    if service is None:
        return
    serving = serving_from_service(service)
    found = {}
    for key, future in pending.items():
        try:
            found[key] = revision_from_v2(_as_dict(future.result()))
        except Exception as exc:
            run.fail(exc, f"read revision {_revision_name(key, service)}")
    ready = found.get("latest_ready_revision")
    if "latest_ready_revision" in pending and ready is None:
        return
    if ready is not None:
        serving.image = ready.image or serving.image
        serving.images = ready.images or serving.images
        serving.created = ready.created
    created = found.get("latest_created_revision")
    if created is not None:
        serving.latest_created_at = created.created
    elif serving.latest_created == serving.name:
        serving.latest_created_at = serving.created
    run.ctx.facts.serving_revision = serving


def _revision_name(key: str, service: Workload) -> str:
    return service.latest_revision if key == "latest_ready_revision" else service.latest_created


# --- the other workloads of the project and region (ListServices / ListJobs) ----------------------

MAX_LISTED = 500  # services or jobs per project and region read for discovery


def list_workloads(ctx: Context) -> tuple[list[Workload] | None, list[Workload] | None, list[Exception]]:
    """Every service and job of the project and region, at once, each call with the run's deadline
    (None for a list that could not be read, with why in the problems)."""
    run = _Run(ctx)
    calls = {"service": (run.services.list_services, "list services"), "job": (run.jobs.list_jobs, "list jobs")}

    def one(kind: str) -> list[Workload]:
        method, _ = calls[kind]
        found = run.clients.pages("run", method, MAX_LISTED, parent=run.parent, page_size=100)
        out = []
        for item in found:
            raw = _as_dict(item)
            w = from_v2(raw, kind)
            w.source_format = "v2-api"
            if raw.get("create_time"):  # the logs source bounds its query of this workload by it
                run.clients.hints[f"created:{kind}:{w.name}"] = str(raw["create_time"])
            out.append(w)
        return out

    lists: dict[str, list[Workload] | None] = {}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cloudrun-list") as pool:
        futures = {kind: pool.submit(one, kind) for kind in calls}
        for kind, future in futures.items():
            try:
                lists[kind] = future.result()
            except Exception as exc:
                run.fail(exc, calls[kind][1] + f" in {ctx.target.region}")
                lists[kind] = None
    return lists["service"], lists["job"], run.problems


def executions_of(ctx: Context, job: str) -> list[Execution]:
    """One job's executions (ListExecutions under that job: never another job's), newest first."""
    run = _Run(ctx)
    found = run.clients.pages("run", run.executions_api.list_executions, MAX_EXECUTIONS,
                              parent=f"{run.parent}/jobs/{job}", page_size=PAGE_SIZE)
    return sorted((execution_from_v2(_as_dict(e)) for e in found), key=lambda e: e.started, reverse=True)
