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
    return subprocess.run([sys.executable, "-m", "netra_doctor.cli", *args], cwd=cwd, env=env,
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


# --- the README's console blocks, held true ---------------------------------------------------------
#
# The agreed marking: a ```console block whose first line is `$ netra-doctor ...` is run and must print
# the block's next line first (stdout, or stderr when stdout is empty). `exports/` in it is the seed
# incident's exports (doctor/demo/data) in a checkout holding its netra_backend/ Alembic project, with
# no database reachable. The demo's block is compared whole with tests/golden/demo.table-80.txt, which
# tests/test_report.py holds to a fresh run of the demo.
# Blocks of any other kind (sh, toml, python, plain) are not run here.


def console_blocks() -> list[tuple[str, list[str]]]:
    found = []
    for body in blocks("console"):
        lines = body.splitlines()
        if lines and lines[0].startswith("$ netra-doctor"):
            found.append((lines[0][2:], lines[1:]))
    return found


def _offline_checkout(tmp_path: Path) -> Path:
    import shutil

    demo = ROOT / "doctor" / "demo" / "data"
    root = tmp_path / "checkout"
    shutil.copytree(demo / "netra_backend", root / "netra_backend")
    (root / "exports").mkdir()
    for f in demo.iterdir():
        if f.is_file():
            shutil.copy(f, root / "exports" / f.name)
    return root


def test_the_readme_shows_console_blocks_to_hold_true():
    commands = [c for c, _ in console_blocks()]
    assert "netra-doctor demo" in commands and len(commands) >= 3


def test_each_console_command_prints_what_the_readme_shows(tmp_path: Path):
    import shlex

    root = _offline_checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR",)}
    env.update(COLUMNS="80", PYTHONPATH=str(ROOT))
    for command, shown in console_blocks():
        if command == "netra-doctor demo":  # held whole to the golden output, which a fresh demo run is held to
            golden = (ROOT / "tests" / "golden" / "demo.table-80.txt").read_text(encoding="utf-8").splitlines()
            assert shown == golden
            continue
        words = shlex.split(command)
        assert words[0] == "netra-doctor"
        proc = subprocess.run([sys.executable, "-m", "netra_doctor.cli", *words[1:]], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
        printed = (proc.stdout or proc.stderr).splitlines()
        assert proc.returncode in (0, 1, 2, 3) and "Traceback" not in proc.stderr, (command, proc.stderr)
        assert printed and printed[0] == shown[0], (command, printed[:1], shown[:1])


def test_the_check_table_names_what_each_check_can_find():
    from netra_doctor.core.checking import load_checks

    table = README[README.index("| check | good state | causes it can find |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = re.findall(r"`([a-z-]+)`", cells[-1])
    specs = {s.id: s for s in load_checks() if s.id in rows}
    assert set(rows) <= {s.id for s in load_checks()}
    for check_id, causes in rows.items():
        assert causes == list(specs[check_id].causes), check_id


def test_every_option_the_readme_lists_exists():
    from netra_doctor.cli import cli

    table = README[README.index("| option | what it does |"):]
    listed = re.findall(r"^\| `(-[-\w]+)", table.split("\n\n")[0], re.M)
    params = {opt for p in cli.commands["diagnose"].params for opt in getattr(p, "opts", [])}
    assert listed and set(listed) <= params, set(listed) - params


def test_every_path_the_readme_names_is_in_the_repository():
    assert "../" not in README  # a user's clone has nothing beside it
    for path in re.findall(r"`((?:doctor|tests|benchmarks|checks|\.ci)/[\w./-]*\w)`", README):
        assert (ROOT / path).exists(), path


# --- figures that drift: held to the tool -------------------------------------------------------------


def test_the_ruled_out_figures_match_the_demo_output():
    golden = (ROOT / "tests" / "golden" / "demo.table-80.txt").read_text(encoding="utf-8")
    shown = int(re.search(r"^ruled out (\d+):", golden, re.M).group(1))
    said = [int(n) for n in re.findall(r"among the (\d+) causes ruled out", README)]
    assert said == [shown], (said, shown)


def test_the_test_count_is_the_collected_count_within_ten_percent(request):
    collected = len(request.session.items)  # the whole suite when the whole suite runs; else collect it
    if collected < 500:
        proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        collected = int(re.search(r"(\d+)(?:/\d+)? tests? collected", proc.stdout).group(1))
    said = int(re.search(r"About (\d+) tests in", README).group(1))
    assert abs(said - collected) <= collected * 0.1, (said, collected)


def test_the_demo_exit_code_and_several_environments_folders_are_documented():
    assert "The demo exits 1 by design" in README
    assert "reads each one's\nexports from `DIR/ENV/`" in README
    assert "`netra-doctor ENV` is short for `netra-doctor diagnose ENV`" in README
