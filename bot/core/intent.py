"""What a chat message asks for, when it is not a question: minutes of the meeting (a thread or an
attached transcript). Matched on the words people use, Japanese and English."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["asks_for_minutes"]

_MINUTES = (
    re.compile(r"議事録|議事メモ|会議(の)?(内容|要点)?を?(まとめ|要約)|ミーティング(の)?(内容)?を?(まとめ|要約)"),
    re.compile(r"スレッド(の内容)?を?(まとめ|要約)"),
    re.compile(r"\bminutes\b", re.IGNORECASE),
    re.compile(r"\b(summari[sz]e|recap|sum up)\b.{0,30}\b(meeting|thread|discussion|call|transcript)\b", re.I),
)


def asks_for_minutes(text: str) -> bool:
    """Whether ``text`` asks for minutes (議事録, "minutes", "summarise this meeting")."""
    plain = unicodedata.normalize("NFKC", text)
    return any(p.search(plain) for p in _MINUTES)
