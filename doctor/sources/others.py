"""The other workloads on the environment's database: configured (``[[workloads]]``) or discovered.

Discovery lists the project's services and jobs (live: ListServices / ListJobs; offline:
``services.yaml`` / ``jobs.yaml`` as ``gcloud run services|jobs list --format=yaml`` print them) and
keeps those whose resolved database target is the primary service's (same instance and database,
any role). Each one found gets what the checks judge it by: its target, its own runs and log lines
(by its name), the tables its models declare, its own image recipe, and what its own role sees in
the database. Secrets are handled as for the primary pair: values stay in memory, facts get
fingerprints, every value is scrubbed from output.
"""

from __future__ import annotations

from pathlib import Path

from netra_doctor.cloudrun.targets import resolve_target
from netra_doctor.cloudrun.workloads import job_role, owned_entries, runs_of, same_database
from netra_doctor.core.config import Target, WorkloadSpec
from netra_doctor.core.errors import Skipped
from netra_doctor.core.facts import OtherWorkload, SecretRef, Workload
from netra_doctor.safety.secrecy import remember
from netra_doctor.sources.context import Context
from netra_doctor.sources.publish import redact


def _listed(ctx: Context) -> tuple[list[Workload] | None, list[Workload] | None, str, str, list[Exception]]:
    if ctx.live:
        from netra_doctor.sources import live_cloudrun

        # listed by the cloudrun source at once with the service and the job, else now
        services, jobs, problems = ctx.shared.pop("workload_lists", None) or live_cloudrun.list_workloads(ctx)
        return services, jobs, "ListServices", "ListJobs", problems
    return ctx.exports.services, ctx.exports.jobs, "services.yaml", "jobs.yaml", []


def _secret_values(ctx: Context, workloads: list[Workload]) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each secret ref's value (None: unresolved) and why it has none."""
    from netra_doctor.sources.secrets import resolve_offline

    refs: dict[str, SecretRef] = {}
    for w in workloads:
        for var in w.main.env:
            if var.secret:
                refs.setdefault(var.secret.key, var.secret)
    if not refs:
        return {}, {}
    if ctx.live:
        from netra_doctor.sources import live_secrets

        resolved, denied = live_secrets.resolve(ctx, list(refs.values()))
    elif ctx.exports.secrets is not None:
        resolved, denied = {k: resolve_offline(ctx.exports.secrets, r) for k, r in refs.items()}, {}
    else:
        resolved, denied = {}, dict.fromkeys(refs, "unknown (no secrets.yaml in the --from folder)")
    values, why = {}, {}
    for key in refs:
        value, _, error = resolved.get(key, (None, None, denied.get(key, "not resolved")))
        values[key] = value
        if value is None:
            why[key] = error or "not resolved"
    return values, why


def _target(ctx: Context, other: OtherWorkload, db_env: dict[str, list[str]], secrets: dict[str, str | None],
            why: dict[str, str], literal: dict[str, str | None]) -> str | None:
    """Resolve the workload's database target (into ``other``); returns its password (memory only)."""
    w = other.workload
    values: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    for var in w.main.env:
        if var.secret:
            values[var.name] = secrets.get(var.secret.key)
            if values[var.name] is None:
                reasons[var.name] = why.get(var.secret.key, "not resolved")
            elif var.name not in {n for r in ("host", "port", "database", "user") for n in db_env.get(r, [])}:
                remember(values[var.name])  # only names and numbers (host, port, database, user) may show
        else:
            values[var.name] = literal.get(var.name, var.value)
    target, password = resolve_target(w, db_env, values, reasons)
    target.workload = other.name
    other.target = target
    return password


def _spec_of(target: Target, name: str) -> WorkloadSpec | None:
    return next((s for s in target.workloads if s.name == name), None)


