"""Meeting transcripts (WebVTT, SRT, plain text, Markdown, Word) as a list of who said what, where.

Pure: bytes in, ``Utterance``s out, ``ParseError`` with a one-line reason for anything unusable.
Teams, Zoom and Google Meet exports each mark speakers differently; every rule for guessing a
speaker is here, so the minutes engine sees one shape. Text is data: nothing said in a meeting is
treated as an instruction here, it is only cleaned (NFC, invisible characters out, spaces collapsed).

Choices the engine can rely on:
- Cues (VTT, SRT) of the same named speaker in a row are merged into one utterance, with the first
  cue's ref, while the merged text stays within ``MERGE_CHARS``; cues of an unnamed speaker are not.
- Text and Markdown lines are numbered from the file's first line (front matter included), Word
  paragraphs from the document's first paragraph (empty ones included), both from 1.
- A turn header (``山田 太郎   0:01:05``, ``[Alice Chen] 10:15:32``, or ``00:01:05 山田 太郎`` when
  the next line is plain text) starts a turn that takes every following plain line; a header with no
  text after it is dropped. Word tables are not read.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

import docx
import webvtt
from docx.opc.exceptions import PackageNotFoundError
from webvtt.errors import MalformedCaptionError, MalformedFileError

from knowledge.parsing import ParseError
from knowledge.safe_yaml import BoundedYAMLHandler, YAMLLimit
from llm.prompts import strip_invisible

__all__ = [
    "MAX_DOCX_MEMBERS",
    "MAX_DOCX_UNCOMPRESSED",
    "MAX_TRANSCRIPT_BYTES",
    "MERGE_CHARS",
    "TRANSCRIPT_SUFFIXES",
    "Utterance",
    "parse_transcript",
]

TRANSCRIPT_SUFFIXES = frozenset({".vtt", ".srt", ".txt", ".md", ".docx"})
#: Raw input larger than this is refused before anything is decoded.
MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024
#: A Word file whose members declare more than this uncompressed is a zip bomb, not a transcript.
MAX_DOCX_UNCOMPRESSED = 50 * 1024 * 1024
#: Nor is one with more members than this.
MAX_DOCX_MEMBERS = 2000
#: Consecutive cues of one speaker are merged while the text stays within this many characters.
MERGE_CHARS = 400

_NAME_MAX = 40
# A name holds no sentence punctuation and no colon; "." stays allowed for "Dr. Smith", "J. Doe".
_NOT_IN_NAME = frozenset('。．！？!?、，,;；:：「」『』"')
_TIME = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
# Unbracketed, only h:mm:ss opens a line as a time: "10:30 から" is more likely the time of day.
_TIMED = re.compile(
    rf"^(?:\[(?P<bracketed>{_TIME})\]|(?P<bare>\d{{1,2}}:\d{{2}}:\d{{2}}(?:[.,]\d{{1,3}})?)(?=\s|$))\s*(?P<rest>.*)$"
)
_NAME_THEN_TIME = re.compile(rf"^\[?(?P<name>[^\[\]]+?)\]?\s+\[?(?P<time>{_TIME})\]?$")
_SPEAKER_PREFIX = re.compile(r"^(?P<name>[^:：]{1,40}?)\s*[:：]\s*(?P<text>.+)$")
_CLOCK = re.compile(r"\d[:：]\d")
_VOICE = re.compile(r"<v(?:\.[\w-]+)*[ \t]+([^<>]+)>")  # no "<" inside: each try stops early
_MARKDOWN_MARK = re.compile(r"^(?:#{1,6}\s+|[-*+]\s+|\d+\.\s+|>\s*)+|^([-*_])\s*(?:\1\s*){2,}$")
_MARKDOWN_BOLD_NAME = re.compile(r"^(\*\*|__)([^*_]{1,40}?)\1(?=\s*[:：])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Utterance:
    """One turn of speech: where it is in the source, who spoke ("" if unknown), and what was said."""

    ref: str
    speaker: str
    text: str


def parse_transcript(name: str, raw: bytes) -> list[Utterance]:
    """The utterances of the transcript ``raw`` named ``name``; ParseError with a reason if unusable."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in TRANSCRIPT_SUFFIXES:
        raise ParseError(f"not a transcript format: {suffix or 'no suffix'}")
    if len(raw) > MAX_TRANSCRIPT_BYTES:
        raise ParseError(f"larger than {MAX_TRANSCRIPT_BYTES // (1024 * 1024)} MB")
    if not raw.strip():
        raise ParseError("no text in the transcript")
    if suffix == ".docx":
        utterances = _from_docx(raw)
    else:
        text = _decode(raw)
        first = text.lstrip()
        if suffix == ".vtt" or (suffix == ".txt" and first.startswith("WEBVTT")):
            utterances = _from_captions(first, "vtt")
        elif suffix == ".srt" or (suffix == ".txt" and re.match(r"\d+\n[^\n]*-->", first)):
            utterances = _from_captions(first, "srt")
        else:
            utterances = _from_text(text, markdown=suffix == ".md")
    if not utterances:
        raise ParseError("no text in the transcript")
    return utterances


