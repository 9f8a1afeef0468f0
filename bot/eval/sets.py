"""Named evaluation sets: the packaged ``sample`` set and the ``NAME.yaml`` files of the sets folder."""

from __future__ import annotations

import re
from pathlib import Path

import bot
from bot.errors import InputError
from bot.settings import KuraSettings

__all__ = ["known_sets", "reports_dir", "resolve_set", "sample_set"]

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def sample_set() -> Path:
    """The sample company's set (bot/sample/eval/sample.yaml)."""
    return Path(bot.__file__).parent / "sample" / "eval" / "sample.yaml"


def _sets_dir(settings: KuraSettings) -> Path:
    return settings.eval.sets_dir or settings.data_dir / "eval" / "sets"


def reports_dir(settings: KuraSettings) -> Path:
    """Where runs started from chat or a schedule write their reports."""
    return settings.eval.reports_dir or settings.data_dir / "eval" / "reports"


def known_sets(settings: KuraSettings) -> dict[str, Path]:
    """Name -> file of every named set (the sets folder's own ``sample.yaml`` wins over the packaged one)."""
    found = {"sample": sample_set()}
    folder = _sets_dir(settings)
    if folder.is_dir():
        found |= {p.stem: p for p in sorted(folder.glob("*.yaml")) if _NAME.match(p.stem)}
    return found


def resolve_set(settings: KuraSettings, target: str, *, names_only: bool = False) -> Path:
    """A set's file from a name (``sample``, a file of the sets folder) or, unless ``names_only``
    (chat and schedules name sets, never paths), a path to a YAML file."""
    known = known_sets(settings)
    if target in known:
        return known[target]
    if names_only or not target.endswith((".yaml", ".yml")):
        raise InputError(f"no evaluation set named {target!r}; known: {', '.join(sorted(known))}")
    path = Path(target)
    if not path.is_file():
        raise InputError(f"{target}: no such evaluation set file")
    return path
