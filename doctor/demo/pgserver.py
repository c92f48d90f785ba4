"""A throwaway PostgreSQL server from the system's own binaries (tests and `netra-doctor demo`).

initdb + pg_ctl on a free port with a private socket folder, fsync off; removed on
stop. PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
user from a folder under /tmp that it can reach. Rejected alternatives (see
TESTING.md): pytest-postgresql and testing.postgresql refuse root; pgserver loosens
permissions and lacks wheels for newer Pythons.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import field
from pathlib import Path

from netra_doctor.core.records import record
from netra_doctor.sources.sqlproxy import free_port

INSTALL_HINT = "PostgreSQL's server binaries were not found: apt-get install postgresql (or brew install postgresql)"


class PostgresUnavailable(RuntimeError):
    """No server binaries on this machine (the message says how to install them)."""


BINDIR_ENV = "NETRA_DOCTOR_PG_BINDIR"  # use exactly this folder (tests point it at nothing)


def find_bindir() -> Path:
    override = os.environ.get(BINDIR_ENV)
    if override is not None:
        if (Path(override) / "initdb").exists() and (Path(override) / "pg_ctl").exists():
            return Path(override)
        raise PostgresUnavailable(f"{INSTALL_HINT} ({BINDIR_ENV}={override} holds no initdb and pg_ctl)")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(os.path.realpath(on_path)).parent))
    candidates += sorted(glob.glob("/opt/homebrew/opt/postgresql*/bin") + glob.glob("/usr/local/opt/postgresql*/bin"))
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise PostgresUnavailable(INSTALL_HINT)


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit()) or (0,)


def _wait_gone(pid: int, grace: float = 10.0) -> None:
    """Until process ``pid`` has exited (a zombie counts as gone); SIGKILL after ``grace`` seconds."""
    deadline = time.monotonic() + grace
    killed = False
    while _alive(pid):
        if time.monotonic() > deadline:
            if killed:
                return  # bounded: never hang a clean-up
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 2
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or a recycled pid that is not ours
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@record
class PgServer:
    """A running throwaway server; ``superuser`` connects over TCP with trust auth."""

    bindir: Path
    root: Path
    port: int
    superuser: str
    as_postgres: bool
    _stopped: bool = field(default=False, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        auth = user or self.superuser
        if password:
            from urllib.parse import quote

            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        kw: dict = {"user": "postgres", "group": "postgres"} if self.as_postgres else {}
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True, check=check,
            timeout=timeout, cwd=str(self.root), **kw,
        )

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        pid = self._postmaster_pid()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False, timeout=30)
        if pid:
            # pg_ctl gives up on a server still starting (its pid file half written, say, when
            # start was interrupted): never remove the folder under a live postmaster
            _wait_gone(pid)
        shutil.rmtree(self.root, ignore_errors=True)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(prefix: str = "netra-doctor-pg-") -> PgServer:
    """Start a fresh cluster and return once it accepts connections."""
    bindir = find_bindir()
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp" if as_postgres else None))
    superuser = "postgres" if as_postgres else (os.environ.get("USER") or "postgres")
    server = PgServer(bindir, root, free_port(), superuser, as_postgres)
    try:
        if as_postgres:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
        server._run("initdb", "-D", str(server.datadir), "-A", "trust", "-U", superuser, "--no-sync",
                    "-E", "UTF8", "--locale=C")
        # the superuser is trusted; every other role must give its real password, so that a
        # wrong one fails exactly as on Cloud SQL (`password authentication failed`)
        (server.datadir / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {superuser} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        opts = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        opts += " -c full_page_writes=off -c synchronous_commit=off"
        server._run("pg_ctl", "-D", str(server.datadir), "-o", opts, "-l", str(root / "log"), "-w", "start")
    except KeyError:
        server.stop()
        raise PostgresUnavailable(
            "running as root needs the `postgres` system user (apt-get install postgresql)"
        ) from None
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text(errors="replace")[-500:] if (root / "log").exists() else ""
        server.stop()
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr.strip() or log}") from None
    except BaseException:
        server.stop()
        raise
    return server
