"""``/kura eval …`` for admins in chat: the last run's summary, the known sets, and a run of a named
set in the background whose summary comes to the admin's DM through the outbox when it is done.

One run at a time per process: a run asks the chat model every case in turn (minutes on a CPU),
and two at once would only slow each other and the people asking meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.eval_words import eval_text
from bot.core.types import Destination
from bot.errors import InputError, Language
from bot.eval.cases import EvalSet, load_set
from bot.eval.loop import last_text, load_named, run_named, run_text
from bot.eval.sets import known_sets
from bot.eval.store import EvalStore

if TYPE_CHECKING:
    from bot.wiring import Runtime

__all__ = ["EvalAdmin"]

_log = logging.getLogger(__name__)


@dataclass
class _Running:
    """The run this process is doing, if any."""

    task: asyncio.Task[None] | None = None
    name: str = ""

    def busy(self) -> bool:
        return self.task is not None and not self.task.done()


#: Per process, whichever platform's admin started it.
_RUNNING = _Running()


class EvalAdmin:
    """Runs ``/kura eval`` for an admin (the admin service decided and audits the command)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = EvalStore(runtime.database.sessions)

    @property
    def running(self) -> asyncio.Task[None] | None:
        """The background run of this process (done or not), for whoever must wait for it."""
        return _RUNNING.task

    async def run(
        self, rest: tuple[str, ...], *, email: str | None, platform: str, user_ref: str, language: Language
    ) -> str:
        """(nothing): the last run; ``sets``; ``run NAME``."""
        verb = rest[0].lower() if rest else "last"
        if verb == "last" and len(rest) <= 1:
            return last_text(await self._store.latest(), self._rt.settings, language)
        if verb == "sets" and len(rest) == 1:
            return await asyncio.to_thread(self._sets, language)
        if verb == "run" and len(rest) == 2 and email is not None:
            return await self._start(rest[1], email, Destination(platform, user=user_ref), language)
        return eval_text("usage", language)

    def _sets(self, language: Language) -> str:
        lines = [eval_text("sets_title", language)]
        for name, path in sorted(known_sets(self._rt.settings).items()):
            try:
                lines.append(eval_text("set_line", language, name=name, cases=len(load_set(path).cases)))
            except InputError as exc:
                lines.append(eval_text("set_broken", language, name=name, reason=exc))
        return "\n".join(lines)

    async def _start(self, name: str, email: str, to: Destination, language: Language) -> str:
        if self._rt.chat is None:
            return eval_text("no_model", language)
        if _RUNNING.busy():
            return eval_text("busy", language, set=_RUNNING.name)
        known = known_sets(self._rt.settings)
        if name not in known:
            return eval_text("unknown_set", language, name=name, known=", ".join(sorted(known)))
        try:
            eval_set = await asyncio.to_thread(load_named, self._rt.settings, name)
        except InputError as exc:
            return eval_text("bad_set", language, reason=exc)
        if _RUNNING.busy():  # another request started one while the set was read
            return eval_text("busy", language, set=_RUNNING.name)
        _RUNNING.name = eval_set.name
        _RUNNING.task = asyncio.create_task(self._background(eval_set, email, to, language))
        return eval_text("started", language, set=eval_set.name, cases=len(eval_set.cases))

    async def _background(self, eval_set: EvalSet, email: str, to: Destination, language: Language) -> None:
        """Run, then post the summary (or why it could not run) to the admin; never raises."""
        from bot.jobs.service import describe_error

        actor = f"{to.platform}:{to.user}"
        try:
            run = await run_named(self._rt, eval_set, started_by=actor)
            text = run_text(run, language)
        except Exception as exc:  # the admin hears why; the process goes on
            _log.exception("eval: the run of %s started in chat failed", eval_set.name)
            text = eval_text("could_not_run", language, set=eval_set.name, reason=describe_error(exc))
        try:
            posted = await self._rt.outbox.post(
                to, text, owner=email, actor=actor, action="admin", subject=f"/kura eval run {eval_set.name}"
            )
        except Exception:  # a background task has nobody to raise to
            _log.exception("eval: the summary of %s could not be posted", eval_set.name)
            return
        if not posted.posted:
            _log.warning("eval: summary not posted reason=%s", posted.reason_code)
