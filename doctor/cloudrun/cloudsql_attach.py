"""Attaching a Cloud SQL instance to a workload, shared by the checks whose fix attaches one."""

from __future__ import annotations

from netra_doctor.core.facts import Workload
from netra_doctor.core.instances import is_instance_name


def attach_value(w: Workload | None, instance: str) -> str:
    """The value of `--set-cloudsql-instances` that attaches ``instance``: the flag replaces the whole
    list, so every well-formed instance the workload attaches today is kept (a malformed one is dropped)."""
    keep = [i for i in (w.cloudsql_instances if w else []) if is_instance_name(i) and i != instance]
    return ",".join([*keep, instance])
