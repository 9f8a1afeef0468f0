"""Minutes as chat text (platform-neutral: ``*title*`` and ``•`` bullets, which each transport
renders in its own markup) and as the ``--json`` object."""

from __future__ import annotations

from bot.core.minutes_words import minutes_text
from bot.minutes.schema import ActionItem, Minutes
from bot.minutes.sources import Transcript

__all__ = ["minutes_json", "render_minutes"]


def _refs(refs: list[str]) -> str:
    return f" ({', '.join(refs[:3])})" if refs else ""


def _action(item: ActionItem, minutes: Minutes) -> str:
    lang = minutes.language
    owner = minutes_text("owner", lang, owner=item.owner) if item.owner else minutes_text("unassigned", lang)
    due = minutes_text("due", lang, due=item.due) if item.due else minutes_text("no_due", lang)
    return f"• {item.task} — {owner} / {due}{_refs(item.refs)}"


def render_minutes(minutes: Minutes, source: Transcript) -> str:
    """The minutes as one chat message: title, source, summary, decisions, action items, open questions."""
    lang = minutes.language
    none = f"• {minutes_text('none', lang)}"
    lines = [
        minutes_text("title", lang, title=minutes.title or source.title),
        minutes_text("source", lang, source=source.title),
        "",
        minutes_text("summary", lang),
        *([f"• {s}" for s in minutes.summary] or [none]),
        "",
        minutes_text("decisions", lang),
        *([f"• {d.text}{_refs(d.refs)}" for d in minutes.decisions] or [none]),
        "",
        minutes_text("actions", lang),
        *([_action(a, minutes) for a in minutes.action_items] or [none]),
        "",
        minutes_text("questions", lang),
        *([f"• {q}" for q in minutes.open_questions] or [none]),
        "",
    ]
    if minutes.failed_parts:
        lines.append(minutes_text("failed_parts", lang, count=len(minutes.failed_parts)))
    lines.append(minutes_text("ai_note", lang))
    return "\n".join(lines)


def minutes_json(minutes: Minutes, source: Transcript) -> dict[str, object]:
    """The minutes fields of ``kura minutes --json`` (the caller adds the decision and audit id)."""
    return {
        "title": minutes.title or source.title,
        "language": minutes.language,
        "summary": list(minutes.summary),
        "decisions": [{"text": d.text, "refs": list(d.refs)} for d in minutes.decisions],
        "action_items": [
            {"task": a.task, "owner": a.owner, "due": a.due, "refs": list(a.refs)} for a in minutes.action_items
        ],
        "open_questions": list(minutes.open_questions),
        "source": {"kind": source.kind, "id": source.id},
    }
