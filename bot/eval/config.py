"""Configurations to compare (``kura eval SET --config FILE``): YAML files of settings to override.

The short keys name what an admin compares most (``top_k``, ``retrieval_mode``, ``temperature``,
``max_tokens``, ``model``, ``base_url`` + ``model_name``, ``chunk_tokens``, ``chunk_overlap_tokens``);
``settings:`` overrides any other setting by section and name, as ``KURA_<SECTION>_<NAME>`` would. The
result is validated like the settings themselves, so a typo is an error before any question is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import InputError
from bot.settings import KuraSettings
from knowledge.safe_yaml import YAMLLimit, load_bounded

__all__ = ["CHUNKING", "EvalConfig", "apply", "load_config"]

#: Short key -> (settings section, field).
_SHORT: dict[str, tuple[str, str]] = {
    "top_k": ("retrieval", "top_k"),
    "retrieval_mode": ("retrieval", "mode"),
    "chunk_tokens": ("retrieval", "chunk_tokens"),
    "chunk_overlap_tokens": ("retrieval", "chunk_overlap_tokens"),
    "temperature": ("llm", "temperature"),
    "max_tokens": ("llm", "max_tokens"),
    "model": ("llm", "local_model"),
    "base_url": ("llm", "base_url"),
    "model_name": ("llm", "model"),
}
#: Settings that change how documents are cut: such a configuration runs on a scratch store.
CHUNKING = frozenset({("retrieval", "chunk_tokens"), ("retrieval", "chunk_overlap_tokens")})
#: The sections a configuration may change: how answers are made. Where data lives, who may do what,
#: the embedder (another vector space) and the second endpoint (policy routing) stay as configured.
_ALLOWED = frozenset({"llm", "retrieval", "pipeline", "faq", "rerank"})


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    top_k: int | None = None
    retrieval_mode: str | None = None
    chunk_tokens: int | None = None
    chunk_overlap_tokens: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    model: str | None = None
    base_url: str | None = None
    model_name: str | None = None
    settings: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class EvalConfig:
    """A named set of overrides: section -> field -> value."""

    name: str
    overrides: dict[str, dict[str, Any]]

    @property
    def chunking(self) -> bool:
        """Whether documents must be cut again (a scratch store)."""
        return any((s, f) in CHUNKING for s, fields in self.overrides.items() for f in fields)

    def flat(self) -> dict[str, Any]:
        """``section.field: value``, for the report."""
        return {f"{s}.{f}": v for s, fields in self.overrides.items() for f, v in fields.items()}


def load_config(path: Path, settings: KuraSettings) -> EvalConfig:
    """Read a configuration file and check its overrides against the settings."""
    try:
        data = load_bounded(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the configuration {path}: {exc.strerror or exc}") from None
    except (YAMLLimit, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable YAML configuration ({exc})") from None
    try:
        head = _ConfigFile.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InputError(f"{path}: {'.'.join(str(p) for p in error['loc'])}: {error['msg']}") from None
    overrides: dict[str, dict[str, Any]] = {s: dict(f) for s, f in head.settings.items()}
    for key, (section, name) in _SHORT.items():
        value = getattr(head, key)
        if value is not None:
            overrides.setdefault(section, {})[name] = value
    config = EvalConfig(head.name or path.stem, overrides)
    apply(settings, config, where=str(path))  # validates
    return config


def apply(settings: KuraSettings, config: EvalConfig, *, where: str = "the configuration") -> KuraSettings:
    """The settings with the configuration's overrides, validated section by section."""
    updates: dict[str, BaseModel] = {}
    for section, fields in config.overrides.items():
        current = getattr(settings, section, None)
        if section not in _ALLOWED or not isinstance(current, BaseModel):
            raise InputError(f"{where}: {section!r} is not a setting section a configuration may change")
        unknown = sorted(set(fields) - set(type(current).model_fields))
        if unknown:
            raise InputError(f"{where}: {section} has no setting {unknown[0]!r}")
        try:
            updates[section] = type(current).model_validate({**current.model_dump(), **fields})
        except ValidationError as exc:
            error = exc.errors()[0]
            raise InputError(f"{where}: {section}.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}") from None
    return settings.model_copy(update=updates)
