"""The migration job's command, analysed: what its argv would run, and the command that repairs it.

The job's argv (command + args) is parsed the way the container would run it, never
executed: `python -c` code is compiled, `sh -c` scripts are parsed with bashlex and
walked for the commands they run (tracking `cd`), and every alembic invocation is read
for its `-c` file (looked up in the checkout being diagnosed) and its subcommand.
The job-command and startup-errors checks both judge it, so it lives here, not in a check.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import field

from netra_doctor.cloudrun import dockerfile
from netra_doctor.cloudrun.shellcmd import (
    Script,
    ShellSyntaxError,
    ShellUnsupported,
    describe_syntax_error,
    gcloud_join,
    gcloud_split,
    parse_shell,
    python_syntax_error,
    rough_commands,
)
from netra_doctor.core.facts import Facts, ImageFacts, RepoFacts, Workload
from netra_doctor.core.records import record

SHELLS = {"sh", "bash", "dash", "ash", "ksh", "zsh"}
_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")
_WRAPPERS = {"exec", "nohup", "time", "command"}
_RUNNERS = {"uv", "poetry", "pipenv", "pdm", "hatch", "rye"}  # `uv run CMD ...`
_ALEMBIC_OPTS_WITH_VALUE = {"-n", "--name", "-x"}
MAX_DEPTH = 4  # sh -c "sh -c '...'" nesting we follow


@record
class Problem:
    message: str
    evidence: list[str] = field(default_factory=list)
    confidence: float | None = None
    kind: str = "invalid"  # "ini-missing" is repaired in place; anything else gets the canonical script
    severity: str = "fail"  # "warn" when the evidence cannot be sure


@record
class AlembicCall:
    """One `alembic ...` (or `python -m alembic ...`) the job would run."""

    words: list[str]  # the simple command's words, program first
    start: int  # index in words where alembic's own arguments begin
    config: str | None  # -c PATH as written; None: alembic's default (alembic.ini / $ALEMBIC_CONFIG)
    config_index: int | None  # where PATH sits in words
    subcommand: str | None
    sub_index: int  # where the subcommand sits in words (len(words) when there is none)
    target: str | None
    sql: bool
    cwd: str | None  # directory it runs in: absolute, "." (the image's WORKDIR) or None (unknown)
    depth: int  # 0: the job's argv itself; 1: a command of its `sh -c` script; ...
    span: tuple[int, int] | None = None  # where it sits in the script it came from
    lead: list[str] = field(default_factory=list)  # `exec`, `env X=1`, `uv run` before the program
    assignments: dict[str, str] = field(default_factory=dict)  # X=1 before the command
    missing: bool = False  # -c file checked and absent from the checkout
    target_literal: bool = True  # False: the target is computed when it runs (`upgrade $TARGET`)

    @property
    def upgrades(self) -> bool:
        return self.subcommand == "upgrade" and bool(self.target) and not self.sql

    def text(self) -> str:
        return shlex.join([*self.lead, *self.words])


@record
class Analysis:
    problems: list[Problem] = field(default_factory=list)
    calls: list[AlembicCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # parts that could not be verified
    verified: list[str] = field(default_factory=list)  # paths found where the container looks
    intended: tuple[str, list[str]] | None = None  # (program, args) the job was meant to run
    app_root: str | None = None  # where the checkout sits in the image: WORKDIR or the first `cd /abs`
    alembic_in_python: bool = False


class _Walker:
    """Follows an argv through shells and Python to every alembic call, tracking `cd`."""

    def __init__(self, repo: RepoFacts | None, checkout: bool, working_dir: str, env: dict[str, str]):
        self.repo, self.checkout, self.env, self.working_dir = repo, checkout, env, working_dir
        self.cwd: str | None = working_dir or "."
        self.out = Analysis(app_root=working_dir or None)

    # --- argv --------------------------------------------------------------------

    def argv(self, words: list[str], literal: list[bool], depth: int,
             span: tuple[int, int] | None = None, assigns: dict[str, str] | None = None) -> None:
        n = _wrapped(words)
        lead, words, literal = words[:n], words[n:], literal[n:]
        if not words or depth > MAX_DEPTH:
            return
        prog = posixpath.basename(words[0])
        if prog == "cd":
            self._cd(words[1:2], literal[1:2])
        elif prog in SHELLS:
            self._shell(words, depth)
        elif _PYTHON.match(prog):
            self._python(words, literal, depth, span, lead, assigns or {})
        elif prog == "alembic":
            self._alembic(words, literal, 1, depth, span, lead, assigns or {})

    def _cd(self, args: list[str], literal: list[bool]) -> None:
        if not args or not literal[0] or args[0] == "-" or args[0].startswith("~"):
            self.cwd = None  # $HOME, `cd -`, or a computed path: unknown from here on
            return
        target = args[0]
        if target.startswith("/"):
            self.cwd = posixpath.normpath(target)
            if self.out.app_root is None:
                self.out.app_root = self.cwd
        elif self.cwd is not None:
            self.cwd = posixpath.normpath(posixpath.join(self.cwd, target))

    # --- shells ------------------------------------------------------------------

    def _shell(self, words: list[str], depth: int) -> None:
        shell = posixpath.basename(words[0])
        i, command_mode = 1, False
        while i < len(words):
            a = words[i]
            if a == "--":
                i += 1
                break
            if a in ("-o", "+o"):
                i += 2
                continue
            if a.startswith("--"):
                i += 1
                continue
            if len(a) > 1 and a[0] in "-+":
                command_mode = command_mode or "c" in a[1:]
                i += 1
                continue
            break
        if not command_mode:
            what = f"the script file {words[i]}" if i < len(words) else "an interactive shell"
            self.out.notes.append(f"{shell} runs {what}: its content is not in the exports")
            return
        if i >= len(words):
            self.out.problems.append(Problem(f"`{shell} -c` is given no script: {shell} exits with an error"))
            return
        split = self.script(shell, words[i], words[i + 1:], depth)
        if depth == 0:
            whole = ",".join(words[i:]) if split else words[i]
            self.out.intended = (words[0] if shell in ("sh", "bash") else "sh", [*words[1:i], whole])

    def script(self, shell: str, text: str, rest: list[str], depth: int) -> bool:
        """A `sh -c TEXT [ARG0 ARG...]` script: parse it, catch a comma split, walk its commands.

        Returns whether the items after the script look like the rest of it, cut by gcloud.
        """
        parsed = None
        try:
            parsed = parse_shell(text)
        except ShellSyntaxError as exc:
            self.out.problems.append(Problem(
                f"the `{shell} -c` script does not parse: {exc}",
                [f"script: {text}", *_caret(text, exc.position)],
            ))
        except ShellUnsupported as exc:
            self.out.notes.append(f"the `{shell} -c` script's syntax ({exc}); its commands read by a plain tokenizer")
            commands = rough_commands(text)
            parsed = Script(commands, bool(re.search(r"\$(\{?[0-9@*#])", text)))
        split = bool(rest) and not (parsed and parsed.uses_positional)
        if split:
            self.out.problems.append(_split_problem(f"{shell} -c", text, rest, "$0, $1, ..."))
        if parsed is not None:
            for cmd in parsed.commands:
                span = cmd.span if cmd.span[0] >= 0 else None
                self.argv(cmd.words, cmd.literal, depth + 1, span, cmd.assignments)
        return split

    # --- python ------------------------------------------------------------------

    def _python(self, words, literal, depth: int, span, lead, assigns) -> None:
        i = 1
        while i < len(words):
            a = words[i]
            if a.startswith("-c"):
                code = a[2:] if len(a) > 2 else (words[i + 1] if i + 1 < len(words) else None)
                rest = words[i + 1:] if len(a) > 2 else words[i + 2:]
                self._python_code(words[0], code, rest, depth)
                return
            if a.startswith("-m"):
                module = a[2:] if len(a) > 2 else (words[i + 1] if i + 1 < len(words) else "")
                if module == "alembic":
                    self._alembic(words, literal, i + 1 if len(a) > 2 else i + 2, depth, span, lead, assigns)
                return
            if a in ("-X", "-W", "--check-hash-based-pycs"):
                i += 2
                continue
            if a.startswith("-") and a != "-":
                i += 1
                continue
            return  # python SCRIPT.py: a program we cannot see into

    def _python_code(self, prog: str, code: str | None, rest: list[str], depth: int) -> None:
        if code is None:
            self.out.problems.append(Problem(f"`{prog} -c` is given no code: Python exits with an error"))
            return
        err = python_syntax_error(code)
        split = bool(rest) and "sys.argv" not in code
        whole = ",".join([code, *rest]) if split else code
        if err is None:
            if split:
                self.out.problems.append(_split_problem(f"{prog} -c", code, rest, "sys.argv[1:]"))
            if depth == 0:
                self.out.intended = (prog, ["-c", whole])
            self.out.alembic_in_python = self.out.alembic_in_python or "alembic" in code
            return
        shell_text = _is_shell_text(whole)
        what = "shell text, which Python cannot run" if shell_text else "code that does not compile"
        self.out.problems.append(Problem(
            f"`{prog} -c` is given {what}: {describe_syntax_error(err)}",
            [f"Python compiles the -c text before running any of it: {code}",
             *(["it is a shell script: run it with `sh -c`"] if shell_text else [])],
        ))
        if split:
            self.out.problems.append(_split_problem(f"{prog} -c", code, rest, "sys.argv[1:]"))
        if shell_text:
            if depth == 0:
                self.out.intended = ("sh", ["-c", whole])
            # what it would do once a shell runs it: report that now, not after the next deploy
            self.script("sh", whole, [], depth)

    # --- alembic -----------------------------------------------------------------

    def _alembic(self, words, literal, start: int, depth: int, span, lead, assigns) -> None:
        args = words[start:]
        config, config_index, i = None, None, 0
        while i < len(args):
            a = args[i]
            if a in ("-c", "--config"):
                if i + 1 >= len(args):
                    self.out.problems.append(Problem(
                        f"`{shlex.join(words)}`: -c needs a file, so alembic exits with a usage error"))
                    return
                config, config_index = args[i + 1], start + i + 1
                i += 2
            elif a.startswith("--config="):
                config = a.split("=", 1)[1]
                i += 1
            elif a in _ALEMBIC_OPTS_WITH_VALUE:
                i += 2
            elif a.startswith("-"):
                i += 1
            else:
                break
        sub = args[i] if i < len(args) else None
        target, sql, j, target_literal = None, False, i + 1, True
        while j < len(args):
            a = args[j]
            if a == "--sql":
                sql = True
            elif a == "--tag":
                j += 1
            elif not a.startswith("-") and target is None:
                target, target_literal = a, literal[start + j]
            j += 1
        call = AlembicCall(list(words), start, config, config_index, sub, start + i, target, sql, self.cwd,
                           depth, span, list(lead), dict(assigns), target_literal=target_literal)
        self.out.calls.append(call)
        self._check_config(call, literal)

    def _check_config(self, call: AlembicCall, literal: list[bool]) -> None:
        path = call.config
        default = path is None
        if default:
            path = call.assignments.get("ALEMBIC_CONFIG") or self.env.get("ALEMBIC_CONFIG") or "alembic.ini"
        elif call.config_index is not None and not literal[call.config_index]:
            self.out.notes.append(f"alembic -c {path}: computed at run time")
            return
        repo = self.repo
        if repo is None:
            self.out.notes.append(f"alembic -c {path}: the checkout was not listed")
            return
        if not self.checkout:
            if repo.checkout:  # a checkout with no Alembic project: alembic has nothing to read
                sure = repo.checkout in ("files", "git")
                what = {"files": "holds no Alembic project (no alembic.ini, no migrations env.py)",
                        "git": "is a git checkout with no Alembic project (no alembic.ini, no migrations env.py)",
                        }.get(repo.checkout, "holds the doctor's config and no Alembic project (no alembic.ini)")
                self.out.problems.append(Problem(
                    f"the job runs alembic, but the repository {what}: alembic stops with "
                    f"`No config file {path!r} found, or file has no '[alembic]' section`",
                    [f"`{call.text()}` reads {'its default ' if default else ''}{path}",
                     f"ini files in {repo.root}: {', '.join(repo.files[:8]) or 'none'}",
                     *([] if sure else ["only the config marks this folder as the application's repository: "
                                        "run netra-doctor from the checkout the image is built from"])],
                    confidence=0.8 if sure else 0.55, kind="no-project", severity="fail" if sure else "warn",
                ))
                return
            self.out.notes.append(
                f"alembic -c {path}: {repo.root} holds no alembic.ini "
                "(run netra-doctor from the application's checkout to check it)")
            return
        image = repo.image
        if image is not None and image.error is None:
            self._against_image(call, path, default, image)
            return
        why = image.error if image is not None else "no Dockerfile found beside the Alembic project"
        root = _root_of(self.out.app_root, repo.files)
        found = _exists(path, call.cwd, repo.files, root)
        held = "the checkout holds it there" if found else "the checkout does not hold it there"
        self.out.notes.append(
            f"alembic -c {path}: the image's layout is unknown ({why}); with the image's WORKDIR taken "
            f"to be the checkout's root, {held}")

    def _against_image(self, call: AlembicCall, path: str, default: bool, image: ImageFacts) -> None:
        """Judge the path where the container sees it: the Dockerfile's WORKDIR and COPY lines."""
        wd = dockerfile.workdir(image, self.working_dir)
        if path.startswith("/"):
            full = posixpath.normpath(path)
        elif call.cwd is None:
            self.out.notes.append(f"alembic -c {path}: the directory it runs in is unknown")
            return
        else:
            full = posixpath.normpath(posixpath.join(wd, call.cwd, path))
        rel, state = dockerfile.to_repo(image, full, self.repo.files)
        if state == "found":
            self.out.verified.append(f"alembic reads {full} in the image: the checkout's {rel}, copied by "
                                     f"{image.dockerfile} (context {image.context})")
            return
        if state == "other-image":
            self.out.notes.append(f"alembic -c {path}: {full} comes from another image ({image.dockerfile} "
                                  "copies it with COPY --from), whose content is not known")
            return
        call.missing = True
        runs_in = posixpath.normpath(posixpath.join(wd, call.cwd or "."))
        where = f"{runs_in} (the image's WORKDIR)" if runs_in == wd else runs_in
        whys = {"absent": f"{image.dockerfile} copies {rel} there, which the checkout does not hold",
                "dockerignored": f"{image.dockerfile} would copy {rel} there, but .dockerignore keeps it out of "
                                 "the build context"}
        why = whys.get(state, f"no COPY or ADD of {image.dockerfile} puts a file there")
        inis = [f for f in self.repo.files if f.endswith(".ini")]
        held = [f"{f} (image: {dockerfile.to_image(image, f) or 'not copied'})" for f in inis[:8]]
        given = "its default " if default else ""
        self.out.problems.append(Problem(
            f"alembic reads {given}{path}, which is not in the image: alembic stops with "
            f"`No config file {path!r} found, or file has no '[alembic]' section`",
            [f"`{call.text()}` runs in {where}, so it reads {full}: {why}",
             f"the image's layout: {dockerfile.describe(image)}",
             f"ini files in {self.repo.root}: {', '.join(held) or 'none'}"],
            confidence=0.85, kind="ini-missing",
        ))


