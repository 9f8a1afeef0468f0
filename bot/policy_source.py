"""The policy in force, reloaded when its file changes. A broken new file keeps the old policy in
force and says so loudly: never an open door, never a silent change."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from policies import Policy, PolicyError, load_policy

__all__ = ["ReloadingPolicy"]

_log = logging.getLogger(__name__)


class ReloadingPolicy:
    """A PolicySource that re-reads its file (checked at most every ``interval_s``, or on demand)."""

    def __init__(self, path: Path, initial: Policy, interval_s: float = 1.0) -> None:
        self._path = path
        self._policy = initial
        self._interval = interval_s
        self._checked = time.monotonic()
        self._stamp = self._stat()
        self.last_error: str | None = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> Policy:
        """The policy to decide with (reloaded first if the file changed)."""
        if time.monotonic() - self._checked >= self._interval:
            self.reload()
        return self._policy

    def reload(self) -> bool:
        """Check the file now; True when a new policy took effect."""
        self._checked = time.monotonic()
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            policy = load_policy(self._path)
        except PolicyError as exc:
            self.last_error = "; ".join(exc.problems)
            _log.error(
                "POLICY NOT RELOADED: %s is invalid; the previous policy (version %s) stays in force: %s",
                self._path,
                self._policy.version,
                self.last_error,
            )
            return False
        self.last_error = None
        _log.warning("policy reloaded path=%s version=%s->%s", self._path, self._policy.version, policy.version)
        self._policy = policy
        return True
