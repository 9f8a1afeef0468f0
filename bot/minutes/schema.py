"""The shapes of minutes: what one extraction call must answer (validated with pydantic) and the
finished minutes."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import Language

__all__ = ["ActionItem", "Extract", "Item", "Minutes", "Summary"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Item(_Strict):
    """A decision (or any listed statement) and where in the source it comes from."""

    text: str = Field(min_length=1, max_length=1000)
    refs: list[str] = Field(default_factory=list, max_length=50)


class ActionItem(_Strict):
    """Work someone must do; ``owner`` and ``due`` are None when the meeting did not say."""

    task: str = Field(min_length=1, max_length=1000)
    owner: str | None = Field(default=None, max_length=200)
    due: str | None = Field(default=None, max_length=200)
    refs: list[str] = Field(default_factory=list, max_length=50)


class Extract(_Strict):
    """One part's extraction, as the model answers it (``EXTRACT_SCHEMA``)."""

    topics: list[str] = Field(default_factory=list, max_length=20)
    decisions: list[Item] = Field(default_factory=list, max_length=100)
    action_items: list[ActionItem] = Field(default_factory=list, max_length=100)
    open_questions: list[str] = Field(default_factory=list, max_length=100)


class Summary(_Strict):
    """The last call's answer (``SUMMARY_SCHEMA``)."""

    title: str = Field(default="", max_length=300)
    summary: list[str] = Field(default_factory=list, max_length=20)


@dataclass(frozen=True)
class Minutes:
    """Finished minutes: merged, de-duplicated, grounded in the source."""

    title: str
    language: Language
    summary: tuple[str, ...]
    decisions: tuple[Item, ...]
    action_items: tuple[ActionItem, ...]
    open_questions: tuple[str, ...]
    #: Parts whose extraction failed twice (their content is missing from the lists).
    failed_parts: tuple[int, ...] = field(default=())
