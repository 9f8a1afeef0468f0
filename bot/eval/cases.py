"""Evaluation sets: YAML files of questions, who asks them where, and what a good outcome is.

The format is documented in docs/eval.md. A set is checked whole when loaded: an unknown key, a
duplicate id or a pattern that does not compile is a one-line ``InputError`` naming the case, before
any question is asked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import InputError
from knowledge.safe_yaml import YAMLLimit, load_bounded

__all__ = ["Case", "EvalSet", "Expect", "Fact", "Never", "Pattern", "fact_found", "load_set", "normalise", "subset"]

#: What a case expects: an answer, "not found" (nothing the readers may read answers it), or a refusal.
Outcome = Literal["answer", "not_found", "refused"]

_ID = r"^[A-Za-z0-9._-]{1,80}$"
#: The largest set file read (a set of thousands of cases is a few hundred kB).
MAX_SET_BYTES = 4 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Pattern(_Strict):
    """A regular expression searched in the answer (after NFKC)."""

    pattern: Annotated[str, Field(min_length=1, max_length=500)]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"the pattern {value!r} does not compile: {exc}") from None
        return value


#: A fact: a string, any one of several alternatives (ja/en wordings), or a pattern.
Fact = str | list[str | Pattern] | Pattern


class Expect(_Strict):
    """A good outcome."""

    outcome: Outcome = "answer"
    sources: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()


class Never(_Strict):
    """What must never happen: a document (or a folder ending in ``/``) used, a string answered."""

    sources: tuple[str, ...] = ()
    strings: tuple[str | Pattern, ...] = ()


class Case(_Strict):
    """One question and its expectations."""

    id: Annotated[str, Field(pattern=_ID)]
    question: Annotated[str, Field(min_length=1, max_length=4000)]
    asker: Annotated[str, Field(alias="as", min_length=1)]
    channel: str | None = None
    tags: tuple[str, ...] = ()
    expect: Expect = Expect()
    never: Never = Never()


class _Defaults(_Strict):
    asker: str | None = Field(default=None, alias="as")
    channel: str | None = None
    tags: tuple[str, ...] = ()


class _SetFile(_Strict):
    name: str | None = None
    description: str = ""
    knowledge: str | None = None
    defaults: _Defaults = _Defaults()
    cases: Annotated[list[dict[str, object]], Field(min_length=1)]


@dataclass(frozen=True)
class EvalSet:
    """A loaded set: its cases, and the knowledge folder its sources are relative to (if it names one)."""

    name: str
    path: Path
    cases: tuple[Case, ...]
    knowledge: Path | None = None
    description: str = ""


def load_set(path: Path) -> EvalSet:
    """Read and check a set file; ``InputError`` with one line saying what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the evaluation set {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SET_BYTES:
        raise InputError(f"{path}: the set is larger than {MAX_SET_BYTES // (1024 * 1024)} MB")
    try:
        data = load_bounded(raw.decode("utf-8"), MAX_SET_BYTES)
    except (YAMLLimit, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable YAML set ({exc})") from None
    try:
        head = _SetFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {_first_error(exc)}") from None
    defaults = head.defaults
    cases: list[Case] = []
    seen: set[str] = set()
    for index, item in enumerate(head.cases, 1):
        merged: dict[str, object] = {}
        if defaults.asker is not None:
            merged["as"] = defaults.asker
        if "channel" in defaults.model_fields_set:
            merged["channel"] = defaults.channel
        merged.update(item)
        if defaults.tags:
            tags = merged.get("tags") or []
            merged["tags"] = [*defaults.tags, *(tags if isinstance(tags, list) else [tags])]
        try:
            case = Case.model_validate(merged)
        except ValidationError as exc:
            label = item.get("id") if isinstance(item.get("id"), str) else f"#{index}"
            raise InputError(f"{path}: case {label}: {_first_error(exc)}") from None
        if case.id in seen:
            raise InputError(f"{path}: case id {case.id!r} is used twice")
        seen.add(case.id)
        cases.append(case)
    knowledge = (path.parent / head.knowledge).resolve() if head.knowledge else None
    return EvalSet(head.name or path.stem, path, tuple(cases), knowledge, head.description)


def subset(eval_set: EvalSet, ids: list[str], tags: list[str]) -> EvalSet:
    """The set narrowed to the named cases and to cases with any of the tags (both when both given)."""
    cases = eval_set.cases
    if ids:
        unknown = sorted(set(ids) - {c.id for c in cases})
        if unknown:
            raise InputError(f"{eval_set.path}: no case {unknown[0]!r}")
        cases = tuple(c for c in cases if c.id in ids)
    if tags:
        cases = tuple(c for c in cases if set(c.tags) & set(tags))
    if not cases:
        raise InputError(f"{eval_set.path}: no case has the tag(s) {', '.join(tags)}")
    # A subset is stored under its own name, so its figures never join the whole set's trend.
    label = "+".join([*(f"case:{i}" for i in ids), *tags]) if ids or tags else ""
    name = f"{eval_set.name}#{label}" if label else eval_set.name
    return EvalSet(name, eval_set.path, cases, eval_set.knowledge, eval_set.description)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    # A union (a fact is a string, a list or a pattern) fails once per branch: our own check's
    # words (a pattern that does not compile) say more than "should be a valid string".
    error = next((e for e in errors if e["type"] == "value_error"), errors[0])
    where = (
        ".".join(str(p) for p in error["loc"] if p not in ("str", "list[union[str,Pattern]]", "Pattern")) or "the file"
    )
    return f"{where}: {error['msg']}"


def normalise(text: str) -> str:
    """NFKC, case folded, whitespace removed: how facts and never-strings are compared."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def fact_found(fact: Fact, answer: str) -> bool:
    """Whether the answer holds the fact (a string, any alternative of a list, or a pattern)."""
    if isinstance(fact, list):
        return any(fact_found(alternative, answer) for alternative in fact)
    if isinstance(fact, Pattern):
        return re.search(fact.pattern, unicodedata.normalize("NFKC", answer), re.IGNORECASE) is not None
    return normalise(fact) in normalise(answer)
