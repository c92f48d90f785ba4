"""Render diagnoses as a terminal report, JSON (the contract) or Markdown (tickets); JUnit is doctor/output/junit.py.

The terminal report puts the verdict first and last: the status line, the ranked causes with
their evidence (capped; ``-v`` for all) and fixes, the ruled-out ids on one line, the checks that
did not pass, and a closing summary. ``-q`` keeps the status line and the fixes. Prose wraps to
the terminal's width; a command is never wrapped or cut (a terminal soft-wraps it and a copy
keeps it whole). Everything from outside passes doctor/safety/untrusted.py on its way out.
"""

from __future__ import annotations

import json
from typing import Any

from netra_doctor.core.causes import FIX_PREFIX, fix_kind
from netra_doctor.core.diagnosis import Diagnosis, exit_code, not_applicable, uncaused
from netra_doctor.core.records import record
from netra_doctor.safety.secrecy import scrub, scrub_tree
from netra_doctor.safety.untrusted import clean_line

MAX_EVIDENCE = 6  # lines per cause without -v
SCHEMA_VERSION = "1.1"  # doctor/output/report.schema.json; 1.0 was the shape before schema_version existed
MARK = {"error": "[✗]", "fail": "[✗]", "warn": "[!]", "skip": "[-]", "pass": "[✓]", "unhealthy": "[✗]",
        "incomplete": "[!]", "healthy": "[✓]"}
COLOUR = {"error": "red", "fail": "red", "unhealthy": "red", "warn": "yellow", "incomplete": "yellow",
          "skip": "yellow", "pass": "green", "healthy": "green"}


@record
class Look:
    """How a terminal report looks: ``width`` None means no wrapping (piped with no COLUMNS)."""

    width: int | None = None
    color: bool = False  # colour and status markers (a terminal, or --color always)
    verbose: bool = False
    quiet: bool = False
    fail_on: str = "error"  # the exit-code threshold, so the verdict says what it means at that level


# --- JSON ---------------------------------------------------------------------------------------


def _finding(f) -> dict[str, Any]:
    return {"check": f.check, "status": f.status, "message": f.message, "object": f.obj, "evidence": f.evidence}


def to_dict(d: Diagnosis, verbose: bool = False, generated_at: str | None = None) -> dict[str, Any]:
    from netra_doctor import __version__

    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "generated_at": generated_at or _now(),
        "environment": d.environment,
        "status": d.status,
        "causes": [
            {
                "id": c.id, "rank": c.rank, "severity": c.severity, "confidence": c.confidence,
                "title": c.title, "evidence": c.evidence, "against": c.against, "fix": c.fix,
                "fix_items": [{"type": fix_kind(item), "text": item} for item in c.fix],
                "findings": [_finding(f) for f in c.findings],
            }
            for c in d.causes
        ],
        "ruled_out": [{"id": r.id, "title": r.title, "evidence": r.evidence,
                       "findings": [_finding(f) for f in r.findings]} for r in d.ruled_out],
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


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# the doctor's own vocabulary: metadata, ids, statuses, catalog titles; never evidence from outside
OWN = frozenset({"schema_version", "tool_version", "generated_at", "id", "check", "cause", "status", "severity",
                 "rank", "confidence", "title", "type", "name", "duration_ms"})


def render_json(diagnoses: list[Diagnosis], verbose: bool = False) -> str:
    now = _now()
    data: Any = [scrub_report(to_dict(d, verbose, now)) for d in diagnoses]
    if len(data) == 1:
        data = data[0]
    return json.dumps(data, indent=2)


def scrub_report(report: Any) -> Any:
    """String values scrubbed (the JSON stays JSON), except the doctor's own vocabulary: a secret
    ``0.1.`` or ``neve`` must not turn tool_version into ``***0`` or a cause id into ``job-***r-succeeded``
    in a run and not in its replay (which knows no secret)."""
    return scrub_tree(report, OWN)


# --- the terminal report ------------------------------------------------------------------------

LOGIN = "gcloud auth application-default login"
GOOGLE_SOURCES = ("cloudrun", "secrets", "logs", "others")  # "others": ListServices / ListJobs when live


