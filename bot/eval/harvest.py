"""Candidate evaluation cases from usage (``kura eval harvest``): questions people marked 👎 and
questions that found no sources, as a YAML set an owner completes (who asks, the expected outcome,
the documents and facts) before it is run.

Only what the audit log still holds is read (``bot.faq.asked``: allowed ``ask`` records whose
question text retention has not purged; evaluation runs' own questions are never people asking).
Personal data in a question is redacted before anything else sees it, near-identical questions are
one case, and who asked is never written: only the groups of the people who asked, from the
directory (a group names many people; an email names one).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.audit.store import AuditStore
from bot.errors import InputError
from bot.eval.cases import MAX_SET_BYTES, normalise
from bot.eval.files import write_atomic
from bot.faq.asked import asked_questions
from bot.identity import FileDirectory
from bot.redaction import redact
from llm.prompts import detect_language

__all__ = ["Candidate", "Harvest", "check_output", "harvest", "render", "summary", "write_harvest"]

#: The first line of every harvest file: how the next harvest knows it may replace the file, and
#: (by the digest of what follows) that nobody has edited it since.
_MARK = "# kura eval harvest"
_FIRST_LINE = re.compile(r"^# kura eval harvest .* sha256:([0-9a-f]{64})$")
#: Punctuation that does not make a question another one ("締め日は？" is "締め日は").
_PUNCTUATION = re.compile(r"[\s?？!！。、,.．，・…「」『』()（）\"'`]+")
#: Room left under the set loader's YAML limit for the header.
_BUDGET = MAX_SET_BYTES - 4096


@dataclass
class Candidate:
    """One question (redacted) that became a candidate case, and the signals behind it."""

    question: str
    language: str
    thumbs_down: int = 0
    no_sources: int = 0
    asked: int = 0
    groups: set[str] = field(default_factory=set)

    @property
    def signals(self) -> list[str]:
        """``thumbs-down`` and/or ``no-sources``."""
        return [*(["thumbs-down"] if self.thumbs_down else []), *(["no-sources"] if self.no_sources else [])]


@dataclass(frozen=True)
class Harvest:
    """What a harvest found: the candidates (most signals first), how many held questions were
    read, and how many candidates were left out to keep the file loadable."""

    candidates: list[Candidate]
    questions: int
    since: datetime
    left_out: int = 0

    def counts(self) -> dict[str, int]:
        """Candidates per signal (a candidate with both counts in both)."""
        return {
            "thumbs-down": sum(1 for c in self.candidates if c.thumbs_down),
            "no-sources": sum(1 for c in self.candidates if c.no_sources),
        }


def _key(question: str) -> str:
    """Questions that differ only in width, case, spaces or punctuation are one."""
    return _PUNCTUATION.sub("", normalise(question))


#: A group is named in a candidate's comment only when at least this many people are in it: a
#: smaller one (HR of one person) would name who asked.
MIN_GROUP_SIZE = 3


async def harvest(audit: AuditStore, directory: FileDirectory, *, since: datetime) -> Harvest:
    """Candidates from the held questions asked since ``since``."""
    asked = await asked_questions(audit, since=since)
    sizes: dict[str, int] = {}
    for person in directory.users():
        for group in person.groups:
            sizes[group] = sizes.get(group, 0) + 1
    found: dict[str, Candidate] = {}
    for q in asked:
        if q.thumbs_down <= 0 and q.status != "no_sources":
            continue
        text = " ".join(redact(unicodedata.normalize("NFC", q.text)).split())
        if not text:
            continue
        candidate = found.setdefault(_key(text), Candidate(text, detect_language(text)))
        candidate.asked += 1
        candidate.thumbs_down += max(0, q.thumbs_down)
        candidate.no_sources += q.status == "no_sources"
        user = await directory.user(q.asker)
        if user is not None:  # someone the directory does not know: no groups to tell
            candidate.groups |= {g for g in user.groups if sizes.get(g, 0) >= MIN_GROUP_SIZE}
    ordered = sorted(found.values(), key=lambda c: (-(c.thumbs_down + c.no_sources), -c.asked))
    return Harvest(ordered, len(asked), since)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _case(number: int, day: str, c: Candidate) -> str:
    why = []
    if c.thumbs_down:
        why.append(f"{c.thumbs_down} 👎")
    if c.no_sources:
        why.append(f"{c.no_sources}× no sources found")
    times = f"asked {c.asked}×" if c.asked > 1 else "asked once"
    who = ""
    if c.groups:
        who = f"; by {'someone' if c.asked == 1 else 'people'} in {', '.join(sorted(c.groups))}"
    lines = [
        f"  - id: harvest-{day}-{number}",
        f"    question: {_quoted(c.question)}",
        f"    # {times} ({', '.join(why)}){who}",
        "    as: TODO  # TODO: the email of someone in the directory who would ask this",
        f"    tags: [harvested, {', '.join(c.signals)}, {c.language}]",
        "    expect:",
        "      outcome: answer  # TODO: answer | not_found (nothing the asker may read answers it) | refused",
        "      sources: []  # TODO: the documents that answer it (paths under the knowledge root)",
        "      facts: []  # TODO: what a good answer must say (strings, [ja, en] alternatives, {pattern: …})",
    ]
    return "\n".join(lines) + "\n"


def render(result: Harvest, now: datetime) -> tuple[str, Harvest]:
    """The harvest as a YAML set, and the harvest as written (candidates beyond the set loader's size
    limit left out, counted in ``left_out``)."""
    day = f"{now:%Y%m%d}"
    cases: list[str] = []
    size = 0
    for number, candidate in enumerate(result.candidates, 1):
        text = _case(number, day, candidate)
        size += len(text.encode("utf-8"))
        if size > _BUDGET:
            break
        cases.append(text)
    kept = Harvest(result.candidates[: len(cases)], result.questions, result.since, len(result.candidates) - len(cases))
    body = (
        f"# Candidate cases from usage, {now:%Y-%m-%d %H:%M} UTC: questions asked since {result.since:%Y-%m-%d}\n"
        "# that people marked 👎 or that found no sources (personal data redacted; who asked is not written).\n"
        "# Complete each case (who asks, the expected outcome, sources, facts) or delete it, then move the\n"
        "# file into the sets folder (KURA_EVAL_SETS_DIR) under a name of its own. See docs/eval.md.\n"
        "cases:\n" + "".join(cases)
    )
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f"{_MARK} {now:%Y-%m-%d} sha256:{digest}\n{body}", kept


def check_output(path: Path) -> None:
    """``InputError`` with one line when ``path`` exists and is not an untouched previous harvest
    (an owner's edits are never overwritten)."""
    why = _replaceable(path)
    if why is not None:
        raise InputError(why)


def _replaceable(path: Path) -> str | None:
    """Why ``path`` may not be overwritten (None: it does not exist, or is an untouched harvest)."""
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} exists and is not a file"
    try:
        first, _, rest = path.read_text(encoding="utf-8").partition("\n")
    except (OSError, UnicodeDecodeError):
        return f"{path} exists and is not a previous harvest; choose another --output"
    match = _FIRST_LINE.match(first)
    if match is None:
        return f"{path} exists and is not a previous harvest; choose another --output"
    if hashlib.sha256(rest.encode("utf-8")).hexdigest() != match.group(1):
        return f"{path} is a previous harvest someone has edited since; move it or choose another --output"
    return None


def write_harvest(path: Path, text: str) -> bool:
    """Write the file whole or not at all; True when it replaced a previous (untouched) harvest.
    ``InputError`` with one line when the file exists and is anything else."""
    check_output(path)
    replaced = path.exists()
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InputError(f"{path}: the folder {folder} does not exist")
    write_atomic(path, text.encode("utf-8"))
    return replaced


def summary(result: Harvest, where: str) -> str:
    """One line for the operator (stderr) and the audit record: counts only, never questions."""
    counts = result.counts()
    both = sum(1 for c in result.candidates if c.thumbs_down and c.no_sources)
    line = (
        f"{len(result.candidates)} candidate case(s) from {result.questions} held question(s) since "
        f"{result.since:%Y-%m-%d}: {counts['thumbs-down']} from 👎 feedback, {counts['no-sources']} that found "
        f"no sources" + (f" ({both} both)" if both else "") + f"; {where}"
    )
    if result.left_out:
        line += f"; {result.left_out} more left out (the file would pass the set loader's size limit)"
    return line
