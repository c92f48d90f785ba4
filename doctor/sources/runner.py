"""Run the sources concurrently, each after the sources and milestones it waits for, into one ``Facts``."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, wait
from contextlib import suppress
from datetime import datetime, timezone

from netra_doctor.core.cleanup import threads
from netra_doctor.core.config import Target
from netra_doctor.core.errors import BadInput, Partial, Skipped, SourceError
from netra_doctor.core.facts import Facts, SourceStatus, TargetInfo
from netra_doctor.sources.context import Context, Source


def default_sources() -> list[Source]:
    # imported here so that `--help` pays for none of them
    from netra_doctor.sources import cloudrun, database, logs, migrations, repo, secrets

    return [
        Source("cloudrun", cloudrun.gather, provides=("workloads",)),
        Source("secrets", secrets.gather, after=("workloads",)),
        Source("logs", logs.gather, after=("workloads",)),
        Source("migrations", migrations.gather),
        Source("repo", repo.gather),
        Source("database", database.gather, after=("secrets",)),
    ]


def new_facts(target: Target, mode: str) -> Facts:
    info = TargetInfo(
        environment=target.environment, project=target.project, region=target.region,
        service=target.service, job=target.job, alembic_ini=target.alembic_ini,
        secret_envs=dict(target.db_env), expected_tables=list(target.expected_tables),
        silence=[{"id": s.id, "reason": s.reason, **({"object": s.object} if s.object else {})}
                 for s in target.silence],
        db_envs={k: {r: list(v) for r, v in roles.items()} for k, roles in target.db_envs.items()},
        alembic_name=target.alembic_name,
    )
    return Facts(target=info, mode=mode, gathered_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _timed(ctx: Context, source: Source) -> SourceStatus:
    start = time.perf_counter()
    if ctx.progress:
        ctx.progress(source.name, "start")
    try:
        source.fn(ctx)
        status, error = "ok", None
    except Skipped as exc:
        status, error = "skipped", str(exc)
    except BadInput:  # the user's own input (--dsn): the run ends as bad input, exit 2
        raise
    except Partial as exc:  # the facts are in; what the bound left unread is said
        status, error = "partial", str(exc)
    except Exception as exc:  # one failing source never stops the others
        status, error = "error", str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
    # the error is free text of the facts: redacted with them when gathering ends (redact_facts), once the
    # names it may hold are known, so a password `staging` never turns a hint into `--proxy netra-***:...`
    if ctx.progress:
        ctx.progress(source.name, status)
    return SourceStatus(source.name, status, int((time.perf_counter() - start) * 1000), error)


def gather(ctx: Context, sources: list[Source] | None = None, workers: int = 6) -> Facts:
    """Run every source once its dependencies are done; record each one's status and timing."""
    sources = sources if sources is not None else default_sources()
    pending = {s.name: s for s in sources}
    ctx.planned = set(pending)
    known = {s.name for s in sources} | {m for s in sources for m in s.provides}
    done = ctx.finished
    done.clear()
    running: dict[Future, Source] = {}
    signal: list[Future] = [Future()]

    def wake() -> None:
        with suppress(InvalidStateError):  # already woken
            signal[0].set_result(None)

    ctx._wake = wake
    try:
        with threads(workers, "source") as pool:  # Ctrl-C: not waited for (a connect may hang for seconds)
            while pending or running:
                if signal[0].done():
                    signal[0] = Future()  # before reading ctx.reached, so no announcement is lost
                for name, src in list(pending.items()):
                    if all(dep in done or dep in ctx.reached or dep not in known for dep in src.after):
                        del pending[name]  # a dependent runs even when its dependency failed: it
                        # knows best what it can still do (the database source with --dsn, say)
                        running[pool.submit(_timed, ctx, src)] = src
                if not running:
                    break
                finished, _ = wait([*running, signal[0]], return_when=FIRST_COMPLETED)
                for fut in finished:
                    src = running.pop(fut, None)
                    if src is not None:
                        done[src.name] = fut.result()
                        ctx.reached.update(src.provides)
    finally:
        ctx._wake = None
        _close_shared(ctx)
    order = [s.name for s in sources]
    ctx.facts.sources = sorted(done.values(), key=lambda s: order.index(s.name))
    from netra_doctor.safety.redact import redact_facts

    # checks read the facts --save writes: free text redacted field by field, so a replay is the same run
    return redact_facts(ctx.facts)


def _close_shared(ctx: Context) -> None:
    for obj in ctx.shared.values():
        close = getattr(obj, "close", None)
        if callable(close):
            with suppress(Exception):  # closing must not turn a finished run into a crash
                close()
    ctx.shared.clear()
