"""The migration job's executions: did the latest succeed, on which image, and what did it upgrade?"""

from __future__ import annotations

from netra_doctor.cloudrun import logparse, serving
from netra_doctor.cloudrun.executions import last_success
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, warn
from netra_doctor.core.facts import Execution, Facts, LogEntry, is_proxy_image

NOOP_CONFIDENCE = 0.92  # a no-op upgrade while the service names missing tables, and no revision creates them
NOOP_CONFIDENCE_UNKNOWN_SCRIPTS = 0.75  # the same, but the migration scripts could not be read


def _when(e: Execution) -> str:
    return e.completed or e.started or "?"


def describe(e: Execution) -> str:
    image = f", image {e.image}" if e.image else ""
    detail = f": {e.message}" if e.message else ""
    return f"execution {e.name} {e.status} (started {e.started or '?'}, ended {e.completed or '-'}{image}){detail}"


def latest_entries(facts: Facts) -> tuple[Execution | None, list[LogEntry]]:
    """The latest execution and its log entries (by label, or by its time window)."""
    if facts.executions:
        latest = facts.executions[0]
        return latest, logparse.execution_entries(facts.logs or [], latest)
    return None, logparse.latest_origin(logparse.job_entries(facts.logs or []))


@check(
    "job-execution",
    "The migration job's latest execution succeeded",
    needs=("job", "executions"),
    uses=("logs",),
    causes=("job-never-succeeded",),
)
def job_execution(facts: Facts) -> list[Finding]:
    """Good: the job has executions and the newest one succeeded. When it failed, the line of its log
    that explains why is quoted (a SyntaxError, a missing module, a socket or password error)."""
    executions = facts.executions or []
    job = facts.job
    if not executions:
        return [fail(f"the migration job {job.name} has never been executed", "job-never-succeeded", obj="job",
                     evidence=[f"job {job.name}: no executions listed"])]
    latest = executions[0]
    evidence = [describe(latest)]
    if latest.status == "succeeded":
        return [ok(f"the latest execution {latest.name} succeeded at {_when(latest)}", "job-never-succeeded",
                   obj="job", evidence=evidence)]
    if latest.status in ("running", "unknown"):
        return [warn(f"the latest execution {latest.name} is {latest.status}: re-run the doctor once it ends",
                     obj="job", evidence=evidence)]
    if facts.logs is not None:
        line = logparse.failure_line(logparse.execution_entries(facts.logs, latest))
        evidence.append(f"its log: {line.quote()}" if line else "its log: no entries found for this execution")
    previous = last_success(executions)
    if previous:
        evidence.append(f"the last successful run was {previous.name} at {_when(previous)}")
    elif len(executions) == 1:
        evidence.append("no earlier execution is listed")
    else:
        evidence.append(f"none of the {len(executions)} listed executions succeeded")
    return [fail(f"the latest execution {latest.name} {latest.status}", "job-never-succeeded", obj="job",
                 evidence=evidence)]


def own_recipe(facts: Facts) -> str:
    """The primary job's own image recipe, when its [[workloads]] entry gives one ("" otherwise)."""
    entry = next((o for o in facts.workloads or [] if o.primary and o.kind == "job"), None)
    return entry.dockerfile if entry else ""


