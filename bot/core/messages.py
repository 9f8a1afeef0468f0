"""The words Kura says to users when it does not answer: refusals by reason code, ja and en."""

from __future__ import annotations

from bot.errors import Language

__all__ = ["no_sources_message", "refusal_message"]

_REFUSALS: dict[str, dict[Language, str]] = {
    "unknown_user": {
        "ja": "申し訳ありません。あなたのアカウントは Kura の利用者として登録されていないため、お答えできません。",
        "en": "Sorry, your account is not registered as a Kura user, so Kura cannot answer.",
    },
    "action_not_allowed": {
        "ja": "申し訳ありません。この操作を行う権限がありません。",
        "en": "Sorry, you do not have permission to do this.",
    },
    "unknown_channel": {
        "ja": "申し訳ありません。このチャンネルは Kura に登録されていないため、ここではお答えできません。",
        "en": "Sorry, this channel is not known to Kura, so Kura cannot answer here.",
    },
    "not_a_member": {
        "ja": "申し訳ありません。このチャンネルのメンバーではないため、ここではお答えできません。",
        "en": "Sorry, you are not a member of this channel, so Kura cannot answer here.",
    },
    "unknown_action": {
        "ja": "申し訳ありません。その操作には対応していません。",
        "en": "Sorry, Kura does not support that action.",
    },
    "direct_messages_off": {
        "ja": (
            "申し訳ありません。Kura へのダイレクトメッセージは管理者により無効になっています。"
            "チャンネルで質問してください。"
        ),
        "en": "Sorry, direct messages to Kura are turned off by your administrator. Please ask in a channel.",
    },
    "channel_denied": {
        "ja": "申し訳ありません。このチャンネルでは Kura は回答しない設定になっています。",
        "en": "Sorry, Kura is set not to answer in this channel.",
    },
    "channel_not_allowed": {
        "ja": "申し訳ありません。このチャンネルは Kura の利用が許可されていません。",
        "en": "Sorry, Kura is not enabled for this channel.",
    },
    "topic_restricted": {
        "ja": "申し訳ありません。この話題についての質問は、許可された人だけが利用できます。",
        "en": "Sorry, questions on this topic are restricted.",
    },
    "rate_limited": {
        "ja": "申し訳ありません。短時間に多くの質問を受け付けたため、しばらく待ってから再度お試しください。",
        "en": "Sorry, you have reached your question limit for now. Please wait a little and try again.",
    },
    "policy_error": {
        "ja": "申し訳ありません。アクセス権を確認できなかったため、お答えできません。管理者にお問い合わせください。",
        "en": (
            "Sorry, Kura could not check your access rights, so it cannot answer. Please contact your administrator."
        ),
    },
}

_NO_SOURCES: dict[Language, str] = {
    "ja": (
        "あなた（またはこの会話の参加者全員）が閲覧できる資料の中に、この質問に答えられるものが見つかりませんでした。"
    ),
    "en": "I found no documents that you (or everyone in this conversation) may read that answer this question.",
}


def refusal_message(reason_code: str, language: Language) -> str:
    """Polite text for a denial; unknown codes get the fail-closed text."""
    return _REFUSALS.get(reason_code, _REFUSALS["policy_error"])[language]


def no_sources_message(language: Language) -> str:
    """Text for when the scope can read nothing relevant."""
    return _NO_SOURCES[language]
