"""What the README tells a newcomer works as written: its commands are CI's, its plug-in example plugs in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import copy_seed

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.M | re.S)


def test_the_test_command_is_exactly_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    setup = [b.strip() for b in blocks("sh") if "pytest" in b]
    assert setup == [ci]


def test_the_demo_command_sets_up_the_same_way_and_runs_the_demo():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    [demo] = [b.strip() for b in blocks("sh") if b.strip().endswith("netra-doctor demo")]
    prefix = ci.split("python3 -m venv")[0]
    assert demo.startswith(prefix + "python3 -m venv .venv && .venv/bin/pip install")


def _plugin(tmp_path: Path) -> Path:
    """The README's plug-in example, installed as pip would: a package and its dist-info with entry_points.txt."""
    site = tmp_path / "site"
    [code] = [b for b in blocks("python") if b.startswith("# mypkg/checks.py")]
    [toml] = [b for b in blocks("toml") if "netra_doctor.checks" in b]
    entry = toml.splitlines()[1].replace('"', '')  # TOML string -> entry_points.txt value
    (site / "mypkg").mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text("")
    (site / "mypkg" / "checks.py").write_text(code)
    info = site / "mypkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[netra_doctor.checks]\n{entry}\n")
    return site


def doctor(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "doctor.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_plug_in_example_registers_and_its_cause_is_ranked(tmp_path, repo):
    site = _plugin(tmp_path)
    listed = doctor(site, repo, "checks")
    assert re.search(r"^same-service-account\s+Job and service run as the same service account\s+service, job$",
                     listed.stdout, re.M), listed.stdout + listed.stderr

    exports = copy_seed(tmp_path / "exports")
    job = exports / "job.yaml"
    job.write_text(job.read_text().replace("serviceAccountName: netra-staging-deploy@",
                                           "serviceAccountName: netra-migrator@"))
    run = doctor(site, repo, "staging", "--from", str(exports), "--only", "same-service-account", "--format", "json")
    report = json.loads(run.stdout)
    assert [(c["id"], c["severity"]) for c in report["causes"]] == [("service-account-differs", "warn")]
    assert "netra-migrator@" in report["causes"][0]["evidence"][0]
    assert run.returncode == 0  # a warning under the default --fail-on error
    assert doctor(site, repo, "staging", "--from", str(exports), "--only", "same-service-account",
                  "--fail-on", "warn").returncode == 1
