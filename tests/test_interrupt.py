"""Ctrl-C ends a run at once, wherever it is: exit 130, one line, nothing left running.

The run here hangs where real ones do: in a database connect to a server that accepts the TCP
connection and never answers (libpq waits for connect_timeout, 10 s). The signal is sent once the
doctor is known to be in that connect (the listener has accepted it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import SEED


@pytest.fixture
def silent_server():
    """A listening socket that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server
    server.close()


def test_an_interrupt_during_a_hanging_connect_exits_130_at_once(silent_server, tmp_path: Path):
    port = silent_server.getsockname()[1]
    cache = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(SEED), "--format", "json",
         "--dsn", f"postgresql://netra_app@127.0.0.1:{port}/netra"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PGPASSWORD": "Sx9-planted-PW-4f1c", "NETRA_DOCTOR_CACHE": str(cache)})
    try:
        silent_server.settimeout(30)
        held, _ = silent_server.accept()  # the doctor is now waiting in libpq's connect
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
        took = time.monotonic() - sent
        held.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    print(f"interrupted run ended {took:.2f} s after the signal")
    assert child.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["netra-doctor: interrupted; nothing it started is left running"]
    assert stdout == ""
    assert took < 5, took  # within a second here; generous for a starved CI machine
    assert not list(cache.glob(".bashlex-*.tmp"))
