"""The Cloud SQL Auth Proxy the doctor starts itself, when no --proxy or --dsn routes an instance.

With ``cloud-sql-proxy`` on PATH, a ``/cloudsql/PROJECT:REGION:INSTANCE`` target is reached the
way a user would reach it by hand: ``cloud-sql-proxy --address 127.0.0.1 --port PORT INSTANCE`` on a
free local port, with the user's own Application Default Credentials (the proxy's default), plus
``--private-ip`` and ``--auto-iam-authn`` when the config or a flag asks. One proxy per instance per
run; it is stopped when the run's gathering ends (the source runner closes it), at exit, and on
Ctrl-C (held with core/cleanup, which an interrupted run undoes at once; a terminal's interrupt reaches
it too: it stays in the doctor's process group). Without
the binary, the route's skip says how to install it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import field

from netra_doctor.core import cleanup
from netra_doctor.core.errors import SourceError
from netra_doctor.core.records import record

BINARY = "cloud-sql-proxy"
INSTALL = ("install the Cloud SQL Auth Proxy (`gcloud components install cloud-sql-proxy`, or "
           "https://cloud.google.com/sql/docs/postgres/connect-auth-proxy#install) and the doctor starts it")
_all: list[subprocess.Popen] = []  # every proxy this process started, for the exit handler
_all_lock = threading.Lock()


def available() -> str | None:
    """The proxy's path on PATH, or None."""
    return shutil.which(BINARY)


def free_port() -> int:
    """A local TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@record
class Proxies:
    """The proxies of one run (``ctx.shared["sqlproxy"]``): started on first need, stopped by close()."""

    timeout: float
    private_ip: bool = False
    iam_authn: bool = False
    started: dict[str, tuple[subprocess.Popen, str]] = field(default_factory=dict)  # instance -> (process, addr)
    failed: dict[str, str] = field(default_factory=dict)
    holds: list = field(default_factory=list)  # core/cleanup registrations, released when stopped
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def address(self, instance: str) -> str:
        """``127.0.0.1:PORT`` of a running proxy for ``instance``; SourceError when it cannot be had."""
        with self._lock:
            if instance in self.started:
                return self.started[instance][1]
            if instance in self.failed:
                raise SourceError(self.failed[instance])
            try:
                process, address = self._start(instance)
            except SourceError as exc:
                self.failed[instance] = str(exc)
                raise
            self.started[instance] = (process, address)
            return address

    def _start(self, instance: str) -> tuple[subprocess.Popen, str]:
        binary = available()
        if binary is None:
            raise SourceError(f"no {BINARY} on PATH: {INSTALL}")
        port = free_port()
        argv = [binary, "--address", "127.0.0.1", "--port", str(port)]
        argv += ["--private-ip"] if self.private_ip else []
        argv += ["--auto-iam-authn"] if self.iam_authn else []
        try:
            process = subprocess.Popen([*argv, instance], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, env=os.environ.copy())
        except OSError as exc:
            raise SourceError(f"could not start {BINARY}: {exc}") from None
        with _all_lock:
            _all.append(process)
        holding = cleanup.held(process.kill)  # Ctrl-C: killed at once, the run ends within a second
        holding.__enter__()
        self.holds.append(holding)
        until = time.monotonic() + self.timeout
        while time.monotonic() < until:
            if process.poll() is not None:
                said = " ".join((process.stderr.read() or b"").decode(errors="replace").split())[-300:]
                raise SourceError(f"{BINARY} for {instance} exited with code {process.returncode}: {said or '-'}")
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return process, f"127.0.0.1:{port}"
            time.sleep(0.05)
        _stop(process)
        raise SourceError(f"{BINARY} for {instance} did not listen on 127.0.0.1:{port} within {self.timeout:g}s")

    def close(self) -> None:
        with self._lock:
            for process, _ in self.started.values():
                _stop(process)
            self.started.clear()
            for holding in self.holds:
                holding.__exit__(None, None, None)
            self.holds.clear()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(2)
    if process.stderr is not None:
        process.stderr.close()
    with _all_lock:
        if process in _all:
            _all.remove(process)


@atexit.register
def stop_all() -> None:
    """Exit (also after Ctrl-C): no proxy the doctor started outlives it."""
    with _all_lock:
        running = list(_all)
    for process in running:
        _stop(process)
