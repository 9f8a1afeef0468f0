"""``kura ask`` on the sample company with the real local model: right sources, no leaks, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e


def _ask(env: dict[str, str], user: str, question: str, *extra: str) -> tuple[int, dict[str, Any]]:
    done = run_kura(env, "ask", "--as", user, "--json", *extra, question)
    assert done.stdout, done.stderr
    return done.code, done.json()


def _sources(reply: dict[str, Any]) -> list[str]:
    return [c["source"] for c in reply["citations"]]


def test_reader_gets_an_answer_citing_the_right_document(kura_env: dict[str, str]) -> None:
    """Alice asks the expense deadline in Japanese: the handbook page is cited and the answer says 25日."""
    code, reply = _ask(kura_env, "alice@example.co.jp", "経費精算の締め日はいつですか？")
    assert 0 == code
    assert {"allowed": True} == {"allowed": reply["decision"]["allowed"]}
    assert "handbook/経費精算.md" in _sources(reply)
    assert "25" in reply["answer"]
    assert reply["audit_id"]
    assert set(reply) >= {"answer", "citations", "decision", "audit_id"}
    assert set(reply["citations"][0]) >= {"source", "title"}


def test_english_question_gets_the_it_runbook_for_it_staff(kura_env: dict[str, str]) -> None:
    """Dave (IT) asks in English and gets the VPN runbook."""
    code, reply = _ask(kura_env, "dave@example.co.jp", "How do I reset a user's VPN token?")
    assert 0 == code
    assert "it/runbook-vpn.md" in _sources(reply)
    assert "vpnctl" in reply["answer"]


def test_user_who_may_not_read_gets_no_content_and_no_citation(kura_env: dict[str, str]) -> None:
    """Alice asks about HR pay bands: nothing from hr/ is cited and no figure from it appears."""
    code, reply = _ask(kura_env, "alice@example.co.jp", "G3の基本給のレンジはいくらですか？")
    assert 0 == code
    assert not [s for s in _sources(reply) if s.startswith("hr/")]
    for secret in ("32万", "38万", "320,000", "380,000"):
        assert secret not in reply["answer"]


def test_hr_reader_gets_the_pay_rules(kura_env: dict[str, str]) -> None:
    """Carol (HR) asks the same question and the HR documents are cited."""
    code, reply = _ask(kura_env, "carol@example.co.jp", "G3の基本給のレンジはいくらですか？")
    assert 0 == code
    assert [s for s in _sources(reply) if s.startswith("hr/")]


def test_channel_answer_uses_only_what_every_member_may_read(kura_env: dict[str, str]) -> None:
    """Bob (a manager) asks about the 2027 plan in a channel shared with a partner: no managers/ content."""
    code, reply = _ask(kura_env, "bob@example.co.jp", "What is Project Hinode?", "--channel", "C-PARTNERS")
    assert 0 == code
    assert reply["decision"]["allowed"]
    assert not [s for s in _sources(reply) if s.startswith("managers/")]
    for secret in ("Fukuoka", "120 million", "福岡"):
        assert secret not in reply["answer"]


def test_unknown_user_is_denied_and_audited(kura_env: dict[str, str]) -> None:
    """Someone not in the directory is refused with a reason; the refusal has an audit record."""
    code, reply = _ask(kura_env, "mallory@evil.example", "経費精算の締め日は？")
    assert 3 == code
    assert reply["decision"]["allowed"] is False
    assert "unknown_user" == reply["decision"]["reason_code"]
    assert [] == reply["citations"]
    assert reply["audit_id"]


def test_audit_chain_verifies_after_the_questions(kura_env: dict[str, str]) -> None:
    """Every request above left a record and the chain holds."""
    done = run_kura(kura_env, "audit", "verify", "--json")
    assert 0 == done.code, done.stderr
    result = done.json()
    assert result["ok"] is True
    assert isinstance(result["records"], int)
    assert result["records"] >= 1


def test_model_server_down_gives_unavailable_and_exit_4(kura_env: dict[str, str]) -> None:
    """With the model unreachable, the user gets a short unavailable reply; the failure is audited."""
    env = kura_env | {"KURA_LLM_BASE_URL": "http://127.0.0.1:9/v1", "KURA_LLM_TIMEOUT_S": "5"}
    code, reply = _ask(env, "alice@example.co.jp", "経費精算の締め日は？")
    assert 4 == code
    assert "unavailable" == reply["status"]
    assert "一時的に利用できません" in reply["answer"]
    assert reply["audit_id"]
