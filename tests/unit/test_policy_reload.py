"""A policy file caught half-written, cut off or still changing never loosens the policy in force."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.policy_source import ReloadingPolicy
from bot.watched_file import top_level_keys
from policies import Member, Request, decide, load_policy_text

pytestmark = pytest.mark.unit

FULL = """\
version: 1
roles:
  employee:
    actions: [ask]
    clearance: internal
groups:
  all-staff:
    roles: [employee]
channels:
  direct_messages: true
  deny: [C_SECRET]
topics:
  - name: pay
    allow: [group:hr]
    keywords: [給与, salary]
rate_limits:
  - role: employee
    requests_per_minute: 2
"""
ALICE = Member("alice@example.co.jp", frozenset({"all-staff"}))


def _source(path: Path, text: str, settle_s: float = 0) -> ReloadingPolicy:
    path.write_text(text, encoding="utf-8")
    return ReloadingPolicy(path, load_policy_text(text, str(path)), interval_s=0, settle_s=settle_s)


def _allowed(source: ReloadingPolicy, text: str, channel: str | None = None) -> bool:
    return decide(source.current(), Request("ask", ALICE, channel, (ALICE,), text=text)).allowed


def _touch_later(path: Path) -> None:
    """Make sure the next write is seen as a change even on coarse file-system clocks."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize("cut", ["topics:", "rate_limits:", "channels:"])
def test_a_file_cut_off_before_a_section_keeps_the_policy_in_force(tmp_path: Path, cut: str) -> None:
    """Every prefix of the file that ends before a section is valid YAML and a valid policy; none of
    them may take effect, because each drops a rule that was in force."""
    path = tmp_path / "policy.yaml"
    source = _source(path, FULL)
    assert not _allowed(source, "給与を教えて")
    path.write_text(FULL[: FULL.index(cut)], encoding="utf-8")
    _touch_later(path)
    assert not source.reload()
    assert source.last_error is not None
    assert cut.rstrip(":") in source.last_error
    assert not _allowed(source, "給与を教えて")
    assert not _allowed(source, "hello", "C_SECRET")


def test_removing_a_section_on_purpose_is_written_as_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    source = _source(path, FULL)
    path.write_text(FULL.replace(FULL[FULL.index("topics:") : FULL.index("rate_limits:")], "topics: []\n"))
    _touch_later(path)
    assert source.reload()
    assert source.last_error is None
    assert _allowed(source, "給与を教えて")


def test_a_version_still_being_written_waits_until_it_settles(tmp_path: Path) -> None:
    """A change takes effect only after it has stayed the same for the settle time: a write in
    progress keeps changing the file, and each new content restarts the wait."""
    path = tmp_path / "policy.yaml"
    source = _source(path, FULL, settle_s=3600)
    looser = FULL.replace("requests_per_minute: 2", "requests_per_minute: 50")
    path.write_text(looser, encoding="utf-8")
    _touch_later(path)
    assert not source.reload()
    assert not source.reload()
    assert source.current().rate_limits[0].requests_per_minute == 2


def test_a_settled_version_takes_effect(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    source = _source(path, FULL, settle_s=0.05)
    path.write_text(FULL.replace("requests_per_minute: 2", "requests_per_minute: 1"), encoding="utf-8")
    _touch_later(path)
    assert not source.reload()  # first seen: not yet
    time.sleep(0.06)
    assert source.reload()
    assert source.current().rate_limits[0].requests_per_minute == 1


@pytest.mark.parametrize(
    "broken",
    [b"", b"version: 1\nroles: {}\n\xff\xfe", b"version: [\n"],
    ids=["emptied", "not-utf8", "yaml-error"],
)
def test_an_emptied_unreadable_or_broken_file_keeps_the_policy(tmp_path: Path, broken: bytes) -> None:
    path = tmp_path / "policy.yaml"
    source = _source(path, FULL)
    before = source.current().version
    path.write_bytes(broken)
    _touch_later(path)
    assert not source.reload()
    assert source.current().version == before
    assert source.last_error


def test_a_deleted_file_keeps_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    source = _source(path, FULL)
    before = source.current().version
    path.unlink()
    assert not source.reload()
    assert source.current().version == before


def test_top_level_keys_does_not_expand_aliases() -> None:
    bomb = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"
    assert top_level_keys(bomb) == frozenset({"a", "b", "c"})
    assert top_level_keys("- a\n- b\n") == frozenset()
    assert top_level_keys("a: [\n") == frozenset()
