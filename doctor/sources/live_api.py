"""The Google API clients of one live run: Application Default Credentials, or a plaintext local endpoint.

Production builds one authenticated gRPC channel per API host from ADC, exactly as gcloud users
expect (`gcloud auth application-default login`, a service account key, or the metadata
server). ``NETRA_DOCTOR_GCP_ENDPOINT=host:port`` instead points every client at one plaintext
channel (tests, air-gapped fakes), through the same code path: the real generated clients with
their real gRPC transports.

Every call goes through :meth:`Clients.call` / :meth:`Clients.pages`: a deadline of
``timeout`` seconds per call, a bounded retry of UNAVAILABLE inside it, and once an endpoint has
failed to answer in time it is not asked again in this run, so a dead endpoint costs one deadline,
not one per call. ``google.*`` and ``grpc`` are imported inside functions only: this module is
imported by the live sources, never at start-up.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from netra_doctor.core.errors import Skipped, SourceError

if TYPE_CHECKING:
    import grpc
    from netra_doctor.sources.context import Context

ENDPOINT_ENV = "NETRA_DOCTOR_GCP_ENDPOINT"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
HOSTS = {"run": "run.googleapis.com", "secretmanager": "secretmanager.googleapis.com",
         "logging": "logging.googleapis.com"}
# the read-only role that grants what each API call of the doctor needs
ROLES = {"run": "roles/run.viewer", "secretmanager": "roles/secretmanager.secretAccessor",
         "logging": "roles/logging.viewer"}
_RUN_CLIENTS = {"services": "ServicesClient", "jobs": "JobsClient", "executions": "ExecutionsClient",
                "revisions": "RevisionsClient"}
_API_OF = {**dict.fromkeys(_RUN_CLIENTS, "run"), "secrets": "secretmanager", "logging": "logging"}
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class _NoPayloads(logging.Filter):
    """The client libraries log every response whole at DEBUG (GOOGLE_SDK_PYTHON_LOGGING_SCOPE, or an
    embedding program's DEBUG root logger): secret payloads, env values, log lines echoing a DSN.
    Those records are dropped where they are made; the request lines (method, resource name) stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not hasattr(record, "response")


_NO_PAYLOADS = _NoPayloads()


class EndpointDown(Exception):
    """An endpoint already failed to answer in this run: later calls fail at once."""


def _client_class(name: str) -> Any:
    if name in _RUN_CLIENTS:
        from google.cloud import run_v2

        return getattr(run_v2, _RUN_CLIENTS[name])
    if name == "secrets":
        from google.cloud.secretmanager_v1 import SecretManagerServiceClient

        return SecretManagerServiceClient
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

    return LoggingServiceV2Client


# --- Application Default Credentials (once per process, bounded in time) -------------------

_adc_lock = threading.Lock()
_adc: list[Any] = []  # [credentials] or [SourceError]: the first lookup's outcome, reused


def credentials(timeout: float) -> Any:
    """ADC with a fresh token, looked up once per process and never for longer than ``timeout``.

    ``google.auth.default()`` may probe the metadata server (3 s x 3 off GCE) and a token refresh
    may wait 120 s on a dead network; both run in a helper thread that we stop waiting for.
    """
    with _adc_lock:
        if not _adc:
            _adc.append(_lookup_adc(timeout))
    found = _adc[0]
    if isinstance(found, SourceError):
        raise found
    return found


def _lookup_adc(timeout: float) -> Any:
    outcome: list[Any] = []

    def work() -> None:
        outcome.append(_adc_now(timeout))

    worker = threading.Thread(target=work, name="adc", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return SourceError(f"Application Default Credentials: no answer within {timeout:g}s "
                           "(is the network or the metadata server reachable?)")
    return outcome[0]


def _adc_now(timeout: float) -> Any:
    import google.auth
    from google.auth import exceptions as auth_exceptions
    from google.auth.transport.requests import Request

    class _TimedRequest(Request):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = min(kwargs.get("timeout") or timeout, timeout)
            return super().__call__(*args, **kwargs)

    try:
        creds, _ = google.auth.default(scopes=list(SCOPES))
        creds.refresh(_TimedRequest())
    except auth_exceptions.DefaultCredentialsError:
        return SourceError("no Application Default Credentials: run `gcloud auth application-default login` "
                           "(or set GOOGLE_APPLICATION_CREDENTIALS to a service account key)")
    except auth_exceptions.RefreshError as exc:
        return SourceError(f"Application Default Credentials were refused ({exc}); "
                           "run `gcloud auth application-default login`")
    except auth_exceptions.TransportError as exc:
        return SourceError(f"could not reach Google to refresh credentials: {exc}")
    return creds


# --- the clients of one run --------------------------------------------------------------


class Clients:
    """Lazily built API clients sharing channels; closed by the source runner when gathering ends."""

    def __init__(self, timeout: float, endpoint: str | None = None):
        self.timeout = timeout
        self.endpoint = endpoint if endpoint is not None else (os.environ.get(ENDPOINT_ENV) or None)
        # facts the logs source bounds its queries with (RFC 3339): service_created, execution_created
        self.hints: dict[str, str] = {}
        self._lock = threading.Lock()  # guards the tables below, never held across an import
        self._building: dict[str, threading.Lock] = {}
        self._channels: dict[str, grpc.Channel] = {}
        self._clients: dict[str, Any] = {}
        self._down: dict[str, str] = {}
        self._closed = False

    def host(self, api: str) -> str:
        return self.endpoint or f"{HOSTS[api]}:443"

    def client(self, name: str) -> Any:
        """``services``, ``jobs``, ``executions``, ``revisions``, ``secrets`` or ``logging``."""
        with self._lock:
            if name in self._clients:
                return self._clients[name]
            building = self._building.setdefault(name, threading.Lock())
        with building:  # one builder per client; others wait for it, not for unrelated imports
            with self._lock:
                if name in self._clients:
                    return self._clients[name]
            cls = _client_class(name)  # the import, outside the shared lock
            with self._lock:
                if self._closed:
                    raise RuntimeError("the run's clients are closed")
                channel = self._channel(_API_OF[name], cls)
            client = cls(transport=cls.get_transport_class("grpc")(channel=channel))
            logging.getLogger(type(client.transport).__module__).addFilter(_NO_PAYLOADS)
            with self._lock:
                if self._closed:  # built by a prefetch after the run ended
                    client.transport.close()
                else:
                    self._clients[name] = client
            return client

    def prefetch(self, names: list[str]) -> None:
        """Build these clients (importing their libraries) in the background, while calls already
        made are on the wire: the sources that need them find them ready. Failures are left for
        those sources to meet and report."""

        def build() -> None:
            for name in names:
                with suppress(Exception):
                    self.client(name)

        threading.Thread(target=build, name="gcp-prefetch", daemon=True).start()

    def _channel(self, api: str, cls: Any) -> grpc.Channel:
        host = self.host(api)
        if host not in self._channels:
            if self.endpoint:
                import grpc

                self._channels[host] = grpc.insecure_channel(host, options=_CHANNEL_OPTIONS)
            else:
                creds = credentials(self.timeout)
                self._channels[host] = cls.get_transport_class("grpc").create_channel(
                    host, credentials=creds, quota_project_id=getattr(creds, "quota_project_id", None),
                    options=_CHANNEL_OPTIONS,
                )
        return self._channels[host]

    def retry(self) -> Any:
        """Retry UNAVAILABLE with backoff, never past the call's own deadline."""
        from google.api_core import exceptions, retry

        return retry.Retry(predicate=retry.if_exception_type(exceptions.ServiceUnavailable),
                           initial=0.1, maximum=1.0, multiplier=2.0, timeout=self.timeout)

    @contextmanager
    def guard(self, api: str) -> Iterator[None]:
        """Fail at once on an endpoint that already missed a deadline; mark one that does now."""
        from google.api_core import exceptions

        host = self.host(api)
        if host in self._down:
            raise EndpointDown(self._down[host])
        try:
            yield
        except (exceptions.DeadlineExceeded, exceptions.RetryError, exceptions.ServiceUnavailable):
            self._down.setdefault(host, f"{host} did not answer within {self.timeout:g}s")
            raise

    def call(self, api: str, method: Callable[..., Any], **request: Any) -> Any:
        """One unary call with the run's deadline and bounded retry."""
        with self.guard(api):
            return method(request=request, timeout=self.timeout, retry=self.retry())

    def pages(self, api: str, method: Callable[..., Any], limit: int, **request: Any) -> list[Any]:
        """A paged list call, up to ``limit`` items; every page has its own deadline."""
        items: list[Any] = []
        with self.guard(api):
            for item in method(request=request, timeout=self.timeout, retry=self.retry()):
                items.append(item)
                if len(items) >= limit:
                    break
        return items

    def read(self, api: str, method: Callable[..., Any], field: str, limit: int, seconds: float,
             **request: Any) -> tuple[list[Any], str]:
        """A paged list call read page by page until the list ends, ``limit`` items are in, or
        ``seconds`` have passed; every page has its own deadline. Returns the items and, when a
        bound cut the read (more pages were left), which one ("" when all was read)."""
        import time

        items: list[Any] = []
        until = time.monotonic() + seconds
        with self.guard(api):
            for page in method(request=request, timeout=self.timeout, retry=self.retry()).pages:
                items.extend(getattr(page, field))
                if not page.next_page_token:
                    return items, ""
                if len(items) >= limit:
                    return items, f"{limit:,} entries"
                if time.monotonic() >= until:
                    return items, f"{seconds:g} s"
        return items, ""

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for client in self._clients.values():
                client.transport.close()
            for channel in self._channels.values():
                channel.close()
            self._clients.clear()
            self._channels.clear()


_shared_lock = threading.Lock()


def clients(ctx: Context) -> Clients:
    """This run's clients (one set per environment), created on first use."""
    with _shared_lock:
        found = ctx.shared.get("gcp")
        if found is None:
            found = ctx.shared["gcp"] = Clients(ctx.target.timeout)
    if found.endpoint and not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}", found.endpoint):
        raise SourceError(f"{ENDPOINT_ENV}={found.endpoint!r} is not HOST:PORT")
    return found


# --- errors -> what the report says ------------------------------------------------------


def failure(exc: BaseException, api: str, what: str, project: str, timeout: float) -> Exception:
    """Turn a client error into the source's outcome: a Skipped that names the missing IAM role,
    or a SourceError of one line. ``what`` is the action, e.g. "read service S"."""
    from google.api_core import exceptions

    if isinstance(exc, exceptions.PermissionDenied):
        return Skipped(f"permission denied to {what}: the doctor's credentials need {ROLES[api]} "
                       f"on project {project} ({_short(exc)})")
    if isinstance(exc, EndpointDown):  # its time is short: it was not asked, the endpoint had timed out
        return SourceError(f"could not {what}: not asked, as {exc} earlier in this run")
    if isinstance(exc, (exceptions.DeadlineExceeded, exceptions.RetryError)):
        return SourceError(f"could not {what}: {HOSTS[api]} did not answer within {timeout:g}s")
    if isinstance(exc, exceptions.Unauthenticated):
        return SourceError(f"could not {what}: credentials rejected ({_short(exc)}); "
                           "run `gcloud auth application-default login`")
    if isinstance(exc, exceptions.GoogleAPICallError):
        code = getattr(exc.grpc_status_code, "name", None) or str(exc.code or "error")
        return SourceError(f"could not {what}: {code}: {_short(exc)}")
    if isinstance(exc, (Skipped, SourceError)):
        return exc
    return SourceError(f"could not {what}: {type(exc).__name__}: {exc}")


def _short(exc: Any) -> str:
    text = str(getattr(exc, "message", "") or exc)
    return " ".join(text.split())[:300]


def outcome(problems: list[Exception]) -> None:
    """Raise what a source met: a SourceError if anything failed, else the first Skipped."""
    if not problems:
        return
    errors = [p for p in problems if not isinstance(p, Skipped)]
    if errors:
        raise SourceError("; ".join(dict.fromkeys(str(p) for p in problems)))
    raise problems[0]
