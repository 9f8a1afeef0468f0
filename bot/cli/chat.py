"""``kura ask`` and ``kura demo``: questions through the whole pipeline from the terminal."""

from __future__ import annotations

import argparse
import json
import re
import sys

from rich.console import Console
from rich.prompt import Prompt

from bot.adapters.console import ConsoleRenderer, to_inbound
from bot.cli.admin import print_ingest_report, run_ingest
from bot.core.types import Completed, Reply
from bot.errors import InputError
from bot.settings import KuraSettings
from bot.wiring import Runtime, open_runtime, sample_knowledge

__all__ = ["ask", "demo", "exit_code", "json_line", "reply_json", "safe_json"]

# Characters a terminal or a viewer may act on or hide that json.dumps leaves as they are with
# ensure_ascii=False (it escapes only C0): DEL and C1 (8-bit escape sequences), bidi controls,
# zero-width characters, line separators, tag characters.
_UNSAFE = re.compile(
    "[\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff"
    "\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _u_escape(m: re.Match[str]) -> str:
    # As JSON writes it: \uXXXX, a surrogate pair beyond the BMP.
    data = m.group(0).encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(data[i : i + 2], 'big'):04x}" for i in range(0, len(data), 2))


def reply_json(reply: Reply) -> dict[str, object]:
    """The ``--json`` shape of DESIGN.md, plus status and the rules that fired."""
    return {
        "answer": reply.text,
        "citations": [
            {"source": c.source, "title": c.title, "number": c.number, "location": c.location} for c in reply.citations
        ],
        "decision": {
            "allowed": reply.decision.allowed,
            "reason": reply.decision.reason,
            "reason_code": reply.decision.reason_code,
            "rules": list(reply.decision.rules),
        },
        "audit_id": reply.audit_id,
        "faq_id": reply.faq_id,
        "status": reply.status,
    }


def json_line(reply: Reply) -> str:
    """``reply_json`` as one line. Titles and paths are data and stay as the documents have them;
    every character a terminal could act on is escaped, so printing the line is safe and parsing it
    gives the text back exactly."""
    return safe_json(reply_json(reply))


def safe_json(value: object) -> str:
    """``value`` as one line of JSON that is safe to print to a terminal (see :func:`json_line`)."""
    return _UNSAFE.sub(_u_escape, json.dumps(value, ensure_ascii=False))


def exit_code(reply: Reply) -> int:
    """0 answered (or nothing readable found), 3 refused, 4 unavailable."""
    return {"refused": 3, "unavailable": 4}.get(reply.status, 0)


def _status(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


async def ask(settings: KuraSettings, args: argparse.Namespace) -> int:
    """One question; streams to the terminal, or prints one JSON object with ``--json``."""
    if not args.question.strip():
        raise InputError("the question is empty")
    async with open_runtime(settings, with_model=True, status=None if args.json else _status) as rt:
        if rt.pipeline is None:
            raise RuntimeError("the runtime was opened without a model")
        message = to_inbound(args.question, args.user, args.channel)
        if args.json:
            reply = await rt.pipeline.answer(message)
            print(json_line(reply))
            return exit_code(reply)
        renderer = ConsoleRenderer(Console(highlight=False))
        final: Reply | None = None
        async for event in rt.pipeline.handle(message):
            renderer.render(event)
            if isinstance(event, Completed):
                final = event.reply
        if final is None:
            raise RuntimeError("the pipeline ended without a reply")
        return exit_code(final)


def _choose_user(rt: Runtime, console: Console, wanted: str | None) -> str:
    users = rt.directory.users()
    if wanted:
        return wanted
    console.print("[bold]Sample users[/bold] (サンプルユーザー):")
    for i, u in enumerate(users, 1):
        console.print(f"  {i}. {u.email}  {u.name}  groups: {', '.join(sorted(u.groups))}")
    choice = Prompt.ask("Chat as (number or email)", default="1", console=console)
    if choice.isdigit() and 1 <= int(choice) <= len(users):
        return users[int(choice) - 1].email
    return choice.strip()


async def demo(settings: KuraSettings, args: argparse.Namespace) -> int:
    """Everything on embedded defaults, then an interactive chat as a sample user."""
    console = Console(highlight=False)
    async with open_runtime(settings, with_model=True, status=_status) as rt:
        if rt.pipeline is None:
            raise RuntimeError("the runtime was opened without a model")
        if not args.no_ingest:
            report = await run_ingest(rt, sample_knowledge(), None, console)
            print_ingest_report(report, console)
        user = _choose_user(rt, console, args.user)
        channel: str | None = args.channel
        console.print(
            f"\n[bold]Kura[/bold] · as {user} · {'channel ' + channel if channel else 'direct'} · "
            f"model {rt.chat.name if rt.chat else '?'}\n"
            "[dim]Ask in Japanese or English. /user EMAIL, /channel ID (or /channel dm), "
            "/channels, /quit[/dim]\n"
            "[dim]例: 経費精算の締め日は？ · What is the sales commission rate? · G3の基本給は？[/dim]\n"
        )
        renderer = ConsoleRenderer(console)
        while True:
            try:
                line = console.input(f"[bold green]{user.split('@')[0]}[/bold green]> ")
            except EOFError:
                return 0
            if not line.strip():
                continue
            if line.strip() in {"/quit", "/exit"}:
                return 0
            if line.startswith("/user "):
                user = line.split(maxsplit=1)[1].strip()
                continue
            if line.startswith("/channel "):
                value = line.split(maxsplit=1)[1].strip()
                channel = None if value.lower() == "dm" else value
                continue
            if line.strip() == "/channels":
                for cid, name in rt.directory.channels().items():
                    console.print(f"  {cid}  #{name}")
                continue
            async for event in rt.pipeline.handle(to_inbound(line, user, channel)):
                renderer.render(event)
