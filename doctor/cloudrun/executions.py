"""Helpers about the migration job's executions (newest first), shared by the checks that read them."""

from __future__ import annotations

from netra_doctor.core.facts import Execution


def last_success(executions: list[Execution]) -> Execution | None:
    """The newest execution that succeeded: the migration the service's schema should reflect."""
    return next((e for e in executions if e.status == "succeeded"), None)
