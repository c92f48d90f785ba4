"""SQL identifiers in printed fixes: quoted exactly as PostgreSQL's quote_ident would, so psql reads
back the same name."""

from __future__ import annotations

import re

_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
# reserved words that cannot stand unquoted as a schema or role name
_RESERVED_WORDS = (
    "all analyse analyze and any array as asc authorization both case cast check collate column constraint create "
    "current_role current_user default desc distinct do else end except false for foreign from grant group having "
    "in initially intersect into leading limit localtime not null offset on only or order placing primary "
    "references returning select session_user some symmetric table then to trailing true union unique user "
    "using variadic when where window with"
)
_RESERVED = frozenset(_RESERVED_WORDS.split())


def quote_ident(name: str) -> str:
    """Bare only when that reads back the same name."""
    if _PLAIN.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'
