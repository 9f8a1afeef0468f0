"""The directory file is followed while Kura runs: a person removed from a group loses what the
group gave at the next check, and a cut-off or broken file never takes effect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.errors import ConfigurationError
from bot.identity import FileDirectory

pytestmark = pytest.mark.unit

DIRECTORY = """\
users:
  - email: carol@example.co.jp
    groups: [all-staff, hr]
  - email: alice@example.co.jp
    groups: [all-staff]
channels:
  C_HR:
    kind: private
    members: [carol@example.co.jp]
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()  # seen as a change even on coarse file-system clocks
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _watched(path: Path) -> FileDirectory:
    path.write_text(DIRECTORY, encoding="utf-8")
    return FileDirectory.load(path, watch=True, interval_s=0, settle_s=0)


async def _groups(directory: FileDirectory, email: str) -> frozenset[str]:
    user = await directory.user(email)
    return user.groups if user else frozenset()


async def test_a_person_removed_from_a_group_loses_it_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    directory = _watched(path)
    assert "hr" in await _groups(directory, "carol@example.co.jp")

    _write(path, DIRECTORY.replace("groups: [all-staff, hr]", "groups: [all-staff]"))

    assert "hr" not in await _groups(directory, "carol@example.co.jp")
    members = await directory.channel_members("C_HR")
    assert members is not None
    assert [frozenset({"all-staff"})] == [m.groups for m in members]


async def test_a_person_removed_from_the_file_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    directory = _watched(path)
    _write(path, DIRECTORY.replace("  - email: alice@example.co.jp\n    groups: [all-staff]\n", ""))
    assert await directory.user("alice@example.co.jp") is None


@pytest.mark.parametrize(
    "broken",
    [DIRECTORY[: DIRECTORY.index("channels:")], "users: [\n", "users:\n  - nobody: x\n", ""],
    ids=["cut-off", "yaml-error", "invalid", "emptied"],
)
async def test_a_cut_off_or_broken_file_keeps_the_directory_in_force(tmp_path: Path, broken: str) -> None:
    """A file cut before ``channels:`` would make C_HR unknown; an emptied one everyone unknown."""
    path = tmp_path / "directory.yaml"
    directory = _watched(path)
    _write(path, broken)
    assert "hr" in await _groups(directory, "carol@example.co.jp")
    assert await directory.channel_members("C_HR") is not None
    assert directory.last_error


def test_an_unusable_file_at_start_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text("users: [\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        FileDirectory.load(path, watch=True)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigurationError):
        FileDirectory.load(tmp_path / "missing.yaml")


async def test_a_directory_loaded_once_does_not_follow_the_file(tmp_path: Path) -> None:
    """``kura policy explain`` and friends read the file once; only ``watch=True`` follows it."""
    path = tmp_path / "directory.yaml"
    path.write_text(DIRECTORY, encoding="utf-8")
    directory = FileDirectory.load(path)
    _write(path, DIRECTORY.replace("groups: [all-staff, hr]", "groups: []"))
    assert "hr" in await _groups(directory, "carol@example.co.jp")
