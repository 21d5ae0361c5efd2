"""The image carries what production runs and nothing else (no Docker here, so this reads
the Dockerfile and .dockerignore the way `docker build` does).

The build context is what .dockerignore lets through; the image gets the runtime lock and
the packages its COPY lines name. Its code must import with nothing but those files and
the runtime lock's distributions; the runtime lock must be exactly the tree of pyproject's
dependencies (dev and bench tools have their own locks); it runs as an unprivileged user.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devtools.stack import REPO_ROOT
from tests.deploy.compose import DOCKERFILE

DEV_ONLY = (
    "devtools",
    "fakes",
    "bench",
    "tests",
    "specs",
    "scripts",
    ".venv",
    ".stack",
    ".data",
    ".env",
)


def _pattern(glob: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match with `**`) as a regex over a path."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out + r"\Z")


def context_files(root: Path = REPO_ROOT) -> set[str]:
    """Files `docker build` sends: a later pattern wins, and a pattern that matches a
    folder matches everything in it (moby's patternmatcher)."""
    rules = []
    for line in (root / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _pattern(line.lstrip("!").strip("/"))))
    kept = set()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for negated, pattern in rules:
            if any(pattern.match(p) for p in prefixes):
                excluded = not negated
        if not excluded:
            kept.add(rel)
    return kept


def image_sources() -> set[str]:
    """Context files the Dockerfile COPYs (from the context, not between stages)."""
    sources: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += words[1:-1]
    files = context_files()
    return {f for f in files for s in sources if f == s or f.startswith(s.rstrip("/") + "/")}


def test_the_build_context_has_no_secret_and_no_development_tool() -> None:
    files = context_files()
    assert not [f for f in files if f.split("/")[0] in DEV_ONLY or f.startswith(".git/")]
    assert not [f for f in files if "__pycache__" in f]
    for wanted in (
        "bot/__main__.py",
        "workflows/__main__.py",
        "storage/migrate.py",
        "mixtape/probe.py",
        "requirements.lock",
        "pyproject.toml",
    ):
        assert wanted in files
    assert any(f.startswith("storage/migrations/versions/") for f in files)


def test_the_image_code_imports_with_runtime_dependencies_only(tmp_path: Path) -> None:
    """Every module of the image imports in an interpreter that sees only the image's files
    and the runtime lock's distributions (anything else is refused at import)."""
    image = tmp_path / "image"
    for rel in image_sources():
        if rel.endswith(".py"):
            (image / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / rel, image / rel)
    runtime = _lock_names(REPO_ROOT / "requirements.lock")
    provided = {
        top
        for top, dists in metadata.packages_distributions().items()
        if any(canonicalize_name(d) in runtime for d in dists)
    }
    ours = sorted({p.relative_to(image).parts[0] for p in image.rglob("*.py")})
    modules = sorted(
        ".".join(p.relative_to(image).with_suffix("").parts).removesuffix(".__init__")
        for p in image.rglob("*.py")
        if "migrations" not in p.parts
    )
    script = f"""
import importlib, importlib.abc, importlib.machinery, os, sys, sysconfig
ours = set({ours!r})
allowed = set({sorted(provided)!r}) | set(sys.stdlib_module_names) | {{"_distutils_hack"}}
stdlib = sysconfig.get_paths()["stdlib"]
stdlib = [stdlib, os.path.join(stdlib, "lib-dynload")]
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in ours:  # from the image's files only, never the repository's
            spec = importlib.machinery.PathFinder.find_spec(name, path or [{str(image)!r}])
            if spec is None:
                raise ModuleNotFoundError(f"{{name}} is not in the image", name=name)
            return spec
        found_in_stdlib = importlib.machinery.PathFinder.find_spec(top, stdlib) is not None
        if top not in allowed and not found_in_stdlib:
            raise ModuleNotFoundError(f"{{name}} is not in the image", name=name)
        return None
sys.meta_path.insert(0, Refuse())
for module in {modules!r}:
    importlib.import_module(module)
print(len({modules!r}), "modules imported")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=image,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(image), "PATH": "/usr/bin:/bin", "PYTHONSAFEPATH": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(m in modules for m in ("bot.__main__", "workflows.__main__", "mixtape.probe"))


def _lock_names(path: Path) -> dict[str, str]:
    """name -> version of a lock file (its own lines; `-r` includes are not followed)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "-")):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def _closure(requirements: list[str]) -> set[str]:
    """Distributions a list of requirements pulls in, as installed (markers evaluated)."""
    found: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = [""] + sorted(requirement.extras)
        key = [f"{name}[{e}]" for e in extras]
        if all(k in found for k in key):
            continue
        found.update(key)
        for wanted in extras:
            todo += [(Requirement(r), wanted) for r in metadata.requires(name) or []]
    return {k.split("[")[0] for k in found}


def test_the_runtime_lock_is_exactly_the_runtime_tree() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = _lock_names(REPO_ROOT / "requirements.lock")
    assert set(runtime) == _closure(project["dependencies"])
    dev = _lock_names(REPO_ROOT / "requirements-dev.lock")
    bench = _lock_names(REPO_ROOT / "requirements-bench.lock")
    extras = project["optional-dependencies"]
    assert _closure(extras["dev"]) <= set(runtime) | set(dev)
    assert _closure(extras["bench"]) <= set(runtime) | set(bench)
    assert not {"pytest", "mypy", "ruff", "hypothesis", "matplotlib"} & set(runtime)
    for lock in ("requirements-dev.lock", "requirements-bench.lock"):
        assert "-r requirements.lock" in (REPO_ROOT / lock).read_text().splitlines()
    for name, version in runtime.items():  # the venv the tests run in has these pins
        assert metadata.version(name) == version, name


def test_the_image_runs_as_an_unprivileged_user_and_builds_in_two_stages() -> None:
    text = DOCKERFILE.read_text()
    stages = re.split(r"(?m)^FROM\s", text)[1:]
    assert len(stages) == 2
    final = stages[-1]
    assert re.search(r"(?m)^USER\s+(?!root|0\b)\S+", final)
    assert "COPY --from=build /opt/mixtape /opt/mixtape" in final
    assert "PYTHONUNBUFFERED=1" in final
    assert "requirements-dev" not in text and "requirements-bench" not in text
    bootstrap = (REPO_ROOT / "scripts" / "bootstrap").read_text()
    assert "requirements-dev.lock -r requirements-bench.lock" in bootstrap
