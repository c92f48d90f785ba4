"""Docker's Dockerfile grammar in pure Python: instructions, flags and arguments as BuildKit's parser splits them.

The ``dockerfile`` package bound BuildKit's parser through a Go shared library, whose runtime reserves
far more address space than it uses: under ``ulimit -v 1G`` (shared CI runners) it aborted the whole
process with a Go stack trace before reading a byte. This module follows the same grammar
(moby/buildkit ``frontend/dockerfile/parser``): ``# escape=`` directives, line continuations, comments
inside continued lines, leading ``--flags``, JSON or shell form per instruction, ``KEY=value`` words
with quotes kept, and heredocs for ADD, COPY and RUN. It yields what the Go parser's nodes held, so the
Dockerfile reader lays out an image exactly as before.
"""

from __future__ import annotations

import json
import re

from netra_doctor.core.records import record

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^<<(-?)\s*([^<]*)$")
_HEREDOC_NAME = re.compile(r"^[^\s'\"]+$")
# how each instruction's arguments are split (BuildKit's dispatch table); others keep their text whole
_JSON_OR_WORDS = {"add", "copy", "volume"}
_JSON_OR_TEXT = {"cmd", "entrypoint", "run", "shell"}
_WORDS = {"expose", "from"}
_NAME_VALUES = {"env", "label"}
_TEXT = {"maintainer", "stopsignal", "user", "workdir", "onbuild"}
_HEREDOCS = {"add", "copy", "run"}


class ParseError(ValueError):
    """The Dockerfile is not one Docker would read (the message is BuildKit's)."""


@record(frozen=True)
class Heredoc:
    name: str
    content: str
    chomp: bool = False


@record(frozen=True)
class Command:
    cmd: str  # as written (`run` or `RUN`)
    sub_cmd: str | None
    json: bool
    original: str
    start_line: int  # 1-based, the first and last physical line
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]
    heredocs: tuple[Heredoc, ...] = ()


def parse_string(text: str) -> list[Command]:
    """Every instruction of ``text``; ParseError when Docker would refuse it."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    escape = "\\"
    directives, seen_escape = True, False
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        raw = _strip_newline(lines[i])
        i += 1
        if directives:
            m = _DIRECTIVE.match(raw.strip())
            if m and m.group(1).lower() == "escape":
                if seen_escape:
                    raise ParseError("only one escape parser directive can be used")
                seen_escape = True
                if m.group(2) not in ("\\", "`"):
                    raise ParseError(f"invalid escape token '{m.group(2)}' does not match ` or \\")
                escape = m.group(2)
                continue
            if not (m and raw.lstrip().startswith("#")):
                directives = False
        line = raw.lstrip()
        if line.startswith("#"):
            continue
        start = i
        line, more = _continues(line, escape)
        if not more and not line.strip():
            continue
        parts = [line]
        while more and i < len(lines):
            raw = _strip_newline(lines[i])
            i += 1
            if raw.lstrip().startswith("#") or not raw.strip():
                continue  # comments and empty lines inside a continued instruction are dropped
            raw, more = _continues(raw, escape)
            parts.append(raw)
        logical = "".join(parts)
        command = _node(logical, escape, start)
        end = i
        if command.cmd.lower() in _HEREDOCS and "<<" in logical:
            docs, written = [], [logical, "\n"]
            for name, chomp in _heredoc_names(command, escape):
                content, found = [], False
                while i < len(lines):
                    raw = lines[i]
                    i += 1
                    candidate = _strip_newline(raw)
                    if (candidate.lstrip("\t") if chomp else candidate) == name:
                        found = True
                        break
                    content.append(raw)
                written += [*content, name, "\n"]
                if not found:
                    raise ParseError(f"dockerfile line {start}: unterminated heredoc")
                docs.append(Heredoc(name, "".join(content), chomp))
            if docs:
                end = i
                command = Command(command.cmd, command.sub_cmd, command.json,
                                  "".join(written), start, end, command.flags,
                                  command.value, tuple(docs))
        commands.append(Command(command.cmd, command.sub_cmd, command.json, command.original, start, end,
                                command.flags, command.value, command.heredocs))
    if not commands:
        raise ParseError("file with no instructions")
    return commands


def _strip_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _continues(line: str, escape: str) -> tuple[str, bool]:
    """The line without a trailing escape character (spaces and tabs after it allowed), and whether it had one."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[:-1], True
    return line, False


