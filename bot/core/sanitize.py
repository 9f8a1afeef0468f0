"""Model output is data too: before an answer is shown, invisible characters go, and Markdown
images and links (and bare or Slack-style URLs) to hosts not on the allowlist are removed, so a
planted instruction cannot make Kura show a tracking pixel or a phishing link."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from llm.prompts import strip_invisible

__all__ = ["sanitize_answer"]

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]*)[^)]*\)")
_SLACK_LINK = re.compile(r"<((?:https?|ftp|mailto):[^|>\s]+)(?:\|([^>]*))?>")
_BARE = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]]+")
_REMOVED = "[link removed]"


def _allowed(url: str, hosts: frozenset[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in hosts)


def sanitize_answer(text: str, allowed_hosts: Iterable[str] = ()) -> str:
    """The answer without invisible characters or links/images to other hosts."""
    hosts = frozenset(h.lower().strip(".") for h in allowed_hosts if h)
    text = strip_invisible(text)
    text = _IMAGE.sub(lambda m: m.group(0) if _allowed(m.group(2), hosts) else "", text)
    text = _LINK.sub(lambda m: m.group(0) if _allowed(m.group(2), hosts) else m.group(1), text)
    text = _SLACK_LINK.sub(lambda m: m.group(0) if _allowed(m.group(1), hosts) else (m.group(2) or _REMOVED), text)
    return _BARE.sub(lambda m: m.group(0) if _allowed(m.group(0), hosts) else _REMOVED, text)
