"""Secret handling: values become salted fingerprints; text leaving the doctor is scrubbed.

The salt is random per run and never written anywhere, so fingerprints compare equal
within one run or snapshot (job vs service) but a saved snapshot gives nothing to test
password guesses against offline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from urllib.parse import quote, quote_plus

_SALT = os.urandom(16)
_known: dict[str, tuple[str, ...]] = {}  # value -> its spellings, longest first
_lock = threading.Lock()

# user:password@ in any URL-like DSN, and password=... in a libpq keyword string
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<at>@)")
_KW_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)")


def fingerprint(value: str) -> str:
    """A short, salted, one-way token that is equal for equal values within this run."""
    digest = hmac.new(_SALT, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return "fp:" + digest[:12]


def remember(value: str) -> None:
    """Register a secret value so that scrub() removes it from any text that leaves."""
    if value and len(value) >= 4:
        forms = tuple(sorted(_forms(value), key=len, reverse=True))
        with _lock:
            _known.setdefault(value, forms)


def _forms(value: str) -> set[str]:
    """How a value is spelt where it may turn up: raw, URL-encoded (a DSN), JSON-escaped (a report or a
    snapshot is scrubbed as JSON text, where a non-ASCII letter or a quote is an escape sequence)."""
    return {value, quote(value, safe=""), quote(value), quote_plus(value, safe=""),
            json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def scrub(text: str) -> str:
    """Remove every known secret value (and its encoded forms), then any other DSN password.

    Known values go first: a password holding ``@`` ends the URL pattern's match early, and
    masking that part first would leave the rest of the password in the text.
    """
    if not text:
        return text
    with _lock:
        known = sorted(_known.items(), key=lambda item: len(item[0]), reverse=True)
    for _, forms in known:
        for form in forms:
            if form in text:
                text = text.replace(form, "***")
    text = _URL_PASSWORD.sub(lambda m: m["head"] + "***" + m["at"], text)
    return _KW_PASSWORD.sub(lambda m: m["head"] + "***", text)
