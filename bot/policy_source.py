"""The policy in force, reloaded when its file changes. A broken, half-written or cut-off new file
keeps the old policy in force and says so loudly: never an open door, never a silent change
(``bot.watched_file``)."""

from __future__ import annotations

from pathlib import Path

from bot.watched_file import WatchedFile
from policies import Policy, PolicyError, load_policy_text

__all__ = ["ReloadingPolicy"]


def _problems(exc: Exception) -> str:
    return "; ".join(exc.problems) if isinstance(exc, PolicyError) else str(exc)


class ReloadingPolicy:
    """A PolicySource that re-reads its file (checked at most every ``interval_s``, or on demand);
    a new version takes effect once it has stayed the same for ``settle_s``."""

    def __init__(self, path: Path, initial: Policy, interval_s: float = 1.0, settle_s: float = 1.0) -> None:
        self._file = WatchedFile(
            path,
            lambda text: load_policy_text(text, str(path)),
            initial,
            what="policy",
            errors=(PolicyError,),
            describe=_problems,
            interval_s=interval_s,
            settle_s=settle_s,
        )

    @property
    def last_error(self) -> str | None:
        """Why the newest version of the file is not in force (None when it is)."""
        return self._file.last_error

    def current(self) -> Policy:
        """The policy to decide with (reloaded first if the file changed)."""
        return self._file.current()

    def reload(self) -> bool:
        """Check the file now; True when a new policy took effect."""
        return self._file.reload()
