"""FAQ texts built from entries: the review request a reviewer gets (with its buttons), the gaps
digest, and the FAQ page a reader may see (Markdown or self-contained HTML)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.faq_words import faq_text
from bot.core.types import ReplyAction, SourceRef
from bot.errors import Language
from knowledge.faq_store import FaqView

__all__ = ["Gap", "export_html", "export_markdown", "gaps_digest", "review_actions", "review_request", "source_refs"]


@dataclass(frozen=True)
class Gap:
    """A frequent question Kura could not answer well: a redacted phrasing, how many distinct people
    asked, how many of the askings found no sources and how many got 👎."""

    question: str
    askers: int
    no_sources: int
    thumbs_down: int


def source_refs(entry: FaqView) -> list[SourceRef]:
    """The entry's cited documents with their access, for the audience rule of a post."""
    return [SourceRef(s.path, s.title, s.acl, s.classification) for s in entry.sources]


def review_request(entry: FaqView, language: Language, reviewer: str) -> str:
    """The message asking ``reviewer`` to approve, edit or reject ``entry``."""
    lines = [faq_text("review_title", language, id=entry.id)]
    if entry.status == "stale" and entry.stale_reason:
        lines.append(faq_text("review_stale", language, reason=entry.stale_reason))
    lines.append(faq_text("review_question", language, question=entry.question))
    lines.append(faq_text("review_answer", language, answer=entry.answer))
    if entry.asked:
        lines.append(faq_text("review_asked", language, asked=entry.asked))
    lines.append(faq_text("review_cli", language, id=entry.id, email=reviewer))
    return "\n".join(lines)


def review_actions(entry: FaqView, language: Language) -> tuple[ReplyAction, ...]:
    """Approve, edit and reject buttons for ``entry``."""
    value = str(entry.id)
    return tuple(
        # The edit button carries the answer for platforms that edit in place (a Teams card's box).
        ReplyAction(f"faq_{verb}", value, faq_text(f"button_{verb}", language), entry.answer if verb == "edit" else "")
        for verb in ("approve", "edit", "reject")
    )


def gaps_digest(gaps: Sequence[Gap], language: Language) -> str:
    """The digest of content gaps for owners and admins."""
    if not gaps:
        return faq_text("no_gaps", language)
    lines = [faq_text("gaps_title", language)]
    for gap in gaps:
        why = []
        if gap.no_sources:
            why.append(faq_text("gap_no_sources", language))
        if gap.thumbs_down:
            why.append(faq_text("gap_thumbs_down", language, count=gap.thumbs_down))
        lines.append(faq_text("gap_line", language, question=gap.question, askers=gap.askers, why=", ".join(why)))
    return "\n".join(lines)


def _by_source(entries: Sequence[FaqView]) -> dict[str, list[FaqView]]:
    grouped: dict[str, list[FaqView]] = {}
    for entry in entries:
        title = entry.sources[0].title if entry.sources else ""
        grouped.setdefault(title, []).append(entry)
    return dict(sorted(grouped.items()))


def export_markdown(entries: Sequence[FaqView], title: str) -> str:
    """The FAQ page in Markdown, grouped by the first cited document."""
    out = [f"# {title}", ""]
    for source, group in _by_source(entries).items():
        out += [f"## {source}", ""]
        for entry in group:
            cited = ", ".join(f"{s.title} (`{s.path}`)" for s in entry.sources)
            verified = f"{entry.verified_at:%Y-%m-%d}" if entry.verified_at else ""
            out += [f"### {entry.question}", "", entry.answer, "", f"*{cited} — {verified}*", ""]
    return "\n".join(out)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.6}"
    "h2{border-bottom:1px solid #ccc}details{margin:.5rem 0}summary{font-weight:600;cursor:pointer}"
    ".src{color:#555;font-size:.9em}"
)


def export_html(entries: Sequence[FaqView], title: str, language: Language) -> str:
    """The FAQ page as one self-contained HTML file (no scripts, fonts or links out), every text escaped."""
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    for source, group in _by_source(entries).items():
        body.append(f"<h2>{e(source)}</h2>")
        for entry in group:
            cited = ", ".join(f"{e(s.title)} ({e(s.path)})" for s in entry.sources)
            verified = f"{entry.verified_at:%Y-%m-%d}" if entry.verified_at else ""
            answer = "<br>".join(e(line) for line in entry.answer.splitlines())
            body.append(
                f'<details open><summary>{e(entry.question)}</summary><p>{answer}</p><p class="src">{cited} — '
                f"{e(verified)}</p></details>"
            )
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
