"""`--format junit`: one test suite per environment, one test case per check, for CI dashboards.

The shape is the Apache Ant JUnit schema that Jenkins, GitLab and GitHub reporters read
(tests/data/schemas/JUnit.xsd validates it): a failed check is a ``<failure>`` carrying its
message, the causes it supports and their fixes; a check that could not run is an ``<error>``;
a skipped one ``<skipped>``. A warning fails its test case only under ``--fail-on warn``, so the
dashboard and the exit code agree; under ``--fail-on error`` the passing case carries the warning in
its own ``<system-out>`` (Surefire's and JUnit 5's form, which Jenkins, GitLab, junitparser and
junit2html show), never an empty pass. The checks with nothing to examine in this run (``--repo-only``'s
cloud and database checks, ``deploy-image`` without ``--image``) are one skipped case, ``not-examined``,
not one each. Text from outside passes the output gate (XML 1.0 cannot hold most control characters anyway).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from netra_doctor.core.causes import FIX_PREFIX, fix_kind
from netra_doctor.core.diagnosis import Diagnosis, not_applicable
from netra_doctor.safety.secrecy import scrub
from netra_doctor.safety.untrusted import clean, clean_line


def _case_body(d: Diagnosis, check_id: str, message: str, findings) -> str:
    lines = [message]
    for f in findings:
        if f.status in ("warn", "fail", "error", "skip") and f.message != message:
            lines.append(f.message)
        lines += [f"  {e}" for e in f.evidence] if f.status != "pass" else []
    for c in d.causes:
        if any(f.check == check_id for f in c.findings):
            lines += ["", f"cause #{c.rank} {c.id} ({c.severity}, confidence {c.confidence:.2f}): {c.title}"]
            lines += [f"  {FIX_PREFIX[fix_kind(item)]}{item}" for item in c.fix]
    return _text("\n".join(lines))


def _text(value: str) -> str:
    """Text from outside as the document holds it: through the output gate, secrets scrubbed. Values
    are scrubbed where they are placed, never the document: a secret ``version`` or ``testcase``
    would rewrite the XML's own names."""
    return clean(scrub(value))  # scrubbed first: bounding a line could cut a secret in two


def _line(value: str, *bound: int) -> str:
    return clean_line(scrub(value), *bound)


def _suite(d: Diagnosis, index: int, fail_on: str, stamp: str, host: str) -> ET.Element:
    failing = {"fail", "warn"} if fail_on == "warn" else {"fail"}
    name = f"netra-doctor.{_line(d.environment)}"
    idle = [r for r in d.checks if not_applicable(r)]
    checks = [r for r in d.checks if r not in idle]
    suite = ET.Element("testsuite", {
        "name": name, "package": name, "id": str(index), "timestamp": stamp, "hostname": host,
        "tests": str(len(checks) + bool(idle)),
        "failures": str(sum(r.status in failing for r in checks)),
        "errors": str(sum(r.status == "error" for r in checks)),
        "skipped": str(sum(r.status == "skip" for r in checks) + bool(idle)),
        "time": f"{sum(r.duration_ms for r in d.checks) / 1000:.3f}",
    })
    props = ET.SubElement(suite, "properties")
    for key, value in (("environment", d.environment), ("status", d.status), ("fail-on", fail_on),
                       ("causes", " ".join(c.id for c in d.causes)),
                       ("ruled-out", " ".join(r.id for r in d.ruled_out))):
        ET.SubElement(props, "property", {"name": key, "value": _line(value, 0)})
    for r in checks:
        case = ET.SubElement(suite, "testcase",
                             {"name": r.id, "classname": name, "time": f"{r.duration_ms / 1000:.3f}"})
        message = _line(r.message)
        if r.status == "warn" and "warn" not in failing:  # passes the gate, but a dashboard shows it
            ET.SubElement(case, "system-out").text = "warning (passes under --fail-on error): " + _case_body(
                d, r.id, r.message, r.findings)
            continue
        if r.status in failing:
            child = ET.SubElement(case, "failure", {"message": message, "type": r.status})
        elif r.status == "error":
            child = ET.SubElement(case, "error", {"message": message, "type": "error"})
        elif r.status == "skip":
            child = ET.SubElement(case, "skipped", {"message": message})
        else:
            continue
        child.text = _case_body(d, r.id, r.message, r.findings)
    if idle:
        case = ET.SubElement(suite, "testcase", {"name": "not-examined", "classname": name, "time": "0.000"})
        said = f"{len(idle)} checks had nothing to examine in this run: {', '.join(r.id for r in idle)}"
        ET.SubElement(case, "skipped", {"message": _line(said)}).text = _text(
            "\n".join(f"{r.id}: {r.message}" for r in idle))
    out = ET.SubElement(suite, "system-out")
    out.text = _text("\n".join(
        [f"{d.environment}: {d.status.upper()}"]
        + [f"warning (passes under --fail-on error): {r.id}: {r.message}" for r in d.checks
           if r.status == "warn" and "warn" not in failing]))
    err = ET.SubElement(suite, "system-err")
    err.text = _text("\n".join(f"source {s.name}: {s.status}: {s.error}" for s in d.sources if s.status != "ok"))
    return suite


def render_junit(diagnoses: list[Diagnosis], fail_on: str = "error") -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")  # the schema allows no zone: UTC
    host = socket.gethostname() or "localhost"
    root = ET.Element("testsuites")
    for i, d in enumerate(diagnoses):
        root.append(_suite(d, i, fail_on, stamp, host))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
