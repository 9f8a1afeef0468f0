"""Channel, topic, rate-limit, routing and retention rules: allowed and denied, with file:line checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy_source import ReloadingPolicy
from policies import Classification, Member, Request, decide, load_policy_text
from policies.guards import endpoints_for
from policies.loader import check_policy_text
from policies.model import Retention, Usage
from policies.sections import parse_days

pytestmark = pytest.mark.unit

BASE = """\
version: 1
roles:
  employee:
    actions: [ask]
    clearance: internal
  manager:
    actions: [ask]
    clearance: confidential
groups:
  all-staff:
    roles: [employee]
  managers:
    roles: [manager]
"""
ALICE = Member("alice@example.co.jp", frozenset({"all-staff"}))
CAROL = Member("carol@example.co.jp", frozenset({"all-staff", "hr"}))
BOB = Member("bob@example.co.jp", frozenset({"all-staff", "managers"}))


def _ask(policy_text: str, who: Member = ALICE, **kw: object) -> tuple[bool, str]:
    policy = load_policy_text(BASE + policy_text, "p.yaml")
    decision = decide(policy, Request("ask", who, **kw))  # type: ignore[arg-type]
    return decision.allowed, decision.reason_code


def test_direct_messages_can_be_turned_off() -> None:
    """DMs off: a direct question is refused, a channel one is not."""
    rules = "channels:\n  direct_messages: false\n"
    assert (False, "direct_messages_off") == _ask(rules)
    assert (True, "allowed") == _ask(rules, channel_id="C1", channel_members=(ALICE,))


def test_channel_allow_and_deny_lists() -> None:
    """Deny wins for listed channels; with an allow list, other channels are refused."""
    assert (False, "channel_denied") == _ask("channels:\n  deny: [C1]\n", channel_id="C1", channel_members=(ALICE,))
    allow = "channels:\n  allow: [C2]\n"
    assert (False, "channel_not_allowed") == _ask(allow, channel_id="C1", channel_members=(ALICE,))
    assert (True, "allowed") == _ask(allow, channel_id="C2", channel_members=(ALICE,))


def test_ephemeral_channel_answers_use_the_askers_own_rights() -> None:
    """visibility: direct makes a channel answer private, so the scope is the asker's alone."""
    policy = load_policy_text(BASE + "channels:\n  visibility: direct\n", "p.yaml")
    decision = decide(policy, Request("ask", BOB, "C1", (BOB, ALICE)))
    assert decision.allowed
    assert "direct" == decision.visibility
    assert decision.scope is not None
    assert 1 == len(decision.scope.principal_sets)
    assert Classification.CONFIDENTIAL == decision.scope.clearance


TOPIC = """\
topics:
  - name: compensation
    allow: [group:hr]
    keywords: [給与, salary]
    examples: ["G3の給与はいくら？"]
    threshold: 0.9
    message:
      ja: 給与の質問は人事部のみです。
      en: Pay questions are for HR only.
"""


def test_topic_keyword_blocks_others_with_the_rules_own_message() -> None:
    """A keyword hit from outside the allowed group is refused with the topic's message."""
    policy = load_policy_text(BASE + TOPIC, "p.yaml")
    denied = decide(policy, Request("ask", ALICE, text="G3の給与を教えて"))
    assert (False, "topic_restricted") == (denied.allowed, denied.reason_code)
    assert "給与の質問は人事部のみです。" == denied.message_ja
    assert "Pay questions are for HR only." == denied.message_en
    assert any("compensation" in r and "p.yaml:" in r for r in denied.rules)
    assert decide(policy, Request("ask", CAROL, text="G3の給与を教えて")).allowed


def test_topic_similarity_blocks_without_keywords() -> None:
    """No keyword, but the question is close to an example: refused; below the threshold: allowed."""
    policy = load_policy_text(BASE + TOPIC, "p.yaml")
    close = Request("ask", ALICE, text="G3 pay?", topic_scores={"compensation": 0.93})
    far = Request("ask", ALICE, text="G3 pay?", topic_scores={"compensation": 0.80})
    assert "topic_restricted" == decide(policy, close).reason_code
    assert decide(policy, far).allowed


LIMITS = """\
rate_limits:
  - role: employee
    requests_per_minute: 2
    tokens_per_day: 1000
  - role: manager
    requests_per_minute: 10
"""


def test_rate_limits_per_role_most_generous_wins() -> None:
    """An employee over 2/min is refused; a manager (also an employee) gets the manager's 10/min."""
    assert (False, "rate_limited") == _ask(LIMITS, usage=Usage(requests_last_minute=2))
    assert (True, "allowed") == _ask(LIMITS, usage=Usage(requests_last_minute=1))
    assert (False, "rate_limited") == _ask(LIMITS, usage=Usage(tokens_today=1000))
    assert (True, "allowed") == _ask(LIMITS, BOB, usage=Usage(requests_last_minute=5, tokens_today=10**6))


