"""docker-compose.yml read the way `docker compose` reads it, without Docker.

Interpolation follows the Compose Specification (12-interpolation.md): `$$` is a literal
dollar; `${VAR}` and `$VAR`; `${VAR:-default}` / `${VAR-default}`; `${VAR:?error}` /
`${VAR?error}` fail with the error. Values come from the project's `.env` (the same file
`env_file: .env` hands to the containers, in the `.env` format of compose's dotenv reader).
A service's environment is then the image's `ENV` (the Dockerfile's last stage), overlaid
with `env_file`, overlaid with `environment`, as the container gets it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from devtools.stack import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SCHEMA_FILE = REPO_ROOT / "deploy" / "compose-spec" / "compose-spec.json"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(
    rf"\$(?:(?P<escaped>\$)|\{{(?P<braced>{_NAME})(?:(?P<op>:?[-?])(?P<arg>[^}}]*))?\}}"
    rf"|(?P<plain>{_NAME}))"
)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset (or empty): compose refuses to start."""


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The file as YAML (merge keys `<<` applied), before interpolation."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def read_dotenv(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines; `#` comments, `export `, single or double quotes."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, _, value = line.partition("=")
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """One string with its variables substituted."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        value = env.get(name)
        op, arg = match["op"], match["arg"] or ""
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if unset else str(value)
        if op in (":?", "?"):
            if unset:
                raise MissingVariable(f"{name}: {arg}")
            return str(value)
        return value or ""

    return _REFERENCE.sub(substitute, text)


def resolve(node: Any, env: dict[str, str]) -> Any:
    """The whole document with every string value interpolated (keys are not)."""
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, env) for item in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def image_env(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """`ENV` of the Dockerfile's last stage (what every container of the image starts with)."""
    stages = re.split(r"(?im)^FROM\s", dockerfile.read_text())
    env: dict[str, str] = {}
    for line in re.sub(r"\\\n", " ", stages[-1]).splitlines():
        if line.strip().upper().startswith("ENV "):
            for pair in shlex.split(line.strip()[4:]):
                key, _, value = pair.partition("=")
                env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], ""), value)
    return env


def _mapping(environment: Any) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def service_env(resolved: dict[str, Any], name: str, dotenv: dict[str, str]) -> dict[str, str]:
    """What the container of service `name` gets: image ENV, env_file, environment."""
    service = resolved["services"][name]
    env = image_env() if "build" in service else {}
    env_files = service.get("env_file") or []
    for env_file in [env_files] if isinstance(env_files, str) else env_files:
        assert env_file == ".env", f"only the project's .env is modelled, not {env_file}"
        env.update({key: interpolate(value, dotenv) for key, value in dotenv.items()})
    env.update(_mapping(service.get("environment")))
    return env
