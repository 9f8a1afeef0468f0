"""``kura minutes`` on the sample company with the real local model: one short Japanese meeting
written up (the only model run: slow on small machines), then a refusal and a broken file, which
never reach the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e

MEETING = """WEBVTT

00:00:01.000 --> 00:00:05.000
<v 田中>来月の展示会の出展について決めましょう。

00:00:06.000 --> 00:00:10.000
<v 佐藤>A社のブースの隣で出展することで決定しましょう。

00:00:11.000 --> 00:00:15.000
<v 田中>賛成です。では展示会への出展で決定です。

00:00:16.000 --> 00:00:20.000
<v 佐藤>私が金曜日までにパンフレットの見積もりを取ります。
"""
KEYS = {
    "title",
    "language",
    "summary",
    "decisions",
    "action_items",
    "open_questions",
    "source",
    "decision",
    "audit_id",
    "status",
    "delivery",
}


@pytest.fixture
def sales_meeting(tmp_path: Path) -> Path:
    """A short Japanese meeting in a folder sales may read (internal)."""
    folder = tmp_path / "sales"
    folder.mkdir()
    (folder / ".kura-access.yaml").write_text("allow: [group:sales]\nclassification: internal\n", encoding="utf-8")
    path = folder / "展示会.vtt"
    path.write_text(MEETING, encoding="utf-8")
    return path


@pytest.fixture
def minutes_env(kura_env: dict[str, str]) -> dict[str, str]:
    """The e2e data dir and model, asking llama.cpp for JSON its way, with short answers."""
    return kura_env | {
        "KURA_LLM_STRUCTURED_OUTPUT": "json_object",
        "KURA_MINUTES_EXTRACT_MAX_TOKENS": "400",
        "KURA_MINUTES_SUMMARY_MAX_TOKENS": "200",
    }


def test_a_manager_gets_japanese_minutes_as_json(minutes_env: dict[str, str], sales_meeting: Path) -> None:
    """bob (manager, in sales): exit 0, exactly the documented keys, Japanese, every action item
    with task, owner, due and refs (refs of the meeting's own cues)."""
    done = run_kura(minutes_env, "minutes", "--as", "bob@example.co.jp", str(sales_meeting), "--json")
    assert 0 == done.code, done.stderr
    reply: dict[str, Any] = done.json()
    assert KEYS == set(reply)
    assert ("done", "ja") == (reply["status"], reply["language"])
    assert {"allowed": True, "reason": "allowed"} == reply["decision"]
    assert {"kind": "file", "id": str(sales_meeting.resolve())} == reply["source"]
    assert reply["audit_id"]
    assert reply["delivery"] is None
    assert isinstance(reply["title"], str)
    assert reply["title"]
    cues = {"00:00:01", "00:00:06", "00:00:11", "00:00:16"}
    for item in reply["action_items"]:
        assert {"task", "owner", "due", "refs"} == set(item)
        assert set(item["refs"]) <= cues
    for decision in reply["decisions"]:
        assert {"text", "refs"} == set(decision)
        assert set(decision["refs"]) <= cues


def test_an_employee_is_refused_with_exit_3(minutes_env: dict[str, str], sales_meeting: Path) -> None:
    """alice may read the file but may not have minutes (policy): exit 3, refusal in the JSON."""
    done = run_kura(minutes_env, "minutes", "--as", "alice@example.co.jp", str(sales_meeting), "--json")
    assert 3 == done.code, done.stderr
    reply = done.json()
    assert ("refused", {"allowed": False, "reason": "action_not_allowed"}) == (reply["status"], reply["decision"])
    assert ([], []) == (reply["decisions"], reply["action_items"])


def test_a_broken_word_file_is_exit_2_with_one_line(minutes_env: dict[str, str], tmp_path: Path) -> None:
    """A .docx that is not a Word file: exit 2, one line on stderr naming it, no traceback."""
    folder = tmp_path / "sales"
    folder.mkdir()
    (folder / ".kura-access.yaml").write_text("allow: [group:sales]\nclassification: internal\n", encoding="utf-8")
    broken = folder / "議事録.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    done = run_kura(minutes_env, "minutes", "--as", "bob@example.co.jp", str(broken))
    assert 2 == done.code
    lines = done.stderr.strip().splitlines()
    assert 1 == len(lines), done.stderr
    assert "議事録.docx" in lines[0]
    assert "Traceback" not in done.stderr
    assert "" == done.stdout
