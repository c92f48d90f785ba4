"""An in-process fake of the Google APIs the doctor reads, speaking the real protos over plaintext gRPC.

The real generated clients talk to it unchanged (``NETRA_DOCTOR_GCP_ENDPOINT`` or the
``endpoint`` property): nothing is monkeypatched. Its data comes from an offline exports folder
(tests/data/seed, or a scenario's folder), so a live run and an offline run of the same
environment can be compared. A v2 ``service.json`` / ``job.json`` is served as written;
gcloud's v1 YAML goes through the doctor's model and back out as the v2 resource.

Faults, per RPC name ("GetService", "ListLogEntries", ...): ``latency`` (seconds per call),
``deny`` (PERMISSION_DENIED), ``refuse`` (UNAUTHENTICATED), ``hang`` (never answers), ``unavailable``
(UNAVAILABLE the first N times), ``page_size`` (force small pages). Every call is logged in ``calls``,
also one to a method the fake does not serve (refused as UNIMPLEMENTED), so ``mutating(calls)`` sees any write; leaving
``with FakeGCP()`` after one fails the test, so every live test also proves the doctor read-only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc
from google.cloud import run_v2
from google.cloud.logging_v2.types import ListLogEntriesRequest, ListLogEntriesResponse, LogEntry
from google.cloud.secretmanager_v1.types import (
    AccessSecretVersionRequest,
    AccessSecretVersionResponse,
)
from netra_doctor.cloudrun.workloads import runs_of
from netra_doctor.core.facts import Condition, Container, Execution, Workload
from netra_doctor.sources.offline import load_folder

PROJECT_NUMBER = "701982941175"  # the seed's namespace
_STATE = {"True": "CONDITION_SUCCEEDED", "False": "CONDITION_FAILED", "Unknown": "CONDITION_PENDING"}
_SEVERITY = {"DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400, "ERROR": 500,
             "CRITICAL": 600, "ALERT": 700, "EMERGENCY": 800}
_PERMISSION = {"GetService": "run.services.get", "GetJob": "run.jobs.get", "ListExecutions": "run.executions.list",
               "GetRevision": "run.revisions.get", "ListServices": "run.services.list", "ListJobs": "run.jobs.list",
               "AccessSecretVersion": "secretmanager.versions.access",
               "ListLogEntries": "logging.logEntries.list"}


@dataclass
class Call:
    method: str
    request: dict[str, Any]
    started: float
    ended: float = 0.0
    code: str = "OK"

    @property
    def seconds(self) -> float:
        return self.ended - self.started


# --- exports -> v2 resources ----------------------------------------------------------------


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def _container(c: Container) -> dict[str, Any]:
    env = []
    for e in c.env:
        if e.secret:
            secret = f"projects/{e.secret.project}/secrets/{e.secret.secret}" if e.secret.project else e.secret.secret
            ref = {"secret": secret, "version": e.secret.version}
            env.append({"name": e.name, "valueSource": {"secretKeyRef": ref}})
        else:
            env.append({"name": e.name, "value": e.value or ""})
    return _drop_empty({
        "name": c.name, "image": c.image, "command": c.command, "args": c.args, "workingDir": c.working_dir,
        "env": env, "volumeMounts": [{"name": m.name, "mountPath": m.mount_path} for m in c.volume_mounts],
        "ports": [{"containerPort": p} for p in c.ports],
    })


def _pod(w: Workload) -> dict[str, Any]:
    volumes = []
    if w.cloudsql_instances:
        names = [m.name for c in w.containers for m in c.volume_mounts if m.mount_path in w.cloudsql_mounts]
        volumes.append({"name": names[0] if names else "cloudsql",
                        "cloudSqlInstance": {"instances": w.cloudsql_instances}})
    return _drop_empty({"containers": [_container(c) for c in w.containers], "volumes": volumes,
                        "serviceAccount": w.service_account})


def _condition(c: Condition) -> dict[str, Any]:
    return _drop_empty({"type": c.type, "state": _STATE.get(c.status, "STATE_UNSPECIFIED"), "message": c.message,
                        "lastTransitionTime": c.last_transition})


def _conditions(w: Workload) -> dict[str, Any]:
    ready = next((c for c in w.conditions if c.type == "Ready"), None)
    rest = [_condition(c) for c in w.conditions if c is not ready]
    return _drop_empty({"terminalCondition": _condition(ready) if ready else None, "conditions": rest})


def execution_v2(e: Execution, job_name: str) -> dict[str, Any]:
    counts = {"succeeded": "succeededCount", "failed": "failedCount", "cancelled": "cancelledCount",
              "running": "runningCount"}
    state = {"succeeded": "True", "failed": "False", "cancelled": "False", "running": "Unknown"}.get(e.status, "")
    doc: dict[str, Any] = {
        "name": f"{job_name}/executions/{e.name}", "job": job_name.rsplit("/", 1)[-1],
        "createTime": e.started or None, "startTime": e.started or None, "completionTime": e.completed or None,
        "template": {"containers": [{"image": e.image}]} if e.image else None,
        "conditions": [_condition(Condition("Completed", state, message=e.message))],
    }
    if e.status in counts:
        doc[counts[e.status]] = 1
    return _drop_empty(doc)


# --- the logging filter language, as much of it as the doctor writes --------------------------

_TOKEN = re.compile(r'\s*(?:(?P<word>[A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|"[^"]*"))*)|(?P<str>"(?:[^"\\]|\\.)*")'
                    r'|(?P<op>>=|<=|!=|=|>|<|:)|(?P<paren>[()]))')


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse filter at {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        out.append((kind, json.loads(value) if kind == "str" else value))
        pos = m.end()
    return out


def _field(item: dict[str, Any], path: str) -> Any:
    parts = re.findall(r'"([^"]*)"|([^.]+)', path)
    value: Any = item
    for quoted, plain in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(quoted or plain)
    return value


def _time(value: str) -> datetime:
    head, _, frac = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac or '0')[:6].ljust(6, '0')}+00:00")


def _compare(item: dict[str, Any], path: str, op: str, values: list[str]) -> bool:
    if path == "severity":
        have = _SEVERITY.get(str(item.get("severity") or "DEFAULT"), 0)
        wants = [_SEVERITY[v] for v in values]
    elif path == "timestamp":
        have, wants = _time(item["timestamp"]), [_time(v) for v in values]
    else:
        raw = _field(item, path)
        if raw is None:
            return op == "!="
        have, wants = str(raw), values
    if op == ":":
        return any(str(w).lower() in str(have).lower() for w in wants)
    ops = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a >= b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}
    return any(ops[op](have, w) for w in wants)


class _Filter:
    """Cloud Logging precedence: NOT binds tightest, then OR, then AND."""

    def __init__(self, text: str):
        self.tokens, self.i = _tokens(text), 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        self.i += 1
        return self.tokens[self.i - 1]

    def parse(self) -> Any:
        node = self._and()
        if self._peek() is not None:
            raise ValueError(f"unexpected {self._peek()}")
        return node

    def _and(self) -> Any:
        nodes = [self._or()]
        while self._peek() not in (None, ("paren", ")")):
            if self._peek() == ("word", "AND"):
                self._take()
            nodes.append(self._or())
        return ("and", nodes)

    def _or(self) -> Any:
        nodes = [self._unary()]
        while self._peek() == ("word", "OR"):
            self._take()
            nodes.append(self._unary())
        return ("or", nodes)

    def _unary(self) -> Any:
        if self._peek() == ("word", "NOT"):
            self._take()
            return ("not", self._unary())
        if self._peek() == ("paren", "("):
            self._take()
            node = self._and()
            self._take()
            return node
        _, path = self._take()
        _, op = self._take()
        if self._peek() == ("paren", "("):
            self._take()
            values = [self._take()[1]]
            while self._peek() == ("word", "OR"):
                self._take()
                values.append(self._take()[1])
            self._take()
        else:
            values = [self._take()[1]]
        return ("cmp", path, op, values)


def matches(node: Any, item: dict[str, Any]) -> bool:
    kind = node[0]
    if kind == "and":
        return all(matches(n, item) for n in node[1])
    if kind == "or":
        return any(matches(n, item) for n in node[1])
    if kind == "not":
        return not matches(node[1], item)
    return _compare(item, node[1], node[2], node[3])


# --- the server -----------------------------------------------------------------------------


@dataclass
class FakeGCP:
    latency: float = 0.0
    deny: set[str] = field(default_factory=set)
    refuse: set[str] = field(default_factory=set)  # UNAUTHENTICATED: credentials the API does not accept
    hang: set[str] = field(default_factory=set)
    unavailable: dict[str, int] = field(default_factory=dict)
    page_size: int | None = None
    calls: list[Call] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)
    executions: dict[str, list[Any]] = field(default_factory=dict)  # job name -> newest first
    revisions: dict[str, Any] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (project, secret) -> versions
    logs: dict[str, list[tuple[dict[str, Any], Any]]] = field(default_factory=dict)  # project -> (json, proto)
    numbers: dict[str, str] = field(default_factory=dict)  # project id -> number
    created: dict[str, str] = field(default_factory=dict)  # revision -> createTime, where a test says so

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple, list[Any]] = {}
        self._server: grpc.Server | None = None
        self.port = 0

    # --- data -------------------------------------------------------------------------------

    def add_environment(self, folder: Path, project: str = "netra-staging", region: str = "us-central1",
                        number: str = PROJECT_NUMBER, service: str | None = None, job: str | None = None) -> FakeGCP:
        """Serve the exports in ``folder`` as project ``project``, region ``region`` (optionally renamed)."""
        exports = load_folder(folder)
        if exports.service is not None and service:
            exports.service.name = service
        if exports.job is not None and job:
            exports.job.name = job
        parent = f"projects/{project}/locations/{region}"
        self.numbers[project] = number
        first_logs: dict[str, str] = {}  # revision -> its first entry's time ("": the service's first)
        for e in exports.logs or []:
            if e.resource == "service":
                for key in {e.origin, ""}:
                    first_logs[key] = min(first_logs.get(key, e.timestamp), e.timestamp)
        if exports.service is not None:
            self._add_service(folder, exports.service, parent, first_logs)
        if exports.job is not None:
            self._add_job(folder, exports.job, exports.executions or [], parent)
        # `gcloud run services list` / `jobs list` exports: the project's other workloads, with their own runs
        for other in exports.services or []:
            if exports.service is None or other.name != exports.service.name:
                self._add_service(folder / "-", other, parent, first_logs)
        for other in exports.jobs or []:
            if exports.job is None or other.name != exports.job.name:
                self._add_job(folder / "-", other, runs_of(exports.all_executions or [], other.name), parent)
        for secret, versions in (exports.secrets or {}).items():
            for owner in (project, number):
                self.secrets[(owner, secret)] = dict(versions)
        if (folder / "logs.json").is_file():
            self.logs.setdefault(project, []).extend(_log_protos(json.loads((folder / "logs.json").read_text())))
        return self

    def _raw(self, folder: Path, kind: str, name: str) -> dict[str, Any] | None:
        path = folder / f"{kind}.json"
        if not path.is_file():
            return None
        doc = json.loads(path.read_text())
        doc["name"] = name
        return doc

    def _add_service(self, folder: Path, w: Workload, parent: str, first_logs: dict[str, str]) -> None:
        name = f"{parent}/services/{w.name}"
        first_log = first_logs.get("")
        doc = self._raw(folder, "service", name) or _drop_empty({
            "name": name, "template": _pod(w), **_conditions(w),
            "latestReadyRevision": f"{parent}/revisions/{w.latest_revision}" if w.latest_revision else None,
            "latestCreatedRevision": f"{parent}/revisions/{w.latest_created}" if w.latest_created else None,
            # created, and last deployed, just before it first logged (the doctor bounds its log
            # queries by these)
            "createTime": first_log, "updateTime": first_log,
        })
        self.services[name] = run_v2.Service.from_json(json.dumps(doc), ignore_unknown_fields=True)
        for key, state in (("latestReadyRevision", "CONDITION_SUCCEEDED"), ("latestCreatedRevision", None)):
            revision_name = doc.get(key)
            if not revision_name or revision_name in self.revisions:
                continue
            short = revision_name.rsplit("/", 1)[-1]
            ready = state or ("CONDITION_SUCCEEDED" if short == w.latest_revision else "CONDITION_FAILED")
            revision = _drop_empty({
                "name": revision_name, "service": w.name, "containers": doc["template"].get("containers", []),
                "conditions": [{"type": "Ready", "state": ready}],
                "createTime": self.created.get(short) or first_logs.get(short),  # as it started, when it logged
            })
            self.revisions[revision_name] = run_v2.Revision.from_json(json.dumps(revision),
                                                                      ignore_unknown_fields=True)

    def _add_job(self, folder: Path, w: Workload, executions: list[Execution], parent: str) -> None:
        name = f"{parent}/jobs/{w.name}"
        latest = next((e for e in executions if e.name == w.latest_revision), None)
        doc = self._raw(folder, "job", name) or _drop_empty({
            "name": name, "template": {"template": _pod(w)}, **_conditions(w),
            "latestCreatedExecution": _drop_empty({
                "name": w.latest_revision, "createTime": latest.started if latest else None,
            }) or None,
        })
        self.jobs[name] = run_v2.Job.from_json(json.dumps(doc), ignore_unknown_fields=True)
        ordered = sorted(executions, key=lambda e: e.started, reverse=True)
        self.executions[name] = [run_v2.Execution.from_json(json.dumps(execution_v2(e, name))) for e in ordered]

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeGCP:
        server = grpc.server(ThreadPoolExecutor(max_workers=32))
        server.add_generic_rpc_handlers(self._handlers())
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> FakeGCP:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        writes = mutating(self.calls)
        if exc_type is None and writes:  # so every live test also checks that the doctor is read-only
            raise AssertionError(f"mutating Google API calls were made: {writes}")

    def called(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # --- RPCs -------------------------------------------------------------------------------

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        def h(method: str, req: Any, resp: Any, fn: Any) -> tuple[str, grpc.RpcMethodHandler]:
            return method, grpc.unary_unary_rpc_method_handler(
                self._wrap(method, req, fn), request_deserializer=req.deserialize, response_serializer=resp.serialize)

        services = {
            "google.cloud.run.v2.Services": [h("GetService", run_v2.GetServiceRequest, run_v2.Service,
                                               self._get_service),
                                             h("ListServices", run_v2.ListServicesRequest, run_v2.ListServicesResponse,
                                               self._list_services)],
            "google.cloud.run.v2.Jobs": [h("GetJob", run_v2.GetJobRequest, run_v2.Job, self._get_job),
                                         h("ListJobs", run_v2.ListJobsRequest, run_v2.ListJobsResponse,
                                           self._list_jobs)],
            "google.cloud.run.v2.Executions": [h("ListExecutions", run_v2.ListExecutionsRequest,
                                                 run_v2.ListExecutionsResponse, self._list_executions)],
            "google.cloud.run.v2.Revisions": [h("GetRevision", run_v2.GetRevisionRequest, run_v2.Revision,
                                                self._get_revision)],
            "google.cloud.secretmanager.v1.SecretManagerService": [
                h("AccessSecretVersion", AccessSecretVersionRequest, AccessSecretVersionResponse, self._access)],
            "google.logging.v2.LoggingServiceV2": [h("ListLogEntries", ListLogEntriesRequest, ListLogEntriesResponse,
                                                     self._list_log_entries)],
        }
        served = [grpc.method_handlers_generic_handler(name, dict(methods)) for name, methods in services.items()]
        return [*served, _Unserved(self)]  # last: only what no service above answers

    def _wrap(self, method: str, req_type: Any, fn: Any) -> Any:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            call = Call(method, type(request).to_dict(request), time.perf_counter())
            with self._lock:
                self.calls.append(call)
            try:
                return self._serve(method, fn, request, context, call)
            finally:
                call.ended = time.perf_counter()

        return handler

    def _serve(self, method: str, fn: Any, request: Any, context: grpc.ServicerContext, call: Call) -> Any:
        if method in self.hang or "*" in self.hang:
            while context.is_active():
                time.sleep(0.02)
            return self._abort(context, call, grpc.StatusCode.DEADLINE_EXCEEDED, "never answered")
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            left = self.unavailable.get(method, 0)
            if left:
                self.unavailable[method] = left - 1
        if left:
            return self._abort(context, call, grpc.StatusCode.UNAVAILABLE, "the fake is briefly unavailable")
        if method in self.refuse:
            return self._abort(context, call, grpc.StatusCode.UNAUTHENTICATED,
                               "Request had invalid authentication credentials.")
        if method in self.deny:
            name = call.request.get("name") or call.request.get("parent") or ",".join(
                call.request.get("resource_names", []))
            return self._abort(context, call, grpc.StatusCode.PERMISSION_DENIED,
                               f"Permission '{_PERMISSION[method]}' denied on resource '{name}' "
                               "(or it may not exist).")
        try:
            return fn(request)
        except KeyError as exc:
            return self._abort(context, call, grpc.StatusCode.NOT_FOUND, str(exc.args[0]))

    def _abort(self, context: grpc.ServicerContext, call: Call, code: grpc.StatusCode, message: str) -> Any:
        call.code = code.name
        context.abort(code, message)

    def _get(self, table: dict[str, Any], name: str, what: str) -> Any:
        if name not in table:
            raise KeyError(f"Resource '{name}' of kind '{what}' does not exist.")
        return table[name]

    def _get_service(self, request: Any) -> Any:
        return self._get(self.services, request.name, "SERVICE")

    def _get_job(self, request: Any) -> Any:
        return self._get(self.jobs, request.name, "JOB")

    def _get_revision(self, request: Any) -> Any:
        return self._get(self.revisions, request.name, "REVISION")

    def _page(self, items: list[Any], request: Any) -> tuple[list[Any], str]:
        size = min(request.page_size or 50, self.page_size or 1000)
        start = int(request.page_token or 0)
        end = start + size
        return items[start:end], str(end) if end < len(items) else ""

    def _list_services(self, request: Any) -> Any:
        found = [v for k, v in sorted(self.services.items()) if k.startswith(request.parent + "/services/")]
        page, token = self._page(found, request)
        return run_v2.ListServicesResponse(services=page, next_page_token=token)

    def _list_jobs(self, request: Any) -> Any:
        found = [v for k, v in sorted(self.jobs.items()) if k.startswith(request.parent + "/jobs/")]
        page, token = self._page(found, request)
        return run_v2.ListJobsResponse(jobs=page, next_page_token=token)

    def _list_executions(self, request: Any) -> Any:
        self._get(self.jobs, request.parent, "JOB")
        page, token = self._page(self.executions.get(request.parent, []), request)
        return run_v2.ListExecutionsResponse(executions=page, next_page_token=token)

    def _access(self, request: Any) -> Any:
        m = re.fullmatch(r"projects/([^/]+)/secrets/([^/]+)/versions/([^/]+)", request.name)
        if not m or (m.group(1), m.group(2)) not in self.secrets:
            raise KeyError(f"Secret [{request.name.rsplit('/versions/', 1)[0]}] not found or has no versions.")
        project, secret, version = m.groups()
        versions = self.secrets[(project, secret)]
        if version == "latest":
            numbered = sorted((v for v in versions if v.isdigit()), key=int)
            version = numbered[-1] if numbered else "latest"
        if version not in versions:
            raise KeyError(f"Secret Version [{request.name}] not found.")
        number = self.numbers.get(project, project)
        return AccessSecretVersionResponse(name=f"projects/{number}/secrets/{secret}/versions/{version}",
                                           payload={"data": versions[version].encode()})

    def _list_log_entries(self, request: Any) -> Any:
        key = (request.filter, request.order_by, tuple(request.resource_names),
               sum(len(v) for v in self.logs.values()))
        with self._lock:  # the next pages of one query reuse its match (50,000 entries, 50 pages)
            found = self._found.get(key)
        if found is None:
            tree = _Filter(request.filter).parse()
            wanted = {n.split("/", 1)[1] for n in request.resource_names if n.startswith("projects/")}
            pairs = [(doc, pb) for project in wanted for doc, pb in self.logs.get(project, []) if matches(tree, doc)]
            pairs.sort(key=lambda pair: _time(pair[0]["timestamp"]), reverse=request.order_by == "timestamp desc")
            found = [pb for _, pb in pairs]
            with self._lock:
                self._found[key] = found
        page, token = self._page(found, request)
        return ListLogEntriesResponse(entries=page, next_page_token=token)


class _Unserved(grpc.GenericRpcHandler):
    """Any other RPC (RunJob, UpdateJob, AddSecretVersion, WriteLogEntries, ...) is logged, then refused as
    UNIMPLEMENTED: a test of the call log sees a mutating call the doctor should never make."""

    def __init__(self, fake: FakeGCP):
        self.fake = fake

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        service, _, method = details.method.lstrip("/").rpartition("/")

        def refuse(request: bytes, context: grpc.ServicerContext) -> Any:
            call = Call(method, {"service": service}, time.perf_counter(), code="UNIMPLEMENTED")
            with self.fake._lock:
                self.fake.calls.append(call)
            call.ended = time.perf_counter()
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"the fake does not serve {details.method}")

        return grpc.unary_unary_rpc_method_handler(refuse)  # no deserializer: any request, as bytes


READ_ONLY = re.compile(r"(?:Get|List)[A-Z]\w*|AccessSecretVersion")


def mutating(calls: list[Call]) -> list[str]:
    """The methods in a call log that are not reads (the doctor must make none)."""
    return [c.method for c in calls if not READ_ONLY.fullmatch(c.method)]


_PLAIN = {"insertId", "logName", "resource", "labels", "severity", "timestamp", "textPayload"}


def _log_protos(items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    out = []
    for item in items:
        item = {k: v for k, v in item.items() if k != "protoPayload"}  # audit payloads need their own types
        out.append((item, _plain_proto(item) if item.keys() <= _PLAIN else
                    LogEntry.from_json(json.dumps(item), ignore_unknown_fields=True)))
    return out


def _plain_proto(item: dict[str, Any]) -> Any:
    """A text entry built field by field: three times faster than from_json, for 50,000-entry logs."""
    pb = LogEntry.pb()(insert_id=item.get("insertId", ""), log_name=item.get("logName", ""),
                       text_payload=item.get("textPayload", ""), labels=item.get("labels") or {},
                       severity=_SEVERITY.get(item.get("severity") or "DEFAULT", 0))
    resource = item.get("resource") or {}
    pb.resource.type = resource.get("type", "")
    pb.resource.labels.update(resource.get("labels") or {})
    pb.timestamp.FromJsonString(item["timestamp"])
    return LogEntry.wrap(pb)


# --- an endpoint that accepts connections and never answers ----------------------------------


class BlackHole:
    """A TCP listener that accepts and then says nothing: no HTTP/2 handshake, no RPC answer."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._conns.append(conn)

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self._sock.close()


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the fake in a process of its own (benchmarks: no GIL shared with the doctor) -------------


def _serve_in_child(conn: Any, folder: str, latency: float) -> None:
    fake = FakeGCP(latency=latency).add_environment(Path(folder)).start()
    conn.send(fake.endpoint)
    while True:
        command = conn.recv()
        if command == "calls":
            with fake._lock:
                conn.send([dataclasses.asdict(c) for c in fake.calls])
        elif command == "clear":
            with fake._lock:
                fake.calls.clear()
            conn.send(None)
        else:
            fake.stop()
            conn.send(None)
            return


class FakeProcess:
    """A FakeGCP serving ``folder`` from a spawned process; ``calls()`` fetches its call log."""

    def __init__(self, folder: Path, latency: float = 0.0):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs gRPC
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_in_child, args=(child, str(folder), latency), daemon=True)
        self.endpoint = ""

    def __enter__(self) -> FakeProcess:
        self._proc.start()
        self.endpoint = self._conn.recv()
        return self

    def calls(self) -> list[Call]:
        self._conn.send("calls")
        return [Call(**c) for c in self._conn.recv()]

    def clear(self) -> None:
        self._conn.send("clear")
        self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(timeout=10)
