"""Command syntax: the migration job's command and args form a program that runs `alembic upgrade`.

The analysis (parsing the argv as the container would run it, never executing it) and the
repaired command live in doctor/cloudrun/jobcommand.py, which the startup-errors check shares.
"""

from __future__ import annotations

import shlex

from netra_doctor.cloudrun.jobcommand import AlembicCall, Problem, analyse, fix_vars
from netra_doctor.core.checking import Finding, check, fail, not_applicable, ok, warn
from netra_doctor.core.facts import Facts

CAUSE = "job-command-invalid"


@check(
    "job-command",
    "The migration job's command runs alembic upgrade",
    needs=("job",),
    uses=("repo",),
    causes=(CAUSE,),
)
def job_command(facts: Facts) -> list[Finding]:
    """Good: the job's command + args form a program that starts (`python -c` holds Python,
    `sh -c` holds a script bash can parse, no script cut at a comma by gcloud) and runs
    `alembic [-c INI] upgrade REV` with an INI that exists in the checkout being diagnosed."""
    job = facts.job
    c = job.main
    argv = [*c.command, *c.args]
    if not argv:
        return [not_applicable(f"job {job.name} sets no command or args: it runs its image's default, "
                               "which the exports do not show")]
    analysis = analyse(job, facts)
    evidence = [f"job {job.name} runs: {shlex.join(argv)}"]
    if not c.command:
        evidence.append("(no command on the job: the args go to the image's ENTRYPOINT, taken to be empty)")
    problems = list(analysis.problems)
    if analysis.calls and not any(call.upgrades for call in analysis.calls):
        problems.append(_no_upgrade(analysis.calls))
    if problems:
        fix = fix_vars(facts, job, analysis)
        return [
            (fail if p.severity == "fail" else warn)(p.message, CAUSE, obj="job", evidence=[*evidence, *p.evidence],
                                                     fix_vars=fix, confidence=p.confidence)
            for p in problems
        ]
    notes = [f"not verified: {n}" for n in analysis.notes]
    if not analysis.calls:
        why = ("alembic is driven from Python code, which is not followed" if analysis.alembic_in_python
               else "no `alembic` in the command")
        return [warn(f"the job's command runs no visible `alembic upgrade` ({why}): cannot tell what it migrates",
                     obj="job", evidence=[*evidence, *notes])]
    upgrade = next(call for call in analysis.calls if call.upgrades)
    return [ok(f"the job's command parses and runs `{upgrade.text()}`", CAUSE, obj="job",
               evidence=[*evidence, *analysis.verified, *notes])]


def _no_upgrade(calls: list[AlembicCall]) -> Problem:
    lines = []
    for call in calls:
        if call.subcommand is None:
            lines.append(f"`{call.text()}` names no subcommand: alembic prints its usage and exits 2")
        elif call.subcommand == "upgrade" and call.sql:
            lines.append(f"`{call.text()}` runs in --sql (offline) mode: it prints SQL and changes nothing")
        elif call.subcommand == "upgrade":
            lines.append(f"`{call.text()}` names no revision: alembic exits with "
                         "`the following arguments are required: revision`")
        elif call.subcommand == "stamp":
            lines.append(f"`{call.text()}` records a revision without running any migration")
        else:
            lines.append(f"`{call.text()}` runs `{call.subcommand}`, which applies no migration")
    return Problem("the job runs alembic, but never `upgrade REV`: no migration is applied", lines, 0.9)
