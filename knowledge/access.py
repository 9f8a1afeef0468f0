"""Access metadata of files: ``.kura-access.yaml`` in a folder (nearest wins) and Markdown front
matter (overrides per key). Keys: ``allow`` (principals), ``classification``, ``owner``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from knowledge.safe_yaml import YAMLLimit, load_bounded

__all__ = ["ACCESS_FILE", "LEVELS", "AccessError", "AccessInfo", "folder_access", "merge_access"]

ACCESS_FILE = ".kura-access.yaml"
#: Classification names by rank; the same order as ``policies.Classification``.
LEVELS: tuple[str, ...] = ("public", "internal", "confidential", "secret")
_PRINCIPAL = re.compile(r"^(public|(user|group|role):[^\s,]+)$")


class AccessError(ValueError):
    """Access metadata that cannot be used; the message names the file."""


@dataclass(frozen=True)
class AccessInfo:
    """Who may read a document and how sensitive it is."""

    allow: tuple[str, ...]
    classification: int
    owner: str | None = None


def _parse(data: Mapping[str, object], where: str, base: AccessInfo | None) -> AccessInfo:
    unknown = set(data) - {"allow", "classification", "owner", "title"}
    if unknown:
        raise AccessError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    allow = base.allow if base else None
    if "allow" in data:
        raw = data["allow"]
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise AccessError(f"{where}: 'allow' must be a list of principals")
        bad = [p for p in raw if not _PRINCIPAL.match(p.strip())]
        if bad:
            raise AccessError(f"{where}: invalid principal(s) {', '.join(bad)} (public, user:, group:, role:)")
        stripped = [p.strip() for p in raw]
        allow = tuple(sorted({p.lower() if p.startswith("user:") else p for p in stripped}))
    level = base.classification if base else None
    if "classification" in data:
        name = str(data["classification"]).strip().lower()
        if name not in LEVELS:
            raise AccessError(f"{where}: unknown classification {name!r} ({', '.join(LEVELS)})")
        level = LEVELS.index(name)
    owner = str(data["owner"]) if data.get("owner") is not None else (base.owner if base else None)
    if allow is None or level is None:
        missing = "allow" if allow is None else "classification"
        raise AccessError(f"{where}: no {missing!r} for this file (set it in {ACCESS_FILE} or front matter)")
    return AccessInfo(allow, level, owner)


def folder_access(folder: Path, root: Path, default: AccessInfo | None) -> AccessInfo | None:
    """Access from the nearest ``.kura-access.yaml`` between ``folder`` and ``root``, else ``default``."""
    current = folder
    while True:
        candidate = current / ACCESS_FILE
        if candidate.is_symlink():
            # Its content could come from anywhere, even outside the source.
            raise AccessError(f"{candidate}: an access file may not be a link")
        if candidate.is_file():
            try:
                data = load_bounded(candidate.read_text(encoding="utf-8")) or {}
            except YAMLLimit as exc:
                raise AccessError(f"{candidate}: {exc}") from exc
            except (OSError, UnicodeDecodeError) as exc:
                raise AccessError(f"{candidate}: unreadable: {type(exc).__name__}") from exc
            if not isinstance(data, dict):
                raise AccessError(f"{candidate}: must be a mapping")
            return _parse(data, str(candidate), default)
        if current == root or current.parent == current:
            return default
        current = current.parent


def merge_access(base: AccessInfo | None, overrides: Mapping[str, object], where: str) -> AccessInfo:
    """Apply front-matter keys on top of the folder's access; AccessError if the result is incomplete."""
    relevant = {k: v for k, v in overrides.items() if k in {"allow", "classification", "owner"}}
    if not relevant:
        if base is None:
            raise AccessError(f"{where}: no access metadata ({ACCESS_FILE} or front matter)")
        return base
    return _parse(relevant, where, base)
