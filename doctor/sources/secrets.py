"""Secrets: resolve every secret ref of the service and the job, then each one's database target.

Values go to the in-memory vault; Facts get fingerprints. Offline, ``secrets.yaml``
(``{SECRET: {VERSION: value}}``) stands in for Secret Manager; ``latest`` resolves to
the highest numbered version unless the file names ``latest`` itself.
"""

from __future__ import annotations

from netra_doctor.cloudrun.targets import resolve_target
from netra_doctor.core.errors import Skipped
from netra_doctor.core.facts import SecretRef, SecretValue
from netra_doctor.safety.secrecy import fingerprint, remember
from netra_doctor.sources.context import Context


def _refs(ctx: Context) -> dict[str, SecretRef]:
    refs: dict[str, SecretRef] = {}
    for workload in (ctx.facts.service, ctx.facts.job):
        if workload is None:
            continue
        for var in (v for c in workload.containers for v in c.env):  # every container, sidecars too
            if var.secret:
                refs.setdefault(var.secret.key, var.secret)
    return refs


def _shown_refs(ctx: Context) -> set[str]:
    """Secrets that only ever carry the host, port, database or user: the report shows those
    (they are the effective target); every other secret value is scrubbed from all output."""
    roles = ("host", "port", "database", "user")
    public = {ctx.target.db_env[r] for r in roles if r in ctx.target.db_env}
    public |= {n for by_role in ctx.target.db_envs.values() for r in roles for n in by_role.get(r, [])}
    shown: set[str] = set()
    hidden: set[str] = set()
    for workload in (ctx.facts.service, ctx.facts.job):
        for c in workload.containers if workload else ():  # a sidecar's use of a secret counts too
            for var in c.env:
                if var.secret:
                    (shown if var.name in public else hidden).add(var.secret.key)
    return shown - hidden


def resolve_offline(table: dict[str, dict[str, str]], ref: SecretRef) -> tuple[str | None, str | None, str | None]:
    """(value, resolved version, error) for one ref against a secrets.yaml table."""
    versions = table.get(ref.secret)
    if versions is None:
        return None, None, f"secret {ref.secret} not found"
    if ref.version in versions:
        resolved = ref.version
        if ref.version == "latest":
            numbered = sorted((v for v in versions if v.isdigit()), key=int)
            resolved = numbered[-1] if numbered else None
        return versions[ref.version], resolved, None
    if ref.version == "latest":
        numbered = sorted((v for v in versions if v.isdigit()), key=int)
        if numbered:
            return versions[numbered[-1]], numbered[-1], None
    return None, None, f"secret {ref.secret} has no version {ref.version}"


def gather(ctx: Context) -> None:
    facts = ctx.facts
    refs = _refs(ctx)
    resolved: dict[str, tuple[str | None, str | None, str | None]] = {}
    denied: dict[str, str] = {}  # the doctor may not read these: unknown, not unresolvable
    if refs:
        if ctx.live:
            from netra_doctor.sources import live_secrets

            resolved, denied = live_secrets.resolve(ctx, list(refs.values()))
        elif ctx.exports.secrets is not None:
            resolved = {key: resolve_offline(ctx.exports.secrets, ref) for key, ref in refs.items()}
    shown = _shown_refs(ctx)
    values: dict[str, SecretValue] = {}
    for key, ref in refs.items():
        value, version, error = resolved.get(key, (None, None, denied.get(key, "not resolved")))
        if value is not None and key not in shown:
            remember(value)  # scrubbed from every output from now on
        values[key] = SecretValue(ref, fingerprint(value) if value is not None else None, version, error)

    unknown_offline = bool(refs) and not ctx.live and ctx.exports.secrets is None
    # a secret the doctor may not read leaves the set incomplete: unknown, never "unresolvable"
    facts.secrets = None if unknown_offline or denied else values
    targets = {}
    for workload in (facts.service, facts.job):
        if workload is None:
            continue
        env_values: dict[str, str | None] = {}
        why: dict[str, str] = {}  # env name -> why its secret has no value, quoted where it is missing
        for var in workload.main.env:
            if var.secret:
                env_values[var.name] = resolved.get(var.secret.key, (None,))[0]
                if env_values[var.name] is None:
                    why[var.name] = values[var.secret.key].error or "not resolved"
            else:
                env_values[var.name] = ctx.vault.get(f"{workload.kind}:{var.name}", var.value)
        db_env = ctx.target.db_envs.get(workload.kind) or ctx.target.db_env
        target, password = resolve_target(workload, db_env, env_values, why)
        targets[workload.kind] = target
        ctx.passwords[workload.kind] = password
    facts.targets = None if unknown_offline else targets
    if unknown_offline:
        raise Skipped(f"no secrets.yaml in {ctx.target.exports_label}: secret values unknown")
    if denied:
        reasons = {reason: [k for k, r in denied.items() if r == reason] for reason in denied.values()}
        raise Skipped("; ".join(f"secret{'s' if len(keys) > 1 else ''} {', '.join(keys)} {reason}"
                                for reason, keys in reasons.items()))
