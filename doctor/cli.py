"""The command line: `netra-doctor ENV [ENV...]`, plus replay, demo, checks and explain.

Only click is imported at start-up; everything else is imported inside the command
that needs it, so `--help` stays at click's own cost and offline runs never load the
Google client libraries.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click
from netra_doctor import __version__

FORMATS = ("table", "json", "markdown", "junit", "sarif")
COLORS = ("auto", "always", "never")


def _typo_of(word: str, commands) -> str | None:
    """The command ``word`` is a typo of: within 2 edits, 1 for a short word (`dev` is an
    environment, not a typo of `demo`)."""
    from netra_doctor.core.typos import nearest

    return nearest(word, commands, limit=1 if len(word) <= 5 else 2)


def _listed_environments() -> set[str]:
    """The environments the nearest config lists (none when there is no config, or it is broken:
    the diagnosis then says what is wrong with it)."""
    from netra_doctor.core.config import ConfigError, find_config

    try:
        _, data = find_config(Path.cwd().resolve())
    except (ConfigError, OSError):
        return set()
    envs = data.get("environments")
    return set(envs) if isinstance(envs, dict) else set()


TOP_OPTIONS = ("--help", "-h", "--version")
IMPLICIT = "netra_doctor.implicit"  # ctx.meta: the diagnosis was typed as `netra-doctor ENV`


class _EnvGroup(click.Group):
    """`netra-doctor staging` means `netra-doctor diagnose staging`; a typo of a command is not an
    environment (`netra-doctor chekcs` asks "did you mean `checks`?" unless the config lists it)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in TOP_OPTIONS:
            word = args[0]
            guess = None if word.startswith("-") else _typo_of(word, self.commands)
            if guess and word not in _listed_environments():
                _bad_input(f"no command or environment {word!r}: did you mean `{guess}`?")
            _top_option_typo(args)
            ctx.meta[IMPLICIT] = True  # usage lines say `netra-doctor ENV`, as typed
            args = ["diagnose", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "ENV [ENV...] [OPTIONS]  |  COMMAND [ARGS]")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The diagnosis is the main job: its options come first, then the commands."""
        super().format_options(ctx, formatter)  # click lists the group's own options and the commands
        with ctx.scope(cleanup=False):
            sub = click.Context(diagnose, info_name="ENV", parent=ctx)
        rows = [r for p in diagnose.get_params(sub)
                if isinstance(p, click.Option) and "--help" not in p.opts and (r := p.get_help_record(sub))]
        with formatter.section("Diagnosis options (netra-doctor ENV [ENV...] [OPTIONS])"):
            formatter.write_dl(rows)


def _top_option_typo(args: list[str]) -> None:
    """`--verison` is a typo of `--version`, not of the diagnosis' `--verbose`: answer it before click
    suggests the nearest diagnosis option."""
    from netra_doctor.core.typos import distance

    known = {name for p in diagnose.params for name in (*p.opts, *p.secondary_opts)}
    for arg in args:
        if arg == "--":
            return
        word = arg.split("=", 1)[0]
        if not word.startswith("--") or word in known or word in TOP_OPTIONS:
            continue
        near = min((distance(word, name), name) for name in (*known, *TOP_OPTIONS))
        if near[1] in TOP_OPTIONS and near[0] <= 2:
            _bad_input(f"no such option {word!r}: did you mean `netra-doctor {near[1]}`?")


class _Diagnose(click.Command):
    """The diagnosis, run as `netra-doctor ENV` (its usage line says so) or `netra-doctor diagnose ENV`."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if ctx.meta.get(IMPLICIT):
            formatter.write_usage(ctx.find_root().command_path, "ENV [ENV...] [OPTIONS]")
        else:
            super().format_usage(ctx, formatter)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise self._as_typed(ctx, exc) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise self._as_typed(ctx, exc) from None

    def _as_typed(self, ctx: click.Context, exc: click.UsageError) -> click.UsageError:
        """Typed as `netra-doctor ENV`: the usage line and the `Try ...` hint name that, not `diagnose`."""
        if ctx.meta.get(IMPLICIT) and exc.ctx in (ctx, None):
            exc.ctx = click.Context(self, info_name=ctx.find_root().info_name)
            exc.ctx.meta[IMPLICIT] = True
        return exc