def _wrapped(words: list[str]) -> int:
    """How many leading words are wrappers (`exec`, `env X=1`, `timeout 60`, `uv run`)."""
    n = 0
    while n < len(words):
        prog = posixpath.basename(words[n])
        if prog in _WRAPPERS:
            n += 1
        elif prog == "env":
            n += 1
            while n < len(words) and ("=" in words[n] or words[n].startswith("-")):
                n += 1
        elif prog == "timeout":
            n += 1
            while n < len(words) and words[n].startswith("-"):
                n += 1
            n += 1  # the duration
        elif prog in _RUNNERS and n + 1 < len(words) and words[n + 1] == "run":
            n += 2
            while n < len(words) and words[n].startswith("-"):
                n += 1
        else:
            break
    return min(n, len(words))


def _split_problem(where: str, text: str, rest: list[str], reads: str) -> Problem:
    whole = ",".join([text, *rest])
    return Problem(
        f"the `{where}` text was cut at a comma: gcloud splits --args on every comma, "
        f"so {len(rest)} more item(s) follow the text and are never run",
        [f"text that runs: {text}",
         f"items after it: {rest!r} (they become {reads}, which the text never reads)",
         f"as one text it reads: {whole}"],
    )


def _caret(text: str, position: int | None) -> list[str]:
    if position is None or not 0 <= position <= len(text):
        return []
    return [f"at character {position}: {text[max(0, position - 40):position]} <-- here"]


