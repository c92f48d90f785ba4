"""``--format sarif``: SARIF 2.1.0, so GitHub code scanning annotates the pull request.

One run per environment. Each reported cause is a rule; each finding that supports it is a result:
at a file and line when the finding is about the checkout (a model with no migration, a revision line
that conflicts or drops a table), else at a logical location (the service, the job, a table in the
database). Evidence and fixes go in the result's message and properties.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from netra_doctor import __version__
from netra_doctor.core.causes import CAUSES, fix_kind, unknown
from netra_doctor.core.diagnosis import Diagnosis
from netra_doctor.safety.secrecy import scrub

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _physical(location: str) -> dict[str, Any]:
    path, _, line = location.rpartition(":") if location.rsplit(":", 1)[-1].isdigit() else (location, "", "")
    artifact = ({"uri": Path(path).as_uri()} if os.path.isabs(path)  # outside the checkout: an absolute file URI
                else {"uri": path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"})
    artifact["uri"] = scrub(artifact["uri"])
    found: dict[str, Any] = {"artifactLocation": artifact}
    if line and int(line) > 0:
        found["region"] = {"startLine": int(line)}
    return {"physicalLocation": found}


def _logical(env: str, obj: str | None, check: str) -> dict[str, Any]:
    name, env = scrub(obj or check), scrub(env)
    return {"logicalLocations": [{"name": name, "fullyQualifiedName": f"{env}/{name}", "kind": "resource"}]}


def _rule(cause_id: str) -> dict[str, Any]:
    spec = CAUSES.get(cause_id) or unknown(cause_id)
    fixes = "\n".join(("$ " if fix_kind(f) == "command" else "") + f for f in spec.fix)
    return {
        "id": spec.id, "name": "".join(p.title() for p in spec.id.split("-")),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": spec.explain or spec.title},
        "help": {"text": f"{spec.explain}\n\nFix:\n{fixes}" if fixes else spec.explain or spec.title},
        "defaultConfiguration": {"level": "error" if spec.severity == "error" else "warning"},
    }


def run_of(d: Diagnosis) -> dict[str, Any]:
    causes = {c.id: c for c in d.causes}
    order = [c.id for c in d.causes]
    results = []
    for check in d.checks:
        for f in check.findings:
            if f.cause not in causes or f.status not in ("warn", "fail"):
                continue
            cause = causes[f.cause]
            level = "error" if cause.severity == "error" and f.status == "fail" else "warning"
            text = f.message + ("\n" + "\n".join(f.evidence) if f.evidence else "")
            results.append({
                "ruleId": cause.id, "ruleIndex": order.index(cause.id), "level": level,
                "message": {"text": scrub(text)},
                "locations": [_physical(f.location) if f.location else _logical(d.environment, f.obj, f.check)],
                "properties": {"environment": scrub(d.environment), "check": f.check, "rank": cause.rank,
                               "confidence": cause.confidence, "fix": [scrub(item) for item in cause.fix]},
            })
    return {
        "tool": {"driver": {"name": "netra-doctor", "version": __version__,
                            "rules": [_rule(c) for c in order]}},
        "automationDetails": {"id": f"netra-doctor/{scrub(d.environment)}/"},
        "invocations": [{"executionSuccessful": d.status != "incomplete",
                         "toolExecutionNotifications": [
                             {"level": "warning", "message": {"text": scrub(f"source {s.name}: {s.status}: {s.error}")}}
                             for s in d.sources if s.status == "error"]}],
        "results": results,
        "properties": {"status": d.status},
    }


def render_sarif(diagnoses: list[Diagnosis]) -> str:
    """Each value from outside is scrubbed where it is placed, never the document: a secret equal to
    ``error`` or ``version`` would otherwise rewrite SARIF's own levels and keys."""
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run_of(d) for d in diagnoses]}, indent=2)
