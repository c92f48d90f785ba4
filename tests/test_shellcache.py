"""A job script parsed once is answered from the kept parse, exactly as bashlex answers it, without bashlex."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from netra_doctor.cloudrun import shellcache
from netra_doctor.cloudrun.shellcmd import ShellSyntaxError, ShellUnsupported, parse_shell

SCRIPTS = [
    "cd /app && python -m alembic -c netra_backend/alembic.ini upgrade head",
    "set -e; cd /app; alembic upgrade head || exit 1",
    'DB_URL="$X" alembic -x "url=$DB_URL" upgrade $1 "$@"',
    "for f in a b; do echo $f; done | tee out.txt > /dev/null 2>&1",
    "if [ -n \"$X\" ]; then alembic upgrade head; else exit 3; fi",
    "cd /app && python -m alembic upgrade head)",  # bash refuses it: the same message and place
    "echo 'unterminated",
    "cat <<EOF\nx\nEOF\nalembic upgrade head",
    "case $x in a) echo;; esac",  # not implemented by bashlex: said, not judged
    "Ünïcödé=1 echo 'ü' \udcff",
]

PROBE = r"""
import json, sys
from netra_doctor.cloudrun.shellcmd import ShellSyntaxError, ShellUnsupported, parse_shell
out = []
for script in json.loads(sys.argv[1]):
    try:
        s = parse_shell(script)
        out.append([[c.words, c.literal, c.assignments, list(c.span)] for c in s.commands] + [s.uses_positional])
    except ShellSyntaxError as exc:
        out.append(["syntax", str(exc), exc.position])
    except ShellUnsupported as exc:
        out.append(["unsupported", str(exc)])
print(json.dumps({"parses": out, "bashlex": "bashlex" in sys.modules}))
"""


def probe(cache: Path, scripts: list[str] = SCRIPTS) -> dict:
    env = {**os.environ, "NETRA_DOCTOR_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(scripts)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_a_second_run_parses_every_script_as_the_first_without_loading_bashlex(tmp_path):
    first = probe(tmp_path)
    second = probe(tmp_path)
    assert first["bashlex"] and not second["bashlex"]
    assert second["parses"] == first["parses"]
    kinds = {p[0] if p and isinstance(p[0], str) else "script" for p in first["parses"]}
    assert kinds == {"script", "syntax", "unsupported"}  # every kind of answer came back from the store
    stored = (tmp_path / shellcache.NAME).read_text(encoding="utf-8")
    assert "netra_backend/alembic.ini" in stored and SCRIPTS[0] not in stored  # keyed by a checksum, not the text


def test_a_bashlex_or_doctor_change_is_a_new_store(tmp_path):
    probe(tmp_path, SCRIPTS[:1])
    path = tmp_path / shellcache.NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data["stamp"] = data["stamp"].replace(data["stamp"].split()[0], "0.0.0-other", 1)
    path.write_text(json.dumps(data), encoding="utf-8")
    assert probe(tmp_path, SCRIPTS[:1])["bashlex"]  # not trusted: parsed afresh


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(tmp_path))
    shellcache._STORE.clear()
    yield tmp_path / shellcache.NAME
    shellcache._STORE.clear()


def _answer(script: str):
    try:
        return parse_shell(script)
    except (ShellSyntaxError, ShellUnsupported) as exc:
        return type(exc).__name__, str(exc), getattr(exc, "position", None)


@pytest.mark.parametrize("damage", ["{not json", "[]", '{"stamp": 1}', "\x00" * 10])
def test_a_corrupt_store_costs_only_the_parse(store, damage):
    fresh = [_answer(s) for s in SCRIPTS]
    store.write_text(damage, encoding="utf-8")
    shellcache._STORE.clear()
    assert [_answer(s) for s in SCRIPTS] == fresh


def test_an_entry_of_the_wrong_shape_is_parsed_afresh(store):
    fresh = _answer(SCRIPTS[0])
    shellcache._STORE.clear()
    data = json.loads(store.read_text(encoding="utf-8"))
    for bad in ([1], {"commands": [[["cd"], [1], {}, [0, 2]]], "positional": False}, {"syntax": [3, "x"]},
                {"commands": "x"}, {"unsupported": None}, {"commands": [], "positional": "no"}):
        data["scripts"][shellcache.key(SCRIPTS[0])] = bad
        store.write_text(json.dumps(data), encoding="utf-8")
        shellcache._STORE.clear()
        assert _answer(SCRIPTS[0]) == fresh


def test_an_unwritable_folder_only_costs_the_parse(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("NETRA_DOCTOR_CACHE", str(blocked / "cache"))
    shellcache._STORE.clear()
    try:
        assert [_answer(s) for s in SCRIPTS] == [_answer(s) for s in SCRIPTS]
        assert not (blocked / "cache").exists()
    finally:
        shellcache._STORE.clear()


def test_the_store_keeps_the_newest_scripts_only(store, monkeypatch):
    monkeypatch.setattr(shellcache, "MAX_SCRIPTS", 5)
    scripts = [f"alembic upgrade rev{i}" for i in range(8)]
    for s in scripts:
        parse_shell(s)
    kept = json.loads(store.read_text(encoding="utf-8"))["scripts"]
    assert list(kept) == [shellcache.key(s) for s in scripts[-5:]]
    long = "echo " + "x" * shellcache.MAX_SCRIPT_CHARS
    parse_shell(long)
    assert shellcache.key(long) not in json.loads(store.read_text(encoding="utf-8"))["scripts"]
