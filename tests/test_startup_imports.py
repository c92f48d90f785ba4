"""Fast start: `--help` and an offline run never load the Google client libraries, grpc or psycopg.

Each probe runs in a fresh interpreter, drives the CLI through runpy exactly as
`python -m netra_doctor.cli` would, then lists the forbidden modules that ended up loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.exports import checkout
from tests.helpers import SEED

FORBIDDEN = ("google.cloud", "google.api_core", "grpc", "psycopg")

PROBE = """
import json, runpy, sys, warnings
warnings.simplefilter("ignore")  # runpy's 'found in sys.modules' note is not what is measured
import netra_doctor.cli
codes = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["netra-doctor", *argv]
    try:
        runpy.run_module("netra_doctor.cli", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        codes.append(exc.code)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("grpc", "psycopg")
                or m.startswith(("google.cloud", "google.api_core")))
print(json.dumps({"codes": codes, "loaded": loaded}), file=sys.__stderr__)
"""


def probe(runs: list[list[str]], cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_help_and_an_offline_run_load_no_cloud_client_grpc_or_psycopg(tmp_path: Path):
    app = checkout(tmp_path / "app", "netra_backend/alembic.ini")
    only = ["--only", "cloudsql-connector", "--only", "secret-parity", "--only", "job-command"]
    result = probe([["--help"], ["staging", "--from", str(SEED), "--format", "json", *only]], app)
    assert result["codes"] == [0, 0]  # the healthy seed through the checks that need no database
    assert result["loaded"] == []


def test_importing_the_cli_alone_loads_none_of_them(tmp_path: Path):
    result = probe([], tmp_path)
    assert result == {"codes": [], "loaded": []}


def test_a_full_offline_run_that_skips_the_database_loads_none_of_them(tmp_path: Path):
    """No --proxy to the seed's /cloudsql host: the database source skips, so psycopg stays out."""
    app = checkout(tmp_path / "app", "netra_backend/alembic.ini")
    result = probe([["staging", "--from", str(SEED), "--format", "json"]], app)
    assert result["codes"] == [3]
    assert result["loaded"] == []