def access_problem(d: Diagnosis) -> tuple[str, list[str]] | None:
    """When the run could not reach Google at all, that is the one thing to fix first: no usable
    credentials, or no permission on the Cloud Run reads everything else builds on. Returns the
    headline and the command(s) that fix it; None when access was not the problem."""
    import re

    google = [s for s in d.sources if s.name in GOOGLE_SOURCES and s.error]
    if any(f"`{LOGIN}`" in (s.error or "") for s in google):
        return ("no usable Google credentials (Application Default Credentials), so nothing was read from "
                "Cloud Run, Secret Manager or Logging; run this, then the doctor again (CI: a service "
                "account key in GOOGLE_APPLICATION_CREDENTIALS, or workload identity)", [LOGIN])
    cloudrun = next((s for s in google if s.name == "cloudrun"), None)
    if cloudrun is None or "permission denied" not in (cloudrun.error or ""):
        return None
    needed = dict.fromkeys(m.groups() for s in google for m in re.finditer(
        r"need (roles/[\w.]+) on project (\S+)", s.error or "") if "permission denied" in (s.error or ""))
    from netra_doctor.safety.untrusted import shell_word

    return ("permission denied on the Google API calls everything else builds on: the credentials need "
            + ", ".join(role for role, _ in needed) + "; an owner of the project grants them (MEMBER: "
            "user:you@example.com or serviceAccount:...)",
            [" ".join(["gcloud projects add-iam-policy-binding", shell_word(project), "--member=MEMBER",
                       shell_word(f"--role={role}")]) for role, project in needed])


def incomplete_reason(d: Diagnosis) -> str:
    """Why a run is INCOMPLETE, in one line: access first, then the first source or check that failed."""
    problem = access_problem(d)
    if problem:
        return problem[0].split(", so ")[0].split(":")[0] + f": run `{problem[1][0]}`"
    failed = next((s for s in d.sources if s.status == "error"), None)
    if failed:
        return f"source {failed.name}: {failed.error}"
    stuck = next((r for r in d.checks if r.status == "error" or any(f.blocked for f in r.findings
                                                                   if f.status == "skip")), None)
    return f"check {stuck.id}: {stuck.message}" if stuck else "nothing was examined"


def _short_message(message: str, d: Diagnosis) -> str:
    """A check skipped for a source that failed names the source; its error is said once, in the
    sources table below (a first run without credentials repeated it in every row)."""
    for s in d.sources:
        if s.error and s.status != "ok":
            message = message.replace(f"({s.name} source: {s.error})", f"({s.name} source {s.status}: see below)")
            message = message.replace(s.error, f"{s.name} source {s.status} (see below)")
    return message


def _source_detail(s, problem: tuple[str, list[str]] | None) -> str:
    """A source's error; one that is the access problem already headlined says so instead of repeating it."""
    if problem and s.name in GOOGLE_SOURCES and s.error and (f"`{LOGIN}`" in s.error or "permission denied" in s.error):
        return "access: see the first lines"
    return s.error or ""


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _verdict(d: Diagnosis, fail_on: str) -> str:
    """The status as the exit code reads it: warnings below ``--fail-on error`` exit 0, so the run is
    "HEALTHY at --fail-on error, 1 warning", not UNHEALTHY; a healthy run says how many parts it left not
    judged."""
    if d.status == "unhealthy" and d.causes and exit_code([d], fail_on) != 1:
        level = "INCOMPLETE" if d.incomplete else "HEALTHY"
        return f"{level} at --fail-on {fail_on}, {_plural(len(d.causes), 'warning')}"
    unjudged = sum(1 for r in d.checks for f in r.findings if f.unjudged)
    if d.status == "healthy" and unjudged:
        return f"HEALTHY in what it judged, {_plural(unjudged, 'part')} not judged"
    return d.status.upper()


def _headline(d: Diagnosis, fail_on: str = "error") -> str:
    n = len(d.causes)
    extra = f" ({_plural(n, 'cause')})" if n else ""
    warned = len(uncaused(d))
    if not n and warned:
        extra = f" ({_plural(warned, 'check')} not passing)"
    verdict = _verdict(d, fail_on)
    if verdict != d.status.upper():
        extra = f" ({_plural(n, 'cause')}: see below)" if n else " (see below)"
    return f"netra-doctor: {clean_line(d.environment)}: {verdict}{extra}"