def _decode(raw: bytes) -> str:
    # Notepad's "Unicode" is UTF-16 with a BOM; else UTF-8 (BOM dropped), else Shift_JIS (cp932),
    # which many Japanese tools still write.
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in raw[:8192]:
        raise ParseError("binary content, not text")
    else:
        encodings = ("utf-8-sig", "cp932")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A stray control character is dropped; bytes that decode to many of them are not text.
        if len(_CONTROL.findall(text)) > max(8, len(text) // 100):
            break
        text = _CONTROL.sub("", unicodedata.normalize("NFC", strip_invisible(text)))
        return text.replace("\r\n", "\n").replace("\r", "\n")
    raise ParseError("binary content, not UTF-8 or Shift_JIS text")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _join(parts: list[str]) -> str:
    """Join pieces of one utterance: with a space, but not between two Japanese (wide) characters."""
    out = ""
    for part in (p for p in (_collapse(p) for p in parts) if p):
        wide = out and unicodedata.east_asian_width(out[-1]) in "WF" and unicodedata.east_asian_width(part[0]) in "WF"
        out = f"{out}{part}" if wide or not out else f"{out} {part}"
    return out


def _hms(time: str) -> str:
    """``1:05``, ``0:01:05`` or ``00:01:05.120`` as ``00:01:05``; two parts are minutes:seconds."""
    parts = [int(part) for part in re.split(r"[.,]", time)[0].split(":")]
    hours, minutes, seconds = [0, *parts] if len(parts) == 2 else parts
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def _name(candidate: str) -> str | None:
    """``candidate`` as a speaker's name, or None if it reads as part of a sentence."""
    name = _collapse(candidate)
    if not name or len(name) > _NAME_MAX or _NOT_IN_NAME.intersection(name):
        return None
    return name if any(c.isalpha() for c in name) else None


def _split_speaker(line: str) -> tuple[str, str]:
    """``Name: text`` / ``Name：text`` as (name, text) when the name is plausible, else ("", line)."""
    match = _SPEAKER_PREFIX.match(line)
    # "https://…" and "ended at 10:30" name no one.
    if (
        match is not None
        and not match["text"].startswith("//")
        and not _CLOCK.search(line, match.end("name") - 1, match.start("text") + 1)
    ):
        name = _name(match["name"])
        if name is not None:
            return name, match["text"]
    return "", line


# --- cues (WebVTT, SRT) --------------------------------------------------------------------------


def _from_captions(text: str, kind: str) -> list[Utterance]:
    try:
        captions = webvtt.from_buffer(io.StringIO(text), format=kind).captions
    except (MalformedFileError, MalformedCaptionError) as exc:
        label = "a WebVTT file (no WEBVTT header)" if kind == "vtt" else "an SRT file (no numbered cues)"
        raise ParseError(f"not {label}") from exc
    utterances: list[Utterance] = []
    for caption in captions:
        body = html.unescape(caption.text) if kind == "vtt" else caption.text
        said = _join(body.split("\n"))
        voice = _VOICE.search(caption.raw_text)
        speaker = _collapse(voice.group(1)) if voice is not None else ""
        if not speaker:  # no voice tag (Zoom, Meet): perhaps "Name: text" in the cue
            speaker, said = _split_speaker(said)
        if not said:
            continue
        last = utterances[-1] if utterances else None
        if speaker and last is not None and last.speaker == speaker:
            joined = _join([last.text, said])
            if len(joined) <= MERGE_CHARS:
                utterances[-1] = Utterance(last.ref, speaker, joined)
                continue
        start = caption.start_time
        utterances.append(Utterance(f"{start.hours:02d}:{start.minutes:02d}:{start.seconds:02d}", speaker, said))
    return utterances


# --- lines (text, Markdown) and paragraphs (Word) ------------------------------------------------


def _from_text(text: str, *, markdown: bool) -> list[Utterance]:
    skipped = 0
    if markdown:
        handler = BoundedYAMLHandler()
        if handler.detect(text):
            try:
                front, content = handler.split(text)
            except ValueError:  # an opening "---" with no closing one: a rule, not front matter
                content = text
            else:
                try:
                    metadata = handler.load(front)
                except YAMLLimit as exc:
                    raise ParseError(f"front matter: {exc}") from exc
                if metadata is not None and not isinstance(metadata, dict):
                    raise ParseError("front matter must be a mapping")
            skipped = text[: len(text) - len(content)].count("\n")
            text = content
    lines = []
    # Lines are collapsed first: single spaces keep every pattern below linear in the line's length.
    for number, line in enumerate((_collapse(line) for line in text.split("\n")), start=skipped + 1):
        if markdown:  # a line of marks only (a rule, a fence, an empty heading) says nothing
            line = _MARKDOWN_BOLD_NAME.sub(r"\2", _MARKDOWN_MARK.sub("", line))
            line = line if re.search(r"\w", line) else ""
        if line:
            lines.append((f"L{number}", line))
    return _from_lines(lines)


def _from_docx(raw: bytes) -> list[Utterance]:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ParseError("not a Word document (not a zip file)") from exc
    if len(members) > MAX_DOCX_MEMBERS:
        raise ParseError(f"zip bomb guard: more than {MAX_DOCX_MEMBERS} members")
    if sum(member.file_size for member in members) > MAX_DOCX_UNCOMPRESSED:
        raise ParseError(f"zip bomb guard: more than {MAX_DOCX_UNCOMPRESSED // (1024 * 1024)} MB uncompressed")
    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ParseError("not a Word document (no document part)") from exc
    except (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ParseError("not a Word document (damaged content)") from exc
    return _from_lines(_paragraph_lines(p.text for p in document.paragraphs))


def _paragraph_lines(paragraphs: Iterator[str]) -> list[tuple[str, str]]:
    """Word paragraphs as numbered lines: one each, but a header and its text when a break splits them."""
    lines = []
    for number, paragraph in enumerate(paragraphs, start=1):
        text = unicodedata.normalize("NFC", strip_invisible(paragraph))
        head, _, tail = text.strip().partition("\n")
        head, tail = _collapse(head), _join(tail.split("\n"))
        if tail and (_NAME_THEN_TIME.match(head) or _TIMED.match(head)):
            lines += [(f"P{number}", head), (f"P{number}", tail)]
        elif text.strip():
            lines.append((f"P{number}", _join(text.split("\n"))))
    return lines


def _header(line: str, following: str | None) -> tuple[str, str] | None:
    """(time, speaker) if ``line`` only announces a turn, else None."""
    match = _NAME_THEN_TIME.match(line)
    if match is not None and (name := _name(match["name"])) is not None:
        return _hms(match["time"]), name
    timed = _TIMED.match(line)
    if timed is None or following is None or _TIMED.match(following) or _NAME_THEN_TIME.match(following):
        return None  # "00:01:05 text" in a file of timed lines is an utterance, not a header
    name = _name(timed["rest"]) if timed["rest"] else ""
    return None if name is None else (_hms(timed["bracketed"] or timed["bare"]), name)


def _from_lines(lines: list[tuple[str, str]]) -> list[Utterance]:
    utterances: list[Utterance] = []
    turn: tuple[str, str, list[str]] | None = None

    def close() -> None:
        if turn is not None and (said := _join(turn[2])):
            utterances.append(Utterance(turn[0], turn[1], said))

    for index, (where, line) in enumerate(lines):
        following = lines[index + 1][1] if index + 1 < len(lines) else None
        header = _header(line, following)
        timed = _TIMED.match(line)
        if header is not None:
            close()
            turn = (header[0], header[1], [])
        elif timed is not None:
            close()
            turn = None
            speaker, said = _split_speaker(timed["rest"])
            if said := _collapse(said):
                utterances.append(Utterance(_hms(timed["bracketed"] or timed["bare"]), speaker, said))
        elif turn is not None:
            turn[2].append(line)
        else:
            speaker, said = _split_speaker(line)
            utterances.append(Utterance(where, speaker, _collapse(said)))
    close()
    return utterances
