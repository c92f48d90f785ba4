"""The one gate for text that came from outside (exports, logs, secret and catalog names, files).

Everything such text reaches (a terminal, a Markdown block, a JUnit file, a printed fix) goes
through here: control characters (C0, DEL, C1), bidi overrides and line separators are shown
escaped (``\\x1b``, ``\\u202e``), so a log line cannot clear the screen, set the window title,
write the clipboard (OSC 52) or reorder what a reader sees; lines are bounded. Names placed in a
printed shell command are shell-quoted and names placed in SQL are quoted as PostgreSQL quotes
identifiers, so a pasted fix runs exactly the argv it shows.
"""

from __future__ import annotations

import re
import shlex

MAX_LINE = 4000  # characters per line of untrusted text (evidence, messages); a fix is never cut

# C0 controls but \t and \n, DEL, C1 controls, and the invisible reorderers and separators
# (and lone surrogates, from undecodable bytes, and the non-characters XML 1.0 cannot hold)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
                      "\ud800-\udfff\ufffe\uffff]")
_CONTROL_OR_BREAK = re.compile(_CONTROL.pattern[:-1] + "\t\n]")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def clean(text: str, max_line: int = MAX_LINE) -> str:
    """Multi-line text for a reader: controls escaped, ``\\n``/``\\t`` kept, each line bounded."""
    text = _CONTROL.sub(_escape, text)
    if max_line and len(text) > max_line:
        text = "\n".join(_bound(line, max_line) for line in text.split("\n"))
    return text


def clean_line(text: str, max_line: int = MAX_LINE) -> str:
    """One line for a reader (a table cell, an attribute, a fix item): ``\\n`` and ``\\t`` escaped too."""
    return _bound(_CONTROL_OR_BREAK.sub(_escape, text), max_line)


def _bound(line: str, max_line: int) -> str:
    if not max_line or len(line) <= max_line:
        return line
    return f"{line[:max_line]}… ({len(line) - max_line} more characters)"


def shell_word(value: str) -> str:
    """``value`` as one shell word (``shlex.quote``), after the gate: what is shown is what runs."""
    return shlex.quote(clean_line(value, 0))


_SQL_PLAIN = re.compile(r"[a-z_][a-z0-9_]*\Z")  # quote_ident: lowercase, digits, _ only
_SQL_QUOTED = re.compile(r'"(?:[^"]|"")+"\Z')
# PostgreSQL's key words that quote_ident quotes (every category but "unreserved": reserved,
# type/function names, column names; PostgreSQL 17's kwlist.h): bare, one would not read back as a name
_SQL_KEYWORDS = (
    "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create "
    "current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc "
    "distinct do else end except false fetch for foreign from grant group having in initially intersect into "
    "lateral leading limit localtime localtimestamp not null offset on only or order placing primary references "
    "returning select session_user some symmetric system_user table then to trailing true union unique user using "
    "variadic when where window with "
    "authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull join left "
    "like natural notnull outer overlaps right similar tablesample verbose "
    "between bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout "
    "int integer interval json json_array json_arrayagg json_exists json_object json_objectagg json_query "
    "json_scalar json_serialize json_table json_value least merge_action national nchar none normalize nullif "
    "numeric out overlay position precision real row setof smallint substring time timestamp treat trim values "
    "varchar xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot "
    "xmlserialize xmltable"
)
_SQL_RESERVED = frozenset(_SQL_KEYWORDS.split())


def sql_ident(name: str) -> str:
    """An SQL identifier as PostgreSQL's ``quote_ident`` writes it: bare only when it reads back the same.

    A value that already is one well-formed quoted identifier is kept (checks may pass them quoted).
    """
    name = clean_line(name, 0)  # first: a quoted identifier may hold control characters too
    if _SQL_QUOTED.match(name):
        return name
    return quote_ident(name)


def quote_ident(name: str) -> str:
    """A name from the catalog as PostgreSQL's ``quote_ident`` writes it (the one rule, for every check)."""
    if _SQL_PLAIN.match(name) and name not in _SQL_RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_ident_list(value: str) -> str:
    """A comma-separated list of identifiers (a search_path), each quoted as above."""
    parts = re.findall(r'"(?:[^"]|"")*"|[^,]+', value)
    return ", ".join(sql_ident(p.strip()) for p in parts if p.strip())


