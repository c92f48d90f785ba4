"""The pre-deploy gate's run modes: ``--repo-only`` and ``--pre-deploy``, around the ordinary engine.

``--repo-only`` gathers the checkout alone (migrations, models, files): a CI job with no cloud
credentials and no database route. The checks that need Cloud Run, secrets, logs or a database are
listed as not run, which does not make the run incomplete, so a clean checkout exits 0; a run whose
in-scope checks judged nothing (models or revisions there but not read) is incomplete (exit 3).

``--pre-deploy`` treats the checkout as the code about to ship: a database behind head is the plan,
not a fault, so no finding blames ``migration-not-applied``; the plan itself is judged by the
``pre-deploy-plan`` check (conflicts with the real catalog, what drops destroy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netra_doctor.core.checking import CheckResult, CheckSpec, Finding, not_applicable, run_checks
from netra_doctor.core.facts import Facts

if TYPE_CHECKING:
    from netra_doctor.core.config import Target
    from netra_doctor.sources.context import Source

REPO_FACTS = frozenset({"migrations", "repo"})  # what --repo-only gathers: these sources, these facts


def mark(facts: Facts, target: Target) -> None:
    """Record the run's mode in the facts, so a replay judges the same way."""
    facts.target.pre_deploy = bool(target.pre_deploy)
    facts.target.repo_only = bool(target.repo_only)
    facts.target.image = target.image or ""


def sources(target: Target, chosen: list[Source] | None) -> list[Source]:
    """The sources this run gathers: the checkout alone with --repo-only; table use with --pre-deploy."""
    from netra_doctor.sources.context import Source
    from netra_doctor.sources.runner import default_sources

    out = list(chosen) if chosen is not None else default_sources()
    if target.repo_only:
        return [s for s in out if s.name in REPO_FACTS]
    if target.pre_deploy and any(s.name == "database" for s in out):
        from netra_doctor.sources import table_usage

        out.append(Source("table_usage", table_usage.gather, after=("database", "migrations")))
    return out


def in_scope(spec: CheckSpec) -> bool:
    """A check --repo-only can run: it needs nothing beyond the checkout, and reads some of it."""
    return set(spec.needs) <= REPO_FACTS and bool(set((*spec.needs, *spec.uses)) & REPO_FACTS)


def checked(specs: list[CheckSpec], facts: Facts) -> list[CheckResult]:
    """Run the checks as the run's mode asks: out-of-scope ones listed as not run (repo-only), and
    a database behind head read as the plan (pre-deploy)."""
    amend = _as_plan if facts.target.pre_deploy else None
    if facts.workloads is None and facts.source("others") is None:
        # the other workloads were not set out for (offline, none configured or exported; a snapshot
        # saved before they were): their checks are not part of this run, exactly as before they existed
        specs = [s for s in specs if "workloads" not in s.needs]
    if facts.target.repo_only:
        results = []
        for spec in specs:
            if in_scope(spec):
                results += run_checks([spec], facts, amend=amend)
            else:
                wants = ", ".join(n for n in spec.needs if n not in REPO_FACTS) or ", ".join(spec.uses)
                note = f"not run: --repo-only gathers only the checkout (this check needs {wants})"
                results.append(CheckResult(spec.id, spec.title, "skip", note, [_tagged(not_applicable(note), spec)],
                                           0.0))
        _judged_nothing(results, specs)
    else:
        results = run_checks(specs, facts, amend=amend)
    return results


def _judged_nothing(results: list[CheckResult], specs: list[CheckSpec]) -> None:
    """A --repo-only run whose in-scope checks judged nothing, because what they examine was there but not
    judged (models not read, revisions not known, a baseline made outside Alembic), is incomplete, not
    healthy: its not-judged findings block. A checkout with no models at all stays complete."""
    scope = {s.id for s in specs if in_scope(s)}
    ours = [r for r in results if r.id in scope]
    findings = [f for r in ours for f in r.findings]
    if any(f.status != "skip" for f in findings) or not any(f.unjudged for f in findings):
        return
    note = " (--repo-only judged nothing else: the run is incomplete)"
    for r in ours:
        for f in r.findings:
            if f.unjudged and not f.blocked:
                f.blocked = True
                f.message += note
                if note not in r.message:
                    r.message += note


def _tagged(f: Finding, spec: CheckSpec) -> Finding:
    f.check = spec.id
    return f


def _as_plan(f: Finding) -> None:
    """Before a deploy the database is behind head by design: that is the plan the job will run."""
    if f.cause == "migration-not-applied" and f.status in ("warn", "fail"):
        f.status, f.cause = "pass", None
        f.message = f"pre-deploy, the plan: {f.message} (the job applies it on this deploy)"


CLOUD_STEP = "then, outside this no-cloud gate, once the new image is deployed:"


def cloud_steps_said(diagnosis) -> None:
    """--repo-only is a gate with no cloud: a fix's cloud commands are not its next step but what
    follows the deploy, and the fix says so before the first of them."""
    from netra_doctor.core.causes import Step, fix_kind

    for cause in diagnosis.causes:
        at = next((i for i, item in enumerate(cause.fix) if fix_kind(item) == "command" and item.startswith("gcloud ")),
                  None)
        if at is not None and CLOUD_STEP not in cause.fix:
            cause.fix.insert(at, Step(CLOUD_STEP))
