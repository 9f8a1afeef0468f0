"""Model output is data too: before an answer is shown, invisible characters go, and Markdown
images and links (and bare or Slack-style URLs) to hosts not on the allowlist are removed, so a
planted instruction cannot make Kura show a tracking pixel or a phishing link.

Streaming goes through the same rules: :class:`CleanStream` releases text only up to a point that
no link, image or URL can straddle, so every piece a transport shows is the start of the final,
sanitised answer, whether it is appended (Slack's native streaming) or redrawn (``chat.update``).
No rule matches across a line break, so finished lines are final; within the last line, text is
released only while that line holds nothing a link could be made of.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from llm.prompts import strip_invisible

__all__ = ["CleanStream", "sanitize_answer"]

_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\s]*)[^)\n]*\)")
_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s]*)[^)\n]*\)")
# A link target left over (e.g. link text broken over lines, which Markdown still links).
_TARGET = re.compile(r"\]\([ \t]*([^)\s]*)[^)\n]*\)")
_SLACK_LINK = re.compile(r"<((?:https?|ftp|mailto):[^|>\s]+)(?:\|([^>\n]*))?>", re.IGNORECASE)
# No word boundary before the scheme: Japanese text runs straight into URLs (詳細はhttps://…).
_BARE = re.compile(r"(?:https?|ftp)://[^\s<>()\[\]]+", re.IGNORECASE)
_REMOVED = "[link removed]"


def _allowed(url: str, hosts: frozenset[str]) -> bool:
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:  # malformed (e.g. an unclosed IPv6 bracket): not an allowed host
        return False
    return any(host == h or host.endswith("." + h) for h in hosts)


def _hosts(allowed_hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(h.lower().strip(".") for h in allowed_hosts if h)


#: Removing one link can make another (``[[a](x)](y)``): passes repeat until nothing changes.
_MAX_PASSES = 6


def _sanitize(text: str, hosts: frozenset[str]) -> str:
    text = strip_invisible(text)
    for _ in range(_MAX_PASSES):
        cleaner = _pass(text, hosts)
        if cleaner == text:
            return text
        text = cleaner
    return _pass(text, hosts).replace("](", "] (")  # still changing: break every remaining link apart


def _pass(text: str, hosts: frozenset[str]) -> str:
    text = _IMAGE.sub(lambda m: m.group(0) if _allowed(m.group(2), hosts) else "", text)
    text = _LINK.sub(lambda m: m.group(0) if _allowed(m.group(2), hosts) else m.group(1), text)
    text = _TARGET.sub(lambda m: m.group(0) if _allowed(m.group(1), hosts) else "]", text)
    text = _SLACK_LINK.sub(lambda m: m.group(0) if _allowed(m.group(1), hosts) else (m.group(2) or _REMOVED), text)
    return _BARE.sub(lambda m: m.group(0) if _allowed(m.group(0), hosts) else _REMOVED, text)


def sanitize_answer(text: str, allowed_hosts: Iterable[str] = ()) -> str:
    """The answer without invisible characters or links/images to other hosts."""
    return _sanitize(text, _hosts(allowed_hosts))


#: Characters links, images, URLs and ``<…>`` forms are made of: a line holding one is released
#: only when it ends. Citations like ``[1]`` are not links and do not count.
_RISKY = frozenset("[]()<>!:/|@")
_CITATION = re.compile(r"\[\d{1,3}\](?=[^(])")


def _stable_end(s: str, start: int) -> int:
    """The longest prefix of ``s`` that later text cannot change when sanitised: whole lines, and
    within the last line, up to its last space or between two non-ASCII characters (Japanese
    streams without spaces), as long as the line so far holds nothing risky."""
    line = s.rfind("\n") + 1
    best = max(start, line)
    i = line
    while i < len(s):
        ch = s[i]
        if ch == "[" and (citation := _CITATION.match(s, i)):
            i = citation.end()
            continue
        if ch in _RISKY:
            break
        following = s[i + 1] if i + 1 < len(s) else " "
        if ch.isspace() or not (ch.isascii() or following.isascii() or following.isspace()):
            best = max(best, i + 1)
        i += 1
    return best


class CleanStream:
    """Sanitises a streamed answer piece by piece; ``feed`` returns only text that is final."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._hosts = _hosts(allowed_hosts)
        self._raw = ""  # the model's text, invisible characters already removed
        self._stable = 0  # how much of ``_raw`` can no longer change when sanitised
        self._lines = 0  # ``_raw[:_lines]`` is whole lines, already sanitised into ``_clean_lines``
        self._clean_lines = ""
        self.shown = ""  # the clean text released so far (what a transport may show)

    def feed(self, piece: str) -> str:
        """Take a raw piece; return the clean text that may be shown now (possibly empty)."""
        self._raw += strip_invisible(piece)
        self._stable = _stable_end(self._raw, self._stable)
        return self._release(self._clean(self._stable).strip())

    def _clean(self, end: int) -> str:
        """``raw[:end]`` sanitised, finished lines only once (no rule crosses a line break)."""
        start = self._raw.rfind("\n", self._lines, end) + 1
        if start > self._lines:
            self._clean_lines += _sanitize(self._raw[self._lines : start], self._hosts)
            self._lines = start
        return self._clean_lines + _sanitize(self._raw[self._lines : end], self._hosts)

    def finish(self) -> tuple[str, str]:
        """The model is done: (the last clean piece to show, the whole clean answer)."""
        final = _sanitize(self._raw, self._hosts).strip()
        return self._release(final), final

    def _release(self, visible: str) -> str:
        if not visible.startswith(self.shown):
            # Cannot happen with the rules above; if it did, show nothing more until the final text.
            return ""
        delta = visible[len(self.shown) :]
        self.shown = visible
        return delta
