"""Which host a link reaches, read the way a browser reads it, and whether answers may link there.

A URL is allowed only when its authority is unambiguous: a browser (the WHATWG URL standard) and
Python's ``urlsplit`` must agree on the host, and anything they may read differently is refused
outright: userinfo (``allowed@evil``), backslashes (``https:\\\\evil``, ``evil\\@allowed``),
percent-encoding, non-ASCII or full-width letters, IPv6 literals and IPv4 in any form but a plain
dotted quad (``0x7f.1``, ``2130706433``), empty labels, odd ports.

Host names without a scheme (``evil.example.com/login``, ``www.evil.com``) are links too: Slack
turns them into ``http://…`` links, and so do many Markdown renderers. :func:`bare_host` tells them
apart from file names (``handbook.md``, ``docs/setup.py``), whatever Unicode form they are written in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["COMPAT_CHARS", "DOTS", "allowlist", "bare_host", "host_allowed", "url_allowed", "url_host"]

#: Schemes a browser opens as a page; every other scheme (``javascript:``, ``file:``, ``smb:``,
#: ``mailto:`` …) is never allowed.
_WEB_SCHEMES = frozenset({"http", "https", "ftp"})
_START = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
_PORT = re.compile(r"[0-9]{0,5}")
# WHATWG: a host whose last label is a number (decimal or 0x-hex) is an IPv4 address.
_NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def allowlist(hosts: Iterable[str]) -> frozenset[str]:
    """The configured hosts, lower-case and without outer dots."""
    return frozenset(h.strip().lower().strip(".") for h in hosts if h and h.strip().strip("."))


def host_allowed(host: str, hosts: frozenset[str]) -> bool:
    """Whether ``host`` (already normalised) is one of ``hosts`` or below one of them. An entry of
    one label (``intranet``) or an IP address matches only itself: ``com`` must not open all of .com."""
    if host in hosts:
        return True
    if _DOTTED_QUAD.fullmatch(host):
        return False
    return any("." in h and not _DOTTED_QUAD.fullmatch(h) and host.endswith("." + h) for h in hosts)


def url_host(url: str) -> str | None:
    """The host a browser would go to for ``url``, when nothing about it is ambiguous; else None."""
    if "\\" in url or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    start = _START.match(url)
    if start is None or start.group(1).lower() not in _WEB_SCHEMES:
        return None
    authority = start.group(2)
    if not authority.isascii() or any(ch in authority for ch in "@%[]"):
        return None
    host, _, port = authority.lower().partition(":")
    if not _PORT.fullmatch(port) or (port and int(port) > 65535):
        return None
    host = host.removesuffix(".")
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if _NUMERIC.fullmatch(labels[-1]) and not _DOTTED_QUAD.fullmatch(host):
        return None
    try:
        parts = urlsplit(url)
        python_host, _ = parts.hostname, parts.port
    except ValueError:
        return None
    return host if (python_host or "").removesuffix(".") == host else None


def url_allowed(url: str, hosts: frozenset[str]) -> bool:
    """Whether ``url`` surely goes to an allowed host."""
    host = url_host(url)
    return host is not None and host_allowed(host, hosts)


# --- host names without a scheme ---------------------------------------------------------------

#: Characters that NFKC turns into an ASCII letter, digit, ``-`` or ``.`` (full-width ｅｖｉｌ．ｃｏｍ,
#: mathematical 𝐞𝐯𝐢𝐥, circled Ⓔ …): a host written in them still reaches the ASCII host. The blocks
#: scanned hold every such character (tests/unit/test_sanitize.py checks the whole of Unicode).
_COMPAT_BLOCKS = (
    (0x00A0, 0x02FF),
    (0x1D00, 0x1DBF),
    (0x2000, 0x2BFF),
    (0x2C60, 0x2C7F),
    (0xA700, 0xA7FF),
    (0xFE50, 0xFF6F),
    (0x10780, 0x107BF),
    (0x1D400, 0x1D7FF),
    (0x1F100, 0x1F1FF),
    (0x1FBF0, 0x1FBFF),
)
_ASCII_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
COMPAT_CHARS = frozenset(
    chr(cp)
    for low, high in _COMPAT_BLOCKS
    for cp in range(low, high + 1)
    if unicodedata.normalize("NFKC", chr(cp)) in _ASCII_HOST_CHARS
)
#: What separates labels: the ASCII dot, those NFKC maps to it, and the ideographic full stops a
#: browser's IDNA mapping reads as a dot (``evil。com``).
DOTS = frozenset(".\u3002\uff61") | {c for c in COMPAT_CHARS if unicodedata.normalize("NFKC", c) == "."}
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")

#: File extensions that are not top-level domains (checked against IANA's list, version
#: 2026051600): no client can make a link of ``anything.pdf``, so such names always stay.
_PLAIN_EXTENSION_WORDS = (
    "txt text markdown pdf doc docx docm xls xlsx xlsm ppt pptx csv tsv json jsonl ndjson yaml yml "
    "toml ini cfg conf xml html htm log js mjs cjs ts tsx jsx kt kts go c h cpp hpp cs pyi rb php "
    "bash zsh ps1 bat cmd sql r swift scala lua css scss sass less vue svelte png jpg jpeg gif svg "
    "webp bmp tif tiff ico heic gz tgz tar bz2 xz 7z rar eml msg rtf odt ods odp ipynb env lock "
    "bak tmp orig exe dll dylib bin iso dmg msi deb rpm apk jar war pem crt cer der pfx p12 mp3 "
    "mp4 avi mkv wav vsdx drawio dat db sqlite proto hcl gradle patch diff psd epub srt vtt ics "
    "vcf"
)
_PLAIN_EXTENSIONS = frozenset(_PLAIN_EXTENSION_WORDS.split())
#: Extensions that are also top-level domains (.md is Moldova, .py Paraguay, .sh Saint Helena …).
#: ``handbook.md`` and ``setup.py`` are how Kura's own documents and code are named, so a name of
#: exactly two labels with one of these stays readable; ``evil.example.md`` or ``www.x.py`` is a
#: host. Extensions sold as phishing domains (.zip, .mov) or common as domains (.ai, .one) are not
#: here: ``setup.zip`` is shown defanged.
_DOMAIN_EXTENSIONS = frozenset({"md", "py", "sh", "pl", "pm", "rs", "java", "cc", "tf"})
#: Names that cannot be registered on the internet (RFC 6761 / ICANN .internal): a link there can
#: only reach the company's own network, as the sample runbook's ``vpn01.sakura.internal`` does.
_PRIVATE_TLDS = frozenset({"internal", "local", "localhost"})


def bare_host(token: str, *, after: str = "", email_domain: bool = False) -> tuple[str, int] | None:
    """The ASCII host a scheme-less ``token`` (labels joined by dots, in any Unicode form) starts
    with, and how many characters of it that host takes; None when it is not a host a client would
    link: a file name, a version number, a private name or an e-mail domain. ``after`` is the text
    following the token (``/login``, ``:8080``)."""
    # Every character the token is made of maps to exactly one ASCII character: indices agree.
    name = unicodedata.normalize("NFKC", token).replace("\u3002", ".").lower()
    if not name.isascii() or len(name) != len(token):
        return None
    # The whole token, or when it does not end in a top-level domain (``evil.com.1``, ``evil.com。x``)
    # the longest part of it that does.
    end = len(name)
    while (dot := name.rfind(".", 0, end)) > 0:
        if _TLD.fullmatch(name, dot + 1, end):
            labels = name[:end].split(".")
            return None if _linkless(labels, (name[end:] + after)[:2], email_domain=email_domain) else (name[:end], end)
        end = dot
    return None


def _linkless(labels: list[str], after: str, *, email_domain: bool) -> bool:
    """Whether a host-shaped name is something else: a private name, an e-mail's domain, a file."""
    if labels[-1] in _PRIVATE_TLDS:
        return True
    # Followed by a path, a port, a query or a fragment, it is an address, whatever it ends in.
    addressed = after[:1] in ("/", "\\") or (after[:1] == ":" and after[1:2].isdigit())
    if addressed or (after[:1] in ("?", "#") and after[1:2] not in ("", " ", "\n", "\t")):
        return False
    if email_domain:  # a mail client, not a browser, opens user@example.com
        return True
    return labels[-1] in _PLAIN_EXTENSIONS or (labels[-1] in _DOMAIN_EXTENSIONS and len(labels) == 2)
