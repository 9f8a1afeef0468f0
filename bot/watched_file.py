"""A configuration file's parsed value, re-read when the file changes, and never a half-written one.

Editors and deploy tools often rewrite a file in place: a reader that checks at the wrong moment
sees the first half. For a policy or a directory that half can be valid YAML with whole sections
missing, which would loosen the rules (no topics, no rate limits, fewer channel members). So a new
version takes effect only when

- its content has stayed the same for ``settle_s`` (a write in progress keeps changing it), and was
  not being changed while it was read;
- it parses (otherwise the old value stays in force and the error is kept in ``last_error``);
- it keeps every top-level section the version in force has: removing a section on purpose is
  written as an empty one (``topics: []``), so a cut-off file cannot drop one by accident.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import yaml

__all__ = ["WatchedFile", "top_level_keys"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: Larger than any sane policy or directory file; a bigger one is refused, not read.
MAX_BYTES = 16 * 1024 * 1024


def top_level_keys(text: str) -> frozenset[str]:
    """The keys of a YAML mapping document (composed only: no values are built, no aliases expanded)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return frozenset()
    if not isinstance(node, yaml.MappingNode):
        return frozenset()
    return frozenset(str(key.value) for key, _ in node.value if isinstance(key, yaml.ScalarNode))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class WatchedFile(Generic[T]):
    """``current()`` is the value of the last complete, valid version of ``path``.

    ``parse(text)`` builds the value and raises ``errors`` with a message when the text is unusable.
    Checked at most every ``interval_s`` (or on demand with :meth:`reload`).
    """

    def __init__(
        self,
        path: Path,
        parse: Callable[[str], T],
        initial: T,
        *,
        what: str,
        errors: tuple[type[Exception], ...],
        describe: Callable[[Exception], str] = str,
        interval_s: float = 1.0,
        settle_s: float = 1.0,
    ) -> None:
        self._path = path
        self._parse = parse
        self._value = initial
        self._what = what
        self._errors = errors
        self._describe = describe
        self._interval = interval_s
        self._settle = settle_s
        self._checked = time.monotonic()
        self._stamp = self._stat()
        text = self._read()
        self._digest = _digest(text) if text is not None else ""
        self._keys = top_level_keys(text) if text is not None else frozenset()
        self._pending: tuple[str, float] | None = None  # (digest, first seen) of a version settling
        self.last_error: str | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _read(self) -> str | None:
        try:
            with self._path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError:
            return None
        if len(data) > MAX_BYTES:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def current(self) -> T:
        """The value in force (the file is checked first when ``interval_s`` has passed)."""
        if time.monotonic() - self._checked >= self._interval:
            self.reload()
        return self._value

    def reload(self) -> bool:
        """Check the file now; True when a new version took effect."""
        self._checked = time.monotonic()
        before = self._stat()
        if before == self._stamp and self._pending is None:
            return False
        text = self._read()
        if text is None or self._stat() != before:
            # Gone, unreadable, oversized, or changing under us: nothing changes in force.
            self._refuse("cannot be read completely" if text is None else "is being written", before)
            return False
        digest = _digest(text)
        if digest == self._digest:
            self._stamp, self._pending = before, None  # touched, not changed
            return False
        now = time.monotonic()
        if self._pending is None or self._pending[0] != digest:
            self._pending = (digest, now)
        if now - self._pending[1] < self._settle:
            return False  # seen changing; take it once it has stayed the same for settle_s
        self._pending = None
        self._stamp = before
        return self._take(text, digest)

    def _take(self, text: str, digest: str) -> bool:
        keys = top_level_keys(text)
        missing = sorted(self._keys - keys)
        if missing:
            names = ", ".join(missing)
            self._fail(f"sections missing: {names} (to remove one on purpose, leave it empty, e.g. `{missing[0]}: []`)")
            return False
        try:
            value = self._parse(text)
        except self._errors as exc:
            self._fail(self._describe(exc))
            return False
        self._value, self._digest, self._keys = value, digest, keys
        self.last_error = None
        _log.warning("%s reloaded path=%s", self._what, self._path)
        return True

    def _refuse(self, why: str, stamp: tuple[int, int, int] | None) -> None:
        if stamp != self._stamp:
            self._stamp = stamp
            self._fail(why)

    def _fail(self, why: str) -> None:
        self.last_error = why
        _log.error("%s NOT RELOADED: %s: %s; the version in force stays", self._what.upper(), self._path, why)
