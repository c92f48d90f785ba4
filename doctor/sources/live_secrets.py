"""Secret Manager, live: AccessSecretVersion for exactly the versions the workloads reference, at once.

Values go back to the secrets source, which keeps them in memory and puts fingerprints in
Facts. A missing or disabled version is a fact about the environment (the workload cannot
start with it either); a permission the doctor lacks or an API that does not answer is not:
a denied secret stays unknown (and says which role would let the doctor read it), an API
that does not answer stops the source; neither is reported as an unresolvable secret.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netra_doctor.core.errors import Skipped
from netra_doctor.core.facts import SecretRef
from netra_doctor.sources import live_api as gcp
from netra_doctor.sources.context import Context

Resolved = tuple[str | None, str | None, str | None]  # (value, resolved version, error)


def version_name(ref: SecretRef, project: str) -> str:
    return f"projects/{ref.project or project}/secrets/{ref.secret}/versions/{ref.version}"


def _value(response: Any) -> Resolved:
    data: bytes = response.payload.data
    version = response.name.rsplit("/", 1)[-1]  # "latest" comes back as its number
    # surrogateescape keeps a binary payload distinct (and fingerprintable) instead of failing
    return data.decode("utf-8", "surrogateescape"), version if version.isdigit() else None, None


def resolve(ctx: Context, refs: list[SecretRef]) -> tuple[dict[str, Resolved], dict[str, str]]:
    """(value, version, error) per ref key, and the keys the doctor may not read, each with why
    ("not readable (PermissionDenied: ...)", without the secret's name).

    A denied secret is the doctor's own access, not a fact about the environment: it is returned
    apart (the workload itself may read it fine), so the caller reports it as unknown, never as
    unresolvable. Any other failure (the API down, a deadline) stops the source.
    """
    from google.api_core import exceptions

    clients = gcp.clients(ctx)
    client = clients.client("secrets")
    t = ctx.target

    def one(ref: SecretRef) -> Resolved | Exception:
        name = version_name(ref, t.project)
        try:
            return _value(clients.call("secretmanager", client.access_secret_version, name=name))
        except exceptions.NotFound:
            return None, None, f"{name} not found (no such secret or version)"
        except exceptions.FailedPrecondition as exc:  # a disabled or destroyed version
            return None, None, f"{name} cannot be accessed: {' '.join(str(exc.message).split())[:200]}"
        except exceptions.PermissionDenied:
            return Skipped(f"not readable (PermissionDenied: the doctor's credentials need "
                           f"{gcp.ROLES['secretmanager']} on project {ref.project or t.project})")
        except Exception as exc:
            return gcp.failure(exc, "secretmanager", f"access {name}", ref.project or t.project, t.timeout)

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(refs))), thread_name_prefix="secrets") as pool:
        results = dict(zip([r.key for r in refs], pool.map(one, refs), strict=True))
    gcp.outcome([r for r in results.values() if isinstance(r, Exception) and not isinstance(r, Skipped)])
    denied = {key: str(r) for key, r in results.items() if isinstance(r, Skipped)}
    return {k: r for k, r in results.items() if not isinstance(r, Exception)}, denied
