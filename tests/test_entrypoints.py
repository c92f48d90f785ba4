"""Check plug-ins are found without importlib.metadata (30 ms of every start), exactly as it finds them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import SEED

CODE = """
import sys
sys.path[:0] = sys.argv[1:]
from importlib.metadata import entry_points as slow
from netra_doctor.core.entrypoints import entry_points
fast = [(e.name, e.value) for e in entry_points("netra_doctor.checks")]
print(fast == [(e.name, e.value) for e in slow(group="netra_doctor.checks")], sorted(n for n, _ in fast)[:2])
"""


def _dist(site: Path, folder: str, entries: str) -> None:
    info = site / folder
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {folder.split('-')[0]}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entries)


def test_plugins_are_found_as_importlib_metadata_finds_them(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "acme_checks-1.0.dist-info", "# a comment\n[console_scripts]\nx = y:z\n\n[netra_doctor.checks]\n"
          "  aaa-first = acme.checks:first \n")
    _dist(second, "Acme.Checks-2.0.dist-info", "[netra_doctor.checks]\naaa-shadowed = acme.checks:second\n")
    _dist(second, "other-0.1.egg-info", "[netra_doctor.checks]\naab-egg = other:check [extra]\n")
    out = subprocess.run([sys.executable, "-c", CODE, str(first), str(second)], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "True ['aaa-first', 'aab-egg']"  # the first acme-checks on the path wins, as in importlib


def test_a_replay_does_not_import_importlib_metadata(tmp_path):
    snapshot = tmp_path / "s.json"
    env = {**os.environ, "NETRA_DOCTOR_CACHE": str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-m", "netra_doctor.cli", "staging", "--from", str(SEED), "--save", str(snapshot)],
                   capture_output=True, env=env, timeout=120)
    code = ("import sys, runpy; sys.argv = ['netra-doctor', 'replay', sys.argv[1], '--format', 'json']\n"
            "try:\n    runpy.run_module('netra_doctor.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('importlib.metadata' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, str(snapshot)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert '"causes"' in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "False"
