"""The scrubber is linear: a megabyte-long log line or a huge secret costs one pass, never a hang.

The pathological inputs run in a subprocess with a timeout and a memory limit, so a regression
fails here instead of hanging CI. No timing is asserted beyond that bound (figures are in
benchmarks/bench_growth.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st
from netra_doctor.safety import secrecy

# the pattern the scrubber used before: the reference for what a DSN password is
_OLD_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<at>@)")


def _run_limited(code: str, timeout: float = 60, memory_mb: int = 1024) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter with an address-space limit; a hang is a TimeoutExpired."""
    prelude = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} * 2**20, {memory_mb} * 2**20))
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1+:/@ \t\n.-%é")), max_size=60))
def test_dsn_passwords_are_masked_exactly_where_the_old_pattern_masked_them(text: str) -> None:
    expected = _OLD_URL_PASSWORD.sub(lambda m: m["head"] + "***" + m["at"], text)
    assert secrecy._url_passwords(text) == expected


def test_a_dsn_password_is_masked_and_the_rest_kept() -> None:
    line = "connect postgresql+psycopg://app:s3cr%40t@10.0.0.1:5432/db failed; retry redis://:pw@cache:6379/0"
    assert secrecy.scrub(line) == "connect postgresql+psycopg://app:***@10.0.0.1:5432/db failed; retry redis://:***@cache:6379/0"


def test_a_one_megabyte_log_line_is_scrubbed_in_one_pass() -> None:
    """Tokens that made the old pattern quadratic (2 s at 20 KB, 26 s at 100 KB): a long run of scheme
    characters, a `://` with no `@` after it, many `://` in one token, and many `password=` keys."""
    result = _run_limited("""
        from netra_doctor.safety import secrecy
        for i in range(40):
            secrecy.remember(f"Known-Secret-{i:03d}-value")
        mb = 2**20
        lines = {
            "scheme run": "a" * mb,
            "no at": "postgresql://user:" + "p" * mb,
            "many schemes": "a://b:" * (mb // 6),
            "many keywords": "password='x y " * (mb // 14),
            "secret inside": "x" * (mb // 2) + "Known-Secret-007-value" + "y" * (mb // 2),
        }
        for name, line in lines.items():
            out = secrecy.scrub(line)
            assert "Known-Secret" not in out, name
        print("ok")
    """, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_a_nineteen_megabyte_secret_is_remembered_and_scrubbed() -> None:
    """Under the exports' 20 MiB cap: its spellings (URL-encoded, JSON-escaped) are several times its
    size, so they are replaced as plain substrings, not compiled into one pattern."""
    result = _run_limited("""
        from netra_doctor.safety import secrecy
        secret = "Zk9:/@" + "q" * (19 * 2**20)
        secrecy.remember(secret)
        secrecy.remember("short-secret-value")
        out = secrecy.scrub("dsn=postgresql://u:" + secret + "@h/db and short-secret-value")
        assert out == "dsn=postgresql://u:***@h/db and ***", out[:200]
        print("ok")
    """, timeout=90, memory_mb=2048)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_scrub_tree_keeps_keys_numbers_and_shape() -> None:
    secrecy.remember("9931")  # a secret that looks like a number and a key
    secrecy.remember("status-9931")
    data = {"status-9931": 9931, "port": 9931, "text": "port 9931, key status-9931", "list": ["9931", 1.5, None]}
    assert secrecy.scrub_tree(data) == {"status-9931": 9931, "port": 9931, "text": "port ***, key ***",
                                        "list": ["***", 1.5, None]}