def _is_shell_text(text: str) -> bool:
    try:
        return bool(parse_shell(text).commands)
    except (ShellSyntaxError, ShellUnsupported):
        return False


def _root_of(app_root: str | None, files: list[str]) -> str | None:
    """Where the checkout sits in the image: the first directory the command enters, minus the
    longest tail that is a folder of the checkout (`cd /app/netra_backend` -> /app)."""
    if not app_root or not app_root.startswith("/"):
        return None
    parts = app_root.strip("/").split("/")
    for i in range(len(parts)):
        tail = "/".join(parts[i:])
        if tail and any(f.startswith(tail + "/") for f in files):
            return "/" + "/".join(parts[:i])
    return app_root


def _exists(path: str, cwd: str | None, files: list[str], root: str | None) -> bool | None:
    """Is ``path`` (as the command names it, run in ``cwd``) a file of the checkout?

    The checkout sits at ``root`` in the image, or at its WORKDIR (".") when no `cd` says;
    an absolute path outside a known root is matched by any tail (code is copied to /app,
    /srv/app, ...). None when it cannot be told.
    """
    known = set(files)
    if path.startswith("/"):
        full = posixpath.normpath(path)
    elif cwd is None:
        return None
    else:
        full = posixpath.normpath(posixpath.join(cwd, path))
    if not full.startswith("/"):
        return None if full.startswith("..") else full in known
    if root and (full + "/").startswith(root.rstrip("/") + "/"):
        return posixpath.relpath(full, root) in known
    parts = full.strip("/").split("/")
    return any("/".join(parts[i:]) in known for i in range(len(parts)))


