"""The house: one installed namespace, and one import direction that nothing can quietly reverse.

These run on the wheel as users install it, where ``netra_doctor.checks`` (the repository's ``checks/``)
sits inside ``netra_doctor`` (the repository's ``doctor/``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (the build writes build/ and egg-info beside the source)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("doctor", "checks"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"],
                   cwd=src, check=True, capture_output=True, timeout=300)
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def _modules(folder: Path, package: str) -> set[str]:
    return {".".join((package, *p.relative_to(folder).with_suffix("").parts)).removesuffix(".__init__")
            for p in folder.rglob("*.py") if "data" not in p.relative_to(folder).parts}


def test_the_wheel_installs_only_netra_doctor(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = next(z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"netra_doctor"}
    assert "netra-doctor = netra_doctor.cli:main" in entry_points
    assert "[netra_doctor.checks]" in entry_points
    # every module of both folders is in it, where the build configuration maps it
    shipped = {n.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for n in names
               if n.endswith(".py") and "/data/" not in n}
    assert shipped == _modules(ROOT / "doctor", "netra_doctor") | _modules(ROOT / "checks", "netra_doctor.checks")
    assert "netra_doctor/output/report.schema.json" in names and "netra_doctor/py.typed" in names


def test_other_packages_called_doctor_and_checks_do_not_break_it(wheel: Path, tmp_path: Path):
    """The unrelated PyPI `doctor`, or any `checks`, beside it in one environment: netra-doctor still runs."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", purelib], capture_output=True, text=True,
                               check=True).stdout.strip())
    # the dependencies from this test environment; netra_doctor itself only from the wheel
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    for other in ("doctor", "checks"):
        (site / other).mkdir()
        (site / other / "__init__.py").write_text(f'raise ImportError("somebody else\'s {other}")\n')
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for args in (("demo", "--help"), ("checks",)):
        result = subprocess.run([str(venv / "bin" / "netra-doctor"), *args], capture_output=True, text=True,
                                cwd=tmp_path, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert "Usage: netra-doctor demo" in subprocess.run(
        [str(venv / "bin" / "netra-doctor"), "demo", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=120).stdout


def test_the_import_contracts_hold(unpacked: Path):
    """pyproject.toml's [tool.importlinter] contracts: layers, checks as leaves, no I/O in checks, Google only live."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], capture_output=True,
                            text=True, cwd=unpacked, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "KEPT" in result.stdout


def test_no_import_circle(unpacked: Path, monkeypatch: pytest.MonkeyPatch):
    """No module reaches itself again through its imports (deferred imports count: they still tie the parts)."""
    import grimp

    monkeypatch.syspath_prepend(str(unpacked))
    for name in [m for m in sys.modules if m == "netra_doctor" or m.startswith("netra_doctor.")]:
        monkeypatch.delitem(sys.modules, name)
    graph = grimp.build_graph("netra_doctor", cache_dir=None, exclude_type_checking_imports=True)
    assert "netra_doctor.checks.tables" in graph.modules  # the checks are in the graph, as installed
    circles = sorted({tuple(sorted((m, d))) for m in graph.modules for d in graph.find_modules_directly_imported_by(m)
                      if graph.find_shortest_chain(importer=d, imported=m)})
    assert circles == []


def test_the_top_of_doctor_shows_the_parts():
    entries = sorted(p.name for p in (ROOT / "doctor").iterdir() if p.name != "__pycache__")
    assert len(entries) <= 12, entries
    for sub in (ROOT / "doctor").iterdir():
        if sub.is_dir() and (sub / "__init__.py").exists():
            doc = (sub / "__init__.py").read_text().split('"""')[1]
            assert "import" in doc.lower(), f"{sub.name}/__init__.py does not say what it may import"