def _closing(d: Diagnosis, look: Look) -> str:
    parts = [_plural(len(d.causes), "cause") if d.causes else "no cause", f"{len(d.ruled_out)} ruled out"]
    counts: dict[str, int] = {}
    for r in d.checks:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts += [f"{counts[s]} {word}" for s, word in (("fail", "failed"), ("error", "errored"), ("warn", "warned"),
                                                    ("skip", "skipped")) if counts.get(s)]
    partly = sum(1 for r in d.checks if r.status == "skip" and any(f.status == "pass" for f in r.findings))
    if partly:  # a check that judged some of what it examines: said, not hidden among the skipped
        parts.append(f"{partly} passed in part")
    parts.append(f"{counts.get('pass', 0)} passed")
    if d.silenced:
        parts.append(f"{len(d.silenced)} silenced")
    hint = "" if look.verbose else ": run with -v for the evidence"
    return f"netra-doctor: {clean_line(d.environment)}: {_verdict(d, look.fail_on)}: {', '.join(parts)}{hint}"


class _Out:
    """Lines of the report, wrapped to the width; colour only when asked (after wrapping)."""

    def __init__(self, look: Look):
        self.look, self.lines = look, []

    def style(self, text: str, key: str, bold: bool = False) -> str:
        if not self.look.color or key not in COLOUR:
            return text
        import click

        return click.style(text, fg=COLOUR[key], bold=bold)

    def mark(self, key: str) -> str:
        """A status marker (plain text, so widths stay true) on a terminal; nothing when piped."""
        return f"{MARK[key]} " if self.look.color and key in MARK else ""

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def raw(self, line: str) -> None:
        self.lines.append(line)

    def prose(self, text: str, indent: int = 0, hang: int = 2, prefix: str = "", key: str = "") -> None:
        """Wrapped at word boundaries, never cut: a word longer than the line runs past it.
        ``key`` colours the wrapped lines (a status) when colour is on."""
        text = clean_line(text)
        first = " " * indent + prefix
        if self.look.width is None or len(first) + len(text) <= self.look.width:
            lines = [first + text]
        else:
            import textwrap

            lines = textwrap.wrap(text, self.look.width, initial_indent=first,
                                  subsequent_indent=" " * (indent + len(prefix) + hang),
                                  break_long_words=False, break_on_hyphens=False) or [first]
        self.lines += [self.style(line, key, bold=True) if key else line for line in lines]

    def fix(self, item: str, indent: int) -> None:
        kind = fix_kind(item)
        if kind == "step":
            self.prose(item, indent, hang=0, prefix=FIX_PREFIX[kind])
        elif kind == "command":  # split only between words, with `\` continuations: pasted, the same command
            from netra_doctor.safety.untrusted import wrap_command

            self.lines += wrap_command(clean_line(item, 0), self.look.width, " " * indent + FIX_PREFIX[kind],
                                       " " * (indent + len(FIX_PREFIX[kind]) + 4))
        else:  # a statement: whole, on one line, whatever the width (a terminal soft-wraps it)
            self.lines.append(" " * indent + FIX_PREFIX[kind] + clean_line(item, 0))

    def table(self, rows: list[tuple], headers: list[str], wrap_col: int) -> None:
        """A table whose ``wrap_col`` wraps (at spaces only: never inside a name) to fit the width."""
        from tabulate import tabulate  # ~10 ms, for the terminal report only

        rows = [tuple(clean_line(str(c)) for c in row) for row in rows]
        if self.look.width is not None and rows:
            import textwrap

            fixed = sum(max(len(headers[i]) + 2, *(len(r[i]) for r in rows)) + 2
                        for i in range(len(headers)) if i != wrap_col)
            room = max(24, self.look.width - fixed)
            rows = [tuple("\n".join(textwrap.wrap(c, room, break_long_words=False, break_on_hyphens=False))
                          if i == wrap_col else c for i, c in enumerate(r)) for r in rows]
        text = tabulate(rows, headers=headers, disable_numparse=True)
        lines = [line.rstrip() for line in text.splitlines()]
        if self.look.width is not None and max(map(len, lines)) > self.look.width:
            # a name longer than the column's room (a path) would push the table past the terminal:
            # on a narrow one, each row is a line of its short cells, then its text wrapped beneath
            for row in rows:
                self.raw("  ".join(c for i, c in enumerate(row) if i != wrap_col and c).rstrip())
                self.prose(" ".join(row[wrap_col].split()), 4, hang=0)
            return
        self.lines += lines


