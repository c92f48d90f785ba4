"""Bad input never crashes the doctor: malformed and adversarial exports, secrets, config and logs.

Every generated input must end either in a report (exit 0, 1 or 3, JSON on stdout, no
check raising) or in one clear line on stderr with exit 2. Never a traceback, never
unsafe YAML loading. The default run tries a few hundred examples per parser; the
`slow` runs (`pytest -m slow`) try 10,000 each.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import tomli_w
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netra_doctor.cli import cli
from netra_doctor.core.checking import load_checks

from tests.helpers import SEED

FAST, SLOW = 150, 10_000
_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False, database=None)

# checks that read no database, so generated hosts never cause a network attempt
NO_DB = [s.id for s in load_checks() if "databases" not in (*s.needs, *s.uses)]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True), st.text(max_size=40),
    st.sampled_from(["", "latest", "/cloudsql/a:b:c", "postgresql://u:p@h/db", "0", "-c", "sh", "True"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)

ADVERSARIAL_YAML = [
    "!!python/object/apply:os.system ['touch /tmp/netra-doctor-pwned']\n",
    "a: !!python/name:os.system\n",
    "kind: Service\nspec: &a [*a]\n",
    "a: &x [1, 2]\nb: [*x, *x, *x, *x]\nc: [*b, *b]\n",
    "[" * 5000 + "]" * 5000,
    "{" * 3000,
    "kind: Service\nmetadata: {name: x}\n" + "x: 1\n" * 2000,
    "\ufeffkind: Service\n",
    "kind: Service\n---\nkind: Service\n",
    "kind: Service\nspec:\n\ttemplate: {}\n",
    "%YAML 9.9\n---\nkind: Service\n",
]


def _mutate(doc, path: list, value):
    """Replace the node at ``path`` (indices into nested dicts/lists, modulo their sizes)."""
    node = doc
    for i, step in enumerate(path):
        if not isinstance(node, (dict, list)) or not node:
            break
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = keys[step % len(keys)]
        if i == len(path) - 1 or not isinstance(node[key], (dict, list)):
            node[key] = value
            return doc
        node = node[key]
    return value if not path else doc


def _folder(tmp: Path) -> Path:
    folder = tmp / "exports"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(SEED, folder)
    return folder


def _assert_outcome(cwd: Path, folder: Path, *extra: str) -> None:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(
            cli, ["staging", "--from", str(folder), "--format", "json", *extra,
                  *(a for c in NO_DB for a in ("--only", c))], catch_exceptions=True,
        )
    finally:
        os.chdir(old)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("netra-doctor: "), result.stderr
        return
    assert result.exit_code in (0, 1, 3), (result.exit_code, result.output[-500:])
    report = json.loads(result.stdout)
    errors = [c for c in report["checks"] if c["status"] == "error"]
    assert not errors, errors
    assert not Path("/tmp/netra-doctor-pwned").exists()


def _seed_doc(name: str):
    return yaml.safe_load((SEED / name).read_text())


def _export_case(tmp: Path, name: str, doc_or_text) -> None:
    folder = _folder(tmp)
    target = folder / name
    if isinstance(doc_or_text, str):
        target.write_text(doc_or_text, encoding="utf-8", errors="surrogatepass")
    elif isinstance(doc_or_text, bytes):
        target.write_bytes(doc_or_text)
    else:
        target.write_text(yaml.safe_dump(doc_or_text, allow_unicode=True))
    _assert_outcome(tmp, folder)


export_inputs = st.one_of(
    st.builds(lambda p, v: _mutate(_seed_doc("job.yaml"), p, v), st.lists(st.integers(0, 50), max_size=8), values),
    values,
    st.sampled_from(ADVERSARIAL_YAML),
    st.text(max_size=300),
    st.binary(max_size=200),
)


def _exports(n: int):
    @settings(max_examples=n, **_SETTINGS)
    @given(name=st.sampled_from(["job.yaml", "service.yaml"]), doc=export_inputs)
    def run(tmp_path_factory, name, doc):
        _export_case(tmp_path_factory.mktemp("f"), name, doc)

    return run


secrets_inputs = st.one_of(
    st.builds(lambda p, v: _mutate(_seed_doc("secrets.yaml"), p, v), st.lists(st.integers(0, 9), max_size=3), values),
    st.dictionaries(st.text(max_size=30), values, max_size=6),
    st.sampled_from(ADVERSARIAL_YAML), st.text(max_size=200),
)


def _secrets(n: int):
    @settings(max_examples=n, **_SETTINGS)
    @given(doc=secrets_inputs)
    def run(tmp_path_factory, doc):
        _export_case(tmp_path_factory.mktemp("s"), "secrets.yaml", doc)

    return run


LOG = {
    "insertId": "x1", "logName": "projects/netra-staging/logs/run.googleapis.com%2Fstderr",
    "resource": {"type": "cloud_run_revision", "labels": {"service_name": "netra-backend-staging",
                                                          "revision_name": "netra-backend-staging-00042-xqv"}},
    "severity": "ERROR", "timestamp": "2025-06-14T08:02:50.112Z",
    "textPayload": "Failed to create tables: {'subscriptions', 'credit_transactions'}",
}
logs_inputs = st.one_of(
    st.builds(lambda p, v: _mutate([dict(LOG), dict(LOG)], p, v), st.lists(st.integers(0, 9), max_size=4), values),
    st.lists(values, max_size=5), values, st.text(max_size=200),
)


def _logs(n: int):
    @settings(max_examples=n, **_SETTINGS)
    @given(doc=logs_inputs)
    def run(tmp_path_factory, doc):
        tmp = tmp_path_factory.mktemp("l")
        folder = _folder(tmp)
        text = doc if isinstance(doc, str) else json.dumps(doc, allow_nan=True)
        (folder / "logs.json").write_text(text, encoding="utf-8", errors="surrogatepass")
        _assert_outcome(tmp, folder)

    return run


config_keys = st.sampled_from(
    ["project", "region", "service", "job", "alembic_ini", "expected_tables", "proxies", "dsn", "timeout",
     "db_env", "silence", "environments", "bogus"]
)
toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=12,
)
config_inputs = st.one_of(
    st.dictionaries(config_keys, toml_values, max_size=5),
    st.fixed_dictionaries({"environments": st.dictionaries(st.sampled_from(["staging", "prod"]),
                                                           st.dictionaries(config_keys, toml_values, max_size=3))}),
    st.text(max_size=200),
)


def _config(n: int):
    @settings(max_examples=n, **_SETTINGS)
    @given(doc=config_inputs)
    def run(tmp_path_factory, doc):
        tmp = tmp_path_factory.mktemp("c")
        folder = _folder(tmp)
        text = doc if isinstance(doc, str) else tomli_w.dumps(doc)
        (tmp / "netra-doctor.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        _assert_outcome(tmp, folder)

    return run


PARSERS = {"exports": _exports, "secrets": _secrets, "logs": _logs, "config": _config}


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_generated_inputs_end_in_a_report_or_one_line(parser, tmp_path_factory):
    PARSERS[parser](FAST)(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_ten_thousand_generated_inputs(parser, tmp_path_factory):
    PARSERS[parser](SLOW)(tmp_path_factory)


def test_unsafe_yaml_tags_are_refused_not_executed(tmp_path):
    folder = _folder(tmp_path)
    (folder / "job.yaml").write_text(ADVERSARIAL_YAML[0])
    result = CliRunner().invoke(cli, ["staging", "--from", str(folder)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr
    assert not Path("/tmp/netra-doctor-pwned").exists()
