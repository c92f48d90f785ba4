"""Causes that rest on what the revisions do to tables lose confidence when some revision could not
be fully read (is *opaque*), and say so: the doctor knows what it does not know."""

from __future__ import annotations

from netra_doctor.core.facts import Facts

FACTOR = 0.8
# causes whose evidence is the tables the revisions create, rename and drop
OPS_CAUSES = frozenset({
    "migration-missing-for-tables", "revision-stamped-without-schema", "destructive-migration",
    "pending-migration-conflicts", "model-without-migration", "model-columns-without-migration",
})
# causes that rest on the revisions' tables only when those are the expected tables (no config list)
EXPECTED_CAUSES = frozenset({"tables-in-other-schema", "tables-invisible-to-role"})


def adjust(facts: Facts, cause_id: str, confidence: float) -> tuple[float, list[str]]:
    """The cause's confidence, lowered when it rests on opaque revisions, and the evidence line saying why."""
    m = facts.migrations
    if m is None or not (cause_id in OPS_CAUSES or (cause_id in EXPECTED_CAUSES and not facts.target.expected_tables)):
        return confidence, []
    opaque = [r.revision for r in m.revisions if r.opaque]
    if not opaque:
        return confidence, []
    shown = ", ".join(opaque[:5]) + (f" and {len(opaque) - 5} more" if len(opaque) > 5 else "")
    # --repo-only runs no revision check: the model checks' evidence lists them ("not fully read")
    where = "the 'not fully read' lines above" if facts.target.repo_only else "the revision check's evidence"
    return confidence * FACTOR, [f"what {len(opaque)} revision(s) do to tables could not be fully read ({shown}): "
                                 f"this rests partly on them (see {where})"]