def _checkout(facts: Facts) -> bool:
    """Is the listed folder the application's checkout (it holds an alembic.ini or an env.py)?"""
    repo = facts.repo
    if repo is None:
        return False
    return _repo_ini(facts) in repo.files or any(
        posixpath.basename(f) in ("alembic.ini", "env.py") for f in repo.files)


def _repo_ini(facts: Facts) -> str:
    """The configured alembic.ini as a repository path."""
    ini = facts.target.alembic_ini
    root = facts.repo.root.rstrip("/") + "/" if facts.repo else None
    if root and ini.startswith(root):
        ini = ini[len(root):]
    return posixpath.normpath(ini)


def analyse(job: Workload, facts: Facts) -> Analysis:
    """Every problem of the job's argv, its alembic calls, and what it was meant to run."""
    c = job.main
    env = {e.name: e.value for e in c.env if e.value is not None}
    walker = _Walker(facts.repo, _checkout(facts), c.working_dir, env)
    argv = [*c.command, *c.args]
    if c.command and re.search(r"\s", c.command[0].strip()):
        walker.out.problems.append(Problem(
            f"the command {c.command[0]!r} is one word with spaces: the container looks for a program "
            "file of that whole name and fails to start",
            ["give the program alone in --command and the rest in --args"],
        ))
        argv = [*c.command[0].split(), *c.command[1:], *c.args]
    walker.argv(argv, [True] * len(argv), 0)
    out = walker.out
    if out.intended is None:
        out.intended = ("sh", ["-c", shlex.join(argv)])
    return out


