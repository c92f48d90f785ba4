"""Edit gcloud exports the same way in either form: v1 YAML (`gcloud ... describe --format=yaml`)
or v2 JSON (the Admin API's form), so a test can state one change and run it on both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import DATA

FORMATS = ("v1", "v2")


class Exports:
    """A writable copy of the seed incident's exports in one form; edits are saved at once."""

    def __init__(self, folder: Path, fmt: str = "v1"):
        self.folder, self.fmt = folder, fmt
        shutil.copytree(DATA / ("seed" if fmt == "v1" else "seed_v2"), folder)

    def _path(self, kind: str) -> Path:
        return self.folder / (f"{kind}.yaml" if self.fmt == "v1" else f"{kind}.json")

    def _load(self, kind: str) -> Any:
        text = self._path(kind).read_text()
        return yaml.safe_load(text) if self.fmt == "v1" else json.loads(text)

    def _save(self, kind: str, doc: Any) -> None:
        path = self._path(kind)
        path.write_text(yaml.safe_dump(doc, sort_keys=False) if self.fmt == "v1" else json.dumps(doc, indent=2))

    def _container(self, kind: str, doc: Any) -> dict:
        if self.fmt == "v1":
            spec = doc["spec"]["template"]["spec"]
            return (spec["template"]["spec"] if kind == "job" else spec)["containers"][0]
        tpl = doc["template"]
        return (tpl["template"] if kind == "job" else tpl)["containers"][0]

    def edit(self, kind: str, change) -> None:
        doc = self._load(kind)
        change(self._container(kind, doc))
        self._save(kind, doc)

    # --- command -----------------------------------------------------------------

    def set_command(self, command: list[str] | None, args: list[str] | None, kind: str = "job") -> None:
        def change(c: dict) -> None:
            for key, value in (("command", command), ("args", args)):
                if value is None:
                    c.pop(key, None)
                else:
                    c[key] = value

        self.edit(kind, change)

    # --- env ---------------------------------------------------------------------

    def _env_item(self, name: str, secret: str | None, version: str | None, value: str | None) -> dict:
        if secret is None:
            return {"name": name, "value": value}
        if self.fmt == "v1":
            return {"name": name, "valueFrom": {"secretKeyRef": {"key": version, "name": secret}}}
        return {"name": name, "valueSource": {"secretKeyRef": {"secret": secret, "version": version}}}

    def _put(self, kind: str, item: dict) -> None:
        def change(c: dict) -> None:
            env = c.setdefault("env", [])
            for i, e in enumerate(env):
                if e["name"] == item["name"]:
                    env[i] = item
                    return
            env.append(item)

        self.edit(kind, change)

    def set_secret(self, kind: str, name: str, secret: str, version: str = "latest") -> None:
        self._put(kind, self._env_item(name, secret, version, None))

    def set_value(self, kind: str, name: str, value: str) -> None:
        self._put(kind, self._env_item(name, None, None, value))

    def drop_env(self, kind: str, name: str) -> None:
        self.edit(kind, lambda c: c.__setitem__("env", [e for e in c.get("env", []) if e["name"] != name]))

    # --- secrets.yaml ------------------------------------------------------------

    def add_secret_value(self, secret: str, version: str, value: str) -> None:
        path = self.folder / "secrets.yaml"
        data = yaml.safe_load(path.read_text()) or {}
        data.setdefault(secret, {})[version] = value
        path.write_text(yaml.safe_dump(data))

    def drop_secrets_file(self) -> None:
        (self.folder / "secrets.yaml").unlink()


def checkout(root: Path, *files: str) -> Path:
    """A folder standing for the application's repository, holding the given (empty) files."""
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[alembic]\nscript_location = migrations\n" if name.endswith(".ini") else "")
    return root
