"""``--format sarif``: SARIF 2.1.0, so GitHub code scanning annotates the pull request.

One run per environment. Each reported cause is a rule; each finding that supports it is a result,
and every result has a physical location (GitHub refuses results without one): the finding's own file
and line (a model with no migration, a revision line that conflicts or drops a table), else a file and
line the cause's evidence names, else the export the fact came from (``--from``), else the config file,
else the Alembic project's ``alembic.ini``; the service, job or table it is about is its logical location
beside that. Evidence and fixes go in the result's message and properties.

An INCOMPLETE run is marked (``executionSuccessful: false``, ``properties.status``): uploading it would
close open alerts for what was simply not examined, so the documented recipes upload only when the exit
code is 0 or 1.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from netra_doctor import __version__
from netra_doctor.core.causes import CAUSES, fix_kind, unknown
from netra_doctor.core.diagnosis import Diagnosis
from netra_doctor.safety.secrecy import scrub

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


# a checkout file and line named in evidence: models.py:89, alembic.ini:3, docker/api.Dockerfile:12
_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*(?:[\w.-]+\.(?:py|ini|toml|cfg)|[\w.-]*Dockerfile[\w.-]*)):(\d+)\b")
# where to read more about a cause (rules' helpUri): the upstream documentation of what it is about
_HELP = (
    (("cloudsql-",), "https://cloud.google.com/sql/docs/postgres/connect-run"),
    (("secret-",), "https://cloud.google.com/run/docs/configuring/services/secrets"),
    (("job-", "service-revision", "workload-"), "https://cloud.google.com/run/docs/execute/jobs"),
    (("tables-in-other-schema",), "https://www.postgresql.org/docs/current/ddl-schemas.html#DDL-SCHEMAS-PATH"),
    (("tables-invisible", "default-privileges", "database-auth"),
     "https://www.postgresql.org/docs/current/ddl-priv.html"),
    (("database-missing",), "https://cloud.google.com/sql/docs/postgres/create-manage-databases"),
    (("model-", "migration-missing"), "https://alembic.sqlalchemy.org/en/latest/autogenerate.html"),
    (("multiple-heads",), "https://alembic.sqlalchemy.org/en/latest/branches.html"),
    (("pending-", "destructive-"), "https://www.postgresql.org/docs/current/explicit-locking.html"),
)
ALEMBIC_DOCS = "https://alembic.sqlalchemy.org/en/latest/tutorial.html"


def help_uri(cause_id: str) -> str:
    return next((uri for prefixes, uri in _HELP if cause_id.startswith(prefixes)), ALEMBIC_DOCS)


def _physical(location: str) -> dict[str, Any]:
    path, _, line = location.rpartition(":") if location.rsplit(":", 1)[-1].isdigit() else (location, "", "")
    artifact = ({"uri": Path(path).as_uri()} if os.path.isabs(path)  # outside the checkout: an absolute file URI
                else {"uri": path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"})
    artifact["uri"] = scrub(artifact["uri"])
    found: dict[str, Any] = {"artifactLocation": artifact}
    if line and int(line) > 0:
        found["region"] = {"startLine": int(line)}
    return {"physicalLocation": found}


def _logical(env: str, obj: str | None, check: str) -> list[dict[str, Any]]:
    name, env = scrub(obj or check), scrub(env)
    return [{"name": name, "fullyQualifiedName": f"{env}/{name}", "kind": "resource"}]


def _location(f, cause, d: Diagnosis) -> dict[str, Any]:
    """A physical location for every result (see the module's docstring), with the logical one beside it."""
    where = f.location or next((o.location for o in cause.findings if o.location), None)
    if not where:
        found = _FILE_LINE.search("\n".join([f.message, *f.evidence, *cause.evidence]))
        where = f"{found.group(1)}:{found.group(2)}" if found else None
    if not where:
        by_check = {"startup-errors": "logs", "migration-log": "logs", "job-execution": "executions",
                    "secret-parity": "service"}.get(f.check)
        keys = [d.anchors[k] for k in (f.obj, by_check, "service", "job", "config", "alembic_ini")
                if k and k in d.anchors]
        # a file of the repository first: code scanning shows no result at a file outside it
        where = next((k for k in keys if not os.path.isabs(k)), keys[0] if keys else None)
    location = _physical(where) if where else {}
    if not f.location:
        location["logicalLocations"] = _logical(d.environment, f.obj, f.check)
    return location


def _named(template: str) -> str:
    """A catalog template's placeholders as words a reader fills in: {alembic_ini} -> ALEMBIC_INI."""
    return re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), template)


def _rule(cause_id: str, rendered=None) -> dict[str, Any]:
    """The catalog's text; the fix as the report renders it (the environment's names, no placeholders)."""
    spec = CAUSES.get(cause_id) or unknown(cause_id)
    items = rendered.fix if rendered is not None else spec.fix
    fixes = _named("\n".join(("$ " if fix_kind(f) == "command" else "") + f for f in items))
    explain = _named(spec.explain or spec.title)
    return {
        "id": spec.id, "name": "".join(p.title() for p in spec.id.split("-")),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": explain},
        "help": {"text": scrub(f"{explain}\n\nFix:\n{fixes}" if fixes else explain)},
        "helpUri": help_uri(spec.id),
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
                "locations": [_location(f, cause, d)],
                "properties": {"environment": scrub(d.environment), "check": f.check, "rank": cause.rank,
                               "confidence": cause.confidence, "fix": [scrub(item) for item in cause.fix]},
            })
    incomplete = d.status == "incomplete"
    return {
        "tool": {"driver": {"name": "netra-doctor", "version": __version__, "informationUri": ALEMBIC_DOCS,
                            "rules": [_rule(c, causes[c]) for c in order]}},
        "automationDetails": {"id": f"netra-doctor/{scrub(d.environment)}/"},
        "invocations": [{"executionSuccessful": not incomplete,
                         "toolExecutionNotifications": [
                             {"level": "warning", "message": {"text": scrub(f"source {s.name}: {s.status}: {s.error}")}}
                             for s in d.sources if s.status == "error"]
                         + ([{"level": "error", "message": {"text": "INCOMPLETE: what was not examined has no "
                                                            "results here; do not upload this run (it would "
                                                            "close open alerts)"}}] if incomplete else [])}],
        "results": results,
        "properties": {"status": d.status, "complete": not incomplete},
    }


def render_sarif(diagnoses: list[Diagnosis]) -> str:
    """Each value from outside is scrubbed where it is placed, never the document: a secret equal to
    ``error`` or ``version`` would otherwise rewrite SARIF's own levels and keys."""
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run_of(d) for d in diagnoses]}, indent=2)