def test_routing_above_public_to_the_second_endpoint_is_rejected_with_its_line() -> None:
    """A policy sending internal data to the second endpoint does not load."""
    text = BASE + "routing:\n  public: [secondary, local]\n  internal: [secondary]\n"
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert any(
        e.startswith("p.yaml:") and "internal data may only be routed to the local model" in e for e in report.errors
    )


def test_endpoints_second_lock_ignores_a_bad_routing_table() -> None:
    """Even a Policy built by hand with internal -> secondary keeps internal data local."""
    policy = load_policy_text(BASE + "routing:\n  public: [secondary, local]\n", "p.yaml")
    assert ("secondary", "local") == endpoints_for(policy, Classification.PUBLIC)
    policy.routing["internal"] = ("secondary",)
    assert ("local",) == endpoints_for(policy, Classification.INTERNAL)
    assert ("local",) == endpoints_for(policy, Classification.SECRET)


def test_check_reports_overlaps_unknown_roles_and_conflicting_channels() -> None:
    """Overlapping topic keywords warn; a rate limit for an unknown role and a channel both allowed and
    denied are errors, each with its line."""
    text = BASE + (
        "channels:\n  allow: [C1]\n  deny: [C1]\n"
        "topics:\n  - name: a\n    allow: [group:hr]\n    keywords: [給与]\n"
        "  - name: b\n    allow: [group:hr]\n    keywords: [給与]\n"
        "rate_limits:\n  - role: wizard\n    requests_per_minute: 1\n"
    )
    report = check_policy_text(text, "p.yaml")
    lines = text.splitlines()
    assert any(
        f"p.yaml:{lines.index('  deny: [C1]') + 1}:" in e and "both allowed and denied" in e for e in report.errors
    )
    assert any("unknown role 'wizard'" in e for e in report.errors)
    assert any("overlap" in w for w in report.warnings)


def test_reload_takes_a_good_file_and_keeps_the_old_policy_on_a_broken_one(tmp_path: Path) -> None:
    """A valid edit takes effect; a broken edit leaves the previous policy in force (fail closed)."""
    path = tmp_path / "policy.yaml"
    path.write_text(BASE, encoding="utf-8")
    source = ReloadingPolicy(path, load_policy_text(BASE, str(path)), interval_s=0, settle_s=0)
    first = source.current().version
    path.write_text(BASE + "channels:\n  direct_messages: false\n", encoding="utf-8")
    assert source.reload()
    second = source.current()
    assert first != second.version
    assert not second.channels.direct_messages
    path.write_text("version: [\n", encoding="utf-8")
    assert not source.reload()
    assert second.version == source.current().version
    assert source.last_error is not None


def test_check_against_the_directory_reports_unknown_groups() -> None:
    """Groups the policy maps, or topics allow, that nobody in the directory belongs to are warned about."""
    text = (
        BASE
        + "  auditors:\n    roles: [employee]\ntopics:\n  - name: t\n    allow: [group:ghosts]\n    keywords: [x]\n"
    )
    report = check_policy_text(text, "p.yaml", frozenset({"all-staff", "managers"}))
    assert any("'auditors' is not in the directory" in w for w in report.warnings)
    assert any("unknown group 'group:ghosts'" in w for w in report.warnings)
    assert report.policy is not None


@pytest.mark.parametrize(
    ("value", "days"),
    [(30, 30), ("90", 90), ("90d", 90), ("12w", 84), ("1y", 365), (" 2Y ", 730), ("forever", None), (None, None)],
)
def test_retention_periods(value: int | str | None, days: int | None) -> None:
    """Days, weeks and years; ``forever`` or nothing keeps data for good."""
    assert days == parse_days(value)


@pytest.mark.parametrize("value", [0, -1, "0d", "90 days", "3m", "1.5y", "", True])
def test_retention_periods_that_are_not(value: int | str) -> None:
    """Zero, negatives, months (minutes?), fractions and words are refused."""
    with pytest.raises(ValueError, match="period"):
        parse_days(value)


