"""From findings to a ranked list of causes, each with evidence for and against and its fix.

A warn/fail finding that names a cause supports it; a pass finding that names a cause
disproves it. A cause with support is reported; a cause with only disproof goes to
``ruled_out`` with that evidence. Ranking: severity, then confidence, then the catalog's
priority (root causes before the symptoms they produce).
"""

from __future__ import annotations

from dataclasses import field

from netra_doctor.core import doubt
from netra_doctor.core.causes import CAUSES, merged_fix, unknown
from netra_doctor.core.checking import CheckResult, Finding
from netra_doctor.core.facts import Facts, SourceStatus
from netra_doctor.core.records import record

SEVERITY_ORDER = {"error": 0, "warn": 1}


@record
class Cause:
    id: str
    rank: int
    severity: str
    confidence: float
    title: str
    evidence: list[str]
    against: list[str]
    fix: list[str]  # items typed by causes.fix_kind: command, sql or step
    findings: list[Finding] = field(default_factory=list)  # the evidence, structured (JSON)


@record
class RuledOut:
    id: str
    title: str
    evidence: list[str]
    findings: list[Finding] = field(default_factory=list)


@record
class Silence:
    id: str  # a check id or a cause id
    reason: str
    object: str | None = None

    def matches(self, f: Finding) -> bool:
        return self.id in (f.check, f.cause) and (self.object is None or self.object == f.obj)


@record
class Diagnosis:
    environment: str
    status: str  # "healthy" | "unhealthy" | "incomplete"
    causes: list[Cause]
    ruled_out: list[RuledOut]
    checks: list[CheckResult]
    sources: list[SourceStatus]
    silenced: list[str] = field(default_factory=list)  # "id[obj]: reason" per silenced finding
    # files a finding without a file of its own is shown at (SARIF): "service"/"job"/"logs"/... -> the export
    # it came from, "config" -> the config file, "alembic_ini"; each "path" or "path:line"
    anchors: dict[str, str] = field(default_factory=dict)

    @property
    def incomplete(self) -> bool:
        if not self.checks:
            return True  # nothing was examined: never call that healthy
        return any(s.status == "error" for s in self.sources) or any(
            c.status == "error" or any(f.blocked for f in c.findings if f.status == "skip")
            for c in self.checks
        )


def not_applicable(r) -> bool:
    """Nothing to examine here; a part left not judged is shown, not counted among these."""
    return r.status == "skip" and bool(r.findings) and not any(f.blocked or f.unjudged for f in r.findings)


def _lines(f: Finding) -> list[str]:
    return [f"{f.message} [{f.check}]", *(f"  {e}" for e in f.evidence)]


def diagnose(facts: Facts, results: list[CheckResult], silences: list[Silence] = ()) -> Diagnosis:
    support: dict[str, list[Finding]] = {}
    against: dict[str, list[Finding]] = {}
    silenced: list[str] = []
    for result in results:
        for f in result.findings:
            if not f.cause:
                continue
            if f.status in ("warn", "fail"):
                rule = next((s for s in silences if s.matches(f)), None)
                if rule:
                    silenced.append(f"{f.cause}{f'[{f.obj}]' if f.obj else ''}: {rule.reason}")
                    continue
                support.setdefault(f.cause, []).append(f)
            elif f.status == "pass":
                against.setdefault(f.cause, []).append(f)

    t = facts.target
    names = {
        "environment": t.environment, "project": t.project, "region": t.region,
        "service": t.service, "job": t.job, "alembic_ini": t.alembic_ini, "alembic_name": t.alembic_name,
    }
    causes: list[Cause] = []
    for cause_id in list(support):  # one root cause seen from two places is reported once
        other = (CAUSES.get(cause_id) or unknown(cause_id)).same_as
        if other in support:
            support[other] += support.pop(cause_id)
            against.pop(cause_id, None)
    for cause_id, found in support.items():
        spec = CAUSES.get(cause_id) or unknown(cause_id)
        # disproof counts only where it is about the same object (the service attaching its
        # instance says nothing against the job missing it)
        objects = {f.obj for f in found}
        contra = [f for f in against.get(cause_id, []) if f.obj is None or f.obj in objects]
        confidence = max(f.confidence if f.confidence is not None else spec.confidence for f in found)
        confidence = min(0.99, confidence + 0.03 * (len({f.check for f in found}) - 1))
        if contra:
            confidence *= 0.7
        confidence, doubts = doubt.adjust(facts, cause_id, confidence)
        severity = "error" if any(f.status == "fail" for f in found) else "warn"
        severity = "warn" if spec.severity == "warn" and severity == "error" else severity
        fix = merged_fix(spec, names, [f.fix_vars for f in found])
        causes.append(Cause(
            cause_id, 0, severity, round(confidence, 2), spec.title,
            [line for f in found for line in _lines(f)] + doubts,
            [line for f in contra for line in _lines(f)],
            fix,
            found,
        ))
    causes.sort(key=lambda c: (
        SEVERITY_ORDER[c.severity], -c.confidence, -(CAUSES.get(c.id) or unknown(c.id)).priority, c.id
    ))
    for i, c in enumerate(causes, 1):
        c.rank = i

    ruled_out = [
        RuledOut(cid, (CAUSES.get(cid) or unknown(cid)).title, [line for f in fs for line in _lines(f)], fs)
        for cid, fs in sorted(against.items())
        if cid not in support
    ]
    d = Diagnosis(t.environment, "healthy", causes, ruled_out, results, list(facts.sources), silenced)
    d.status = "unhealthy" if causes else ("incomplete" if d.incomplete else "healthy")
    return d


def uncaused(d: Diagnosis, statuses: tuple[str, ...] = ("warn", "fail")) -> list[Finding]:
    """Warn/fail findings that name no cause: shown as check rows, counted by --fail-on (never silenced,
    since a silence names a check or a cause that a finding supports)."""
    return [f for r in d.checks for f in r.findings if f.status in statuses and not f.cause]


def exit_code(diagnoses: list[Diagnosis], fail_on: str) -> int:
    """1 when a cause, or a finding that names none, is at or above the threshold (wins over 3):
    ``error`` counts error causes and failed checks, ``warn`` also every warning; 3 when incomplete."""
    threshold = SEVERITY_ORDER[fail_on]
    if any(SEVERITY_ORDER[c.severity] <= threshold for d in diagnoses for c in d.causes):
        return 1
    statuses = ("warn", "fail") if fail_on == "warn" else ("fail",)
    if any(uncaused(d, statuses) for d in diagnoses):
        return 1
    if any(d.incomplete for d in diagnoses):
        return 3
    return 0
