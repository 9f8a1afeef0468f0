"""Kura's replies as Slack messages: text split under Slack's limits, sources, feedback buttons."""

from __future__ import annotations

from typing import Any

from bot.core.messages import say
from bot.core.types import Reply
from bot.errors import Language

__all__ = [
    "FEEDBACK_DOWN",
    "FEEDBACK_UP",
    "answer_messages",
    "placeholder",
    "sources_block",
    "split_text",
]

FEEDBACK_UP = "kura_feedback_up"
FEEDBACK_DOWN = "kura_feedback_down"
#: A section block's text limit is 3,000 characters; a message's fallback text is kept short too.
SECTION_LIMIT = 2900
#: Sections per message: under the 50-block limit and, at 2,900 characters each, under 40,000 characters.
BLOCKS_PER_MESSAGE = 12
FALLBACK_LIMIT = 3000

Block = dict[str, Any]


def placeholder(language: Language) -> str:
    """The first visible sign that Kura is working."""
    return say("placeholder", language)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at paragraph, line or sentence ends when possible."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind("。"), window.rfind(". "))
        cut = cut + 1 if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def sources_block(reply: Reply) -> Block | None:
    """A context block listing the cited documents."""
    if not reply.citations:
        return None
    label = say("sources", reply.language)
    items = " · ".join(f"[{c.number}] {c.title} (`{c.source}`)" for c in reply.citations)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{label}:* {items}"[:2900]}]}


def _feedback_block(audit_id: str, language: Language) -> Block:
    helpful, not_helpful = say("helpful", language), say("not_helpful", language)
    return {
        "type": "actions",
        "block_id": "kura_feedback",
        "elements": [
            {
                "type": "button",
                "action_id": FEEDBACK_UP,
                "value": audit_id,
                "text": {"type": "plain_text", "text": f"👍 {helpful}"},
            },
            {
                "type": "button",
                "action_id": FEEDBACK_DOWN,
                "value": audit_id,
                "text": {"type": "plain_text", "text": f"👎 {not_helpful}"},
            },
        ],
    }


def answer_messages(reply: Reply) -> list[tuple[str, list[Block]]]:
    """The reply as one or more (fallback text, blocks) messages; sources and buttons on the last."""
    sections: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in split_text(reply.text)
    ] or [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}]
    tail: list[Block] = []
    block = sources_block(reply)
    if block is not None:
        tail.append(block)
    if reply.audit_id and reply.status == "answered":
        tail.append(_feedback_block(reply.audit_id, reply.language))
    messages: list[tuple[str, list[Block]]] = []
    for start in range(0, len(sections), BLOCKS_PER_MESSAGE):
        chunk = sections[start : start + BLOCKS_PER_MESSAGE]
        fallback = "\n".join(b["text"]["text"] for b in chunk)[:FALLBACK_LIMIT].strip() or "…"
        messages.append((fallback, chunk))
    last_text, last_blocks = messages[-1]
    messages[-1] = (last_text, last_blocks + tail)
    return messages
