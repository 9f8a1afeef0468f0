"""The build context's allowlist (.dockerignore) read the way Docker reads it, for the deploy tests."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class DockerIgnore:
    """.dockerignore as Docker reads it: patterns in order, the last one matching a path or any of
    its parent folders decides, `!` lets back in, `**` spans folders."""

    def __init__(self, lines: list[str]) -> None:
        self._rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line[1:].strip() if negate else line
            self._rules.append((negate, re.compile(self._regex(pattern.strip("/")))))

    @classmethod
    def load(cls) -> DockerIgnore:
        return cls((REPO / ".dockerignore").read_text().splitlines())

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[" and "]" in pattern[i:]:
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return out + r"\Z"

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = False
        for negate, rule in self._rules:
            if any(rule.match(c) for c in candidates):
                verdict = not negate
        return verdict