def _evidence(lines: list[str], verbose: bool) -> tuple[list[str], int]:
    if verbose or len(lines) <= MAX_EVIDENCE:
        return lines, 0
    return lines[:MAX_EVIDENCE], len(lines) - MAX_EVIDENCE


def _evidence_lines(out: _Out, lines: list[str], verbose: bool, indent: int) -> None:
    shown, more = _evidence(lines, verbose)
    for line in shown:
        deeper = len(line) - len(line.lstrip(" "))
        out.prose(line.lstrip(" "), indent + deeper, hang=2)
    if more:
        out.prose(f"... {more} more line(s) (-v shows all)", indent)


def render_table(d: Diagnosis, verbose: bool = False, look: Look | None = None) -> str:
    look = look or Look(verbose=verbose)
    out = _Out(look)
    out.prose(_headline(d, look.fail_on), prefix=out.mark(d.status), key=d.status)
    problem = access_problem(d)
    if look.quiet:
        if d.status == "incomplete" and not d.causes:
            out.prose(f"  why: {incomplete_reason(d)}", hang=4)
        for c in d.causes:
            out.prose(f"#{c.rank} {c.id}", prefix=out.mark(c.severity))
            for item in c.fix:
                out.fix(item, 2)
        return scrub("\n".join(out.lines))
    out.blank()
    if problem:
        out.prose(problem[0], prefix=out.mark("error"), key="error")
        for command in problem[1]:
            out.fix(command, 2)
        out.blank()
    if d.causes and look.verbose:
        out.table([(f"#{c.rank}", c.id, c.severity, f"{c.confidence:.2f}", c.title) for c in d.causes],
                  ["rank", "cause", "severity", "confidence", "title"], 4)
        out.blank()
    for c in d.causes:
        out.prose(f"#{c.rank} {c.id}: {c.title} ({c.severity}, confidence {c.confidence:.2f})",
                  prefix=out.mark(c.severity))
        out.raw("  evidence:")
        _evidence_lines(out, c.evidence, look.verbose, 4)
        if c.against:
            out.raw("  against:")
            _evidence_lines(out, c.against, look.verbose, 4)
        if c.fix:
            out.raw("  fix:")
            for item in c.fix:
                out.fix(item, 4)
        out.blank()
    if not d.causes:
        out.raw("No cause found." if d.status == "healthy" else "No cause found, but the run was incomplete.")
    if d.ruled_out and look.verbose:
        out.blank()
        out.raw("Ruled out:")
        for r in d.ruled_out:
            out.prose(f"{r.id}: {r.title}", 2)
            _evidence_lines(out, r.evidence, True, 4)
    elif d.ruled_out:
        out.prose(f"ruled out {len(d.ruled_out)}: " + ", ".join(r.id for r in d.ruled_out), hang=4)
    # by default, what did not pass and matters: a check with nothing to examine here (no --image,
    # not a pre-deploy run) is counted in the closing line, listed with -v
    shown = [r for r in d.checks if look.verbose or (r.status != "pass" and not not_applicable(r))]
    idle = [r.id for r in d.checks if not look.verbose and not_applicable(r)]
    if idle:
        out.prose(f"not examined here {len(idle)}: " + ", ".join(idle) + " (-v says why)", hang=4)
    if shown:
        out.blank()
        rows = []
        for r in shown:
            rows.append((r.id, out.mark(r.status) + r.status, _short_message(r.message, d),
                         *([f"{r.duration_ms:.1f}"] if look.verbose else [])))
            # a part not judged beside a verdict on the rest: its own row, else only -v would tell
            rows += [(r.id, out.mark(f.status) + f.status, f.message, *([""] if look.verbose else []))
                     for f in r.findings if (f.unjudged or (f.status == "pass" and r.status == "skip"))
                     and f.message != r.message]
        out.table(rows, ["check", "status", "message", *(["ms"] if look.verbose else [])], 2)
    troubled = [s for s in d.sources if look.verbose or s.status != "ok"]
    if troubled:
        out.blank()
        out.table([(s.name, s.status, s.duration_ms, _source_detail(s, problem)) for s in troubled],
                  ["source", "status", "ms", "detail"], 3)
    if d.silenced:
        out.blank()
        out.raw(f"{len(d.silenced)} finding(s) silenced by config" + (":" if look.verbose else " (-v lists them)"))
        if look.verbose:
            for s in d.silenced:
                out.prose(s, 2)
    out.blank()
    out.prose(_closing(d, look), prefix=out.mark(d.status), key=d.status)
    return scrub("\n".join(out.lines))


