"""Secret handling: values become salted fingerprints; text leaving the doctor is scrubbed.

The salt is random per run and never written anywhere, so fingerprints compare equal
within one run or snapshot (job vs service) but a saved snapshot gives nothing to test
password guesses against offline.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from urllib.parse import quote, quote_plus

_SALT = os.urandom(16)
_known: set[str] = set()
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
        with _lock:
            _known.add(value)


def scrub(text: str) -> str:
    """Remove every known secret value (and its URL-encoded forms) and DSN passwords."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: m["head"] + "***" + m["at"], text)
    text = _KW_PASSWORD.sub(lambda m: m["head"] + "***", text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        for form in {value, quote(value, safe=""), quote_plus(value, safe="")}:
            if form in text:
                text = text.replace(form, "***")
    return text
