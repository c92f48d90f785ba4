"""Every check declares what it reads (`needs=` / `uses=`), so `--only ID` gathers exactly that.

`--only` runs just the sources the chosen checks declare (plus the cheap ones every run has);
a fact a check reads without declaring it would be missing there and quietly change the verdict.
The audit replays a real scenario's snapshot once per check, with every fact the check does not
declare blanked out, and asks for the very same findings.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from netra_doctor.core.checking import CheckSpec, load_checks, run_check, source_for
from netra_doctor.core.facts import Facts

from tests.helpers import run_cli
from tests.test_scenarios import _prepare

NOT_GATHERED = {"not_found": []}  # fields whose "not gathered" value is not None
SOURCE_FIELDS = [f.name for f in dataclasses.fields(Facts)
                 if f.name not in ("target", "sources", "gathered_at", "mode")]


def scenario_run(name: str, pg, tmp_path: Path) -> tuple[list[str], Path]:
    """The scenario's database and exports, and the CLI arguments (run from the returned folder)."""
    _, args, values = _prepare(name, pg, tmp_path)
    return args, Path(values["repo"])


def diagnose(args: list[str], repo: Path, *extra: str) -> tuple[dict, Facts]:
    """The JSON report (-v: with every finding) and the facts the run gathered (--save)."""
    snapshot = repo / "facts.json"
    result = run_cli(*args, "--save", str(snapshot), "-v", *extra, cwd=repo)
    return json.loads(result.stdout), Facts.from_dict(json.loads(snapshot.read_text()))


def declared_only(facts: Facts, spec: CheckSpec) -> Facts:
    """What the check would see if only the sources of its declared facts had run."""
    sources = {source_for(f) for f in (*spec.needs, *spec.uses)}
    blank = {f: NOT_GATHERED.get(f) for f in SOURCE_FIELDS if source_for(f) not in sources}
    return dataclasses.replace(facts, **blank)


def findings(spec: CheckSpec, facts: Facts) -> list[tuple]:
    return [(f.status, f.message, f.cause, f.obj, f.evidence, f.fix_vars, f.confidence)
            for f in run_check(spec, facts).findings]


# the seed incident (logs, scripts, a database) and a job on another database (the fix names the
# service's secrets) between them take every check down the paths that read optional facts
@pytest.mark.parametrize("scenario", ["seed_incident", "tables_only_in_other_database"])
def test_every_check_reads_only_what_it_declares(scenario: str, pg, tmp_path: Path):
    _, facts = diagnose(*scenario_run(scenario, pg, tmp_path))
    undeclared = {spec.id: (findings(spec, facts), findings(spec, declared_only(facts, spec)))
                  for spec in load_checks()}
    assert {cid: pair for cid, pair in undeclared.items() if pair[0] != pair[1]} == {}


def test_only_gives_the_finding_of_a_full_run(pg, tmp_path: Path):
    """migration-log reads the scripts only when present (uses=migrations): `--only` still gathers
    them, so it says 'no revision creates them' with full confidence, as the full run does."""
    args, repo = scenario_run("seed_incident", pg, tmp_path)
    full, _ = diagnose(args, repo)
    alone, _ = diagnose(args, repo, "--only", "migration-log")
    check = next(c for c in full["checks"] if c["id"] == "migration-log")
    assert [c["id"] for c in alone["checks"]] == ["migration-log"]
    assert alone["checks"][0]["findings"] == check["findings"]
    assert "no revision creates" in check["message"]
    assert [s["name"] for s in alone["sources"] if s["name"] == "migrations"] == ["migrations"]
