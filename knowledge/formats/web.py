"""HTML (``selectolax``): the page's main text, headings start sections, no scripts or navigation."""

from __future__ import annotations

import re
from pathlib import PurePath

from selectolax.lexbor import LexborHTMLParser, LexborNode

from knowledge.formats.base import ParsedDocument, ParseError, Section, clean, decode, join_cjk, one_line, row_text

__all__ = ["parse"]

#: Not the page's content: code, styling, and the site's navigation and furniture.
_DROP = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "iframe", "svg", "form"]
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "pre", "blockquote",
     "table", "caption", "figure", "figcaption", "br", "hr", "address", "details", "summary"}
)  # fmt: skip
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*(shift_jis|sjis|x-sjis|windows-31j|cp932|euc-jp)""", re.I)


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The page's title (``<title>``, else the first ``<h1>``) and its text in sections."""
    text = _decode(raw)
    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    title = one_line([title_node.text()]) if title_node is not None else ""
    tree.strip_tags(_DROP)
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    if root is None:
        raise ParseError("no text")
    walker = _Walker()
    walker.walk(root)
    sections = walker.sections()
    if not sections:
        raise ParseError("no text")
    first_h1 = tree.css_first("h1")
    title = title or (one_line([first_h1.text()]) if first_h1 is not None else "") or PurePath(name).stem
    return ParsedDocument(title, "\n\n".join(s.text for s in sections), {}, tuple(sections))


def _decode(raw: bytes) -> str:
    declared = _CHARSET.search(raw[:4096])
    if declared is not None:
        encoding = "euc-jp" if declared.group(1).lower() == b"euc-jp" else "cp932"
        try:
            return decode(raw.decode(encoding).encode())
        except UnicodeDecodeError:
            pass
    return decode(raw)


class _Walker:
    """Walks the tree in order, collecting lines; a heading closes the section before it."""

    def __init__(self) -> None:
        self._done: list[Section] = []
        self._location: str | None = None
        self._lines: list[str] = []
        self._line: list[str] = []

    def walk(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text":
                self._line.append(child.text_content or "")
            elif tag in _HEADINGS:
                heading = one_line([child.text(separator=" ")])
                if heading:
                    self._close()
                    self._location = heading
                    self._lines.append(heading)
            elif tag == "tr":
                self._break()
                cells = [c.text(separator=" ") for c in child.iter() if c.tag in {"td", "th"}]
                if row := row_text(cells):
                    self._lines.append(row)
            elif tag in _BLOCKS:
                self._break()
                self.walk(child)
                self._break()
            elif tag and not tag.startswith(("-", "!")):
                self.walk(child)

    def _break(self) -> None:
        # Text nodes carry their own spaces; a line break between Japanese words in the source is
        # no space on the page (nor in the text).
        if line := join_cjk(" ".join(clean("".join(self._line)).split())):
            self._lines.append(line)
        self._line = []

    def _close(self) -> None:
        self._break()
        if self._lines:
            self._done.append(Section(self._location, "\n".join(self._lines)))
        self._lines = []

    def sections(self) -> list[Section]:
        self._close()
        return self._done
