"""Kura's replies as Slack messages: text split under Slack's limits, sources, feedback buttons,
the buttons of a post that asks for something (an FAQ reviewer's approve / edit / reject), and the
dialog in which a reviewer edits an FAQ answer.

The text arrives sanitised by the core (no mentions, no links but to allowed hosts, host names
defanged); here it becomes mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack requires, the links the
core kept written as Slack links, and every text object ``verbatim`` so that Slack adds no link,
mention or channel link of its own (it would make a link of ``handbook.md``: .md is a domain).
Document titles and paths are people's words, not markup: their mrkdwn characters are shown, not
obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.faq_words import faq_text
from bot.core.messages import say
from bot.core.sanitize import sanitize_label
from bot.core.types import Reply, ReplyAction
from bot.errors import Language

__all__ = [
    "ACTIONS_BLOCK",
    "EDIT_INPUT",
    "EDIT_VIEW",
    "FAQ_APPROVE",
    "FAQ_EDIT",
    "FAQ_REJECT",
    "FEEDBACK_DOWN",
    "FEEDBACK_UP",
    "actions_block",
    "answer_messages",
    "edit_answer",
    "edit_view",
    "mrkdwn",
    "placeholder",
    "plain",
    "result_section",
    "reviewed_blocks",
    "sources_block",
    "split_text",
]

FEEDBACK_UP = "kura_feedback_up"
FEEDBACK_DOWN = "kura_feedback_down"
#: A post's buttons: ``kura_`` + the action's name (``kura_faq_approve`` …), in one actions block.
ACTIONS_BLOCK = "kura_actions"
FAQ_APPROVE = "kura_faq_approve"
FAQ_EDIT = "kura_faq_edit"
FAQ_REJECT = "kura_faq_reject"
#: The dialog (modal) editing an FAQ answer, and its one input (block and element alike).
EDIT_VIEW = "kura_faq_edit"
EDIT_INPUT = "answer"
#: Slack's limits: a plain_text_input holds 3,000 characters; a modal's title and submit 24; a button's 75.
INPUT_LIMIT = 3000
VIEW_TITLE_LIMIT = 24
BUTTON_LIMIT = 75
_STYLES = {"faq_approve": "primary", "faq_reject": "danger"}
#: A section block's text limit is 3,000 characters; a message's fallback text is kept short too.
SECTION_LIMIT = 2900
#: Sections per message: under the 50-block limit and, at 2,900 characters each, under 40,000 characters.
BLOCKS_PER_MESSAGE = 12
FALLBACK_LIMIT = 3000

Block = dict[str, Any]

# The links the core left in an answer, all to allowed hosts: a Slack link, a Markdown link or
# image, a bare URL. Possessive and bounded, as the core's rules are: no backtracking on odd text.
_KEPT_LINK = re.compile(
    r"<((?:https?|ftp)://[^|>\s]{1,2048}+)(?:\|([^>\n]{0,1000}+))?>"
    r"|!?\[([^\]\n]{0,1000}+)\]\(((?:https?|ftp)://[^)\s]{1,2048}+)[^)\n]{0,1000}+\)"
    r"|((?:https?|ftp)://[^\s<>()\[\]|]++)",
    re.IGNORECASE,
)
# mrkdwn has no escape character: its formatting characters in a title are shown as their
# full-width forms, which read the same and format nothing.
_SHOWN = str.maketrans({"*": "＊", "_": "＿", "~": "～", "`": "｀"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Kura's own words carrying people's data (admin replies: paths, names, arguments echoed):
    ``&``, ``<`` and ``>`` escaped, so nothing in them becomes a link, a mention or a broadcast."""
    return _escape(text)


