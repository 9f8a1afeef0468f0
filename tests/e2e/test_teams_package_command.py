"""``kura teams package`` as an operator runs it: a one-line error without the app id, a zip with it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e

BOT = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("app_id", [None, "", "   "])
def test_missing_app_id_is_one_line_and_exit_2(fresh_env: dict[str, str], tmp_path: Path, app_id: str | None) -> None:
    env = fresh_env if app_id is None else fresh_env | {"KURA_TEAMS_APP_ID": app_id}
    out = tmp_path / "p.zip"
    done = run_kura(env, "teams", "package", "--out", str(out), timeout=120)
    assert 2 == done.code
    assert 1 == len(done.stderr.strip().splitlines())
    assert "KURA_TEAMS_APP_ID" in done.stderr
    assert not out.exists()


def test_package_is_written_and_described(fresh_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "kura-teams.zip"
    env = fresh_env | {"KURA_TEAMS_APP_ID": BOT}
    done = run_kura(env, "teams", "package", "--out", str(out), "--host", "Kura.Example.com", "--json", timeout=120)
    assert 0 == done.code, done.stderr
    reply = done.json()
    assert reply["path"] == str(out.resolve())
    assert reply["manifest_version"] == "1.22"
    files = reply["files"]
    assert isinstance(files, list)
    assert sorted(["manifest.json", "ja-jp.json", "color.png", "outline.png"]) == sorted(files)
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == reply["app_id"]
    assert manifest["bots"][0]["botId"] == BOT
    assert ["kura.example.com"] == manifest["validDomains"]
    assert not (Path(fresh_env["KURA_DATA_DIR"]) / "postgres").exists()  # no database started for this


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--host", "*.example.com"), "host"),
        (("--app-version", "1.0"), "MAJOR.MINOR.PATCH"),
        (("--privacy-url", "http://x"), "https"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    fresh_env: dict[str, str], tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    out = tmp_path / "p.zip"
    done = run_kura(fresh_env | {"KURA_TEAMS_APP_ID": BOT}, "teams", "package", "--out", str(out), *args, timeout=120)
    assert 2 == done.code
    assert 1 == len(done.stderr.strip().splitlines())
    assert needle in done.stderr
    assert not out.exists()


def test_default_out_is_in_the_current_folder(
    fresh_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = run_kura(fresh_env | {"KURA_TEAMS_APP_ID": BOT}, "teams", "package", timeout=120)
    assert 0 == done.code, done.stderr
    assert (tmp_path / "kura-teams.zip").is_file()