# --- Markdown -------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Untrusted text inside a Markdown table cell or list item."""
    return clean_line(text).replace("|", "\\|")


def _md_fix(items: list[str]) -> list[str]:
    """Commands in ```sh blocks, SQL in ```sql blocks, steps as list items, in the fix's order."""
    out: list[str] = []
    block: str | None = None
    for item in items:
        kind = fix_kind(item)
        fence = {"command": "sh", "sql": "sql"}.get(kind)
        if block and fence != block:
            out += ["```", ""]
            block = None
        if fence and block is None:
            out.append(f"```{fence}")
            block = fence
        out.append(clean_line(item, 0) if fence else f"- {_md(item)}")
        if not fence:
            out.append("")
    if block:
        out.append("```")
    while out and out[-1] == "":
        out.pop()
    return out


def render_markdown(d: Diagnosis, verbose: bool = False, look: Look | None = None) -> str:
    verdict = _verdict(d, look.fail_on if look else "error")
    out = [f"## netra-doctor: `{clean_line(d.environment)}` is {verdict if verdict != d.status.upper() else d.status}",
           ""]
    if d.causes:
        out += ["| rank | cause | severity | confidence | title |", "| --- | --- | --- | --- | --- |"]
        out += [f"| {c.rank} | `{c.id}` | {c.severity} | {c.confidence:.2f} | {_md(c.title)} |" for c in d.causes]
        for c in d.causes:
            out += ["", f"### {c.rank}. `{c.id}`: {_md(c.title)}", "", "**Evidence**", ""]
            out += [f"- {_md(line.strip())}" for line in c.evidence]
            if c.against:
                out += ["", "**Against**", ""] + [f"- {_md(line.strip())}" for line in c.against]
            if c.fix:
                out += ["", "**Fix**", "", *_md_fix(c.fix)]
    else:
        out.append("No cause found." if d.status == "healthy" else "No cause found, but the run was incomplete.")
    if d.ruled_out:
        out += ["", "### Ruled out", ""]
        for r in d.ruled_out:
            out.append(f"- `{r.id}` ({_md(r.title)}): " + "; ".join(_md(line.strip()) for line in r.evidence))
    out += ["", "### Checks", "", "| check | status | message |", "| --- | --- | --- |"]
    out += [f"| `{r.id}` | {r.status} | {_md(r.message)} |" for r in d.checks
            if verbose or r.status != "pass"]
    bad = [s for s in d.sources if s.status != "ok"]
    if bad:
        out += ["", "### Sources", ""] + [f"- `{s.name}`: {s.status}: {_md(s.error or '')}" for s in bad]
    if d.silenced:
        out += ["", f"_{len(d.silenced)} finding(s) silenced by config._"]
    return scrub("\n".join(out)) + "\n"


def render(diagnoses: list[Diagnosis], fmt: str, verbose: bool = False, look: Look | None = None,
           fail_on: str = "error") -> str:
    look = look or Look(verbose=verbose)
    look.fail_on = fail_on
    if fmt == "sarif":  # doctor/output/sarif.py: GitHub code scanning
        from netra_doctor.output.sarif import render_sarif

        return render_sarif(diagnoses)
    if fmt == "json":
        return render_json(diagnoses, verbose)
    if fmt == "junit":
        from netra_doctor.output.junit import render_junit

        return render_junit(diagnoses, fail_on)
    if fmt == "markdown":
        return "\n\n".join(render_markdown(d, verbose, look) for d in diagnoses)
    return "\n\n".join(render_table(d, verbose, look) for d in diagnoses)
