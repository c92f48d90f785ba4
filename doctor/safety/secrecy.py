"""Secret handling: values become salted fingerprints; text leaving the doctor is scrubbed.

The salt is random per run and never written anywhere, so fingerprints compare equal
within one run or snapshot (job vs service) but a saved snapshot gives nothing to test
password guesses against offline.

Scrubbing is linear in the text: the known values' spellings are one compiled alternation
of literals (very long ones a plain substring replace), and a DSN password is found by
scanning from each ``://`` with no backtracking pattern, so a megabyte-long log line or a
huge secret costs one pass, never a quadratic search.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

_SALT = os.urandom(16)
_known: dict[str, tuple[str, ...]] = {}  # value -> its spellings, longest first
# secrets that the facts' public fields show (ports, users, instance names): one that equals such a name
# or is part of one (a password `postgres` in `staging-shared-postgres`) is left there by output scrubs,
# since the facts' free text was already redacted field by field; so a run prints what its replay prints
_public: set[str] = set()
# names the facts hold (a service, an instance, a secret's name) that contain a known secret as a part
# (`netra-backend-staging` when the password is `staging`): a name the doctor reads and prints as a
# name is not the secret, so scrubbing leaves such a name whole wherever it stands, and masks the
# secret everywhere else (free text, and the secret standing alone)
_names: set[str] = set()
MAX_NAMES = 2000
_lock = threading.Lock()
_cache: dict[bool, tuple[tuple[str, ...], re.Pattern[str] | None]] = {}
_ALTERNATION_MAX = 4096  # longer spellings are replaced as plain substrings (str.replace is linear)

# password=... in a libpq keyword string: anchored on a literal; an unterminated quote can fail
# only once per text (a later `password='` would have closed it), so this stays linear
_KW_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)")
_USER_END = re.compile(r"[:/@\s]")
_PW_END = re.compile(r"[@\s]")
_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def fingerprint(value: str) -> str:
    """A short, salted, one-way token that is equal for equal values within this run."""
    import hashlib  # here: OpenSSL's module costs a replay, which fingerprints nothing, 3 ms to load
    import hmac

    digest = hmac.new(_SALT, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return "fp:" + digest[:12]


def remember(value: str) -> None:
    """Register a secret value so that scrub() removes it from any text that leaves."""
    if value and len(value) >= 4:
        with _lock:
            if value in _known:
                return
        forms = tuple(sorted(_forms(value), key=len, reverse=True))
        with _lock:
            _known.setdefault(value, forms)
            _cache.clear()


def any_known() -> bool:
    """Has any secret value been registered (otherwise there is nothing to scrub or declare)?"""
    return bool(_known)


def declare_public(shown: str) -> None:
    """``shown`` is text the facts show as names (a port, a user, a database): output scrubs keep the
    secrets already known that stand within it. Redaction of the facts (``everything``) ignores this."""
    with _lock:
        found = {value for value in _known if value in shown} - _public
        if found:
            _public.update(found)
            _cache.clear()


def declare_names(names: set[str]) -> None:
    """``names`` are names the facts hold: each one that contains a known secret as a strict part is kept
    whole by scrubbing (a password `staging` leaves `netra-backend-staging` and the instance's name be)."""
    with _lock:
        values = list(_known)
    guarding = {n for n in names if len(n) > 4 and any(v in n and v != n for v in values)} - _names
    if guarding:
        with _lock:
            _names.update(sorted(guarding, key=len)[: max(0, MAX_NAMES - len(_names))])
            _cache.clear()


def _forms(value: str) -> set[str]:
    """How a value is spelt where it may turn up: raw, URL-encoded (a DSN), JSON-escaped (a report or a
    snapshot is scrubbed as JSON text, where a non-ASCII letter or a quote is an escape sequence)."""
    return {value, quote(value, safe=""), quote(value), quote_plus(value, safe=""),
            json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _matcher(everything: bool) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
    """(very long spellings, one alternation of the others), longest first, built once per change."""
    cached = _cache.get(everything)  # a dict read is atomic: no lock for the common case
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(everything)
        if cached is not None:
            return cached
        public = set() if everything else _public
        forms = sorted({f for value, fs in _known.items() if value not in public for f in fs if f},
                       key=len, reverse=True)
        long = tuple(f for f in forms if len(f) > _ALTERNATION_MAX)
        short = [f for f in forms if len(f) <= _ALTERNATION_MAX]
        # names first: where one starts, it is matched whole (and kept) before a secret inside it can be
        names = sorted((n for n in _names if len(n) <= _ALTERNATION_MAX), key=len, reverse=True) if short else []
        guard = f"(?P<name>{'|'.join(map(re.escape, names))})|" if names else ""
        pattern = re.compile(guard + "|".join(map(re.escape, short))) if short else None
        _cache[everything] = (long, pattern)
        return long, pattern


def _url_passwords(text: str) -> str:
    """Mask ``scheme://user:PASSWORD@`` (user without ``:/@``, password up to the first ``@``).

    One left-to-right scan: each ``://`` looks back over its scheme characters and forward to the
    first ``@`` or space; a forward scan that finds no ``@`` rules out every ``://`` it passed."""
    out: list[str] = []
    done = 0  # text[:done] is in out
    i = text.find("://")
    while i != -1:
        j = i - 1
        letter = False
        while j >= done and text[j] in _SCHEME:
            letter = letter or text[j].isalpha()
            j -= 1
        if not letter:
            i = text.find("://", i + 1)
            continue
        user_end = _USER_END.search(text, i + 3)
        if user_end is None or text[user_end.start()] != ":":
            i = text.find("://", i + 1)
            continue
        pw_start = user_end.start() + 1
        pw_end = _PW_END.search(text, pw_start)
        if pw_end is None or text[pw_end.start()] != "@":
            # no `@` before the next space (or the end): no `://` up to there can have a password
            i = text.find("://", pw_end.start() if pw_end else len(text))
            continue
        out.append(text[done:pw_start])
        out.append("***")
        done = pw_end.start()
        i = text.find("://", done + 1)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _mask(m: re.Match[str]) -> str:
    return m[0] if m.group("name") is not None else "***"


def scrub(text: str, everything: bool = False) -> str:
    """Remove every known secret value (and its encoded forms), then any other DSN password.

    Known values go first: a password holding ``@`` ends the URL scan early, and masking that part
    first would leave the rest of the password in the text. ``everything`` also masks values declared
    public (redacting the facts' free text, where such a value may be part of a secret)."""
    if not text:
        return text
    long, pattern = _matcher(everything)
    for form in long:
        if form in text:
            text = text.replace(form, "***")
    if pattern is not None:
        text = pattern.sub(_mask, text) if "(?P<name>" in pattern.pattern else pattern.sub("***", text)
    if "://" in text:
        text = _url_passwords(text)
    if "password" not in text.casefold():  # casefold: what (?i) matches (ſ is an s), at C speed
        return text
    return _KW_PASSWORD.sub(lambda m: m["head"] + "***", text)


def scrub_tree(data: Any, keep: frozenset[str] = frozenset()) -> Any:
    """A copy of JSON-shaped data with every string value scrubbed; keys, numbers and the shape stay,
    and so does whatever stands under a key in ``keep`` (words of the caller's own)."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {k: v if k in keep else scrub_tree(v, keep) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub_tree(v, keep) for v in data]
    return data
