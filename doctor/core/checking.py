"""The check framework: findings, the @check decorator, the registry and the runner.

Shaped after Django's system checks (tiny functions returning messages with an id,
level and object) and sqlfluff's plugin host (each plugin loaded in its own
try/except; a check that raises becomes an ``error`` result, never a crash).
Checks are pure: ``Facts -> list[Finding]``. They are found through the entry-point
group ``netra_doctor.checks``; the built-in ones register exactly like third parties.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import field

from netra_doctor.core.entrypoints import entry_points
from netra_doctor.core.facts import Facts
from netra_doctor.core.records import record
from netra_doctor.safety.secrecy import scrub

ENTRY_POINT_GROUP = "netra_doctor.checks"
STATUS_ORDER = {"pass": 0, "skip": 1, "warn": 2, "fail": 3, "error": 4}


@record
class Finding:
    """One observation of a check.

    ``status`` is pass/warn/fail/skip/error. With a ``cause`` id, a warn/fail finding is
    evidence *for* that cause and a pass finding is evidence *against* it (the cause was
    examined and disproved, so it goes to ``ruled_out``).
    """

    status: str
    message: str
    cause: str | None = None
    evidence: list[str] = field(default_factory=list)
    obj: str | None = None  # what it is about: a table, a workload, an env var
    fix_vars: dict[str, str] = field(default_factory=dict)  # fills the cause's fix template
    confidence: float | None = None  # overrides the cause's base confidence
    blocked: bool = False  # a skip because facts could not be gathered (the run is incomplete)
    check: str = ""  # filled in by the runner
    location: str | None = None  # the checkout file it is about, "path" or "path:line" (SARIF, annotations)
    # a skip for something that is there but was not judged (left unknown), unlike "nothing to examine":
    # shown without -v, and a --repo-only run that judged nothing else is incomplete
    unjudged: bool = False


def ok(message: str, cause: str | None = None, **kw) -> Finding:
    return Finding("pass", message, cause, **kw)


def warn(message: str, cause: str | None = None, **kw) -> Finding:
    return Finding("warn", message, cause, **kw)


def fail(message: str, cause: str | None = None, **kw) -> Finding:
    return Finding("fail", message, cause, **kw)


def skip(message: str, **kw) -> Finding:
    """Could not examine: the facts it needs were not gathered. Makes the run incomplete."""
    return Finding("skip", message, blocked=True, **kw)


def not_applicable(message: str, **kw) -> Finding:
    """Nothing to examine here (e.g. no Cloud SQL in use); the run stays complete."""
    return Finding("skip", message, **kw)


def not_judged(message: str, blocked: bool = False, **kw) -> Finding:
    """Something to examine that was left unknown (``blocked``: because its facts could not be read)."""
    return Finding("skip", message, blocked=blocked, unjudged=True, **kw)


CheckFn = Callable[[Facts], Iterable[Finding]]


@record
class CheckSpec:
    id: str
    title: str
    fn: CheckFn | None
    needs: tuple[str, ...] = ()  # Facts fields that must be gathered, else skip
    uses: tuple[str, ...] = ()  # Facts fields read when present (gathered for --only too)
    causes: tuple[str, ...] = ()  # cause ids this check can support or refute
    doc: str = ""  # the good state, from the function's docstring
    load_error: str | None = None


def check(id: str, title: str, needs: Iterable[str] = (), causes: Iterable[str] = (), uses: Iterable[str] = ()):
    """Mark a function as a check. Register it under ``netra_doctor.checks`` to enable it."""

    def wrap(fn: CheckFn) -> CheckFn:
        fn.check_spec = CheckSpec(  # type: ignore[attr-defined]
            id, title, fn, tuple(needs), tuple(uses), tuple(causes), (fn.__doc__ or "").strip()
        )
        return fn

    return wrap


@record
class CheckResult:
    id: str
    title: str
    status: str
    message: str
    findings: list[Finding]
    duration_ms: float


def load_checks() -> list[CheckSpec]:
    """Every registered check, in entry-point name order; a broken plugin becomes an error spec."""
    specs: list[CheckSpec] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            spec = obj.check_spec
        except Exception as exc:  # a plugin must not take the doctor down
            specs.append(CheckSpec(ep.name, ep.name, None, load_error=f"could not load {ep.value}: {exc}"))
            continue
        specs.append(spec)
    return specs


def _missing(facts: Facts, needs: tuple[str, ...]) -> str | None:
    for name in needs:
        if getattr(facts, name, None) is None:
            src = source_for(name)
            status = facts.source(src)
            why = f"{src} source: {status.error}" if status and status.error else f"no {name} facts"
            return f"needs {name}, not gathered ({why})"
    return None


def source_for(fact: str) -> str:
    """The source that fills a Facts field."""
    return {
        "service": "cloudrun",
        "job": "cloudrun",
        "executions": "cloudrun",
        "serving_revision": "cloudrun",
        "not_found": "cloudrun",
        "secrets": "secrets",
        "targets": "secrets",
        "databases": "database",
        "migrations": "migrations",
        "logs": "logs",
        "repo": "repo",
        "workloads": "others",
    }.get(fact, fact)


def run_check(spec: CheckSpec, facts: Facts, amend: Callable[[Finding], None] | None = None) -> CheckResult:
    """Run one check; ``amend`` (the run's mode, e.g. pre-deploy) may restate each finding before the
    check's status and message are taken from them."""
    start = time.perf_counter()
    if spec.load_error:
        findings = [Finding("error", spec.load_error)]
    elif reason := _missing(facts, spec.needs):
        findings = [skip(reason)]
    else:
        try:
            findings = list(spec.fn(facts))  # type: ignore[misc]
        except Exception as exc:
            import traceback  # here: with textwrap, 1 ms of every start for a check that raises

            tb = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}"
            findings = [Finding("error", scrub(f"check raised {type(exc).__name__}: {exc} ({where})"))]
        if not findings:
            findings = [not_applicable("nothing to examine")]
    for f in findings:
        f.check = spec.id
        f.message = scrub(f.message)
        f.evidence = [scrub(e) for e in f.evidence]
        if amend is not None:
            amend(f)
    worst = max(findings, key=lambda f: STATUS_ORDER[f.status])
    message = worst.message if worst.status != "pass" else _summary(findings)
    return CheckResult(
        spec.id, spec.title, worst.status, message, findings, (time.perf_counter() - start) * 1000
    )


def _summary(findings: list[Finding]) -> str:
    return findings[0].message if len(findings) == 1 else f"{findings[0].message} (+{len(findings) - 1} more)"


def run_checks(specs: list[CheckSpec], facts: Facts, only: Iterable[str] = (),
               amend: Callable[[Finding], None] | None = None) -> list[CheckResult]:
    only = set(only)
    return [run_check(s, facts, amend) for s in specs if not only or s.id in only]