def _bad_input(message: str) -> None:
    """One clear line on stderr and exit code 2: never a traceback."""
    from netra_doctor.safety.secrecy import scrub
    from netra_doctor.safety.untrusted import clean_line

    # names from the input may hold newlines or control characters: show them escaped
    click.echo(f"netra-doctor: {clean_line(scrub(message))}", err=True)
    sys.exit(2)


def _one_volume(quiet: bool, verbose: bool) -> None:
    """-q (the verdict and fixes) and -v (everything) ask for opposite reports: a usage error."""
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose ask for opposite reports: give one")


def _interruptible(command):
    """Ctrl-C (or SIGTERM) ends the command within a second, wherever it is (a database connect, a live
    call): what the run started is removed, one line is printed, exit 130. Threads still blocked in I/O
    are abandoned, not waited for (click's own handling waited for them, then said `Aborted!`, exit 1)."""
    import functools

    @functools.wraps(command)
    def run(*args, **kwargs):
        import signal

        def terminate(signum, frame):
            raise KeyboardInterrupt

        try:
            old = signal.signal(signal.SIGTERM, terminate)
        except ValueError:  # not the main thread (a test's runner): Ctrl-C only
            old = None
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            _interrupted()
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)

    return run


def _interrupted() -> None:
    from netra_doctor.core.cleanup import undo_all

    undo_all()
    click.echo("netra-doctor: interrupted; nothing it started is left running", err=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(130)  # now: the interpreter's exit would join worker threads still in a connect


def _look(color: str, verbose: bool, quiet: bool, err: bool):
    """Width and colour for the stream the report goes to: wrap to $COLUMNS or the terminal (no
    wrapping when piped without COLUMNS); colour and markers on a terminal unless NO_COLOR is set."""
    from netra_doctor.output.report import Look

    stream = sys.stderr if err else sys.stdout
    tty = stream.isatty()
    width = None
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        width = max(40, int(cols))
    elif tty:
        try:
            width = max(40, os.get_terminal_size(stream.fileno()).columns or 80)  # 0: a pty with no size set
        except OSError:
            width = 80
    on = color == "always" or (color == "auto" and tty and not os.environ.get("NO_COLOR"))
    return Look(width=width, color=on, verbose=verbose, quiet=quiet and not verbose)


@click.group(cls=_EnvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="netra-doctor")
def cli() -> None:
    """Find why a Cloud Run service and its migration job disagree about the database.

    \b
    netra-doctor staging                       live, with Application Default Credentials
    netra-doctor staging --from exports/       offline, from gcloud's exports
    netra-doctor demo                          the seed incident on a throwaway PostgreSQL
    """


@cli.command(cls=_Diagnose)
@click.argument("environments", metavar="ENV [ENV...]", nargs=-1, required=True)
@click.option("--from", "from_dir", type=click.Path(path_type=Path), help="Offline: a folder of gcloud exports.")
@click.option("--proxy", "proxies", multiple=True, metavar="INSTANCE=HOST:PORT",
              help="Reach a Cloud SQL instance through a local Auth Proxy (repeatable).")
@click.option("--dsn", metavar="URL", help="Connect straight to this database (overrides resolution).")
@click.option("--private-ip", is_flag=True, default=None,
              help="A cloud-sql-proxy the doctor starts (no --proxy, no --dsn) uses the private IP.")
@click.option("--iam-authn", is_flag=True, default=None,
              help="... and IAM database authentication (--auto-iam-authn).")
@click.option("--alembic-ini", type=click.Path(path_type=Path), help="The migration scripts' alembic.ini.")
@click.option("--script-location", type=click.Path(path_type=Path), metavar="DIR",
              help="The Alembic script folder the job runs (Flask-Migrate's -d DIR, Flask-Alembic's migrations/), "
              "over the ini's script_location; with no alembic.ini, the revisions are read from it.")
@click.option("--project", metavar="PROJECT", help="Google Cloud project (else: the config, $CLOUDSDK_CORE_PROJECT, "
              "$GOOGLE_CLOUD_PROJECT, gcloud's active configuration, netra-ENV).")
@click.option("--region", metavar="REGION", help="Cloud Run region (else: the config, $CLOUDSDK_RUN_REGION, "
              "gcloud's active configuration, us-central1).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--save", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the facts snapshot here (- for stdout; the report then goes to stderr).")
@click.option("--fail-on", type=click.Choice(["warn", "error"]), default="error", show_default=True,
              help="Exit 1 at this level: error (error causes, failed checks) or warn (also every warning).")
@click.option("--only", multiple=True, metavar="ID", help="Run just these checks (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="Also passing checks, timings and full evidence.")
@click.option("-q", "--quiet", is_flag=True,
              help="Only the verdict and the causes' fixes (terse output; the doctor never prompts).")
@click.option("--color", type=click.Choice(COLORS), default="auto", show_default=True,
              help="Colour and status markers (auto: on a terminal, unless NO_COLOR is set).")
@click.option("--pre-deploy", is_flag=True, default=None,
              help="The checkout is about to ship: pending revisions are the plan, judged against the database.")
@click.option("--repo-only", is_flag=True, help="Only the checkout (migrations, models): no cloud, no database.")
@click.option("--image", envvar="NETRA_DOCTOR_IMAGE", metavar="IMAGE",
              help="The image about to be deployed: the job must run it ($NETRA_DOCTOR_IMAGE).")
@click.option("--no-cache", is_flag=True,
              help="Read every file of the checkout afresh (the per-file cache never changes a verdict).")
@_interruptible
def diagnose(environments, from_dir, proxies, dsn, private_ip, iam_authn, alembic_ini, script_location, project,
             region, fmt, save, fail_on, only, verbose, quiet, color, pre_deploy, repo_only, image, no_cache):
    """Diagnose ENV (live, or offline with --from)."""
    _one_volume(quiet, verbose)
    from netra_doctor.cloudrun.targets import DsnError, parse_dsn
    from netra_doctor.core.config import ConfigError, load_target, parse_proxy

    try:
        overrides: dict = {"project": project, "region": region, "pre_deploy": pre_deploy or None, "image": image,
                           "private_ip": private_ip or None, "iam_authn": iam_authn or None}
        if alembic_ini is not None:
            if not alembic_ini.is_file():
                raise ConfigError(f"--alembic-ini {alembic_ini}: no such file")
            # typed relative to where the user is; kept relative to the repository (as the job and the printed
            # `alembic -c` commands name it) when inside it, absolute when outside
            overrides["alembic_ini"] = str(alembic_ini.resolve())
        if script_location is not None:
            if not script_location.is_dir():
                raise ConfigError(f"--script-location {script_location}: no such folder")
            overrides["script_location"] = str(script_location.resolve())
        if dsn is not None:
            parse_dsn(dsn)
            overrides["dsn"] = dsn
        extra = dict(parse_proxy(p) for p in proxies)
        targets = []
        for env in dict.fromkeys(environments):
            target = load_target(env, overrides=overrides)
            target.proxies.update(extra)
            target.repo_only = repo_only
            target.cache = not no_cache
            targets.append(target)
            if verbose and fmt == "table":  # on stderr: formats for tools keep their streams as they were
                _say_origins(target)
        folders = [_folder_for(from_dir, t.environment, len(targets)) for t in targets] if from_dir else [None] * len(
            targets)
        runs = _run_all(targets, folders, only, fmt)
    except (ConfigError, DsnError) as exc:
        _bad_input(str(exc))
    _finish([r.diagnosis for r in runs], fmt, verbose, fail_on, save, [r.facts for r in runs], quiet=quiet,
            color=color)


def _say_origins(target) -> None:
    """-v: where the project and region came from (gcloud users have several places that set them)."""
    from netra_doctor.safety.untrusted import clean_line

    parts = [f"{label} {getattr(target, key)} (from {target.origins.get(key, 'default')})"
             for key, label in (("project", "project"), ("region", "region"), ("alembic_ini", "alembic.ini"))]
    click.echo(clean_line(f"netra-doctor: {target.environment}: " + ", ".join(parts)), err=True)


def _folder_for(from_dir: Path, env: str, count: int) -> Path:
    """With several environments, `--from DIR` may hold one sub-folder per environment (DIR/ENV/); a
    name that is none of them, but a typo of one, is answered, not diagnosed."""
    from netra_doctor.core.config import ConfigError, nearest

    sub = from_dir / env
    if sub.is_dir():
        return sub
    known = _export_folders(from_dir)
    guess = nearest(env, known) if known else None
    if guess:
        raise ConfigError(f"no environment {env!r} in --from {from_dir} (its environments' folders: "
                          f"{', '.join(sorted(known))}): did you mean `{guess}`?")
    return sub if count > 1 else from_dir


def _export_folders(from_dir: Path) -> list[str]:
    """The sub-folders of --from DIR that hold a service's or job's export: environments by name."""
    try:
        return [d.name for d in from_dir.iterdir() if d.is_dir() and any(
            (d / f"{kind}.{ext}").is_file() for kind in ("service", "job") for ext in ("yaml", "yml", "json"))]
    except OSError:
        return []


def _run_all(targets, folders, only, fmt):
    from netra_doctor import engine
    from netra_doctor.core.cleanup import threads
    from netra_doctor.output.progress import progress_line, wanted

    with progress_line(enabled=wanted(fmt)) as line:
        if len(targets) == 1:
            return [engine.run(targets[0], folders[0], only, line)]
        with threads(min(4, len(targets)), "env") as pool:  # environments side by side
            return list(pool.map(lambda tf: engine.run(tf[0], tf[1], only, line.scoped(tf[0].environment) if line
                                                       else None), zip(targets, folders, strict=True)))


def _finish(diagnoses, fmt, verbose, fail_on, save=None, facts=(), quiet=False, color="auto"):
    """Print the report, then save; a snapshot that cannot be written is one line and exit 2 after
    the report (the diagnosis is never lost). ``--save -`` puts the snapshot on stdout, the report on stderr."""
    from netra_doctor.core.diagnosis import exit_code
    from netra_doctor.core.errors import ConfigError
    from netra_doctor.output.report import render

    to_stdout = save is not None and str(save) == "-"
    look = _look(color, verbose, quiet, err=to_stdout)
    click.echo(render(diagnoses, fmt, verbose, look, fail_on), err=to_stdout, color=look.color)
    if save is not None:
        from netra_doctor.core.snapshot import save_snapshot, snapshot_text

        try:
            if to_stdout:
                click.echo(snapshot_text(list(facts)), nl=False)
            else:
                save_snapshot(save, list(facts))
                if sys.stderr.isatty():  # a person at a terminal sees where it went; a pipeline stays quiet
                    click.echo(f"netra-doctor: saved the snapshot to {save} (secrets as fingerprints only; "
                               f"`netra-doctor replay {save}` diagnoses it again)", err=True)
        except ConfigError as exc:
            _bad_input(str(exc))
    sys.exit(exit_code(diagnoses, fail_on))


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--fail-on", type=click.Choice(["warn", "error"]), default="error", show_default=True)
@click.option("--only", multiple=True, metavar="ID", help="Run just these checks (repeatable).")
@click.option("-v", "--verbose", is_flag=True)
@click.option("-q", "--quiet", is_flag=True)
@click.option("--color", type=click.Choice(COLORS), default="auto", show_default=True)
@_interruptible
def replay(snapshot, fmt, fail_on, only, verbose, quiet, color):
    """Diagnose a saved snapshot (--save FILE), with no network."""
    _one_volume(quiet, verbose)
    from netra_doctor.core.errors import ConfigError
    from netra_doctor.core.snapshot import load_snapshot
    from netra_doctor.engine import replay as replay_facts

    try:
        diagnoses = [replay_facts(f, only) for f in load_snapshot(snapshot)]
    except ConfigError as exc:
        _bad_input(str(exc))
    _finish(diagnoses, fmt, verbose, fail_on, quiet=quiet, color=color)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--keep", is_flag=True, help="Leave the server running and print how to connect.")
@click.option("-v", "--verbose", is_flag=True)
@click.option("-q", "--quiet", is_flag=True)
@click.option("--color", type=click.Choice(COLORS), default="auto", show_default=True)
@click.option("--pre-deploy", is_flag=True, help="The gate on the seed's commit, before it ships.")
@click.option("--scenario", type=click.Choice(("seed", "auth-drop", "big-table-lock")), default="seed",
              show_default=True, help="seed: the incident; auth-drop: a backend revision that dropped the auth "
              "service's tables; big-table-lock: a pending revision indexing a 150,000-row table.")
def demo(fmt, keep, verbose, quiet, color, pre_deploy, scenario):
    """The seed incident (or another scenario: --scenario), end to end, on a throwaway PostgreSQL."""
    _one_volume(quiet, verbose)
    from netra_doctor.core.config import ConfigError

    try:
        from netra_doctor.demo.run import run_demo
    except ImportError:
        _bad_input("the demo is not built into this version yet")
    try:
        diagnosis = run_demo(keep=keep, progress=sys.stderr.isatty() and fmt != "json", pre_deploy=pre_deploy,
                             scenario=scenario)
    except ConfigError as exc:  # also: no PostgreSQL binaries (the line says how to install them)
        _bad_input(str(exc))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: run_demo has removed its server and files
        click.echo("netra-doctor: demo interrupted; its server and temporary files were removed", err=True)
        sys.exit(130)
    _finish([diagnosis], fmt, verbose, "error", quiet=quiet, color=color)


LIST_FORMATS = click.Choice(["table", "json"])


@cli.command("checks")
@click.option("--format", "fmt", type=LIST_FORMATS, default="table", show_default=True)
def list_checks(fmt):
    """List the checks: id, title and what each needs."""
    from netra_doctor.core.checking import load_checks
    from netra_doctor.safety.untrusted import clean_line

    specs = load_checks()
    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": s.id, "title": s.title, "needs": list(s.needs), "causes": list(s.causes),
                                "load_error": s.load_error} for s in specs], indent=2))
        return
    from tabulate import tabulate

    rows = [(s.id, s.title if not s.load_error else f"(failed to load) {s.load_error}", ", ".join(s.needs))
            for s in specs]  # a plug-in's text is from outside too
    click.echo(tabulate([tuple(clean_line(c) for c in row) for row in rows], headers=["id", "title", "needs"]))


