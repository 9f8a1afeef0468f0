"""The terminal adapter: a line typed by a chosen user in, the streamed reply out.

Nothing reaches the terminal as it was written elsewhere: the answer is the core's sanitised text,
document titles and paths are cleaned like it (:func:`sanitize_label`), and every other word from
outside (policy messages and reasons) loses escape sequences and control characters; all of it is
escaped for rich's markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from bot.core.messages import say
from bot.core.sanitize import printable, sanitize_label
from bot.core.types import Completed, Decided, InboundMessage, PipelineEvent, Reply, SourcesFound, TextDelta
from policies import explain

__all__ = ["ConsoleRenderer", "to_inbound"]


def to_inbound(line: str, user: str, channel_id: str | None) -> InboundMessage:
    """A typed line as an InboundMessage from ``user`` (an email), in a channel or direct."""
    return InboundMessage(platform="console", user=user, text=line.strip(), channel_id=channel_id)


def _shown(text: str) -> str:
    """Words from outside as rich markup that prints them as they are, and nothing else."""
    return escape(printable(text))


class ConsoleRenderer:
    """Renders pipeline events as they arrive: the decision, the streamed answer, then sources."""

    def __init__(self, console: Console, *, show_rules: bool = False) -> None:
        self._console = console
        self._show_rules = show_rules
        self._streamed = False

    def render(self, event: PipelineEvent) -> None:
        """Render one event."""
        if isinstance(event, Decided):
            self._streamed = False
            d = event.decision
            if d.allowed and d.scope is not None:
                self._console.print(
                    f"[dim]policy: allowed · roles {_shown(', '.join(d.roles)) or '-'} · "
                    f"clearance {d.scope.clearance.label} · reply {d.visibility}[/dim]"
                )
            else:
                self._console.print(f"[dim]policy: denied ({_shown(d.reason_code)}: {_shown(d.reason)})[/dim]")
            if self._show_rules:
                self._console.print(f"[dim]{_shown(explain(d))}[/dim]")
        elif isinstance(event, SourcesFound):
            self._console.print(f"[dim]searched: {len(event.citations)} readable document(s)[/dim]")
        elif isinstance(event, TextDelta):
            self._streamed = True
            self._console.print(_shown(event.text), end="", soft_wrap=True, highlight=False)
        elif isinstance(event, Completed):
            self._finish(event.reply)

    def _finish(self, reply: Reply) -> None:
        if self._streamed:
            self._console.print()
            if reply.status != "answered":
                self._console.print(f"[yellow]{_shown(reply.text)}[/yellow]")
        else:
            style = "yellow" if reply.status in ("refused", "unavailable") else "default"
            self._console.print(f"[{style}]{_shown(reply.text)}[/{style}]")
        if reply.citations:
            self._console.print(f"[bold]{say('sources', reply.language)}:[/bold]")
            for c in reply.citations:
                title, source = escape(sanitize_label(c.title)), escape(sanitize_label(c.source))
                where = f" · {escape(sanitize_label(c.location))}" if c.location else ""  # page, slide, sheet, rows
                self._console.print(f"  [{c.number}] {title} — [cyan]{source}[/cyan]{where}", highlight=False)
        self._console.print(f"[dim]audit: {_shown(reply.audit_id or 'not recorded')}[/dim]\n")
