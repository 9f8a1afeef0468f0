"""Model output is data too: before an answer is shown anywhere (Slack, Teams, the console, JSON),
invisible and control characters go; Markdown images and links, Slack ``<URL|text>`` links and bare
URLs to hosts not on the allowlist are removed and scheme-less host names are defanged
(``evil[.]com``), so a planted instruction cannot make Kura show a tracking pixel or a phishing
link; and mentions (``<!channel>``, ``<@U123>``, ``<!subteam^…>``, Teams ``<at>``, a plain
``@here``) become plain words with a full-width ``＠``, so an answer can notify nobody. Which URL
goes to which host is :mod:`bot.core.hosts`.

Streaming goes through the same rules: :class:`CleanStream` releases text only up to a point that
no link, image, URL, mention or host name can straddle, so every piece a transport shows is the
start of the final, sanitised answer, whether it is appended (Slack's native streaming) or redrawn
(``chat.update``). No rule matches across a line break, so finished lines are final; within the
last line, text is released only while that line holds nothing a link could be made of.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.core.hosts import COMPAT_CHARS, DOTS, allowlist, bare_host, host_allowed, url_allowed
from llm.text import strip_invisible

__all__ = ["CleanStream", "printable", "sanitize_answer", "sanitize_label"]

# Possessive and bounded: model output may be built to make a regex backtrack (``[a](`` x 10,000).
# A target too long for these is still a URL, which _URL removes (or keeps, when allowed).
_IMAGE = re.compile(r"!\[([^\]\n]{0,1000}+)\]\(([^)\s]{0,2048}+)[^)\n]{0,1000}+\)")
_LINK = re.compile(r"(?<!!)\[([^\]\n]{1,1000}+)\]\(([^)\s]{0,2048}+)[^)\n]{0,1000}+\)")
# A link target left over (e.g. link text broken over lines, which Markdown still links).
_TARGET = re.compile(r"\]\([ \t]*+([^)\s]{0,2048}+)[^)\n]{0,1000}+\)")
# A Markdown link reference definition (``[x]: javascript:alert(1)``), which turns every ``[x]`` into
# a link. Only whole lines reach ``^`` here: a part of a line CleanStream cleans alone holds no ``[``.
_DEFINITION = re.compile(r"^([ \t]{0,3}+)\[([^\]\n]{1,1000}+)\]:(?=[ \t]*+<?([^\s>]{0,2048}+))", re.MULTILINE)
# Slack's <URL|text> with any scheme (slack://, tel:, javascript: … are never allowed).
_SLACK_LINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*+:[^|>\s]{1,2048}+)(?:\|([^>\n]{0,1000}+))?>")
# Slack's control sequences: <!channel>, <!here|here>, <!subteam^S1|@team>, <!date^…|text>,
# <@U123|name>, <#C123|general>.
_SPECIAL = re.compile(r"<([!@#])([A-Za-z0-9][^<>\n]{0,1000}+)>")
_TEAMS_AT = re.compile(r"<at\b[^>\n]{0,200}+>([^<\n]{0,1000}+)</at\s*+>", re.IGNORECASE)
# "<" written as an HTML entity: a transport that decodes entities must not find a tag or a mention.
_LT_ENTITY = re.compile(r"&(?:lt|#0{0,8}+60|#x0{0,8}+3c);?", re.IGNORECASE)
# Whatever else could open a tag or a control sequence (``<a href…``, ``</…``, ``<!--``, ``<www…``),
# except an allowed ``<https://…|text>`` link that is still there.
_OPEN = re.compile(r"<(?=[A-Za-z/!?@#])(?!(?:https?|ftp)://)", re.IGNORECASE)
_REMOVED = "[link removed]"

_URL = (
    # No word boundary before http(s)/ftp: Japanese text runs straight into URLs (詳細はhttps://…).
    r"(?:(?:https?|ftp)|(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+)://"
    r"(?:\[[^\]\s/]*+\]?|[^\s<>()\[\]|])[^\s<>()\[\]|]*+"  # an IPv6 literal's brackets too
)
_LABEL_CHARS = "0-9A-Za-z_\\-" + "".join(sorted(re.escape(c) for c in COMPAT_CHARS - DOTS))
_DOT_CHARS = "".join(sorted(re.escape(c) for c in DOTS))
_HOST = (
    rf"(?<![{_LABEL_CHARS}{_DOT_CHARS}])[{_LABEL_CHARS}]++(?:[{_DOT_CHARS}][{_LABEL_CHARS}]++)++"
    rf"(?![{_LABEL_CHARS}@]|[{_DOT_CHARS}][{_LABEL_CHARS}@])"
)
# A mention anywhere a word can start (not an e-mail's @): Slack may parse @here/@channel and
# user-group handles in plain text.
_AT = r"(?<![0-9A-Za-z_])@(?=[0-9A-Za-z_])"
_WORDS = re.compile(rf"(?P<url>{_URL})|(?P<at>{_AT})|(?P<host>{_HOST})", re.IGNORECASE)
_DOT = re.compile(f"[{_DOT_CHARS}]")
_EMAIL_LOCAL = re.compile(r"[0-9A-Za-z_.+-]")

# ANSI escape sequences (CSI, OSC such as terminal hyperlinks, DCS/SOS/PM/APC, two-character
# escapes, and their 8-bit forms): removed whole, never reaching a terminal.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# Control characters but tab and newline. ESC and the C1 block stay in streamed text until their
# line ends (they are risky below), so a sequence split across pieces still goes whole.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# BEL stays too: it ends an OSC sequence.
_LOOSE_CONTROLS = re.compile(r"[\x00-\x06\x08\x0b-\x1a\x1c-\x1f\x7f]")


def _mention(m: re.Match[str]) -> str:
    sigil, body = m.group(1), m.group(2)
    ident, _, label = body.partition("|")
    if sigil == "#":
        return "#" + (label or ident)
    if ident.lower().startswith("date^"):  # <!date^ts^format^optional_link|fallback>: the fallback
        return label
    name = label or ident.rpartition("^")[2]
    return "＠" + name.lstrip("@＠")


def _rewrite_words(text: str, hosts: frozenset[str]) -> str:
    """URLs, mentions and scheme-less hosts, in one scan so that neither of the last two is looked
    for inside a URL that stays."""

    def one(m: re.Match[str]) -> str:
        if m.group("url") is not None:
            return m.group(0) if url_allowed(m.group(0), hosts) else _REMOVED
        if m.group("at") is not None:
            return "＠"
        token, start = m.group(0), m.start()
        email = start >= 2 and text[start - 1] == "@" and bool(_EMAIL_LOCAL.match(text[start - 2]))
        found = bare_host(token, after=text[m.end() : m.end() + 2], email_domain=email)
        if found is None or host_allowed(found[0], hosts):
            return token
        return _DOT.sub("[.]", token[: found[1]]) + token[found[1] :]

    return _WORDS.sub(one, text)


def _strip(text: str) -> str:
    # In the order CleanStream.feed removes them, so the whole answer and the stream agree.
    return _CONTROLS.sub("", _ANSI.sub("", _LOOSE_CONTROLS.sub("", strip_invisible(text))))


#: Removing one link can make another (``[[a](x)](y)``): passes repeat until nothing changes.
_MAX_PASSES = 6


def _sanitize(text: str, hosts: frozenset[str]) -> str:
    text = _strip(text)
    for _ in range(_MAX_PASSES):
        cleaner = _pass(text, hosts)
        if cleaner == text:
            return text
        text = cleaner
    return _pass(text, hosts).replace("](", "] (")  # still changing: break every remaining link apart


def _pass(text: str, hosts: frozenset[str]) -> str:
    text = _IMAGE.sub(lambda m: m.group(0) if url_allowed(m.group(2), hosts) else "", text)
    text = _LINK.sub(lambda m: m.group(0) if url_allowed(m.group(2), hosts) else m.group(1), text)
    text = _TARGET.sub(lambda m: m.group(0) if url_allowed(m.group(1), hosts) else "]", text)
    text = _DEFINITION.sub(lambda m: m.group(0) if url_allowed(m.group(3), hosts) else f"{m[1]}{m[2]}:", text)
    text = _SLACK_LINK.sub(lambda m: m.group(0) if url_allowed(m.group(1), hosts) else (m.group(2) or _REMOVED), text)
    text = _LT_ENTITY.sub("<", text)
    text = _SPECIAL.sub(_mention, text)
    text = _TEAMS_AT.sub(lambda m: "＠" + m.group(1).strip().lstrip("@＠"), text)
    text = _OPEN.sub("＜", text)
    return _rewrite_words(text, hosts)


def printable(text: str) -> str:
    """``text`` without invisible characters, terminal escape sequences or control characters
    (tab and newline stay): for words from elsewhere (policy messages, reasons) on a terminal."""
    return _strip(text)


def sanitize_answer(text: str, allowed_hosts: Iterable[str] = ()) -> str:
    """The answer without invisible or control characters, links/images to other hosts, live host
    names or mentions."""
    return _sanitize(text, allowlist(allowed_hosts))


def sanitize_label(text: str, allowed_hosts: Iterable[str] = ()) -> str:
    """A document title or path for people to read: one line, by the same rules as answers."""
    return _sanitize(" ".join(_strip(text).split()), allowlist(allowed_hosts)).strip()


#: Characters links, images, URLs, mentions and ``<…>`` forms are made of: a line holding one is
#: released only when it ends. Citations like ``[1]`` are not links and do not count.
_RISKY = frozenset("[]()<>!:/|@&\x1b")
_CITATION = re.compile(r"\[\d{1,3}\](?=[^(])")
#: Characters a host name can be written in besides ASCII (``ｅｖｉｌ．ｃｏｍ``): no piece of a line is
#: released between two of them. The ideographic full stop is not one: between two ASCII labels it
#: is never a release point anyway, and Japanese sentences end in it.
_HOSTISH = COMPAT_CHARS


def _ascii_like(ch: str) -> bool:
    # C1 controls count too: they vanish (with what follows them, in a sequence), so they are no gap.
    return ch.isascii() or ch in _HOSTISH or "\x80" <= ch <= "\x9f"


def _stable_end(s: str, start: int, scan: int) -> tuple[int, int]:
    """How much of ``s`` later text cannot change when sanitised, and where to look next time.

    That is whole lines, and within the last line, up to its last space or between two non-ASCII
    characters (Japanese streams without spaces), as long as the line so far holds nothing risky.
    ``start`` is what was stable before and ``scan`` where the last look stopped (its last
    character, or a risky one, needs looking at again): each character is looked at about once,
    however long the line and however many pieces it comes in."""
    line = s.rfind("\n", scan) + 1
    best, i = (line, line) if line > scan else (start, scan)
    while i < len(s):
        ch = s[i]
        if ch == "[" and (citation := _CITATION.match(s, i)):
            i = citation.end()
            continue
        if ch in _RISKY or "\x80" <= ch <= "\x9f":
            break
        following = s[i + 1] if i + 1 < len(s) else " "
        if ch.isspace() or not (_ascii_like(ch) or _ascii_like(following) or following.isspace()):
            best = max(best, i + 1)
        if i + 1 == len(s):
            break  # what follows it is not known yet
        i += 1
    return best, i


class CleanStream:
    """Sanitises a streamed answer piece by piece; ``feed`` returns only text that is final."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._hosts = allowlist(allowed_hosts)
        self._raw = ""  # the model's text, invisible and loose control characters already removed
        self._stable = 0  # how much of ``_raw`` can no longer change when sanitised
        self._scan = 0  # where ``_stable_end`` looks again
        self._lines = 0  # ``_raw[:_lines]`` is whole lines, already sanitised into ``_clean_lines``
        self._clean_lines = ""
        self._mark = 0  # ``_raw[_lines:_mark]``, the stable start of the last line, is ``_clean_mark``
        self._clean_mark = ""
        self.shown = ""  # the clean text released so far (what a transport may show)

    def feed(self, piece: str) -> str:
        """Take a raw piece; return the clean text that may be shown now (possibly empty)."""
        # A control character that vanishes must not count as a space between words: it goes now.
        self._raw += _LOOSE_CONTROLS.sub("", strip_invisible(piece))
        self._stable, self._scan = _stable_end(self._raw, self._stable, self._scan)
        return self._release(self._clean(self._stable).strip())

    def _clean(self, end: int) -> str:
        """``raw[:end]`` sanitised, each part once: finished lines (no rule crosses a line break),
        then the last line's stable parts. ``end`` is stable, and the line up to it holds nothing
        risky, so no rule reaches across it either: a long line costs no more than a short one."""
        start = self._raw.rfind("\n", self._lines, end) + 1
        if start > self._lines:
            self._clean_lines += _sanitize(self._raw[self._lines : start], self._hosts)
            self._lines = self._mark = start
            self._clean_mark = ""
        if end > self._mark:
            self._clean_mark += _sanitize(self._raw[self._mark : end], self._hosts)
            self._mark = end
        return self._clean_lines + self._clean_mark

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