@cli.command("causes")
@click.option("--format", "fmt", type=LIST_FORMATS, default="table", show_default=True)
def list_causes(fmt):
    """List every cause id with its severity and title."""
    from netra_doctor.core.causes import CAUSES

    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": c.id, "severity": c.severity, "confidence": c.confidence, "title": c.title}
                               for c in CAUSES.values()], indent=2))
        return
    from tabulate import tabulate

    click.echo(tabulate([(c.id, c.severity, c.title) for c in CAUSES.values()],
                        headers=["id", "severity", "title"]))


@cli.command("help")
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx, command):
    """Show this help, or a command's (`netra-doctor help diagnose`)."""
    group = ctx.parent
    if command is None:
        click.echo(group.get_help())
        return
    found = cli.get_command(group, command)
    if found is None:
        _bad_input(f"no command {command!r} (see `netra-doctor --help`)")
    click.echo(found.get_help(click.Context(found, info_name=command, parent=group)))


@cli.command()
@click.argument("ident", metavar="ID")
def explain(ident):
    """Explain a check or a cause: what it means, why it happens, how to fix it."""
    import textwrap

    from netra_doctor.core.causes import CAUSES, FIX_PREFIX, fix_kind
    from netra_doctor.core.checking import load_checks

    spec = CAUSES.get(ident)
    if spec:
        lines = [f"{spec.id} (cause, {spec.severity})", spec.title, "", *textwrap.wrap(spec.explain, 88)]
        checks = [c.id for c in load_checks() if ident in c.causes]
        if checks:
            lines += ["", "Found by: " + ", ".join(checks)]
        lines += ["", "Fix:", *(f"  {FIX_PREFIX[fix_kind(f)]}{f}" for f in spec.fix)]
        click.echo("\n".join(lines))
        return
    check = next((c for c in load_checks() if c.id == ident), None)
    if check is None:
        _bad_input(f"no check or cause named {ident!r} (see `netra-doctor checks`)")
    lines = [f"{check.id} (check)", check.title, "", check.doc or "(no description)"]
    if check.needs:
        lines += ["", "Needs: " + ", ".join(check.needs)]
    if check.causes:
        lines += ["Can find: " + ", ".join(check.causes)]
    from netra_doctor.safety.untrusted import clean

    click.echo(clean("\n".join(lines)))


def main() -> None:
    import gc

    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    # A run lasts seconds and makes few reference cycles, but its imports make tens of thousands of objects
    # that the cyclic collector would walk again and again (3 ms of a 60 ms replay); the readers of big
    # inputs already pause it (core/files.py gc_paused). At exit CPython walks every object still alive
    # once more (4-6 ms): nothing of ours waits on that (files, children and connections are closed by
    # their `with`; atexit handlers still run), so the objects are left to the process's end.
    gc.disable()
    try:
        _main()
    finally:
        gc.freeze()


def _main() -> None:
    try:
        code = cli.main(prog_name="netra-doctor", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C while the command line was read
        _interrupted()
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # one line, as every bad input: the value and where to read more
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        click.echo(f"netra-doctor: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"netra-doctor: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
