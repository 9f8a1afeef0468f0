"""WebVTT and SRT transcripts, read by ``knowledge.transcripts``: sections of about a minute of
consecutive cues, each located at its first cue's time (``00:12:30``)."""

from __future__ import annotations

from pathlib import PurePath

from knowledge.formats.base import ParsedDocument, ParseError, Section
from knowledge.transcripts import Utterance, parse_transcript

__all__ = ["SECTION_SECONDS", "parse"]

#: A section holds the cues that start within this many seconds of its first one.
SECTION_SECONDS = 60


def parse(name: str, raw: bytes) -> ParsedDocument:
    """The transcript's cues (``Speaker: text`` lines) in sections of about a minute."""
    utterances = parse_transcript(name, raw)
    sections: list[Section] = []
    group: list[Utterance] = []
    for utterance in utterances:
        if group and _seconds(utterance.ref) - _seconds(group[0].ref) >= SECTION_SECONDS:
            sections.append(_section(group))
            group = []
        group.append(utterance)
    if group:
        sections.append(_section(group))
    if not sections:
        raise ParseError("no text in the transcript")
    return ParsedDocument(PurePath(name).stem, "\n\n".join(s.text for s in sections), {}, tuple(sections))


def _seconds(ref: str) -> int:
    hours, minutes, seconds = (int(part) for part in ref.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _section(group: list[Utterance]) -> Section:
    lines = (f"{u.speaker}: {u.text}" if u.speaker else u.text for u in group)
    return Section(group[0].ref, "\n".join(lines))
