"""The deploy scripts: the entrypoint hands the database password to libpq from a secret file, and
init-secrets.sh makes the secret files with the owners and modes the containers need."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "llm", "knowledge", "policies", "migrations")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|CREDENTIAL", re.IGNORECASE)


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
