"""One diagnosis, end to end: config -> sources -> Facts -> checks -> Diagnosis (``gate``: the CI modes).

Drives the run; may import ``sources``, ``core`` and ``safety``, and finds the checks through entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from netra_doctor.core.checking import CheckSpec, load_checks, source_for
from netra_doctor.core.diagnosis import Diagnosis, diagnose
from netra_doctor.core.errors import ConfigError
from netra_doctor.core.facts import Facts
from netra_doctor.core.files import gc_paused
from netra_doctor.core.records import record
from netra_doctor.engine import gate

if TYPE_CHECKING:
    from netra_doctor.core.config import Target
    from netra_doctor.sources.context import Source

ALWAYS = {"cloudrun", "secrets", "repo"}  # cheap, and what every other source builds on


@record
class Run:
    facts: Facts
    diagnosis: Diagnosis


def select(specs: list[CheckSpec], only: Iterable[str]) -> list[CheckSpec]:
    only = list(only)
    known = {s.id for s in specs}
    for name in only:
        if name not in known:
            raise ConfigError(f"--only {name!r}: no such check (see `netra-doctor checks`)")
    return [s for s in specs if not only or s.id in only]


def run(
    target: Target,
    from_dir: Path | None = None,
    only: Iterable[str] = (),
    progress: Callable[[str, str], None] | None = None,
) -> Run:
    from netra_doctor.core.cleanup import threads
    from netra_doctor.sources.context import Context
    from netra_doctor.sources.runner import gather, new_facts  # not imported for a replay

    only = list(only)
    with threads(1, "checks") as loader:
        # the entry-point scan and the check modules' imports overlap the gathering (live: its
        # network waits); --only needs the checks first, to gather just what they read
        loading = loader.submit(load_checks)
        chosen = select(loading.result(), only) if only else None
        exports = None
        if from_dir is not None:
            from netra_doctor.sources.offline import check_environment, load_folder

            exports = load_folder(from_dir)
            check_environment(exports, target)
        ctx = Context(target=target, facts=new_facts(target, "offline" if exports else "live"),
                      exports=exports, progress=progress)
        gate.mark(ctx.facts, target)
        planned = gate.sources(target, sources_for(chosen) if chosen is not None else None)
        if exports is not None and exports.services is None and exports.jobs is None and not target.workloads:
            planned = [s for s in planned if s.name != "others"]  # offline, nothing to look at: as before
        facts = gather(ctx, planned)
        specs = chosen if chosen is not None else select(loading.result(), only)
    with gc_paused():  # checks make many small acyclic objects over big facts: no collector passes
        diagnosis = diagnose(facts, gate.checked(specs, facts), target.silence)
    diagnosis.anchors = anchors(target, from_dir)
    from_here(diagnosis, target)
    if target.repo_only:
        gate.cloud_steps_said(diagnosis)
    return Run(facts, diagnosis)


def from_here(diagnosis: Diagnosis, target: Target, cwd: Path | None = None) -> None:
    """Printed `alembic -c INI` commands name the ini as the user types it from where they ran the
    doctor (`alembic -c alembic.ini` in the Alembic project's folder), not from the repository root."""
    import os

    from netra_doctor.core.causes import fix_kind
    from netra_doctor.safety.untrusted import shell_word

    ini = Path(target.alembic_ini)
    here = (cwd or Path.cwd()).resolve()
    root = target.root.resolve()
    if ini.is_absolute() or here == root or not here.is_relative_to(root):
        return
    old, new = f"-c {shell_word(str(ini))}", f"-c {shell_word(os.path.relpath(root / ini, here))}"
    for cause in diagnosis.causes:
        cause.fix = [type(item)(item.replace(old, new)) if fix_kind(item) == "command" else item for item in cause.fix]


def anchors(target: Target, from_dir: Path | None) -> dict[str, str]:
    """The files a finding with no file of its own is shown at, as the user's repository names them
    (relative to its root; absolute when outside it): the export it came from, the config, alembic.ini."""
    found: dict[str, str] = {}
    if from_dir is not None:
        from netra_doctor.sources.offline import export_anchors

        found.update(export_anchors(from_dir))
    if target.config_file is not None:
        found["config"] = str(target.config_file)
    ini = Path(target.alembic_ini)
    found["alembic_ini"] = str(ini if ini.is_absolute() else target.root / ini)
    root = target.root.resolve()

    def local(where: str) -> str:
        path, sep, line = where.rpartition(":") if where.rsplit(":", 1)[-1].isdigit() else (where, "", "")
        full = Path(path).resolve()
        return (str(full.relative_to(root)) if full.is_relative_to(root) else str(full)) + sep + line

    return {k: local(v) for k, v in found.items()}


def sources_for(specs: list[CheckSpec]) -> list[Source]:
    """With --only, gather just what the chosen checks read: no database for a command check."""
    from netra_doctor.sources.runner import default_sources

    wanted = ALWAYS | {source_for(f) for s in specs for f in (*s.needs, *s.uses)}
    return [s for s in default_sources() if s.name in wanted]


def replay(facts: Facts, only: Iterable[str] = (), silences=None) -> Diagnosis:
    """Diagnose saved facts; by default with the silences the saving run had, so the report is the same."""
    if silences is None:
        from netra_doctor.core.diagnosis import Silence

        silences = [Silence(s["id"], s["reason"], s.get("object")) for s in facts.target.silence]
    with gc_paused():
        diagnosis = diagnose(facts, gate.checked(select(load_checks(), only), facts), list(silences))
    if facts.target.repo_only:
        gate.cloud_steps_said(diagnosis)
    if not Path(facts.target.alembic_ini).is_absolute():  # all a snapshot knows of the checkout's files
        diagnosis.anchors["alembic_ini"] = facts.target.alembic_ini
    return diagnosis