def mrkdwn(text: str) -> str:
    """Sanitised answer text as mrkdwn: ``&``, ``<``, ``>`` escaped, the kept links as Slack links."""
    out: list[str] = []
    last = 0
    for m in _KEPT_LINK.finditer(text):
        out.append(_escape(text[last : m.start()]))
        url = m.group(1) or m.group(4) or m.group(5)
        label = m.group(2) if m.group(1) else m.group(3)
        out.append(f"<{_escape(url)}|{_escape(label)}>" if label else f"<{_escape(url)}>")
        last = m.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _text(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain_words(label: str) -> str:
    """A title for mrkdwn: one clean line whose mrkdwn characters show as themselves."""
    return _escape(sanitize_label(label)).translate(_SHOWN)


def _code_words(label: str) -> str:
    """A path for a mrkdwn code span (inside which only a backtick would mean anything)."""
    return _escape(sanitize_label(label)).replace("`", "｀")


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
    text = f"*{say('sources', reply.language)}:*"
    for i, c in enumerate(reply.citations):
        path = _code_words(c.source)
        where = f" ({_plain_words(c.location)})" if c.location else ""  # p. 3, slide 2, Sheet1 rows 2-41
        item = f"{' ·' if i else ''} [{c.number}] {_plain_words(c.title)}{where}" + (f" (`{path}`)" if path else "")
        if len(text) + len(item) > SECTION_LIMIT:
            break  # whole items only: a cut could leave half an entity or an open code span
        text += item
    return {"type": "context", "elements": [_text(text)]}


def _sections(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """The answer as mrkdwn pieces of at most ``SECTION_LIMIT`` characters (escaping lengthens it)."""
    pieces: list[str] = []
    for piece in split_text(text, limit):
        shown = mrkdwn(piece)
        if len(shown) <= SECTION_LIMIT or len(piece) < 2:
            pieces.append(shown)
        else:
            pieces.extend(_sections(piece, max(1, len(piece) * SECTION_LIMIT // len(shown) - 1)))
    return pieces


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


def _plain_text(text: str, limit: int) -> Block:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


def _button(action: ReplyAction, language: Language) -> Block:
    button: Block = {
        "type": "button",
        "action_id": f"kura_{action.name}",
        "value": action.value,
        "text": _plain_text(action.label, BUTTON_LIMIT),
    }
    style = _STYLES.get(action.name)
    if style is not None:
        button["style"] = style
    if action.name == "faq_reject":
        button["confirm"] = {
            "title": _plain_text(action.label, 100),
            "text": _plain_text(faq_text("reject_confirm", language, id=action.value), 300),
            "confirm": _plain_text(action.label, 30),
            "deny": _plain_text(faq_text("cancel", language), 30),
            "style": "danger",
        }
    return button


def actions_block(reply: Reply) -> Block | None:
    """The reply's buttons (a post asking for something), or None when it has none."""
    if not reply.actions:
        return None
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [_button(a, reply.language) for a in reply.actions],
    }


def result_section(line: str) -> Block:
    """Kura's one-line answer to a click, as a section (its words escaped like any of Kura's own)."""
    return {"type": "section", "text": _text(plain(line))}


def reviewed_blocks(blocks: Sequence[Mapping[str, Any]], line: str) -> list[Block]:
    """A posted message's blocks after a click was taken: its buttons replaced by ``line``, so that
    nobody clicks again by mistake."""
    kept = [dict(b) for b in blocks if b.get("block_id") != ACTIONS_BLOCK]
    return [*kept, result_section(line)]


def edit_view(entry_id: int, answer: str, language: Language) -> Block:
    """The dialog editing an FAQ entry's answer, prefilled with it (``private_metadata``: the entry id)."""
    element: Block = {
        "type": "plain_text_input",
        "action_id": EDIT_INPUT,
        "multiline": True,
        "min_length": 1,
        "max_length": INPUT_LIMIT,
    }
    if answer:
        element["initial_value"] = answer[:INPUT_LIMIT]
    return {
        "type": "modal",
        "callback_id": EDIT_VIEW,
        "private_metadata": str(entry_id),
        "title": _plain_text(faq_text("edit_title", language, id=entry_id), VIEW_TITLE_LIMIT),
        "submit": _plain_text(faq_text("edit_submit", language), VIEW_TITLE_LIMIT),
        "blocks": [
            {
                "type": "input",
                "block_id": EDIT_INPUT,
                "label": _plain_text(faq_text("edit_label", language), 2000),
                "element": element,
            }
        ],
    }


def edit_answer(view: Mapping[str, Any]) -> str:
    """The answer typed into the edit dialog (``view.state.values``), or "" when there is none."""
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(EDIT_INPUT) or {}).get(EDIT_INPUT) or {}
    value = field.get("value") if isinstance(field, Mapping) else None
    return value if isinstance(value, str) else ""


def answer_messages(reply: Reply) -> list[tuple[str, list[Block]]]:
    """The reply as one or more (fallback text, blocks) messages; sources and buttons on the last."""
    sections: list[Block] = [{"type": "section", "text": _text(piece)} for piece in _sections(reply.text)] or [
        {"type": "section", "text": _text(" ")}
    ]
    tail: list[Block] = []
    block = sources_block(reply)
    if block is not None:
        tail.append(block)
    if reply.audit_id and reply.status == "answered":
        tail.append(_feedback_block(reply.audit_id, reply.language))
    actions = actions_block(reply)
    if actions is not None:
        tail.append(actions)
    messages: list[tuple[str, list[Block]]] = []
    for start in range(0, len(sections), BLOCKS_PER_MESSAGE):
        chunk = sections[start : start + BLOCKS_PER_MESSAGE]
        fallback = "\n".join(b["text"]["text"] for b in chunk)[:FALLBACK_LIMIT].strip() or "…"
        messages.append((fallback, chunk))
    last_text, last_blocks = messages[-1]
    messages[-1] = (last_text, last_blocks + tail)
    return messages