def _node(line: str, escape: str, start: int) -> Command:
    words = _WHITESPACE.split(line.strip(), maxsplit=1)
    name = words[0]
    rest = words[1] if len(words) == 2 else ""
    flags, rest = _flags(rest, escape)
    kind = name.lower()
    sub_cmd = None
    is_json = False
    if kind == "onbuild" and rest:
        inner = _node(rest, escape, start)
        sub_cmd, is_json, value = inner.cmd, inner.json, inner.value
    elif kind in _JSON_OR_WORDS or kind in _JSON_OR_TEXT:
        listed = _json_list(rest)
        if listed is not None:
            is_json, value = True, tuple(listed)
        elif not rest:
            value = ()
        else:
            value = tuple(_WHITESPACE.split(rest)) if kind in _JSON_OR_WORDS else (rest,)
    elif kind in _WORDS:
        value = tuple(_WHITESPACE.split(rest)) if rest else ()
    elif kind == "arg":
        value = tuple(_words(rest, escape))
    elif kind in _NAME_VALUES:
        value = _name_values(rest, escape, name.upper())
    elif kind == "healthcheck":  # CMD (then JSON or shell form) or NONE
        head = _WHITESPACE.split(rest, maxsplit=1) if rest else []
        listed = _json_list(head[1]) if len(head) == 2 else None
        is_json = listed is not None
        value = (*head[:1], *(listed if listed is not None else head[1:]))
    elif kind in _TEXT:
        value = (rest,) if rest else ()
    else:  # not an instruction: kept as written, for the reader to pass over
        return Command(name, None, False, line, start, start, tuple(flags), ("",))
    return Command(name, sub_cmd, is_json, line, start, start, tuple(flags), value)


def _json_list(rest: str) -> list[str] | None:
    """``["a", "b"]`` as a list of strings; None when it is not exactly that (the shell form, then)."""
    if not rest.startswith("["):
        return None
    try:
        data = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(data, list):
        return None
    if not all(isinstance(x, str) for x in data):
        raise ParseError("when using JSON array syntax, arrays must be comprised of strings only")
    return data


def _flags(rest: str, escape: str) -> tuple[list[str], str]:
    """Leading ``--name=value`` words (quotes honoured), and the rest of the line after them."""
    flags: list[str] = []
    while rest.startswith("--"):
        word, after = _first_word(rest, escape)
        if word == "--":
            return flags, after
        flags.append(word)
        rest = after
    return flags, rest


def _first_word(text: str, escape: str) -> tuple[str, str]:
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote == '"' and i + 1 < len(text):
                i += 1
                out.append(text[i])
            else:
                out.append(ch)
        elif ch in " \t":
            break
        elif ch in "'\"":
            quote = ch
        elif ch == escape and i + 1 < len(text):
            i += 1
            out.append(text[i])
        else:
            out.append(ch)
        i += 1
    return "".join(out), text[i:].lstrip(" \t")


def _words(text: str, escape: str) -> list[str]:
    """Whitespace-separated words, quotes and escapes kept as written (BuildKit's parseWords)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    blank = True
    i = 0
    while i < len(text):
        ch = text[i]
        if blank:
            if ch.isspace():
                i += 1
                continue
            blank = False
        if not quote and ch.isspace():
            words.append("".join(word))
            word, blank = [], True
            i += 1
            continue
        if ch == escape and i + 1 < len(text) and quote != "'":
            word.append(ch + text[i + 1])
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        word.append(ch)
        i += 1
    if word:
        words.append("".join(word))
    return words


def _name_values(rest: str, escape: str, what: str) -> tuple[str, ...]:
    """ENV and LABEL: ``KEY=value`` words (quotes kept), or the old ``KEY value with spaces``."""
    words = _words(rest, escape)
    if not words:
        return ()
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ParseError(f"{what} must have two arguments")
        return (parts[0], parts[1])
    out: list[str] = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise ParseError(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        out += [key, value]
    return tuple(out)


def _heredoc_names(command: Command, escape: str) -> list[tuple[str, bool]]:
    """The heredocs a COPY, ADD or RUN line opens: ``<<EOF``, ``<<-EOF``, ``<<"EOF"`` words."""
    text = " ".join(command.value) if not command.json else ""
    found = []
    for word in _words(text, escape):
        m = _HEREDOC.match(word)
        if not m or not m.group(2):
            continue
        name = m.group(2)
        if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
            name = name[1:-1]
        if _HEREDOC_NAME.match(name):
            found.append((name, m.group(1) == "-"))
    return found
