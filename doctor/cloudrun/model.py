"""Normalise Cloud Run resources into ``Workload``s: gcloud's v1 YAML and the v2 API form alike.

gcloud ``describe --format=yaml`` prints the v1 (Knative) shape; the v2 API (and the
live source, via ``proto.Message.to_dict``) gives the v2 shape. Both become the same
model, so no check needs to know where a workload came from.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from netra_doctor.core.facts import (
    Condition,
    Container,
    EnvVar,
    Execution,
    SecretRef,
    ServingRevision,
    VolumeMount,
    Workload,
    app_container,
)

CLOUDSQL_ANNOTATION = "run.googleapis.com/cloudsql-instances"
SECRETS_ANNOTATION = "run.googleapis.com/secrets"
LOCATION_LABEL = "cloud.googleapis.com/location"


class ExportError(ValueError):
    """An export that is not the Cloud Run resource it claims to be."""


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def snake_keys(value: Any) -> Any:
    """camelCase JSON (REST) and snake_case (proto to_dict) read the same."""
    if isinstance(value, dict):
        return {_snake(str(k)): snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ExportError(f"{where} should be a mapping, found {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ExportError(f"{where} should be a list, found {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ExportError(f"expected a string, found {type(value).__name__}")


def _stamp(value: Any) -> str:
    """A timestamp as text: YAML reads an unquoted one as a datetime; anything else unreadable is unknown."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat().replace("+00:00", "Z")
    return str(value) if isinstance(value, str) else ""


def _strs(value: Any, where: str) -> list[str]:
    return [_str(v) for v in _list(value, where)]


