"""The words of meeting minutes, in Japanese and English (headings, placeholders, delivery notes).
Part of the catalogue (``bot.core.messages``): thread history leaves these texts out."""

from __future__ import annotations

from bot.errors import Language

__all__ = ["MINUTES_WORDS", "minutes_text"]

MINUTES_WORDS: dict[str, dict[Language, str]] = {
    "placeholder": {"ja": "_議事録を作成しています…_", "en": "_Writing the minutes…_"},
    "title": {"ja": "*議事録: {title}*", "en": "*Minutes: {title}*"},
    "source": {"ja": "元の記録: {source}", "en": "Source: {source}"},
    "summary": {"ja": "*概要*", "en": "*Summary*"},
    "decisions": {"ja": "*決定事項*", "en": "*Decisions*"},
    "actions": {"ja": "*アクションアイテム*", "en": "*Action items*"},
    "questions": {"ja": "*未解決の事項*", "en": "*Open questions*"},
    "none": {"ja": "（なし）", "en": "(none)"},
    "owner": {"ja": "担当: {owner}", "en": "owner: {owner}"},
    "due": {"ja": "期限: {due}", "en": "due: {due}"},
    "unassigned": {"ja": "担当: 未定（会議で指名なし）", "en": "owner: not named in the meeting"},
    "no_due": {"ja": "期限: 未定", "en": "due: not set"},
    "failed_parts": {
        "ja": "_注意: 記録の一部（{count} か所）を読み取れず、議事録に含まれていません。_",
        "en": "_Note: {count} part(s) of the record could not be read and are missing from these minutes._",
    },
    "ai_note": {
        "ja": "_AI が作成した議事録です。重要な内容は元の記録で確認してください。_",
        "en": "_Written by AI from the record: check anything important against it._",
    },
    "sent_privately": {
        "ja": "議事録は {target} には投稿せず、あなたにだけ送りました: {reason}",
        "en": "The minutes were not posted to {target} but sent to you alone: {reason}",
    },
    "audience_reason": {
        "ja": "そこには元の記録を読めない人がいます。",
        "en": "some of its readers may not read the source.",
    },
    "posted": {"ja": "議事録を {target} に投稿しました。", "en": "Posted the minutes to {target}."},
    "usage": {
        "ja": (
            "議事録を作るには、スレッドの中で「@Kura この会議の議事録をまとめて」と送るか、"
            "文字起こしファイル（VTT・SRT・テキスト・Word）を添付してください。"
            "チャンネルの期間を指定するには `/kura minutes #channel since:2026-11-20` を使います。"
        ),
        "en": (
            "To get minutes, mention Kura in a thread ('@Kura minutes of this meeting') or attach a transcript "
            "(VTT, SRT, text, Word). For a channel's period: `/kura minutes #channel since:2026-11-20`."
        ),
    },
    "bad_source": {"ja": "議事録を作成できません: {reason}", "en": "Cannot write the minutes: {reason}"},
    "no_meeting_transcript": {
        "ja": "この会議の文字起こしはまだありません。",
        "en": "This meeting has no transcript yet.",
    },
}


def minutes_text(key: str, language: Language, **fields: object) -> str:
    """A minutes word in ``language`` with ``fields`` filled in."""
    return MINUTES_WORDS[key][language].format(**fields)
