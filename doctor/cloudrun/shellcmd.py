"""Pure helpers for a job's command line: gcloud's list-flag rule, shell parsing, Python compile.

Nothing here runs anything: the job's command is parsed, never executed. The shell parser
is bashlex (a port of bash's own grammar), so a script is judged the way bash would read it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import field
from typing import Any

from netra_doctor.core.records import record

ALT_DELIM = "^"
# tried in order when an item holds a comma; the first one absent from every item wins
_DELIMS = ("|", ";", "@", "#", "~", "%", ":", "!", "+", "=", "*")


class GcloudListError(ValueError):
    """A value gcloud itself would reject (empty ^^ delimiter, an item given twice)."""


def gcloud_split(value: str) -> list[str]:
    """The list `gcloud run jobs update --args=VALUE` (or `--command`) stores.

    gcloud's ArgList splits on every comma, with no quoting; ``^DELIM^`` at the start
    switches the delimiter; one trailing delimiter is dropped. The flag's UpdateAction
    rejects an item given twice.
    """
    delim = ","
    if value.startswith(ALT_DELIM) and ALT_DELIM in value[1:]:
        delim, value = value[1:].split(ALT_DELIM, 1)
        if not delim:
            raise GcloudListError("empty ^^ delimiter")
    if not value:
        return []
    if not value.endswith(delim):
        value += delim
    items = value.split(delim)[:-1]
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise GcloudListError(f"{item!r} is given twice")
        seen.add(item)
    return items


def pick_delimiter(items: list[str]) -> str:
    """A delimiter that appears in no item (and holds no ``^``), for the ``^DELIM^`` form."""
    for size in (1, 2, 3):
        for ch in _DELIMS:
            delim = ch * size
            if not any(delim in item for item in items):
                return delim
    raise ValueError("no delimiter is free: every candidate appears in the items")


def gcloud_join(items: list[str]) -> str:
    """The inverse of :func:`gcloud_split`: a flag value gcloud turns back into ``items``.

    Plain commas when no item needs more; ``^DELIM^`` when an item holds a comma (or the
    value would otherwise start with ``^...^``).
    """
    delim = ","
    prefix = ""
    plain = delim.join(items)
    if any("," in item for item in items) or (plain.startswith(ALT_DELIM) and ALT_DELIM in plain[1:]):
        delim = pick_delimiter(items)
        prefix = f"{ALT_DELIM}{delim}{ALT_DELIM}"
    value = delim.join(items)
    if items and (value == "" or value.endswith(delim)):
        value += delim  # gcloud drops one trailing delimiter: keep a trailing empty item
    return prefix + value


def gcloud_flag(name: str, items: list[str]) -> str:
    """``--name=VALUE`` quoted for a POSIX shell, so copying it into a terminal gives ``items``."""
    return f"--{name}={shlex.quote(gcloud_join(items))}"


# --- shell ------------------------------------------------------------------------


class ShellSyntaxError(ValueError):
    """The script does not parse (bash would refuse it before running anything)."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


class ShellUnsupported(ValueError):
    """The script uses a construct the parser does not cover (its syntax is not judged)."""


@record
class SimpleCommand:
    """One simple command of a script: its words as the shell would pass them, where it sits."""

    words: list[str]
    literal: list[bool]  # per word: no expansion ($VAR, $(...)), so the value is known
    assignments: dict[str, str] = field(default_factory=dict)  # X=1 before the command
    span: tuple[int, int] = (0, 0)  # [start, end) in the script


@record
class Script:
    commands: list[SimpleCommand]
    uses_positional: bool  # $0, $1, $@ ...: extra args after `sh -c SCRIPT` are meant


_POSITIONAL = {"@", "*", "#"}


def parse_shell(text: str) -> Script:
    """Parse ``text`` as bash does; raise ShellSyntaxError / ShellUnsupported. A script parsed by an
    earlier run is answered from its kept parse (cloudrun/shellcache.py), without loading bashlex."""
    if not text.strip():
        return Script([], False)
    from netra_doctor.cloudrun import shellcache

    kept = _from_entry(shellcache.lookup(text))
    if isinstance(kept, Exception):
        raise kept
    if kept is not None:
        return kept
    try:
        script = _parse_shell(text)
    except ShellSyntaxError as exc:
        shellcache.keep(text, {"syntax": [str(exc), exc.position]})
        raise
    except ShellUnsupported as exc:
        shellcache.keep(text, {"unsupported": str(exc)})
        raise
    shellcache.keep(text, {"commands": [[c.words, c.literal, c.assignments, list(c.span)] for c in script.commands],
                           "positional": script.uses_positional})
    return script