def split_instances(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def detect(doc: Any) -> str:
    """'v1' for gcloud's Knative YAML, 'v2' for the API form."""
    doc = _obj(doc, "the document")
    if "apiVersion" in doc or "api_version" in doc or "spec" in doc:
        return "v1"
    if "template" in doc or "name" in doc:
        return "v2"
    raise ExportError("not a Cloud Run resource (no apiVersion/spec or template)")


def workload_from_export(doc: Any, kind: str) -> Workload:
    return from_v1(doc, kind) if detect(doc) == "v1" else from_v2(snake_keys(doc), kind)


# --- v1: gcloud describe --format=yaml ------------------------------------------------


def _v1_secret_aliases(annotations: dict[str, Any]) -> dict[str, SecretRef]:
    """``alias:projects/NUM/secrets/NAME,...`` maps an alias used in secretKeyRef.name."""
    aliases = {}
    for item in _str(annotations.get(SECRETS_ANNOTATION)).split(","):
        alias, _, path = item.strip().partition(":")
        m = re.match(r"projects/([^/]+)/secrets/([^/]+)$", path.strip())
        if alias and m:
            aliases[alias] = SecretRef(m.group(2), project=m.group(1))
    return aliases


def _v1_container(c: Any, aliases: dict[str, SecretRef], i: int) -> Container:
    c = _obj(c, f"containers[{i}]")
    env = []
    for j, e in enumerate(_list(c.get("env"), "env")):
        e = _obj(e, f"env[{j}]")
        ref = _obj(_obj(e.get("valueFrom"), "valueFrom").get("secretKeyRef"), "secretKeyRef")
        if ref:
            name = _str(ref.get("name"))
            alias = aliases.get(name)
            secret = SecretRef(alias.secret if alias else name, _str(ref.get("key")) or "latest",
                               alias.project if alias else None)
            env.append(EnvVar(_str(e.get("name")), secret=secret))
        else:
            env.append(EnvVar(_str(e.get("name")), value=_str(e.get("value"))))
    mounts = [
        VolumeMount(_str(_obj(m, "volumeMounts").get("name")), _str(_obj(m, "volumeMounts").get("mountPath")))
        for m in _list(c.get("volumeMounts"), "volumeMounts")
    ]
    return Container(
        name=_str(c.get("name")), image=_str(c.get("image")),
        command=_strs(c.get("command"), "command"), args=_strs(c.get("args"), "args"),
        env=env, volume_mounts=mounts, working_dir=_str(c.get("workingDir")),
        ports=_ports(c.get("ports"), "containerPort"),
    )


def _ports(value: Any, key: str) -> list[int]:
    """Container ports; a port entry without a number is Cloud Run's default 8080."""
    out = []
    for p in _list(value, "ports"):
        number = _obj(p, "ports").get(key)
        out.append(_int(number) or 8080)
    return out


def _with_proxies(w: Workload) -> Workload:
    from netra_doctor.cloudrun.containers import workload_proxies

    w.proxies = workload_proxies(w.containers, w.main)
    return w


def _v1_conditions(status: dict[str, Any]) -> list[Condition]:
    out = []
    for c in _list(status.get("conditions"), "status.conditions"):
        c = _obj(c, "condition")
        out.append(Condition(_str(c.get("type")), _str(c.get("status")), _str(c.get("reason")), _str(c.get("message")),
                             _stamp(c.get("lastTransitionTime"))))
    return out


def from_v1(doc: Any, kind: str) -> Workload:
    doc = _obj(doc, "the document")
    want = {"service": "Service", "job": "Job"}[kind]
    if _str(doc.get("kind")) != want:
        raise ExportError(f"expected kind: {want}, found {doc.get('kind')!r}")
    meta = _obj(doc.get("metadata"), "metadata")
    template = _obj(_obj(doc.get("spec"), "spec").get("template"), "spec.template")
    annotations = {**_obj(meta.get("annotations"), "metadata.annotations"),
                   **_obj(_obj(template.get("metadata"), "template.metadata").get("annotations"), "annotations")}
    pod = _obj(template.get("spec"), "template.spec")
    if kind == "job":
        pod = _obj(_obj(pod.get("template"), "template.spec.template").get("spec"), "task spec")
    aliases = _v1_secret_aliases(annotations)
    status = _obj(doc.get("status"), "status")
    if kind == "service":
        latest = _str(status.get("latestReadyRevisionName"))
    else:
        latest = _str(_obj(status.get("latestCreatedExecution"), "latestCreatedExecution").get("name"))
    return _with_proxies(Workload(
        kind=kind,
        name=_str(meta.get("name")),
        project=_str(meta.get("namespace")),
        region=_str(_obj(meta.get("labels"), "labels").get(LOCATION_LABEL)),
        containers=[_v1_container(c, aliases, i) for i, c in enumerate(_list(pod.get("containers"), "containers"))],
        cloudsql_instances=split_instances(_str(annotations.get(CLOUDSQL_ANNOTATION))),
        service_account=_str(pod.get("serviceAccountName")),
        conditions=_v1_conditions(status),
        latest_revision=latest,
        source_format="v1-yaml",
        latest_created=_str(status.get("latestCreatedRevisionName")) if kind == "service" else "",
    ))


# --- v2: the API form (JSON export, or the live client's to_dict) -----------------------


_V2_STATE = {
    "CONDITION_SUCCEEDED": "True", "CONDITION_FAILED": "False", "CONDITION_PENDING": "Unknown",
    "CONDITION_RECONCILING": "Unknown", "STATE_UNSPECIFIED": "Unknown",
    4: "True", 3: "False", 1: "Unknown", 2: "Unknown", 0: "Unknown",  # run_v2.Condition.State values
}


def _resource_parts(name: str) -> dict[str, str]:
    parts = name.split("/")
    return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def _v2_container(c: Any, i: int) -> Container:
    c = _obj(c, f"containers[{i}]")
    env = []
    for j, e in enumerate(_list(c.get("env"), "env")):
        e = _obj(e, f"env[{j}]")
        ref = _obj(_obj(e.get("value_source"), "value_source").get("secret_key_ref"), "secret_key_ref")
        if ref:
            path = _str(ref.get("secret"))
            parts = _resource_parts(path) if path.startswith("projects/") else {}
            secret = SecretRef(parts.get("secrets", path), _str(ref.get("version")) or "latest", parts.get("projects"))
            env.append(EnvVar(_str(e.get("name")), secret=secret))
        else:
            env.append(EnvVar(_str(e.get("name")), value=_str(e.get("value"))))
    mounts = [
        VolumeMount(_str(_obj(m, "volume_mounts").get("name")), _str(_obj(m, "volume_mounts").get("mount_path")))
        for m in _list(c.get("volume_mounts"), "volume_mounts")
    ]
    return Container(
        name=_str(c.get("name")), image=_str(c.get("image")),
        command=_strs(c.get("command"), "command"), args=_strs(c.get("args"), "args"),
        env=env, volume_mounts=mounts, working_dir=_str(c.get("working_dir")),
        ports=_ports(c.get("ports"), "container_port"),
    )


def _v2_condition(c: Any) -> Condition:
    c = _obj(c, "condition")
    state = c.get("state")
    return Condition(_str(c.get("type") or c.get("type_")), _V2_STATE.get(state, "Unknown"),
                     _str(c.get("reason") if not isinstance(c.get("reason"), int) else ""), _str(c.get("message")),
                     _stamp(c.get("last_transition_time") or c.get("lastTransitionTime")))


def from_v2(doc: Any, kind: str) -> Workload:
    doc = _obj(doc, "the document")
    name = _str(doc.get("name"))
    parts = _resource_parts(name) if name.startswith("projects/") else {}
    template = _obj(doc.get("template"), "template")
    if kind == "job":
        template = _obj(template.get("template"), "template.template")
    volumes = [_obj(v, "volumes") for v in _list(template.get("volumes"), "volumes")]
    sql_volumes = {
        _str(v.get("name")): _strs(_obj(v["cloud_sql_instance"], "cloud_sql_instance").get("instances"), "instances")
        for v in volumes if v.get("cloud_sql_instance") is not None
    }
    containers = [_v2_container(c, i) for i, c in enumerate(_list(template.get("containers"), "containers"))]
    mounts = [m.mount_path for c in containers for m in c.volume_mounts if m.name in sql_volumes]
    conditions = [_v2_condition(c) for c in _list(doc.get("conditions"), "conditions")]
    if doc.get("terminal_condition"):
        conditions.insert(0, _v2_condition(doc["terminal_condition"]))
    if kind == "service":
        latest = _str(doc.get("latest_ready_revision"))
    else:
        latest = _str(_obj(doc.get("latest_created_execution"), "latest_created_execution").get("name"))
    return _with_proxies(Workload(
        kind=kind,
        name=parts.get("services" if kind == "service" else "jobs", name),
        project=parts.get("projects", ""),
        region=parts.get("locations", ""),
        containers=containers,
        cloudsql_instances=[i for insts in sql_volumes.values() for i in insts],
        cloudsql_mounts=mounts,
        service_account=_str(template.get("service_account")),
        conditions=conditions,
        latest_revision=latest.rsplit("/", 1)[-1],
        source_format="v2-json",
        latest_created=_str(doc.get("latest_created_revision")).rsplit("/", 1)[-1] if kind == "service" else "",
    ))


# --- executions and revisions -----------------------------------------------------------


def execution_from_v1(doc: Any) -> Execution:
    doc = _obj(doc, "execution")
    meta = _obj(doc.get("metadata"), "metadata")
    status = _obj(doc.get("status"), "status")
    spec = _obj(_obj(_obj(doc.get("spec"), "spec").get("template"), "template").get("spec"), "spec")
    image = _app_image(_list(spec.get("containers"), "containers"))
    conds = {c.type: c for c in _v1_conditions(status)}
    completed = conds.get("Completed")
    if _int(status.get("succeededCount")) > 0 or (completed and completed.status == "True"):
        state = "succeeded"
    elif _int(status.get("failedCount")) > 0 or (completed and completed.status == "False"):
        state = "cancelled" if _int(status.get("cancelledCount")) > 0 else "failed"
    elif _int(status.get("runningCount")) > 0 or (completed and completed.status == "Unknown"):
        state = "running"
    else:
        state = "unknown"
    message = completed.message if completed else ""
    return Execution(
        name=_str(meta.get("name")), status=state,
        started=_str(status.get("startTime") or meta.get("creationTimestamp")),
        completed=_str(status.get("completionTime")), image=image, message=message,
        job=_v1_job(meta),
    )


def _v1_job(meta: dict[str, Any]) -> str:
    """The job a v1 execution belongs to: its run.googleapis.com/job label, else its owner reference."""
    label = _str(_obj(meta.get("labels"), "labels").get("run.googleapis.com/job"))
    if label:
        return label
    owners = [_obj(o, "ownerReferences") for o in _list(meta.get("ownerReferences"), "ownerReferences")]
    return next((_str(o.get("name")) for o in owners if _str(o.get("kind")) == "Job"), "")


def execution_from_v2(doc: Any) -> Execution:
    doc = snake_keys(_obj(doc, "execution"))
    template = _obj(doc.get("template"), "template")
    image = _app_image(_list(template.get("containers"), "containers"))
    conds = [_v2_condition(c) for c in _list(doc.get("conditions"), "conditions")]
    completed = next((c for c in conds if c.type == "Completed"), None)
    if _int(doc.get("succeeded_count")) > 0 or (completed and completed.status == "True"):
        state = "succeeded"
    elif _int(doc.get("cancelled_count")) > 0:
        state = "cancelled"
    elif _int(doc.get("failed_count")) > 0 or (completed and completed.status == "False"):
        state = "failed"
    elif _int(doc.get("running_count")) > 0:
        state = "running"
    else:
        state = "unknown"
    name = _str(doc.get("name"))
    return Execution(
        name=name.rsplit("/", 1)[-1], status=state,
        started=_str(doc.get("start_time") or doc.get("create_time")),
        completed=_str(doc.get("completion_time")), image=image,
        message=completed.message if completed else "",
        job=_str(doc.get("job")).rsplit("/", 1)[-1] or _resource_parts(name).get("jobs", ""),
    )


# ExecutionReference.CompletionStatus (v1 and v2 alike), by name or by proto number
_COMPLETION = {
    "EXECUTION_SUCCEEDED": "succeeded", "EXECUTION_FAILED": "failed", "EXECUTION_CANCELLED": "cancelled",
    "EXECUTION_RUNNING": "running", "EXECUTION_PENDING": "running",
    1: "succeeded", 2: "failed", 3: "running", 4: "running", 5: "cancelled",
}
FROM_JOB_STATUS = "known only from the job's latestCreatedExecution (no executions export)"


def latest_execution(doc: Any) -> Execution | None:
    """The newest execution as the job itself records it (`jobs describe`: v1
    ``status.latestCreatedExecution``, v2 ``latestCreatedExecution``), for when no executions list
    was exported. Its outcome is read from ``completionStatus`` alone (a completion time or the job's
    own conditions do not say whether the run succeeded); without one it is "unknown"."""
    doc = _obj(doc, "the document")
    if detect(doc) == "v1":
        ref = _obj(doc.get("status"), "status").get("latestCreatedExecution")
    else:
        ref = doc.get("latestCreatedExecution", doc.get("latest_created_execution"))
    ref = snake_keys(_obj(ref, "latestCreatedExecution"))
    name = _str(ref.get("name")).rsplit("/", 1)[-1]
    if not name:
        return None
    status = ref.get("completion_status")
    return Execution(
        name=name, status=_COMPLETION.get(status, "unknown") if isinstance(status, (str, int)) else "unknown",
        started=_str(ref.get("creation_timestamp") or ref.get("create_time")),
        completed=_str(ref.get("completion_timestamp") or ref.get("completion_time")),
        message=FROM_JOB_STATUS,
    )


def revision_from_v2(doc: Any) -> ServingRevision:
    doc = snake_keys(_obj(doc, "revision"))
    containers = [_v2_container(c, i) for i, c in enumerate(_list(doc.get("containers"), "containers"))]
    app = app_container(containers)
    ready = next((c for c in (_v2_condition(c) for c in _list(doc.get("conditions"), "conditions"))
                  if c.type == "Ready"), None)
    return ServingRevision(
        name=_str(doc.get("name")).rsplit("/", 1)[-1],
        image=app.image,
        created=_str(doc.get("create_time")),
        ready=ready.status if ready else "",
        message=ready.message if ready else "",
        images=[app.image, *(c.image for c in containers if c is not app)] if containers else [],
    )


def _app_image(containers: list[Any]) -> str:
    """The image of an execution's task container (a task serves no port: the first no proxy)."""
    return app_container([Container(image=_str(_obj(c, "container").get("image"))) for c in containers]).image


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