# --- the fix -----------------------------------------------------------------------


def repaired(facts: Facts, job: Workload, intended: tuple[str, list[str]]) -> tuple[str, list[str]]:
    """The (program, args) that make the job run what it was meant to: a script whose alembic
    reads an alembic.ini that exists and runs `upgrade`. Python code is only rejoined."""
    program, items = intended
    if posixpath.basename(program) not in SHELLS:
        return program, items
    script = items[-1]
    walker = _Walker(facts.repo, _checkout(facts), job.main.working_dir, {})
    walker.script(posixpath.basename(program), script, [], 0)
    out = walker.out
    calls = out.calls
    repairable = all(p.kind == "ini-missing" for p in out.problems) and all(
        c.depth == 1 and c.span is not None for c in calls if c.missing)
    if not repairable:
        return program, [*items[:-1], _canonical(facts, out, script, job.main.working_dir)]
    upgrading = any(c.upgrades for c in calls)
    edits: list[tuple[tuple[int, int], str]] = []
    for n, call in enumerate(calls):
        words = list(call.words)
        if not upgrading and n == 0:
            keep = call.target if call.subcommand == "upgrade" and call.target else "head"
            words[call.sub_index:] = ["upgrade", keep]
        if call.missing:
            ini = _ini_for(facts, call.cwd, out.app_root, job.main.working_dir)
            if ini is None:
                raise _NoFix
            if call.config_index is not None:
                words[call.config_index] = ini
            else:
                words[call.start:call.start] = ["-c", ini]
        if words != call.words:
            if call.depth != 1 or call.span is None:
                return program, [*items[:-1], _canonical(facts, out, script, job.main.working_dir)]
            assigns = [f"{k}={shlex.quote(v)}" for k, v in call.assignments.items()]
            edits.append((call.span, shlex.join([*assigns, *call.lead, *words])))
    for (start, end), text in sorted(edits, reverse=True):
        script = script[:start] + text + script[end:]
    return program, [*items[:-1], script]


