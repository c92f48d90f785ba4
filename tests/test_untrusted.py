"""The output gate: text from outside cannot drive the terminal, and a printed fix runs exactly what it shows.

A secret named `x; touch /tmp/x #`, a schema named `a"; DROP ...`, an escape sequence in a log
line: each printed command, parsed by bashlex as bash would, has exactly the intended argv; each
SQL identifier reads back as the name (PostgreSQL's own quote_ident, on the test server, agrees);
no output byte is a control character but ``\\n``/``\\t``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import bashlex
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netra_doctor.core.causes import _ALL, fix_kind, render_fix
from netra_doctor.safety.untrusted import MULTI_WORD, clean, clean_line, shell_words, sql_ident, wrap_command

from tests.exports import Exports
from tests.helpers import run_cli, run_subprocess

NAMES = {"environment": "staging", "project": "netra-staging", "region": "us-central1",
         "service": "netra-backend-staging", "job": "netra-migrations-staging",
         "alembic_ini": "netra_backend/alembic.ini"}
# what checks put in fix_vars, realistic (command/args arrive shell-quoted, as doctor/cloudrun/jobcommand.py gives them)
VARS = {"kind": "job", "name": "netra-migrations-staging", "instance": "netra-staging:us-central1:pg",
        "tables": "agent_executions, subscriptions", "secret": "postgres-password-staging", "env": "POSTGRES_PASSWORD",
        "version": "3", "secret_pairs": "POSTGRES_DB=postgres-db-staging:latest", "image": "gcr.io/p/app:1",
        "command": "sh", "args": shlex.quote("-c,cd /app && python -m alembic upgrade head"),
        "heads": "abc123 def456", "revision": "ffff", "before": "abc123", "user": "netra_app",
        "instance_name": "staging-shared-postgres", "database": "netra_staging", "revisions": "a -> b",
        "schema": "public", "owner": "migrator", "search_path": '"$user", public',
        "grants": "GRANT SELECT ON t TO netra_app;", "columns": "research_sessions.completed_at",
        "revision_file": "versions/abc123_create_users.py", "conflict": "creates users, which exists",
        "stamp_guard": "SELECT version_num FROM public.alembic_version;", "rerun": "the next upgrade reruns 1",
        "recreates": "the upgrade creates users again", "look_at": "compare the revisions by hand",
        "change": "point model User (app/models.py:7) at the table's new name: __tablename__ = 'accounts'",
        "default_privileges":
            "ALTER DEFAULT PRIVILEGES FOR ROLE migrator IN SCHEMA public GRANT SELECT ON TABLES TO app;",
        "safe_form": "with op.get_context().autocommit_block(): op.create_index('ix', 'events', [...], "
                     "postgresql_concurrently=True)",
        "timeout_line": "op.execute(\"SET LOCAL lock_timeout = '5s'\")", "old_name": "events.name",
        "new_name": "events.title"}
# bytes a terminal acts on: C0 but \t \n, DEL, C1, bidi and invisible reorderers
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _mask_single_quoted(command: str) -> str:
    """The command with each '...' body replaced by x's of the same length: bash reads those bodies
    literally, so the structure is unchanged (bashlex 0.18 fails on a backtick or drops a `"` quoted
    inside an `x=...` word, which bash reads fine)."""
    out, i, quote = list(command), 0, None
    while i < len(command):
        ch = command[i]
        if quote == "'":
            if ch == "'":
                quote = None
            else:
                out[i] = "x"
        elif quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = None
        elif ch == "\\":
            i += 1
        elif ch in "'\"":
            quote = ch
        i += 1
    return "".join(out)


def argv(command: str) -> list[str]:
    """The words bash would pass: bashlex finds the command's structure (one simple command: no
    `;`, `&&`, pipe or redirection smuggled in) and each word's span; the span's quotes are removed
    the POSIX way."""
    masked = _mask_single_quoted(command)
    [node] = bashlex.parse(masked)
    assert node.kind == "command", node.dump()
    words = []
    for part in node.parts:
        assert part.kind == "word", (part.kind, command)  # a redirection would be an injection
        text = command[part.pos[0]:part.pos[1]]
        # a $(...) of the template itself (the redeploy stamp) is one word to bash, two to shlex
        split = shlex.split(text) if "$(" not in masked[part.pos[0]:part.pos[1]] else [part.word]
        words.append(split[0] if len(split) == 1 else part.word)
    return words


def test_the_realistic_values_fill_every_placeholder_of_the_catalog():
    """A cause added with a new placeholder must be given a value here, or the tests below skip it."""
    used = {m for spec in _ALL for item in spec.fix for m in re.findall(r"\{(\w+)\}", item)}
    assert used <= set(VARS) | set(NAMES), used - set(VARS) - set(NAMES)


def commands(values: dict[str, str], names: dict[str, str] = NAMES):
    for spec in _ALL:
        for template, item in zip(spec.fix, render_fix(spec, names, values), strict=True):
            if fix_kind(item) == "command":
                yield spec.id, template, item


def test_every_command_item_of_every_cause_parses_as_bash_and_wraps_to_the_same_command():
    seen = 0
    for cause, _, item in commands(VARS):
        words = argv(item)
        assert words and "<" not in item, (cause, item)  # every placeholder filled
        wrapped = "\n".join(wrap_command(item, 40, "", "    "))
        assert argv(wrapped) == words, (cause, wrapped)
        seen += 1
    assert seen >= 20


def test_prose_never_appears_as_a_command():
    """A fix item that is a sentence (review, commit, decide) is a step, not a command a runbook pastes."""
    for cause, _, item in commands(VARS):
        first = argv(item)[0]
        assert first in {"gcloud", "alembic"}, (cause, item)


def _intended(template: str, values: dict[str, str]) -> list[str]:
    """The argv the template means with these values: each value one word (list keys one per item),
    shown through the gate; the template's own words as bash reads them."""
    tokens = {key: f"QQ{i}QQ" for i, key in enumerate(values)}
    filled = re.sub(r"\{(\w+)\}", lambda m: tokens[m[1]], template)
    out: list[str] = []
    for word in argv(filled):
        key = next((k for k, t in tokens.items() if word == t), None)
        if key in MULTI_WORD:
            out += [clean_line(v, 0) for v in values[key].split()]
            continue
        for k, t in tokens.items():
            raw = shlex.split(values[k])[0] if k in ("command", "args") else values[k]
            word = word.replace(t, clean_line(raw, 0))
        out.append(word)
    return out


HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab-_.:/ ;&|$`'\"\\#*?~<>(){}[]!,=\t\n\r\x00\x07\x1b\x9b\u202e\u2028ö")),
    min_size=1, max_size=12,
).filter(lambda s: s.strip())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({k: HOSTILE for k in VARS if k not in ("command", "args")}),
       st.fixed_dictionaries({k: HOSTILE for k in NAMES}), HOSTILE, HOSTILE)
def test_hostile_names_give_exactly_the_intended_argv_and_no_control_bytes(hostile, names, program, args):
    values = {**hostile, "command": shlex.quote(program), "args": shlex.quote(args)}
    for cause, template, item in commands(values, names):
        assert not CONTROL.search(item), (cause, item)
        assert "\n" not in item and "\t" not in item
        assert argv(item) == _intended(template, {**names, **values}), (cause, template, item)


@settings(max_examples=20, deadline=None)
@given(st.fixed_dictionaries({k: HOSTILE for k in VARS}))
def test_hostile_names_in_steps_and_sql_are_one_clean_line(hostile):
    for spec in _ALL:
        for item in render_fix(spec, NAMES, hostile):
            assert not CONTROL.search(item) and "\n" not in item, (spec.id, item)


def test_sql_identifiers_are_quoted_as_postgresql_quotes_them(pg):
    """PostgreSQL's own quote_ident is the reference: for names plain, reserved, mixed-case, hostile."""
    import psycopg

    names = ["public", "netra_app", "Netra", "user", "select", "between", "a b", 'a"; DROP TABLE t; --', "$user",
             "1abc", "ö_table", "x$y", "_x", "mixed_Case", "a.b", "right", "abort", "int", "values"]
    with psycopg.connect(pg.dsn()) as conn:
        for name in names:
            [(expected,)] = conn.execute("SELECT quote_ident(%s)", (name,)).fetchall()
            assert sql_ident(name) == expected, name
        # key words newer servers added (json_table, merge_action) are quoted too: a quoted name reads back the same
        for name in [*names, "json", "json_table", "merge_action"]:
            cursor = conn.execute(f"SELECT 1 AS {sql_ident(name)}")
            assert cursor.description[0].name == name


def test_sql_fix_quotes_a_hostile_schema_and_role():
    spec = next(s for s in _ALL if s.id == "tables-in-other-schema")
    [item] = render_fix(spec, NAMES, {"user": "app; DROP", "schema": 'we"ird', "search_path": 'we"ird, public'})
    assert fix_kind(item) == "sql"
    assert item.startswith('ALTER ROLE "app; DROP" SET search_path = "we""ird", public;')


def test_an_identifier_that_arrives_quoted_is_still_cleaned():
    """A check may hand over a quoted identifier; quoting does not make control characters harmless."""
    assert sql_ident('"\x1b[2J"') == '"\\x1b[2J"'
    assert sql_ident('"Ok ""name"""') == '"Ok ""name"""'


def test_the_gate_escapes_what_a_terminal_would_act_on():
    hostile = "ok\x1b[2J\x1b]0;title\x07\x1b]52;c;aGk=\x07\x00\u202eevil\u2028\x9b31m\ttab\nnext"
    assert clean(hostile) == ("ok\\x1b[2J\\x1b]0;title\\x07\\x1b]52;c;aGk=\\x07\\x00\\u202eevil\\u2028\\x9b31m"
                              "\ttab\nnext")
    assert clean_line(hostile).endswith("\\x09tab\\x0anext")
    assert clean_line("x" * 5000).endswith("… (1000 more characters)")
    assert not CONTROL.search(clean(hostile))


def test_a_hostile_secret_name_reaches_the_terminal_escaped_and_the_fix_quoted(tmp_path: Path, repo: Path):
    name = "x; touch /tmp/x #\x1b]52;c;aGk=\x07\u202e"
    e = Exports(tmp_path / "exports")
    e.set_secret("job", "POSTGRES_PASSWORD", name, "1")
    for fmt in ("table", "markdown", "junit"):
        proc = run_subprocess("staging", "--from", str(e.folder), "--only", "secret-parity", "--format", fmt,
                              "--color", "never", cwd=repo)
        assert proc.returncode == 1, proc.stderr
        assert not CONTROL.search(proc.stdout), fmt
        assert "x; touch" in proc.stdout
    table = run_subprocess("staging", "--from", str(e.folder), "--only", "secret-parity", "-q", cwd=repo).stdout
    fixes = [line.strip()[2:] for line in table.splitlines() if line.strip().startswith("$ ")]
    assert fixes and all(argv(f)[4] == clean_line(name) for f in fixes if "versions" in f), fixes


@pytest.mark.parametrize("width", [40, 80])
def test_a_wrapped_command_is_the_same_command(width: int):
    command = ("gcloud run services update netra-backend-staging --region us-central1 --project netra-staging "
               "--update-env-vars NETRA_DOCTOR_REDEPLOY=$(date +%s)   # then watch it start")
    lines = wrap_command(command, width, "$ ", "      ")
    assert all(len(line) <= width or len(shell_words(line.removesuffix(" \\").strip())[0]) == 1 for line in lines)
    assert argv("\n".join(lines)[2:]) == argv(command)


def test_hostile_log_lines_and_table_names_reach_no_terminal_raw(tmp_path: Path):
    """Escape sequences in log payloads (clear screen, window title, OSC 52 clipboard, BEL, NUL, RLO) and
    a hostile table name in the start-up error: every format, with the doctor's own colour on."""
    import json
    import shutil

    demo = Path(__file__).resolve().parent.parent / "doctor" / "demo" / "data"
    root = tmp_path / "checkout"
    shutil.copytree(demo / "netra_backend", root / "netra_backend")
    exports = root / "exports"
    exports.mkdir()
    for f in demo.iterdir():
        if f.is_file():
            shutil.copy(f, exports / f.name)
    evil = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x00\u202e\x9b"
    logs = json.loads((exports / "logs.json").read_text())
    for entry in logs:
        if "textPayload" in entry:
            entry["textPayload"] = entry["textPayload"].replace("Failed to create tables: {'subscriptions'",
                                                                f"Failed to create tables: {{'subs{evil}'") + evil
    (exports / "logs.json").write_text(json.dumps(logs))
    sgr = re.compile(r"\x1b\[[0-9;]*m")  # the doctor's own colour codes
    shown = {}
    for fmt in ("table", "markdown", "junit", "json"):  # -v: every piece of evidence is printed
        result = run_cli("staging", "--from", "exports", "--format", fmt, "--color", "always", "-v", cwd=root)
        assert result.exit_code in (1, 3), result.stderr
        shown[fmt] = sgr.sub("", result.stdout) if fmt == "table" else result.stdout
        assert not CONTROL.search(shown[fmt]), (fmt, CONTROL.search(shown[fmt]))
        assert not CONTROL.search(result.stderr)
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in shown["table"]  # escaped, not dropped: the reader sees the attempt


def test_a_hostile_role_name_from_a_secret_is_one_quoted_identifier_in_the_grant(seed: Path, repo: Path):
    import yaml

    from tests import logs_json as L
    from tests.helpers import diagnose_json

    secrets = yaml.safe_load((seed / "secrets.yaml").read_text())
    secrets["postgres-user-staging"] = {k: 'app"; DROP TABLE users; --' for k in secrets["postgres-user-staging"]}
    (seed / "secrets.yaml").write_text(yaml.safe_dump(secrets))
    L.write(seed, [L.service("permission denied for table subscriptions", "2025-06-14T08:00:00Z")])
    report, _ = diagnose_json(seed, "--only", "startup-errors")
    [grant, default] = report["causes"][0]["fix"]
    assert grant == 'GRANT SELECT, INSERT, UPDATE, DELETE ON subscriptions TO "app""; DROP TABLE users; --";'
    assert default.endswith('TO "app""; DROP TABLE users; --";')


def test_a_comma_in_a_secret_name_uses_gclouds_delimiter_form(tmp_path: Path, repo: Path):
    """gcloud splits list flags on commas: a name holding one is written in the ``^DELIM^`` form, so
    gcloud reads back exactly the pairs meant."""
    from netra_doctor.cloudrun.shellcmd import gcloud_split

    from tests.helpers import diagnose_json

    e = Exports(tmp_path / "exports")
    e.add_secret_value("db,main", "1", "netra_main")
    e.set_secret("service", "POSTGRES_DB", "db,main", "1")
    report, _ = diagnose_json(e.folder, "--only", "secret-parity", cwd=repo)
    cause = next(c for c in report["causes"] if c["id"] == "job-service-different-database")
    [flag] = [w for w in argv(cause["fix"][0]) if w.startswith("--update-secrets=")]
    items = gcloud_split(flag.removeprefix("--update-secrets="))
    assert "POSTGRES_DB=db,main:1" in items and flag.startswith("--update-secrets=^")
