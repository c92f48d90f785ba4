"""A workload's containers: which one is the application, which are sidecars, and which Cloud SQL
instances a Cloud SQL Auth Proxy serves to it (a sidecar, or `cloud-sql-proxy` in the job's command).

Pure: read from the normalised ``Container``s, shared by the Cloud Run normaliser and the checks.
"""

from __future__ import annotations

import posixpath

from netra_doctor.cloudrun.shellcmd import ShellSyntaxError, ShellUnsupported, parse_shell, rough_commands
from netra_doctor.core.facts import PROXY_IMAGES, Container, Workload, is_proxy_image
from netra_doctor.core.instances import is_instance_name

DEFAULT_PORT = 5432
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def proxy_routes(words: list[str]) -> list[list[str]]:
    """[instance, "tcp:PORT" | "unix:DIR"] for a Cloud SQL Auth Proxy's argv (v2 `cloud-sql-proxy`
    and v1 `cloud_sql_proxy -instances=...`), the program word included or not."""
    routes: list[list[str]] = []
    port: int | None = None
    unix_dir: str | None = None
    v1_dir = "/cloudsql"
    positional: list[tuple[str, dict[str, str]]] = []
    i = 0
    while i < len(words):
        w = words[i]
        key, eq, value = w.partition("=")
        if key in ("--port", "-p", "--unix-socket", "-u", "-dir", "--dir") and not eq and i + 1 < len(words):
            value, eq = words[i + 1], "="
            i += 1
        if eq and key in ("--port", "-p"):
            port = int(value) if value.isdigit() else None
        elif eq and key in ("--unix-socket", "-u"):
            unix_dir = value
        elif eq and key in ("-dir", "--dir"):
            v1_dir = value
        elif eq and key in ("-instances", "--instances"):
            for item in value.split(","):
                name, _, spec = item.partition("=")
                if not is_instance_name(name):
                    continue
                if spec.startswith("tcp:"):
                    routes.append([name, f"tcp:{spec.rsplit(':', 1)[-1]}"])
                else:
                    routes.append([name, f"unix:{v1_dir}"])
        elif not w.startswith("-"):
            name, _, query = w.partition("?")
            if is_instance_name(name):
                positional.append((name, dict(p.partition("=")[::2] for p in query.split("&") if p)))
        i += 1
    for n, (name, opts) in enumerate(positional):
        if opts.get("unix-socket") or (unix_dir and "port" not in opts):
            routes.append([name, f"unix:{opts.get('unix-socket') or unix_dir}"])
        else:
            own = opts.get("port")
            routes.append([name, f"tcp:{own if own and own.isdigit() else (port or DEFAULT_PORT) + n}"])
    return routes


def _names_proxy(word: str) -> bool:
    return posixpath.basename(word) in PROXY_IMAGES


def container_proxies(c: Container) -> list[list[str]]:
    """Routes of a Cloud SQL Auth Proxy sidecar (by its image, or a command that runs the proxy)."""
    argv = [*c.command, *c.args]
    if is_proxy_image(c.image) or (argv and _names_proxy(argv[0])):
        return proxy_routes(argv)
    return []


def command_proxies(c: Container) -> list[list[str]]:
    """`cloud-sql-proxy P:R:I & alembic upgrade head`: a proxy the job's own command starts."""
    argv = [*c.command, *c.args]
    if not any(p in w for w in argv for p in PROXY_IMAGES):
        return []
    routes: list[list[str]] = []
    for text in argv:
        if not any(p in text for p in PROXY_IMAGES):
            continue
        try:
            commands = parse_shell(text).commands
        except (ShellSyntaxError, ShellUnsupported):
            commands = rough_commands(text)
        for cmd in commands:
            if cmd.words and _names_proxy(cmd.words[0]):
                routes.extend(proxy_routes(cmd.words[1:]))
    if not routes and argv and _names_proxy(argv[0]):
        routes = proxy_routes(argv[1:])
    return routes


def workload_proxies(containers: list[Container], main: Container) -> list[list[str]]:
    return [r for c in containers if c is not main for r in container_proxies(c)] + command_proxies(main)


def proxy_instance(w: Workload, host: str | None, port: int | None) -> str | None:
    """The instance a proxy of ``w`` serves at ``host``:``port`` (localhost TCP or its socket folder)."""
    if not host or not w.proxies:
        return None
    if host in LOCAL_HOSTS:
        want = f"tcp:{port or DEFAULT_PORT}"
        found = [i for i, route in w.proxies if route == want]
        return found[0] if len(found) == 1 else None
    for instance, route in w.proxies:
        if route.startswith("unix:"):
            folder = route[5:].rstrip("/")
            if host.rstrip("/") in (folder, f"{folder}/{instance}"):
                return instance
    return None


def describe(w: Workload) -> str:
    """`service S runs 3 containers: the app is api (serving port 8080); sidecars db, proxy (Cloud SQL Auth
    Proxy)`: which container the target, image and secrets were read from."""
    if len(w.containers) <= 1:
        return ""
    main = w.main
    why = f"serving port {main.ports[0]}" if main.ports else "the first that is no Cloud SQL Auth Proxy"
    parts = []
    for c in w.sidecars:
        tag = " (Cloud SQL Auth Proxy)" if container_proxies(c) or is_proxy_image(c.image) else ""
        parts.append(f"{c.name or c.image or '?'}{tag}")
    return (f"{w.kind} {w.name} runs {len(w.containers)} containers: the app is {main.name or main.image or '?'} "
            f"({why}); sidecars {', '.join(parts)}")
