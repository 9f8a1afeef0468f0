"""Kura's replies as Teams activities: the answer as Teams markdown, the "AI generated" label and
citations (Teams' citation entities: the document's title, and its path with the cited passage as
the abstract), and the feedback loop (👍/👎 under the message). A post with buttons (an FAQ
reviewer's approve / edit / reject) is an Adaptive Card whose edit box holds the answer to edit.

The text arrives sanitised by the core (no mentions, no links but to allowed hosts, host names
defanged). Teams reads ``<``, ``>`` and ``&`` as HTML, so they are escaped: a ``<at>`` or a tag in a
document can never become a mention or markup. Titles, paths and passages are document data and
go into the citation's plain-text fields, one clean line each, within Teams' limits.
"""

from __future__ import annotations

import re
from typing import Any

from microsoft_agents.activity import Activity, Attachment, ClientCitation, ClientCitationAppearance

from bot.core.faq_words import faq_text
from bot.core.messages import say
from bot.core.sanitize import sanitize_label
from bot.core.types import Reply, ReplyAction
from bot.errors import Language

__all__ = [
    "ADAPTIVE_CARD",
    "ANSWER_INPUT",
    "answer_activity",
    "card_activity",
    "citations_of",
    "markdown",
    "text_activity",
    "thinking",
]

#: Teams refuses messages over about 28 KB: the text sent is kept under this many UTF-8 bytes
#: (a Japanese character is three).
TEXT_LIMIT = 20_000
#: Teams' limits for a citation: its title, and the abstract shown in the popup.
TITLE_LIMIT = 80
ABSTRACT_LIMIT = 160
_MARKER = re.compile(r"\[(\d{1,3})\]")
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
#: The card's edit box: what an ``Action.Submit`` sends back with the click, under this name.
ANSWER_INPUT = "answer"
#: The longest answer the edit box takes (as long as a reviewer may write).
ANSWER_LIMIT = 4000
#: The card's text, in characters (a card travels in the same ~28 KB message as any text).
CARD_TEXT_LIMIT = 6000
_STYLES = {"approve": "positive", "reject": "destructive"}


def markdown(text: str) -> str:
    """Sanitised text as Teams markdown: ``&``, ``<`` and ``>`` escaped, within the size limit."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    encoded = escaped.encode("utf-8")
    if len(encoded) <= TEXT_LIMIT:
        return escaped
    # Cut what is sent (escaping makes a character up to five bytes), never inside a character or an
    # entity; the ellipsis takes three bytes.
    cut = encoded[: TEXT_LIMIT - 3].decode("utf-8", errors="ignore")
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def thinking(language: Language) -> str:
    """The informative update and placeholder: the catalogue's placeholder without its emphasis."""
    return say("placeholder", language).strip("_")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def citations_of(reply: Reply) -> list[ClientCitation]:
    """Teams citation entities for the reply's sources, numbered as the answer cites them."""
    found: list[ClientCitation] = []
    for c in reply.citations:
        title = sanitize_label(c.title) or sanitize_label(c.source) or f"#{c.number}"
        path = sanitize_label(c.source)
        excerpt = sanitize_label(c.excerpt)
        abstract = f"{path} — {excerpt}" if path and excerpt else path or excerpt
        where = _cut(sanitize_label(c.location), TITLE_LIMIT // 2)  # p. 3, slide 2, Sheet1 rows 2-41
        name = f"{_cut(title, TITLE_LIMIT - len(where) - 3)} ({where})" if where else _cut(title, TITLE_LIMIT)
        appearance = ClientCitationAppearance(name=name, abstract=_cut(abstract, ABSTRACT_LIMIT))
        found.append(ClientCitation(position=c.number, appearance=appearance))
    return found


def _with_markers(reply: Reply) -> str:
    """The answer, with the numbers of cited documents it does not mention appended, so Teams shows
    every citation (it shows those whose ``[n]`` appears in the text)."""
    shown = set(_MARKER.findall(reply.text))  # as written: "[01]" is not "[1]" to Teams
    missing = [c.number for c in reply.citations if str(c.number) not in shown]
    if not missing:
        return reply.text
    return f"{reply.text}\n\n{say('sources', reply.language)}: " + " ".join(f"[{n}]" for n in missing)


def text_activity(text: str, **fields: Any) -> Activity:
    """A message with Kura's own words (refusals, failures, admin replies), escaped."""
    return Activity(type="message", text=markdown(text), text_format="markdown", **fields)


def _submit(action: ReplyAction, language: Language, *, edit: bool) -> dict[str, Any]:
    """A button: ``data`` names what it does on what (``{"kura": "faq", "verdict": "approve", "id":
    "12"}``); only the edit button sends the edit box with it, and it saves the edit at once."""
    kind, _, verdict = action.name.partition("_")
    submit: dict[str, Any] = {
        "type": "Action.Submit",
        "title": faq_text("edit_submit", language) if edit else action.label,
        "data": {"kura": kind, "verdict": verdict, "id": action.value},
        "associatedInputs": "auto" if edit else "none",
    }
    if verdict in _STYLES:
        submit["style"] = _STYLES[verdict]
    return submit


def card_activity(reply: Reply, **fields: Any) -> Activity:
    """A post with buttons as an Adaptive Card (1.5): the text, its sources, an edit box holding
    the text to edit (when there is an edit button), and the buttons."""
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": _cut(reply.text, CARD_TEXT_LIMIT), "wrap": True}]
    if reply.citations:
        listed = " · ".join(
            f"[{c.number}] {sanitize_label(c.title)} ({sanitize_label(c.source)})" for c in reply.citations
        )
        body.append({"type": "TextBlock", "text": f"{say('sources', reply.language)}: {listed}", "wrap": True})
    edit = next((a for a in reply.actions if a.name.endswith("_edit")), None)
    if edit is not None:
        body.append(
            {
                "type": "Input.Text",
                "id": ANSWER_INPUT,
                "label": faq_text("edit_label", reply.language),
                "isMultiline": True,
                "maxLength": ANSWER_LIMIT,
                "value": edit.edit_text[:ANSWER_LIMIT],
            }
        )
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
        "actions": [_submit(a, reply.language, edit=a is edit) for a in reply.actions],
    }
    return Activity(type="message", attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)], **fields)


def answer_activity(reply: Reply, **fields: Any) -> Activity:
    """The finished reply: text, and for an answer the AI label, citations and the feedback loop
    (a post with buttons: :func:`card_activity`)."""
    if reply.actions:
        return card_activity(reply, **fields)
    if reply.status != "answered":
        return text_activity(reply.text, **fields)
    activity = Activity(type="message", text=markdown(_with_markers(reply)), text_format="markdown", **fields)
    activity.add_ai_metadata(citations_of(reply) or None)
    if reply.audit_id:
        data = dict(activity.channel_data or {}) if isinstance(activity.channel_data, dict) else {}
        data["feedbackLoop"] = {"type": "default"}
        activity.channel_data = data
    return activity
