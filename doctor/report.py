"""Render diagnoses as a terminal table (tabulate), JSON (the contract) or Markdown (tickets)."""

from __future__ import annotations

import json
from typing import Any

from doctor.diagnosis import Diagnosis
from doctor.secrecy import scrub, scrub_tree

MAX_EVIDENCE = 6  # lines per cause without -v


def to_dict(d: Diagnosis, verbose: bool = False) -> dict[str, Any]:
    return {
        "environment": d.environment,
        "status": d.status,
        "causes": [
            {
                "id": c.id, "rank": c.rank, "severity": c.severity, "confidence": c.confidence,
                "title": c.title, "evidence": c.evidence, "against": c.against, "fix": c.fix,
            }
            for c in d.causes
        ],
        "ruled_out": [{"id": r.id, "title": r.title, "evidence": r.evidence} for r in d.ruled_out],
        "checks": [
            {
                "id": r.id, "status": r.status, "message": r.message, "duration_ms": round(r.duration_ms, 2),
                **({"findings": [
                    {"status": f.status, "message": f.message, "cause": f.cause, "object": f.obj,
                     "evidence": f.evidence} for f in r.findings]} if verbose else {}),
            }
            for r in d.checks
        ],
        "sources": [
            {"name": s.name, "status": s.status, "duration_ms": s.duration_ms, "error": s.error}
            for s in d.sources
        ],
        "silenced": {"count": len(d.silenced), "entries": d.silenced},
    }


def render_json(diagnoses: list[Diagnosis], verbose: bool = False) -> str:
    data: Any = [to_dict(d, verbose) for d in diagnoses]
    if len(data) == 1:
        data = data[0]
    return json.dumps(scrub_tree(data), indent=2)  # string values only: the JSON stays JSON


def _headline(d: Diagnosis) -> str:
    n = len(d.causes)
    extra = f" ({n} cause{'s' if n != 1 else ''})" if n else ""
    return f"netra-doctor: {d.environment}: {d.status.upper()}{extra}"


def _evidence(lines: list[str], verbose: bool) -> tuple[list[str], int]:
    if verbose or len(lines) <= MAX_EVIDENCE:
        return lines, 0
    return lines[:MAX_EVIDENCE], len(lines) - MAX_EVIDENCE


def render_table(d: Diagnosis, verbose: bool = False) -> str:
    from tabulate import tabulate  # ~10 ms, for this format only

    out = [_headline(d), ""]
    if d.causes:
        out.append(tabulate(
            [(f"#{c.rank}", c.id, c.severity, f"{c.confidence:.2f}", c.title) for c in d.causes],
            headers=["rank", "cause", "severity", "confidence", "title"],
        ))
        for c in d.causes:
            out += ["", f"#{c.rank} {c.id}: {c.title}", "  evidence:"]
            lines, more = _evidence(c.evidence, verbose)
            out += [f"    {line}" for line in lines]
            if more:
                out.append(f"    ... {more} more line(s) (-v shows all)")
            if c.against:
                out.append("  against:")
                out += [f"    {line}" for line in _evidence(c.against, verbose)[0]]
            if c.fix:
                out.append("  fix:")
                out += [f"    $ {line}" for line in c.fix]
    else:
        out.append("No cause found." if d.status == "healthy" else "No cause found, but the run was incomplete.")
    if d.ruled_out:
        out += ["", "Ruled out:"]
        for r in d.ruled_out:
            out.append(f"  {r.id}: {r.title}")
            out += [f"    {line}" for line in _evidence(r.evidence, verbose)[0]]
    shown = [r for r in d.checks if verbose or r.status != "pass"]
    if shown:
        out += ["", tabulate(
            [(r.id, r.status, _clip(r.message, verbose), *([f"{r.duration_ms:.1f}"] if verbose else []))
             for r in shown],
            headers=["check", "status", "message", *(["ms"] if verbose else [])],
        )]
    troubled = [s for s in d.sources if verbose or s.status != "ok"]
    if troubled:
        out += ["", tabulate(
            [(s.name, s.status, s.duration_ms, _clip(s.error or "", verbose)) for s in troubled],
            headers=["source", "status", "ms", "detail"],
        )]
    if d.silenced:
        out += ["", f"{len(d.silenced)} finding(s) silenced by config" + (":" if verbose else " (-v lists them)")]
        if verbose:
            out += [f"  {s}" for s in d.silenced]
    return scrub("\n".join(out))


def _clip(text: str, verbose: bool, width: int = 100) -> str:
    return text if verbose or len(text) <= width else text[: width - 1] + "…"


def render_markdown(d: Diagnosis, verbose: bool = False) -> str:
    out = [f"## netra-doctor: `{d.environment}` is {d.status}", ""]
    if d.causes:
        out += ["| rank | cause | severity | confidence | title |", "| --- | --- | --- | --- | --- |"]
        out += [f"| {c.rank} | `{c.id}` | {c.severity} | {c.confidence:.2f} | {c.title} |" for c in d.causes]
        for c in d.causes:
            out += ["", f"### {c.rank}. `{c.id}`: {c.title}", "", "**Evidence**", ""]
            out += [f"- {line.strip()}" for line in c.evidence]
            if c.against:
                out += ["", "**Against**", ""] + [f"- {line.strip()}" for line in c.against]
            if c.fix:
                out += ["", "**Fix**", "", "```sh", *c.fix, "```"]
    else:
        out.append("No cause found." if d.status == "healthy" else "No cause found, but the run was incomplete.")
    if d.ruled_out:
        out += ["", "### Ruled out", ""]
        for r in d.ruled_out:
            out.append(f"- `{r.id}` ({r.title}): " + "; ".join(line.strip() for line in r.evidence))
    out += ["", "### Checks", "", "| check | status | message |", "| --- | --- | --- |"]
    out += [f"| `{r.id}` | {r.status} | {r.message.replace('|', '/')} |" for r in d.checks
            if verbose or r.status != "pass"]
    bad = [s for s in d.sources if s.status != "ok"]
    if bad:
        out += ["", "### Sources", ""] + [f"- `{s.name}`: {s.status}: {s.error}" for s in bad]
    if d.silenced:
        out += ["", f"_{len(d.silenced)} finding(s) silenced by config._"]
    return scrub("\n".join(out)) + "\n"


def render(diagnoses: list[Diagnosis], fmt: str, verbose: bool = False) -> str:
    if fmt == "json":
        return render_json(diagnoses, verbose)
    fn = render_markdown if fmt == "markdown" else render_table
    return "\n\n".join(fn(d, verbose) for d in diagnoses)