def _from_entry(entry: Any) -> Script | ShellSyntaxError | ShellUnsupported | None:
    """The Script (or the error to raise) a kept entry stands for; None for no entry, or one this code did
    not write (the script is then parsed afresh)."""
    if entry is None:
        return None
    try:
        return _rebuilt(entry)
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def _rebuilt(entry: Any) -> Script | ShellSyntaxError | ShellUnsupported:
    if "syntax" in entry:
        message, position = entry["syntax"]
        if not isinstance(message, str) or not (position is None or type(position) is int):
            raise TypeError("syntax")
        return ShellSyntaxError(message, position)
    if "unsupported" in entry:
        if not isinstance(entry["unsupported"], str):
            raise TypeError("unsupported")
        return ShellUnsupported(entry["unsupported"])
    commands = []
    for words, literal, assignments, (start, end) in entry["commands"]:
        if not (isinstance(words, list) and all(isinstance(w, str) for w in words)
                and isinstance(literal, list) and all(type(b) is bool for b in literal) and len(literal) == len(words)
                and isinstance(assignments, dict) and all(isinstance(v, str) for v in assignments.values())
                and type(start) is int and type(end) is int):
            raise TypeError("command")
        commands.append(SimpleCommand(words, literal, assignments, (start, end)))
    if type(entry["positional"]) is not bool:
        raise TypeError("positional")
    return Script(commands, entry["positional"])


def _parse_shell(text: str) -> Script:
    from netra_doctor.cloudrun.bashlex_tables import import_bashlex

    bashlex = import_bashlex()  # only the command check needs it

    try:
        trees = bashlex.parse(text)
    except bashlex.errors.ParsingError as exc:
        raise ShellSyntaxError(getattr(exc, "message", str(exc)), getattr(exc, "position", None)) from None
    except NotImplementedError as exc:
        raise ShellUnsupported(str(exc) or "a construct bashlex does not implement") from None
    except (RecursionError, IndexError, AttributeError, AssertionError, TypeError, ValueError) as exc:
        raise ShellUnsupported(f"the parser could not read it ({type(exc).__name__})") from None

    commands: list[SimpleCommand] = []
    positional = False

    class Visitor(bashlex.ast.nodevisitor):
        def visitcommand(self, node, parts):
            words = [p for p in parts if p.kind == "word"]
            assigns = [p for p in parts if p.kind == "assignment"]
            literal = [not getattr(w, "parts", None) for w in words]
            env = dict(a.word.split("=", 1) for a in assigns if "=" in a.word)
            commands.append(SimpleCommand([w.word for w in words], literal, env, tuple(node.pos)))

        def visitparameter(self, node, value):
            nonlocal positional
            if value in _POSITIONAL or value[:1].isdigit():
                positional = True

    for tree in trees:
        Visitor().visit(tree)
    commands.sort(key=lambda c: c.span)
    return Script(commands, positional)


_OPERATORS = {"&&", "||", ";", ";;", "|", "&", "(", ")", "|&"}


def rough_commands(text: str) -> list[SimpleCommand]:
    """Simple commands by a plain tokenizer, for scripts bashlex cannot judge: words between
    operators, quotes honoured. No spans (nothing is rewritten from them); None if it cannot."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[SimpleCommand] = []
    words: list[str] = []
    try:
        tokens = list(lexer)
    except ValueError:  # an unclosed quote
        return []
    for token in [*tokens, ";"]:
        if token in _OPERATORS or (token and set(token) <= set("&|;()<>")):
            assigns = {}
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                key, _, value = words.pop(0).partition("=")
                assigns[key] = value
            if words:
                commands.append(SimpleCommand(words, ["$" not in w and "`" not in w for w in words], assigns,
                                              (-1, -1)))
            words = []
        else:
            words.append(token)
    return commands


# --- python -----------------------------------------------------------------------


def python_syntax_error(text: str) -> SyntaxError | None:
    """What ``python -c TEXT`` would die on before running anything (compile only, never exec)."""
    try:
        compile(text, "<string>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return SyntaxError(str(exc))
    return None


def describe_syntax_error(exc: SyntaxError) -> str:
    """``SyntaxError: invalid syntax (line 1: cd /app && ...)`` in one line."""
    line = (exc.text or "").strip()
    where = f" (line {exc.lineno}: {line})" if exc.lineno and line else ""
    return f"{type(exc).__name__}: {exc.msg}{where}"