def test_retention_per_data_class_with_its_line() -> None:
    """The section becomes a Retention value; a bad period is an error at its line; text kept
    longer than its record is a warning; no section means the settings decide."""
    policy = load_policy_text(BASE + "retention:\n  question_text: 30d\n  answer_text: 90d\n  audit_metadata: 1y\n")
    assert Retention(30, 90, 365, line=14, minutes_text_days=90) == policy.retention  # minutes as answers
    own = load_policy_text(BASE + "retention:\n  answer_text: 90d\n  minutes_text: 2y\n  audit_metadata: 3y\n")
    assert own.retention is not None
    assert (90, 730) == (own.retention.answer_text_days, own.retention.minutes_text_days)
    assert load_policy_text(BASE).retention is None
    bad = check_policy_text(BASE + "retention:\n  answer_text: 90 days\n", "p.yaml")
    expected = "p.yaml:15: retention.answer_text: '90 days' is not a period (e.g. 90, 90d, 12w, 1y, forever)"
    assert [expected] == bad.errors
    unknown = check_policy_text(BASE + "retention:\n  chat_logs: 30d\n", "p.yaml")
    assert 1 == len(unknown.errors)
    assert unknown.errors[0].startswith("p.yaml:15: retention.chat_logs: Extra inputs")
    longer = check_policy_text(BASE + "retention:\n  answer_text: 2y\n  audit_metadata: 1y\n", "p.yaml")
    assert [] == longer.errors
    tail = "outlives audit_metadata (365 days): the text goes with its record"
    assert [
        f"p.yaml:15: retention.answer_text (730 days) {tail}",
        f"p.yaml:14: retention.question_text (forever) {tail}",
    ] == sorted(longer.warnings, reverse=True)


KANA_TOPIC = """\
topics:
  - name: compensation
    allow: [group:hr]
    keywords: [給与, salary, キュウヨ, "base pay", ＢＯＮＵＳ, "G3 給与"]
"""


@pytest.mark.parametrize(
    "text",
    [
        "ＳＡＬＡＲＹ table?",  # full-width
        "What is my SALARY?",
        "給\u200b与は？",  # zero-width space inside
        "給\u2060与は？",  # word joiner inside
        "給\u00ad与は？",  # soft hyphen inside
        "給\ufe00与は？",  # variation selector inside
        "給 与は？",  # a space inside a Japanese keyword
        "給\u3000与は？",  # an ideographic space
        "給\n与は？",
        "ｷｭｳﾖ明細",  # half-width katakana
        "きゅうよ",  # hiragana for the katakana keyword
        "sal\u200dary",
        "s\u0430l\u0430ry",  # Cyrillic а
        "ѕаlаrу",  # all Cyrillic look-alikes
        "sa\u0301lary",  # a combining mark
        "BASE  PAY",  # spaces collapse in a multi-word keyword
        "base\u00a0pay",  # no-break space
        "ｂｏｎｕｓ",
        "G3給与",  # a keyword's own space is optional in Japanese
        "g 3 給 与",
    ],
)
def test_topic_keywords_match_however_they_are_typed(text: str) -> None:
    """Keyword and question are folded alike (NFKC, case, invisible characters, look-alikes, spaces
    in Japanese): width, case and hidden characters do not get a restricted question through."""
    policy = load_policy_text(BASE + KANA_TOPIC, "p.yaml")
    assert "topic_restricted" == decide(policy, Request("ask", ALICE, text=text)).reason_code


@pytest.mark.parametrize("text", ["ship a year", "Pa Yokohama office", "給付と与党", "給料と賞与"])
def test_topic_keywords_do_not_match_across_words_in_english(text: str) -> None:
    """Spaces are dropped for Japanese keywords only: English words do not run together into one
    ("ship a year" is not "pay"), and a Japanese keyword still needs its characters in a row."""
    rules = "topics:\n  - name: t\n    allow: [group:hr]\n    keywords: [pay, salary, 給与]\n"
    policy = load_policy_text(BASE + rules, "p.yaml")
    assert decide(policy, Request("ask", ALICE, text=text)).allowed


def test_topic_keywords_are_folded_when_the_policy_loads() -> None:
    """A keyword written full-width, upper case or with a hidden character is stored folded, and two
    spellings of one keyword are reported as an overlap."""
    policy = load_policy_text(BASE + KANA_TOPIC, "p.yaml")
    assert ("給与", "salary", "キュウヨ", "base pay", "bonus", "g3給与") == policy.topics[0].keywords
    kana = "topics:\n  - name: t\n    allow: [group:hr]\n    keywords: [きゅうよ]\n"
    hiragana = load_policy_text(BASE + kana, "p.yaml")
    assert ("キュウヨ",) == hiragana.topics[0].keywords
    twice = (
        "topics:\n  - name: a\n    allow: [group:hr]\n    keywords: [ＳＡＬＡＲＹ]\n"
        "  - name: b\n    allow: [group:hr]\n    keywords: [salary]\n"
    )
    assert any("overlap" in w for w in check_policy_text(BASE + twice, "p.yaml").warnings)