# --- filling fix templates ------------------------------------------------------------------------

FIELD = re.compile(r"\{(\w+)\}")
MULTI_WORD = frozenset({"heads"})  # a space-separated list: one shell word per item
SQL_IDENTS = frozenset({"user", "schema", "owner"})
SQL_IDENT_LISTS = frozenset({"search_path"})


def _missing(key: str) -> str:
    """An unknown value stays a visible ``<key>``: a pasted command with it fails to parse, never runs."""
    return f"<{key}>"


def fill_command(template: str, values: dict[str, str]) -> str:
    """A shell command template filled so that each value is exactly one word (or, for list keys,
    one word per item) of the printed command; the template's own text is kept as written."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c.isspace():
            out.append(c)
            i += 1
            continue
        if c == "#":  # a comment to the end: prose, where only a line break could do harm
            out.append(fill_prose(template[i:], values))
            break
        j = _word_end(template, i)
        out.append(_fill_word(template[i:j], values))
        i = j
    return "".join(out)


def _fill_word(word: str, values: dict[str, str]) -> str:
    if not FIELD.search(word):
        return word
    if "'" in word or '"' in word:  # a quoted template word: fill its text, quote the whole word again
        [inner] = shlex.split(word)
        return shell_word(FIELD.sub(lambda m: values.get(m[1]) or _missing(m[1]), inner))
    parts: list[str] = []
    pos = 0
    for m in FIELD.finditer(word):
        parts.append(word[pos:m.start()])
        value = values.get(m[1])
        if not value:
            parts.append(_missing(m[1]))
        elif m[1] in MULTI_WORD and m.group() == word:
            parts.append(" ".join(shell_word(v) for v in value.split()))
        else:
            parts.append(shell_word(value))
        pos = m.end()
    parts.append(word[pos:])
    return "".join(parts)


def fill_sql(template: str, values: dict[str, str]) -> str:
    """An SQL template: identifiers quoted as PostgreSQL quotes them; composite values (whole
    statements a check built with quoted identifiers) go in as they are, through the gate."""
    def one(m: re.Match[str]) -> str:
        value = values.get(m[1])
        if not value:
            return _missing(m[1])
        if m[1] in SQL_IDENTS:
            return sql_ident(value)
        if m[1] in SQL_IDENT_LISTS:
            return sql_ident_list(value)
        return clean_line(value, 0)

    return FIELD.sub(one, template)


def fill_prose(template: str, values: dict[str, str]) -> str:
    """A step a person reads: values through the gate, on one line."""
    return FIELD.sub(lambda m: clean_line(values[m[1]], 0) if values.get(m[1]) else _missing(m[1]), template)


def _word_end(text: str, i: int) -> int:
    """Where the shell word starting at ``i`` ends: quotes, backslashes and ``$( )`` keep it whole."""
    j, n, quote, depth = i, len(text), None, 0
    while j < n:
        ch = text[j]
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                j += 1
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            j += 1
        elif ch == "$" and text[j + 1:j + 2] == "(":
            depth += 1
            j += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch.isspace() and not depth:
            break
        j += 1
    return j


def shell_words(command: str) -> tuple[list[str], str]:
    """A printed command's words as written (quotes kept) and its trailing ``# comment``, if any."""
    words: list[str] = []
    i, n = 0, len(command)
    while i < n:
        if command[i].isspace():
            i += 1
            continue
        if command[i] == "#":
            return words, command[i:]
        j = _word_end(command, i)
        words.append(command[i:j])
        i = j
    return words, ""


def wrap_command(command: str, width: int | None, first: str, rest: str) -> list[str]:
    """A shell command on lines of ``width`` joined with `` \\`` continuations: pasted, it is the same
    command. Breaks only between words; a word longer than the line stays whole."""
    if width is None or len(first) + len(command) <= width:
        return [first + command]
    words, comment = shell_words(command)
    if not words:
        return [first + command]
    lines, line = [], first + words[0]
    for word in words[1:]:
        if len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = rest + word
        else:
            line += " " + word
    if comment:
        if len(line) + 3 + len(comment) > width:
            lines.append(line + " \\")
            line = rest + comment
        else:
            line += "   " + comment
    return [*lines, line]