def gather(ctx: Context) -> None:
    t = ctx.target
    facts = ctx.facts
    services, jobs, how_s, how_j, problems = _listed(ctx)
    listed = {("service", w.name): (w, how_s) for w in services or []}
    listed |= {("job", w.name): (w, how_j) for w in jobs or []}
    primary = {("service", t.service), ("job", t.job)}
    out: list[OtherWorkload] = []
    for spec in t.workloads:
        key = (spec.kind, spec.name)
        w, how = listed.get(key, (None, ""))
        if key == ("job", t.job) and facts.job is not None:
            w, how = facts.job, "config"
        elif key == ("service", t.service) and facts.service is not None:
            w, how = facts.service, "config"
        searched = (services if spec.kind == "service" else jobs) is not None
        other = OtherWorkload(spec.name, spec.kind, spec.role, "config", configured=True, primary=key in primary,
                              exists=True if w is not None else (False if searched else None), workload=w,
                              tables=list(spec.tables), dockerfile=spec.dockerfile or "", ship_image=spec.image)
        if w is None:
            other.notes.append(f"{spec.kind} {spec.name} is in no {how_s if spec.kind == 'service' else how_j}"
                               if searched else f"the project's {spec.kind}s were not listed: whether "
                               f"{spec.name} exists is unknown")
        out.append(other)
    named = {(o.kind, o.name) for o in out}
    for (kind, name), (w, how) in sorted(listed.items()):
        if (kind, name) in named or (kind, name) in primary:
            continue
        out.append(OtherWorkload(name, kind, found_by=how, workload=w, exists=True,
                                 notes=[f"found by {how}"]))
    shared = {r: [n] for r, n in t.db_env.items()} | dict(t.db_envs.get("service", {}))
    literal: dict[str, dict[str, str | None]] = {}
    for o in out:
        if o.workload is not None and not o.primary:
            literal[o.name] = {v.name: v.value for v in o.workload.main.env if v.secret is None}
            redact(o.workload, ctx, key=f"{o.kind}/{o.name}")
    secrets, why = _secret_values(ctx, [o.workload for o in out if o.workload is not None and not o.primary])
    service_target = (facts.targets or {}).get("service")
    passwords: dict[str, str | None] = {}
    kept: list[OtherWorkload] = []
    for o in out:
        if o.workload is not None and not o.primary:
            spec = _spec_of(t, o.name)
            passwords[o.name] = _target(ctx, o, spec.db_env if spec else shared, secrets, why, literal[o.name])
            o.same_database = same_database(o.target, service_target)
            if o.kind == "job" and not o.role:
                o.role = job_role(o.workload)
            elif o.kind == "service" and not o.role:
                o.role = "reader"
        elif o.primary and o.kind == "job" and not o.role:
            o.role = "migrate"
        if o.configured or o.same_database:
            kept.append(o)
    for o in kept:
        _own_facts(ctx, o)
    _databases(ctx, [o for o in kept if o.kind == "service" and not o.primary], passwords)
    facts.workloads = kept
    if problems:
        from netra_doctor.sources import live_api as gcp

        gcp.outcome(problems)
    if services is None and jobs is None and not t.workloads:
        raise Skipped("no services.yaml or jobs.yaml in the --from folder: other workloads on the database "
                      "unknown (see README: exporting)")


def _own_facts(ctx: Context, o: OtherWorkload) -> None:
    """Its runs and log lines (by its name), its models, its image recipe."""
    t = ctx.target
    if o.kind == "job" and not o.primary and o.workload is not None:
        if ctx.live:
            from netra_doctor.sources import live_cloudrun

            try:
                o.executions = live_cloudrun.executions_of(ctx, o.name)
            except Exception as exc:
                o.notes.append(f"its executions could not be listed: {type(exc).__name__}")
        elif ctx.exports.all_executions is not None:
            o.executions = runs_of(ctx.exports.all_executions, o.name)
    if not o.primary and o.workload is not None:
        if ctx.live:
            from netra_doctor.sources import live_logs

            try:
                o.logs = live_logs.workload_entries(ctx, o.kind, o.name)
            except Exception as exc:
                o.notes.append(f"its logs could not be read: {type(exc).__name__}")
        elif ctx.exports.logs is not None:
            o.logs = owned_entries(ctx.exports.logs, o.kind, o.name)
    spec = _spec_of(t, o.name)
    if spec and spec.models:
        o.models = _models(t, spec.models)
    if spec and spec.dockerfile:
        from netra_doctor.cloudrun import dockerfile

        o.image = dockerfile.read(Path(t.root), spec.dockerfile, spec.docker_context)


def _models(t: Target, paths: list[str]):
    from netra_doctor.core.facts import ModelFacts
    from netra_doctor.migrations import models
    from netra_doctor.sources.migrations import ini_and_cwd

    root = Path(t.root)
    ini, cwd = ini_and_cwd(t.alembic_ini, root)
    try:
        return models.read_models(root, ini, paths, scan_checkout=False, section=t.alembic_name, cwd=cwd)
    except Exception as exc:  # a reader bug must not cost the source the other workloads
        return ModelFacts(problems=[f"models could not be read: {type(exc).__name__}: {exc}"], where="failed")


def _databases(ctx: Context, readers: list[OtherWorkload], passwords: dict[str, str | None]) -> None:
    """What each reader's own role sees in its database (its grants), where a route reaches it."""
    from concurrent.futures import ThreadPoolExecutor

    from netra_doctor.core.facts import DatabaseFacts
    from netra_doctor.sources.database import probe, route_to

    if not readers or ctx.target.dsn:
        return
    routes = {o.name: route_to(ctx, o.name, o.target, passwords.get(o.name)) for o in readers}
    reachable = {n: r for n, r in routes.items() if not isinstance(r, DatabaseFacts)}
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(reachable))), thread_name_prefix="db-others") as pool:
        probed = dict(zip(reachable, pool.map(lambda r: probe(r, "", ctx.target.timeout), reachable.values()),
                          strict=True))
    for o in readers:
        found = probed.get(o.name, routes[o.name])
        if isinstance(found, DatabaseFacts):
            found.workload = o.name
            o.database = found

