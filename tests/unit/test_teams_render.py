"""Kura's replies as Teams activities (bot/adapters/teams/render.py), checked on the wire form the
SDK sends (``model_dump(mode="json", by_alias=True, exclude_none=True)``)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.teams.render import (
    ABSTRACT_LIMIT,
    TEXT_LIMIT,
    TITLE_LIMIT,
    answer_activity,
    citations_of,
    markdown,
    text_activity,
)
from bot.core.sanitize import sanitize_label
from bot.core.types import Citation, Reply, ReplyStatus
from policies.model import Decision

pytestmark = pytest.mark.unit

ALLOWED = Decision(True, "ok", "allowed")
DENIED = Decision(False, "topic_denied", "denied")


def _reply(
    text: str,
    citations: tuple[Citation, ...] = (),
    *,
    status: ReplyStatus = "answered",
    audit_id: str | None = "rec-1",
    language: Any = "ja",
) -> Reply:
    return Reply(status, text, citations, ALLOWED if status == "answered" else DENIED, audit_id, language)


def _wire(reply: Reply) -> dict[str, Any]:
    wire: dict[str, Any] = answer_activity(reply).model_dump(mode="json", by_alias=True, exclude_none=True)
    return wire


def _ai_entities(wire: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in wire.get("entities") or [] if e.get("type") == "https://schema.org/Message"]


# ---------------------------------------------------------------------------------------- markdown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>Alice</at> hi", "&lt;at&gt;Alice&lt;/at&gt; hi"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&lt; stays text", "&amp;lt; stays text"),
        ("a & b", "a &amp; b"),
        ("<img src=x onerror=y>", "&lt;img src=x onerror=y&gt;"),
        ("普通の文章です。", "普通の文章です。"),
    ],
    ids=["at-tag", "script", "entity", "ampersand", "img", "plain"],
)
def test_markdown_escapes_what_teams_reads_as_html(text: str, expected: str) -> None:
    assert markdown(text) == expected


def test_markdown_leaves_no_raw_angle_bracket_whatever_the_input() -> None:
    nasty = "<<at>>x</at>> &amp;<<script>> <at\u200b>y</at> <!-- c --> <![CDATA[z]]>"
    out = markdown(nasty)
    assert "<" not in out
    assert ">" not in out
    # Every & begins one of the three entities markdown writes: nothing the input spelt survives.
    stripped = out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert "&" not in stripped


def test_markdown_cuts_at_the_text_limit_in_bytes() -> None:
    """Teams limits a message's size in bytes: a Japanese character is three of them."""
    out = markdown("あ" * TEXT_LIMIT)
    assert len(out.encode("utf-8")) <= TEXT_LIMIT
    assert len(out.encode("utf-8")) > TEXT_LIMIT - 6  # cut at the limit, not far below it
    assert out.endswith("…")
    assert set(out[:-1]) == {"あ"}  # no character cut in half
    fits = "あ" * (TEXT_LIMIT // 3)
    assert markdown(fits) == fits


def test_a_cut_never_leaves_half_an_entity() -> None:
    """Cut first, escape after: a ``&`` at the edge is escaped whole, never split into ``&am``."""
    out = markdown("x" * (TEXT_LIMIT - 2) + "&<>" * 10)
    assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert out.endswith("…")


@pytest.mark.parametrize("char", ["&", "<", ">"])
def test_escaping_cannot_grow_the_text_past_the_limit(char: str) -> None:
    """The limit is on what is sent: a text of ``&`` (5 characters each once escaped) stays within it."""
    for size in (TEXT_LIMIT // 5, TEXT_LIMIT // 2, TEXT_LIMIT, TEXT_LIMIT * 3):
        out = markdown("a" * 7 + char * size)
        assert len(out) <= TEXT_LIMIT, size
        assert "<" not in out
        assert ">" not in out
        assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")


def test_text_activity_escapes_kuras_own_words_too() -> None:
    wire = text_activity("<at>x</at>").model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["text"] == "&lt;at&gt;x&lt;/at&gt;"
    assert wire["textFormat"] == "markdown"
    assert "entities" not in wire


# ---------------------------------------------------------------------------------------- citations

HOSTILE_LABELS = [
    "Title\nwith newline",
    "Tab\tand\rreturn",
    "zero\u200bwidth\u200d joiner\ufeff",
    "<at>Everyone</at> handbook",
    "bidi \u202eevil\u202c title",
    "esc \x1b[31mred\x1b[0m",
    "nul\x00byte and \x07bell",
    "C1 \x85next line",
    "line\u2028separator\u2029para",
]


@pytest.mark.parametrize("hostile", HOSTILE_LABELS)
def test_citation_titles_and_abstracts_are_one_clean_line(hostile: str) -> None:
    reply = _reply("答え [1]", (Citation(1, f"docs/{hostile}.md", hostile, f"passage {hostile}"),))
    [citation] = citations_of(reply)
    appearance = citation.appearance
    assert appearance.name == sanitize_label(hostile)[:TITLE_LIMIT]
    assert appearance.abstract is not None
    for field in (appearance.name, appearance.abstract):
        assert field == " ".join(field.split())  # one line, no runs of white space
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in field)
        assert not any(ch in field for ch in "\u200b\u200d\ufeff\u202e\u202c\u2028\u2029")
    assert appearance.abstract.startswith(sanitize_label(f"docs/{hostile}.md"))


def test_an_at_tag_in_a_title_or_passage_is_inert_text() -> None:
    """Whatever sanitize_label does with it, the result is what goes out, and never a live mention."""
    reply = _reply("[1]", (Citation(1, "a/<at>b</at>.md", "<at>Kura</at> 手帳", "<at>all</at> 読んで"),))
    [citation] = citations_of(reply)
    assert citation.appearance.name == sanitize_label("<at>Kura</at> 手帳")
    assert (
        citation.appearance.abstract == f"{sanitize_label('a/<at>b</at>.md')} — {sanitize_label('<at>all</at> 読んで')}"
    )
    wire = _wire(reply)
    assert "<at>" not in wire["text"]


def test_citations_respect_teams_limits() -> None:
    long = Citation(1, "handbook/" + "p" * 300 + ".md", "T" * 500, "E" * 1000)
    [citation] = citations_of(_reply("[1]", (long,)))
    assert citation.appearance.name is not None
    assert citation.appearance.abstract is not None
    assert len(citation.appearance.name) == TITLE_LIMIT
    assert citation.appearance.name.endswith("…")
    assert len(citation.appearance.abstract) == ABSTRACT_LIMIT
    assert citation.appearance.abstract.startswith("handbook/")
    assert citation.appearance.abstract.endswith("…")


def test_the_abstract_begins_with_the_path_then_the_passage() -> None:
    [citation] = citations_of(_reply("[1]", (Citation(1, "hr/salary.md", "給与規程", "G3の基本給は…"),)))
    assert citation.appearance.abstract == "hr/salary.md — G3の基本給は…"
    assert citation.position == 1


def test_a_citation_with_no_title_or_passage_still_has_a_name() -> None:
    no_title, no_passage, nothing = citations_of(
        _reply("[1][2][3]", (Citation(1, "a/b.md", ""), Citation(2, "c/d.md", "D"), Citation(3, "", "\u200b")))
    )
    assert no_title.appearance.name == "a/b.md"
    assert no_title.appearance.abstract == "a/b.md"
    assert no_passage.appearance.abstract == "c/d.md"
    assert nothing.appearance.name == "#3"


# ---------------------------------------------------------------------------------------- answers


def test_an_answer_carries_the_ai_label_citations_numbered_as_in_the_reply_and_feedback() -> None:
    citations = (
        Citation(2, "handbook/expenses.md", "経費精算", "締め日は"),
        Citation(5, "public/about.md", "会社概要"),
    )
    wire = _wire(_reply("締め日は月末です [2]。設立は2001年 [5]。", citations))
    [entity] = _ai_entities(wire)
    assert entity["additionalType"] == ["AIGeneratedContent"]
    assert entity["@type"] == "Message"
    assert entity["@context"] == "https://schema.org"
    cited = entity["citation"]
    assert [c["position"] for c in cited] == [2, 5]
    assert [c["appearance"]["name"] for c in cited] == ["経費精算", "会社概要"]
    assert all(c["@type"] == "Claim" for c in cited)
    assert wire["channelData"]["feedbackLoop"] == {"type": "default"}
    assert wire["textFormat"] == "markdown"
    assert wire["text"] == "締め日は月末です [2]。設立は2001年 [5]。"


def test_an_answer_without_an_audit_id_has_no_feedback_loop() -> None:
    wire = _wire(_reply("答え [1]", (Citation(1, "a.md", "A"),), audit_id=None))
    assert "feedbackLoop" not in (wire.get("channelData") or {})
    assert len(_ai_entities(wire)) == 1


def test_cited_numbers_missing_from_the_text_are_appended() -> None:
    citations = (Citation(1, "a.md", "A"), Citation(2, "b.md", "B"), Citation(3, "c.md", "C"))
    ja = _wire(_reply("答えは [2] です。", citations))
    assert ja["text"] == "答えは [2] です。\n\n出典: [1] [3]"
    en = _wire(_reply("All cited [1][2][3].", citations, language="en"))
    assert en["text"] == "All cited [1][2][3]."
    none_shown = _wire(_reply("No markers.", citations[:1], language="en"))
    assert none_shown["text"] == "No markers.\n\nSources: [1]"


def test_a_number_in_brackets_that_is_not_a_citation_does_not_count() -> None:
    """``[10]`` does not show citation 1; ``[1](x)`` markdown would be a link, escaped text stays text."""
    wire = _wire(_reply("Item [10] and <b>[1]</b>", (Citation(1, "a.md", "A"),), language="en"))
    assert wire["text"].startswith("Item [10] and &lt;b&gt;[1]&lt;/b&gt;")


def test_a_zero_padded_number_is_not_the_citation() -> None:
    """Teams shows citation 1 for ``[1]`` only: ``[01]`` in the text leaves it to be appended."""
    wire = _wire(_reply("See [01].", (Citation(1, "a.md", "A"),), language="en"))
    assert wire["text"].endswith("Sources: [1]")


def test_an_answer_with_no_citations_still_has_the_ai_label() -> None:
    wire = _wire(_reply("一般的な答え", ()))
    [entity] = _ai_entities(wire)
    assert entity["additionalType"] == ["AIGeneratedContent"]
    assert "citation" not in entity
    assert wire["text"] == "一般的な答え"


@pytest.mark.parametrize("status", ["refused", "no_sources", "unavailable"])
def test_anything_but_an_answer_has_no_ai_label_citations_or_feedback(status: ReplyStatus) -> None:
    reply = _reply("<at>x</at> できません", (Citation(1, "hr/a.md", "A"),), status=status, audit_id="rec-9")
    wire = _wire(reply)
    assert not _ai_entities(wire)
    assert "entities" not in wire
    assert "feedbackLoop" not in (wire.get("channelData") or {})
    assert wire["text"] == "&lt;at&gt;x&lt;/at&gt; できません"  # no markers appended either


def test_extra_fields_are_kept() -> None:
    activity = answer_activity(_reply("答え", ()), id="123", reply_to_id="456")
    wire = activity.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["id"] == "123"
    assert wire["replyToId"] == "456"