def _repo(image: str) -> str:
    """The image without its tag or digest."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _mutable(image: str) -> bool:
    """No digest and no tag, or the :latest tag: it names whatever was pushed last."""
    if "@sha256:" in image:
        return False
    return _repo(image) == image or image.endswith(":latest")


@check(
    "job-image",
    "The migration job runs the image the service serves",
    needs=("job", "serving_revision"),
    uses=("executions", "workloads"),
    causes=("job-image-differs",),
)
def job_image(facts: Facts) -> list[Finding]:
    """Good: the job's image, and the image its latest execution ran, are the serving revision's
    image, so the job applies exactly the revisions the service's code expects. A job built from its
    own recipe ([[workloads]] `dockerfile`) runs another image by design: not judged here."""
    served = facts.serving_revision.image
    job = facts.job
    recipe = own_recipe(facts)
    if recipe:
        return [not_applicable(f"the job {job.name} is built from its own recipe, {recipe}: its image is not the "
                               "service's by design (the deploy-image check compares it with its own --image)")]
    if not served or not job.image:
        return [not_applicable("an image is unknown (the service's or the job's)")]
    evidence = [f"service revision {facts.serving_revision.name or '?'} runs {served}",
                f"job {job.name} runs {job.image}"]
    others = [i for i in facts.serving_revision.images[1:] if i and not is_proxy_image(i)]
    if job.image != served and job.image in others:
        # the code the job migrates for may live in a container behind the ingress one (a proxy in front)
        names = [c.name for c in (facts.service.containers if facts.service else []) if c.image == job.image]
        evidence.append(f"the service's container {names[0] if names else '?'} (a sidecar of the ingress "
                        f"container) runs {job.image}")
        served = job.image
    latest = (facts.executions or [None])[0]
    ran = latest.image if latest and latest.image else ""
    if ran:
        evidence.append(f"its latest execution {latest.name} ran {ran}")
    fix = {"image": served}
    if job.image != served:
        if _mutable(job.image):
            why = f"the job follows the mutable tag {job.image}, which can lag behind the service's {served}"
        elif _repo(job.image) != _repo(served):
            why = "the job runs another repository's image than the service"
        else:
            why = "the job runs another build of the image than the service"
        return [warn(why, "job-image-differs", obj="job", evidence=evidence, fix_vars=fix)]
    if ran and ran != served:
        return [warn(f"the job now names the service's image, but its latest execution ran {ran}: "
                     "the revisions it applied came from that older image",
                     "job-image-differs", obj="job", evidence=evidence, fix_vars=fix)]
    what = "the service's image" if served == facts.serving_revision.image else "the image of a service container"
    return [ok(f"the job runs {what}", "job-image-differs", obj="job", evidence=evidence)]


def _creators(facts: Facts, tables: set[str]) -> dict[str, list[str]]:
    """Which revisions create each table (names compared without schema)."""
    out: dict[str, list[str]] = {t: [] for t in tables}
    for rev in facts.migrations.revisions if facts.migrations else []:
        for created in rev.creates:
            short = created.rsplit(".", 1)[-1]
            if short in out:
                out[short].append(rev.revision)
    return out


@check(
    "migration-log",
    "What the job's latest run says it upgraded",
    needs=("job", "logs"),
    uses=("executions", "migrations", "service", "serving_revision"),
    causes=("migration-missing-for-tables",),
)
def migration_log(facts: Facts) -> list[Finding]:
    """Good: the latest run's log shows Alembic's `Running upgrade A -> B` lines, or a no-op while the
    service misses no table. A no-op (Alembic connected, applied nothing) while the service's
    start-up names missing tables means `upgrade head` cannot create them: no revision does."""
    latest, entries = latest_entries(facts)
    name = latest.name if latest else "the latest execution"
    if latest and latest.status != "succeeded":
        return [not_applicable(f"{name} did not succeed (see job-execution): nothing was upgraded")]
    if not entries:
        return [not_applicable(f"no log entries for {name}: cannot tell what it upgraded")]
    log = logparse.upgrade_log(entries)
    if not log.ran:
        return [not_applicable(f"{name}'s log shows no Alembic run (it stopped before connecting)")]
    if log.steps:
        steps = [f"{a or '<base>'} -> {b}" for a, b in log.steps]
        return [ok(f"{name} upgraded {len(steps)} revision(s), to {log.steps[-1][1]}", obj="job",
                   evidence=[f"Running upgrade {s}" for s in steps])]
    noop = [f"job log: {log.context_line.quote()}" if log.context_line else f"job log: {name}",
            f"no `Running upgrade` line in {name}'s {len(entries)} log entries: the upgrade was a no-op"]
    service = serving.service_entries(facts)  # the current revisions': an older one's are history
    missing = logparse.tables_named_in_startup_errors(service)
    if not missing:
        return [ok(f"{name}'s upgrade was a no-op: its database was already at head", obj="job", evidence=noop)]
    quote = logparse.hits(service, logparse.TABLE_PATTERNS)[-1].quote()
    evidence = [*noop, f"service log: {quote}"]
    tables = ", ".join(sorted(missing))
    fix = {"tables": tables}  # the same text as the tables check's, so the fix line is listed once
    if facts.migrations is None:
        evidence.append("the migration scripts were not read, so which revisions create tables is unknown")
        return [fail(f"the job's upgrade was a no-op while the service is missing {tables}",
                     "migration-missing-for-tables", obj="job", evidence=evidence, fix_vars=fix,
                     confidence=NOOP_CONFIDENCE_UNKNOWN_SCRIPTS)]
    creators = _creators(facts, missing)
    made = {t: revs for t, revs in creators.items() if revs}
    if made:
        listed = "; ".join(f"{t} by {', '.join(r)}" for t, r in sorted(made.items()))
        return [warn(f"the job's upgrade was a no-op, yet revisions create tables the service misses ({listed}): "
                     "the job's database already records head without them", obj="job", evidence=evidence)]
    heads = ", ".join(facts.migrations.heads) or "?"
    opaque = [r for r in facts.migrations.revisions if r.opaque]
    if opaque:  # a revision that could not be fully read may create them: claim nothing, say what to read
        return [warn(f"the job's upgrade was a no-op and no revision that could be read creates {tables}, but "
                     f"{len(opaque)} revision(s) could not be fully read ({', '.join(r.revision for r in opaque[:5])})",
                     obj="job", evidence=evidence)]
    evidence.append(f"none of the {len(facts.migrations.revisions)} revisions up to head {heads} creates {tables}")
    return [fail(f"the job's upgrade was a no-op and no revision creates {tables}",
                 "migration-missing-for-tables", obj="job", evidence=evidence, fix_vars=fix,
                 confidence=NOOP_CONFIDENCE)]
