"""The zip-bomb guard every Office Open XML file (DOCX, PPTX, XLSX) passes before it is opened.

An Office file is a ZIP archive; a hostile one declares members that unpack to gigabytes. Only the
central directory is read here: the declared sizes bound what ``zipfile`` will ever inflate (it
stops a member at its declared size), so checking them is enough.
"""

from __future__ import annotations

import io
import zipfile

from knowledge.formats.base import ParseError

__all__ = ["MAX_MEMBERS", "MAX_RATIO", "MAX_UNPACKED", "check_package"]

#: More than this unpacked is not a document anyone writes by hand.
MAX_UNPACKED = 50 * 1024 * 1024
#: Above ``_RATIO_FLOOR`` unpacked, an archive may not unpack to more than this many times its size
#: (XML compresses 5-20 times; a bomb thousands).
MAX_RATIO = 100
_RATIO_FLOOR = 5 * 1024 * 1024
#: Nor more members than this.
MAX_MEMBERS = 5000

TOO_LARGE = "too large when unpacked"


def check_package(raw: bytes, label: str) -> None:
    """Refuse ``raw`` (an Office file called ``label``, e.g. ``DOCX``) if it is not a ZIP archive or
    would unpack to too much; ParseError with a one-line reason."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise ParseError(f"not a valid {label} file") from exc
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS:
        raise ParseError(f"{TOO_LARGE} (more than {MAX_MEMBERS} parts)")
    if unpacked > MAX_UNPACKED:
        raise ParseError(f"{TOO_LARGE} (more than {MAX_UNPACKED // (1024 * 1024)} MB)")
    if unpacked > _RATIO_FLOOR and unpacked > MAX_RATIO * max(1, len(raw)):
        raise ParseError(f"{TOO_LARGE} (more than {MAX_RATIO} times its size)")
