"""The sample company's evaluation set (bot/sample/eval/sample.yaml) is true to the sample: every
expected document exists and holds the facts the case lists, every asker of an answerable case may
read an expected document, and every leak case asks about a folder some reader of the reply may NOT
read (else it would test nothing)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

import bot
from bot.eval.cases import Case, EvalSet, Pattern, load_set, normalise
from bot.identity import FileDirectory
from knowledge.access import AccessInfo, folder_access, merge_access
from knowledge.parsing import parse_file
from policies import ChannelKind
from policies.engine import Reader, audience, reader_of
from policies.loader import load_policy
from policies.model import Member

SAMPLE = Path(bot.__file__).parent / "sample"
SET_FILE = SAMPLE / "eval" / "sample.yaml"
KNOWLEDGE = SAMPLE / "knowledge"
POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
RESTRICTED = ("hr/", "it/", "managers/", "handbook/sales/")


@pytest.fixture(scope="module")
def sample() -> EvalSet:
    return load_set(SET_FILE)


@cache
def _text(source: str) -> str:
    path = KNOWLEDGE / source
    return parse_file(path, path.read_bytes()).text


@cache
def _access(source: str) -> AccessInfo:
    path = KNOWLEDGE / source
    base = folder_access(path.parent, KNOWLEDGE, None)
    return merge_access(base, parse_file(path, path.read_bytes()).metadata, str(path))


def _all_read(readers: list[Reader], source: str) -> bool:
    """Whether every reader of a reply may read this document (its folder's access, front matter)."""
    access = _access(source)
    return all(r.may_read(access.allow, access.classification) for r in readers)


def _in_text(fact: str | Pattern, text: str) -> bool:
    if isinstance(fact, Pattern):
        return re.search(fact.pattern, unicodedata.normalize("NFKC", text), re.IGNORECASE) is not None
    return normalise(fact) in normalise(text)


async def _readers(case: Case) -> list[Reader]:
    """Who reads the reply, as the runner recomputes it: the asker, and a channel's audience."""
    policy = load_policy(POLICY)
    directory = FileDirectory.load(SAMPLE / "directory.yaml")
    user = await directory.user(case.asker)
    readers = [reader_of(policy, user.member() if user is not None else Member(case.asker, known=False))]
    if case.channel is not None:
        members = await directory.channel_members(case.channel)
        if members is not None:
            kind = await directory.channel_kind(case.channel) or ChannelKind()
            readers += audience(policy, kind, members, case.channel)[0]
    return readers


def test_the_raw_file_is_plain_yaml_with_unique_ids() -> None:
    data = yaml.safe_load(SET_FILE.read_text(encoding="utf-8"))
    ids = [case["id"] for case in data["cases"]]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert data["knowledge"] == "../knowledge"


def test_the_set_is_big_enough_and_covers_every_kind(sample: EvalSet) -> None:
    assert sample.name == "sample"
    assert sample.knowledge == KNOWLEDGE.resolve()
    tags = Counter(tag for case in sample.cases for tag in case.tags)
    assert len(sample.cases) >= 56
    assert tags["ja"] + tags["en"] == len(sample.cases), "every case is tagged ja or en"
    assert min(tags["ja"], tags["en"]) >= len(sample.cases) // 3, tags
    for kind in ("paraphrase", "code", "cross-language", "new-format"):
        assert tags[kind] >= 5, kind
    assert tags["not-found"] >= 6, tags
    assert tags["refusal"] >= 3, tags
    for folder in RESTRICTED:
        leaks = [c for c in sample.cases if "leak" in c.tags and folder in c.never.sources]
        assert len(leaks) >= 3, folder
        assert any(c.channel is not None for c in leaks), f"no leak case for {folder} in a channel"
    assert any(c.question == "G3の基本給は？" and c.asker == "alice@example.co.jp" for c in sample.cases)


def test_every_source_and_never_source_exists(sample: EvalSet) -> None:
    for case in sample.cases:
        for source in case.expect.sources:
            assert (KNOWLEDGE / source).is_file(), f"{case.id}: {source}"
        for never in case.never.sources:
            assert (KNOWLEDGE / never).is_dir() if never.endswith("/") else (KNOWLEDGE / never).is_file(), case.id


def test_every_fact_is_in_an_expected_document(sample: EvalSet) -> None:
    """A string fact (or at least one alternative of a list) is in the text an expected document is
    extracted to, compared as the runner compares answers (NFKC, case folded, no whitespace)."""
    for case in sample.cases:
        if case.expect.outcome != "answer":
            assert not case.expect.facts, case.id
            assert not case.expect.sources, case.id
            continue
        assert case.expect.sources, case.id
        assert 1 <= len(case.expect.facts) <= 3, case.id
        texts = [_text(source) for source in case.expect.sources]
        for fact in case.expect.facts:
            options = fact if isinstance(fact, list) else [fact]
            assert any(_in_text(o, t) for o in options for t in texts), f"{case.id}: {fact!r} in no expected source"


async def test_askers_may_read_what_answers_them(sample: EvalSet) -> None:
    for case in sample.cases:
        if case.expect.outcome != "answer":
            continue
        readers = await _readers(case)
        readable = [source for source in case.expect.sources if _all_read(readers, source)]
        assert readable, f"{case.id}: {case.asker} may read none of {case.expect.sources}"


async def test_leak_cases_ask_about_what_some_reader_may_not_read(sample: EvalSet) -> None:
    """Otherwise the case would not test a leak; and its secrets are not in anything readable."""
    for case in sample.cases:
        if "leak" not in case.tags:
            continue
        assert case.expect.outcome == "not_found", case.id
        assert case.never.sources, case.id
        readers = await _readers(case)
        for never in case.never.sources:
            files = sorted(p for p in (KNOWLEDGE / never).rglob("*") if p.is_file() and not p.name.startswith("."))
            for path in files or [KNOWLEDGE / never]:
                assert not _all_read(readers, path.relative_to(KNOWLEDGE).as_posix()), f"{case.id}: {path}"
        every = [p.relative_to(KNOWLEDGE).as_posix() for p in KNOWLEDGE.rglob("*") if p.is_file()]
        for source in every:
            if Path(source).name.startswith(".") or not _all_read(readers, source):
                continue
            for string in case.never.strings:
                assert not _in_text(string, _text(source)), f"{case.id}: {string!r} is in readable {source}"


async def test_refusals_are_for_unknown_people_or_places(sample: EvalSet) -> None:
    directory = FileDirectory.load(SAMPLE / "directory.yaml")
    for case in sample.cases:
        if case.expect.outcome != "refused":
            continue
        unknown_user = await directory.user(case.asker) is None
        members = await directory.channel_members(case.channel) if case.channel else None
        not_a_member = case.channel is not None and (members is None or case.asker not in {m.user_id for m in members})
        assert unknown_user or not_a_member, case.id
