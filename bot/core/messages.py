"""Every text Kura shows chat users, in Japanese and English, in one place: refusals by reason
code, failures by error code, the placeholder, feedback thanks, labels and job messages.
Adapters and jobs take their words from here; none writes its own."""

from __future__ import annotations

from typing import Literal

from bot.errors import Language

__all__ = ["catalogue_texts", "error_message", "no_sources_message", "refusal_message", "say"]

#: Short texts that are neither refusals nor failures.
Phrase = Literal[
    "placeholder",
    "sources",
    "helpful",
    "not_helpful",
    "feedback_thanks",
    "feedback_unknown",
]

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
    "audience_not_cleared": {
        "ja": "申し訳ありません。この投稿先の全員が読める資料だけではないため、ここには投稿できません。",
        "en": (
            "Sorry, not everyone who reads this destination may read what the message draws on, so it was not posted."
        ),
    },
    "recipient_not_owner": {
        "ja": "申し訳ありません。依頼した本人以外へのダイレクトメッセージでの回答はできません。",
        "en": "Sorry, Kura answers by direct message only to the person who asked.",
    },
    "unknown_platform": {
        "ja": "申し訳ありません。この投稿先のチャットは Kura に設定されていません。",
        "en": "Sorry, that chat platform is not configured in Kura.",
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


_ERRORS: dict[str, dict[Language, str]] = {
    "internal": {
        "ja": "申し訳ありません。内部エラーが発生しました。管理者にお問い合わせください。",
        "en": "Sorry, something went wrong inside Kura. Please contact your administrator.",
    },
    "configuration": {
        "ja": "Kura の設定に問題があります。管理者にお問い合わせください。",
        "en": "Kura is misconfigured. Please contact your administrator.",
    },
    "bad_input": {
        "ja": "リクエストを処理できませんでした。内容を確認してもう一度お試しください。",
        "en": "Kura could not process that request. Please check it and try again.",
    },
    "upstream": {
        "ja": "Kura は一時的に利用できません。しばらくしてからもう一度お試しください。",
        "en": "Kura is temporarily unavailable. Please try again in a few minutes.",
    },
    "database_unavailable": {
        "ja": "Kura は一時的に利用できません（データベースに接続できません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (database unreachable). Please try again shortly.",
    },
    "model_unavailable": {
        "ja": "Kura は一時的に利用できません（言語モデルが応答しません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (the language model is not responding). Please try again shortly.",
    },
    "directory_unavailable": {
        "ja": "Kura は一時的に利用できません（ユーザー情報を確認できません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (cannot look up users). Please try again shortly.",
    },
    "embedding_unavailable": {
        "ja": "Kura は一時的に利用できません（検索モデルが応答しません）。しばらくしてからお試しください。",
        "en": "Kura is temporarily unavailable (the search model is not responding). Please try again shortly.",
    },
}


_PHRASES: dict[Phrase, dict[Language, str]] = {
    "placeholder": {"ja": "_考えています…_", "en": "_Thinking…_"},
    "sources": {"ja": "出典", "en": "Sources"},
    "helpful": {"ja": "役に立った", "en": "Helpful"},
    "not_helpful": {"ja": "役に立たなかった", "en": "Not helpful"},
    "feedback_thanks": {"ja": "フィードバックありがとうございます。", "en": "Thanks for the feedback."},
    "feedback_unknown": {"ja": "この回答の記録が見つかりませんでした。", "en": "That answer's record was not found."},
}


def say(phrase: Phrase, language: Language) -> str:
    """One of the short texts (placeholder, labels, thanks) in ``language``."""
    return _PHRASES[phrase][language]


def error_message(code: str, language: Language) -> str:
    """Text for an error code (database, model, directory…); unknown codes get the internal-error text."""
    return _ERRORS.get(code, _ERRORS["internal"])[language]


def refusal_message(reason_code: str, language: Language) -> str:
    """Polite text for a denial; unknown codes get the fail-closed text."""
    return _REFUSALS.get(reason_code, _REFUSALS["policy_error"])[language]


def no_sources_message(language: Language) -> str:
    """Text for when the scope can read nothing relevant."""
    return _NO_SOURCES[language]


def catalogue_texts() -> frozenset[str]:
    """Every text above in both languages: Kura's own messages that are not answers (placeholders,
    refusals, failures), which thread history leaves out."""
    tables: list[dict[str, dict[Language, str]]] = [_REFUSALS, _ERRORS, {"no_sources": _NO_SOURCES}]
    texts = {text for table in tables for words in table.values() for text in words.values()}
    texts |= {text for words in _PHRASES.values() for text in words.values()}
    return frozenset(texts)