class _NoFix(Exception):
    """No command can repair it (the image holds no alembic.ini): the fix is in the Dockerfile."""


def _canonical(facts: Facts, out: Analysis, script: str, working_dir: str = "") -> str:
    """`cd ROOT && python -m alembic -c INI upgrade head`, ROOT from the script even when it
    does not parse (the `cd /abs` it starts with)."""
    m = re.search(r"(?:^|[;&|(]\s*)cd\s+(/[\w./-]*)", script)
    root = out.app_root or (posixpath.normpath(m.group(1)) if m else None)
    ini = _ini_for(facts, root or ".", None, working_dir)
    if ini is None:
        raise _NoFix
    cd = f"cd {shlex.quote(root)} && " if root else ""
    return f"{cd}python -m alembic -c {shlex.quote(ini)} upgrade head"


def _ini_for(facts: Facts, cwd: str | None, app_root: str | None, working_dir: str = "") -> str | None:
    """The alembic.ini the fix should name, as seen from the call's directory (None: the image holds
    no alembic.ini, so no command can name one)."""
    files = facts.repo.files if facts.repo else []
    configured = _repo_ini(facts)
    named = sorted((f for f in files if posixpath.basename(f) == "alembic.ini"), key=lambda f: (f.count("/"), f))
    ini = configured if configured in files or not named else named[0]
    image = facts.repo.image if facts.repo else None
    if image is not None and image.error is None:
        held = [p for p in (dockerfile.to_image(image, f) for f in [ini, *named]) if p]
        if not held:
            return None
        wd = dockerfile.workdir(image, working_dir)
        runs_in = posixpath.normpath(posixpath.join(wd, cwd or "."))
        if runs_in == wd and (held[0] + "/").startswith(wd.rstrip("/") + "/"):
            return posixpath.relpath(held[0], wd)
        return held[0]
    root = _root_of(app_root, files)
    if cwd in (".", None) or root is None or cwd == root:
        return ini
    return posixpath.join(root, ini)


def fix_vars(facts: Facts, job: Workload, analysis: Analysis) -> dict[str, str]:
    """`--command=PROGRAM --args=VALUE` for the cause's fix, quoted for a shell; VALUE uses
    ``^DELIM^`` when the script holds a comma, and is checked against gcloud's own split."""
    if analysis.intended is None or any(p.kind == "no-project" for p in analysis.problems):
        return {}
    try:
        program, items = repaired(facts, job, analysis.intended)
    except _NoFix:
        return {}
    value = gcloud_join(items)
    if gcloud_split(value) != items:  # never print a fix gcloud would read differently
        return {}
    return {"command": shlex.quote(program), "args": shlex.quote(value)}


def upgrade_targets(job: Workload | None, facts: Facts) -> list[str] | None:
    """Every `alembic upgrade` target the job runs, in order; None when the command cannot tell (no
    job, Python code that may call alembic, a target computed at run time), so a caller never reads
    an unknown command as `upgrade head` or as `upgrade heads`."""
    if job is None:
        return None
    found = analyse(job, facts)
    upgrades = [c for c in found.calls if c.subcommand == "upgrade"]
    if found.alembic_in_python or any(c.target and not c.target_literal for c in upgrades):
        return None
    return [c.target for c in upgrades if c.target] or None
