"""What a chat message asks for, when it is not a question: minutes of the meeting (a thread or an
attached transcript). Matched on the words people use, Japanese and English."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["asks_for_minutes"]

_MINUTES = (
    # 議事録 asked for (まとめて, 作って, お願い…), not a question about minutes (議事録の保存期間は？).
    re.compile(r"議事(録|メモ).{0,15}(まとめ|作|要約|書|出し|取|お願い|ください|下さい|ほしい|欲しい)"),
    re.compile(r"(まとめ|作成|要約|作っ|書い).{0,10}議事(録|メモ)|^\W*議事(録|メモ)\W*$"),
    re.compile(r"(会議|ミーティング|打ち合わせ|打合せ)(の)?(内容|要点)?を?(まとめ|要約)"),
    re.compile(r"スレッド(の内容)?を?(まとめ|要約)"),
    # "minutes" alone is also a length of time ("How many minutes is the lunch break?"): only the
    # minutes of something, minutes someone should write, or the bare word as the whole request.
    re.compile(
        r"\bminutes\s+(?:of|for|from)\s+(?:(?:this|that|the|our|today'?s|yesterday'?s|last)\s+)?"
        r"(?:meeting|thread|call|discussion|transcript|sync|standup|session|conversation)\b"
        r"|\b(?:take|write|draft|make|prepare|produce|create|generate)\s+(?:the\s+|some\s+)?(?:meeting\s+)?minutes\b"
        r"|^\s*(?:meeting\s+)?minutes\b[\s.!?]*(?:please\b)?[\s.!?]*$",
        re.IGNORECASE,
    ),
    re.compile(r"\b(summari[sz]e|recap|sum up)\b.{0,30}\b(meeting|thread|discussion|call|transcript)\b", re.I),
)


def asks_for_minutes(text: str) -> bool:
    """Whether ``text`` asks for minutes (議事録, "minutes", "summarise this meeting")."""
    plain = unicodedata.normalize("NFKC", text)
    return any(p.search(plain) for p in _MINUTES)
