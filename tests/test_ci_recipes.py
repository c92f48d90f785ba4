"""The README's CI recipes, the composite action and the pre-commit hook, run as written on a fixture checkout.

Offline: netra-doctor is installed from this checkout's source (what ``NETRA_DOCTOR_SRC`` points at on a
real runner) into a fresh virtualenv whose dependencies come from the test environment (a ``.pth``),
with pip told to fetch nothing. ``uses:`` steps are GitHub's own and are not run; every ``run:`` step
is, with bash, as GitHub runs it (GITHUB_OUTPUT, ``${{ steps.ID.outputs.NAME }}``, ``${{ inputs.X }}``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.test_conventions import STAND_IN
from tests.test_models import SEED_CHECKOUT, checkout
from tests.test_readme import ROOT, blocks

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="bash recipes")


def recipes() -> dict[str, dict]:
    """The README's GitHub Actions jobs by name: the pull-request gates and the pre-deploy job."""
    found: dict[str, dict] = {}
    for i, body in enumerate(blocks("yaml")):
        doc = yaml.safe_load(body)
        jobs = doc.get("jobs") if "jobs" in doc else doc if "predeploy" in doc else None
        for name, job in (jobs or {}).items():
            found[f"{name}-{i}"] = job
    return found


@pytest.fixture(scope="module")
def toolbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh virtualenv with a `pip` (as setup-python gives), this checkout's source to install, and an
    environment in which pip fetches nothing."""
    base = tmp_path_factory.mktemp("ci")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", purelib], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # pip, setuptools and the dependencies
    (venv / "bin" / "pip").write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                                      "from pip._internal.cli.main import main\nsys.exit(main())\n")
    (venv / "bin" / "pip").chmod(0o755)
    src = base / "src"  # a copy: building leaves build/ and egg-info beside the sources
    src.mkdir()
    for name in ("doctor", "checks", "pyproject.toml", "README.md"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**clean, "PATH": f"{venv / 'bin'}{os.pathsep}{clean['PATH']}", "NETRA_DOCTOR_SRC": str(src),
            "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "SRC_FOR_ACTION": str(src)}


def run_steps(steps: list[dict], env: dict[str, str], cwd: Path, values: dict[str, str],
              skip=lambda step: False) -> dict[str, dict[str, str]]:
    """Each `run:` step with bash -e (GitHub's default shell), its expressions filled as GitHub would;
    returns each step id's outputs, plus the exit code of the last step run under `_last`."""
    outputs: dict[str, dict[str, str]] = {}

    def fill(text: str) -> str:
        def one(m: re.Match) -> str:
            expr = m.group(1).strip()
            if found := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
                return outputs.get(found.group(1), {}).get(found.group(2), "")
            if expr in values:
                return values[expr]
            raise AssertionError(f"an expression the test does not know: {expr}")
        return re.sub(r"\$\{\{(.*?)\}\}", one, text)

    last = 0
    for step in steps:
        if "run" not in step or skip(step):
            continue
        out = cwd / ".github_output"
        out.write_text("")
        step_env = {**env, **{k: fill(str(v)) for k, v in step.get("env", {}).items()}, "GITHUB_OUTPUT": str(out)}
        proc = subprocess.run(["bash", "-e", "-c", fill(step["run"])], cwd=cwd, env=step_env, capture_output=True,
                              text=True, timeout=300)
        last = proc.returncode
        outputs["_last"] = {"code": str(last), "stdout": proc.stdout, "stderr": proc.stderr}
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        if last != 0:
            break
    return outputs


def fixture_checkout(tmp_path: Path, name: str, models: dict[str, str]) -> Path:
    root = checkout(tmp_path / name, models)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_the_pull_request_gate_recipe_runs_as_written(toolbox: dict, tmp_path: Path):
    (job,) = [j for name, j in recipes().items() if name.startswith("gate-") and any(
        "run" in s and "pip install" in s["run"] for s in j["steps"])]
    assert job["env"]["NETRA_DOCTOR_SRC"].startswith("git+https://")  # a pinned source, filled in by the team
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert "steps.gate.outputs.code == '0' || steps.gate.outputs.code == '1'" in upload["if"]  # never exit 3
    root = fixture_checkout(tmp_path, "seed", SEED_CHECKOUT)
    outputs = run_steps(job["steps"], toolbox, root, {})
    assert outputs["gate"] == {"code": "1"}  # the seed's models have no migration
    assert outputs["_last"]["code"] == "1"  # and the job fails as the gate did
    sarif = json.loads((root / "doctor.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"model-without-migration"}
    clean = fixture_checkout(tmp_path, "clean", {})
    outputs = run_steps(job["steps"], toolbox, clean, {}, skip=lambda step: "pip install" in step["run"])  # installed
    assert outputs["gate"] == {"code": "0"} and outputs["_last"]["code"] == "0"


def test_the_composite_action_runs_the_gate_and_uploads_only_a_complete_run(toolbox: dict, tmp_path: Path):
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    (job,) = [j for j in recipes().values() if any(s.get("uses", "").startswith("YOUR-ORG/") for s in j["steps"])]
    given = next(s for s in job["steps"] if s.get("uses", "").startswith("YOUR-ORG/"))["with"]
    inputs = {f"inputs.{k}": str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs |= {f"inputs.{k}": str(v) for k, v in given.items()}
    values = {**inputs, "github.action_path": toolbox["SRC_FOR_ACTION"]}
    upload = next(s for s in action["runs"]["steps"] if "uses" in s)
    assert "steps.gate.outputs.code == '0' || steps.gate.outputs.code == '1'" in upload["if"]
    root = fixture_checkout(tmp_path, "seed", SEED_CHECKOUT)
    outputs = run_steps(action["runs"]["steps"], toolbox, root, values)
    assert outputs["gate"] == {"code": "1"} and outputs["_last"]["code"] == "1"
    assert json.loads((root / "netra-doctor.sarif").read_text())["runs"][0]["properties"]["status"] == "unhealthy"


def test_the_predeploy_recipe_runs_as_written_with_a_proxy_on_path(toolbox: dict, tmp_path: Path, pg):
    from tests.fakegcp import FakeGCP
    from tests.helpers import copy_seed, write_db_secrets

    (job,) = [j for name, j in recipes().items() if name.startswith("predeploy-")]
    bin_dir = tmp_path / "bin"  # what the recipe's download step puts on PATH: a stand-in here
    bin_dir.mkdir()
    (bin_dir / "cloud-sql-proxy").write_text(STAND_IN.format(python=sys.executable))
    (bin_dir / "cloud-sql-proxy").chmod(0o755)
    app = pg.role("app", "Pq2-ci-planted-PW-55e1")
    exports = copy_seed(tmp_path / "exports")
    write_db_secrets(exports, pg.name, app, "Pq2-ci-planted-PW-55e1")
    root = fixture_checkout(tmp_path, "seed", SEED_CHECKOUT)
    record = tmp_path / "record.jsonl"
    with FakeGCP().add_environment(exports) as fake:
        env = {**toolbox, **{k: str(v) for k, v in job["env"].items() if "${{" not in str(v)},
               "NETRA_DOCTOR_IMAGE": "example/app:new", "PATH": f"{bin_dir}{os.pathsep}{toolbox['PATH']}",
               "NETRA_DOCTOR_GCP_ENDPOINT": fake.endpoint, "STANDIN_RECORD": str(record),
               "STANDIN_UPSTREAM": f"127.0.0.1:{pg.server.port}", "NETRA_DOCTOR_SRC": toolbox["NETRA_DOCTOR_SRC"]}
        installed = (Path(toolbox["PATH"].split(os.pathsep)[0]) / "netra-doctor").exists()  # by the gate's test

        def skip(step: dict) -> bool:  # the download (a stand-in is on PATH), and an install already done
            return "curl " in step["run"] or (installed and step["run"].startswith("pip install"))

        outputs = run_steps(job["steps"], env, root, {}, skip=skip)
    said = outputs["_last"]
    assert said["code"] == "1", said["stderr"]
    assert "model-without-migration" in said["stdout"]
    assert record.read_text().count('"pid"') == 1  # the doctor started the proxy itself
    assert "Pq2-ci-planted-PW-55e1" not in said["stdout"] + said["stderr"]


def test_the_pre_commit_hook_runs_with_try_repo(tmp_path: Path):
    pytest.importorskip("pre_commit")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"netra-doctor", "netra-doctor-system"}
    assert hooks[0]["files"] == hooks[1]["files"] and hooks[0]["args"] == hooks[1]["args"]
    assert "--repo-only" in hooks[0]["args"] and not hooks[0]["pass_filenames"]
    watched = re.compile(hooks[0]["files"])
    for path in ("netra_backend/app/db/models_postgres.py", "netra_backend/migrations/versions/abc_add.py",
                 "docker/backend.Dockerfile", "Dockerfile", "netra_backend/alembic.ini", "netra-doctor.toml"):
        assert watched.search(path), path
    assert not watched.search("README.md") and not watched.search("frontend/app.ts")
    root = fixture_checkout(tmp_path, "seed", SEED_CHECKOUT)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "netra-doctor-system",
                           "--all-files"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "#1 model-without-migration" in proc.stdout
    assert "Failed" in proc.stdout
