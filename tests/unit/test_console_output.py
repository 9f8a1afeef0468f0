"""The terminal and ``kura ask --json``: nothing from a document or a policy acts on the terminal."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from bot.adapters.console import ConsoleRenderer
from bot.cli.chat import json_line
from bot.core.types import Citation, Completed, Decided, Reply, TextDelta
from policies import Decision

pytestmark = pytest.mark.unit

HOSTILE_TITLE = (
    "\x1b[2J\x1b]8;;https://evil.example/\x07給与\x1b]8;;\x07 <!channel> [bold red]x[/] \u202eevil.com\x9b31m"
)
HOSTILE_PATH = "hr/\x1b[31m給与\x07\r.md"


def _reply(
    text: str = "締め日は25日です [1]", status: str = "answered", decision: Decision | None = None, location: str = ""
) -> Reply:
    cited = (Citation(1, HOSTILE_PATH, HOSTILE_TITLE, location=location),)
    return Reply(status, text, cited, decision or Decision(True, "allowed", "allowed"), "a1", "ja")  # type: ignore[arg-type]


def _render(*events: Decided | TextDelta | Completed) -> str:
    out = io.StringIO()
    renderer = ConsoleRenderer(Console(file=out, force_terminal=False, color_system=None, width=200))
    for event in events:
        renderer.render(event)
    return out.getvalue()


def test_titles_paths_and_policy_words_reach_the_terminal_as_plain_text() -> None:
    """No escape sequence, terminal hyperlink, bell, carriage return, bidi override or rich markup
    from a title, a path, a refusal or a reason reaches the terminal; the words do."""
    refusal = Decision(False, "denied\x1b[2J", "policy says \x1b]0;pwned\x07no [bold]x[/bold]")
    printed = _render(Decided(refusal), Completed(_reply("お答えできません\x1b[5m", "refused", refusal)))
    printed += _render(TextDelta("締め日は"), Completed(_reply()))
    for bad in ("\x1b", "\x07", "\r", "\x9b", "\u202e", "evil.example", "<!channel>", "evil.com"):
        assert bad not in printed, repr(bad)
    assert "給与 ＠channel [bold red]x[/] evil[.]com" in printed
    assert "hr/給与.md" in printed
    assert "policy says no [bold]x[/bold]" in printed
    assert "出典:" in printed


def test_a_citation_says_where_in_the_document_as_plain_text() -> None:
    """The page, slide, sheet and rows or heading follow the path (as in Slack and Teams); a
    location is document text too, so its controls and markup do not act."""
    printed = _render(Completed(_reply(location="経費 rows 2-9")))
    assert "hr/給与.md · 経費 rows 2-9" in printed
    hostile = _render(Completed(_reply(location="p. 3\x1b]8;;https://evil.example/\x07 [bold]x[/bold]")))
    assert "\x1b" not in hostile
    assert "evil.example" not in hostile
    assert "· p. 3" in hostile
    assert "[bold]x[/bold]" in hostile


def test_json_keeps_titles_as_data_and_escapes_what_a_terminal_would_act_on() -> None:
    """``--json`` is data: titles and paths as the documents have them, every control, bidi and
    invisible character written as a JSON escape, so the printed line is inert and parses back exactly."""
    line = json_line(_reply())
    assert line.isprintable()
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\r", "\n"):
        assert bad not in line
    data = json.loads(line)
    assert [{"source": HOSTILE_PATH, "title": HOSTILE_TITLE, "number": 1, "location": ""}] == data["citations"]
    assert "締め日は25日です [1]" == data["answer"]
