"""Characters a reader does not see but a model, a regex or a keyword match does. No imports of
Kura's or of any SDK: the log filter (``bot.redaction``) loads this in every command."""

from __future__ import annotations

import re

__all__ = ["INVISIBLE", "strip_invisible"]

# Zero-width characters, the soft hyphen, bidi embeddings/overrides/isolates, word joiners and
# invisible operators, variation selectors, Mongolian free variation selectors, the combining
# grapheme joiner, Hangul fillers, interlinear annotation marks, the BOM and Unicode tag
# characters: invisible to a reader, visible to a model.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2069\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi-control, variation-selector, filler and tag characters."""
    return INVISIBLE.sub("", text)
