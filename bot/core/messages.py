"""Every text Kura shows chat users, in Japanese and English, in one place: refusals by reason
code, failures by error code, the placeholder, feedback thanks, labels and job messages.
Adapters and jobs take their words from here; none writes its own."""

from __future__ import annotations

import functools
from typing import Literal

from bot.core.eval_words import EVAL_WORDS
from bot.core.faq_words import FAQ_WORDS
from bot.core.minutes_words import MINUTES_WORDS
from bot.errors import Language

__all__ = ["admin_text", "catalogue_texts", "error_message", "no_sources_message", "refusal_message", "say"]

#: Short texts that are neither refusals nor failures.
Phrase = Literal[
    "placeholder",
    "sources",
    "helpful",
    "not_helpful",
    "feedback_thanks",
    "feedback_unknown",
    "welcome",
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
    "source_not_readable": {
        "ja": "申し訳ありません。この会議の記録を読む権限がないため、議事録は作成できません。",
        "en": "Sorry, you may not read this meeting's record, so Kura cannot write its minutes.",
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
    "busy": {
        "ja": "ただいま多くの質問に回答中です。少し時間をおいてから、もう一度お試しください。",
        "en": "Kura is answering many questions right now. Please try again in a moment.",
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
    "welcome": {
        "ja": (
            "Kura です。社内文書から、出典を付けてお答えします（読める文書だけを使います）。"
            "チャンネルやグループチャットでは @Kura に続けて質問してください。1:1 チャットではそのまま質問できます。"
        ),
        "en": (
            "Hi, I'm Kura. I answer from your organisation's documents, with sources, using only what "
            "you may read. In a channel or group chat, @mention Kura with your question; in a 1:1 chat, just ask."
        ),
    },
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


@functools.cache  # the catalogue is constant; history is filtered with it on every thread reply
def catalogue_texts() -> frozenset[str]:
    """Every text above in both languages: Kura's own messages that are not answers (placeholders,
    refusals, failures), which thread history leaves out."""
    tables: list[dict[str, dict[Language, str]]] = [_REFUSALS, _ERRORS, {"no_sources": _NO_SOURCES}]
    tables += [MINUTES_WORDS, FAQ_WORDS, EVAL_WORDS]
    texts = {text for table in tables for words in table.values() for text in words.values()}
    texts |= {text for words in _PHRASES.values() for text in words.values()}
    return frozenset(texts)


#: Admin replies (``/kura …``), ja and en. They are platform-neutral: ``*title*``, ```code```, ``•``
#: bullets and ```` ``` ```` blocks, which each transport renders in its own markup.
_ADMIN: dict[str, dict[Language, str]] = {
    "help": {
        "en": """*Kura admin commands* (`/kura …`, admins only; replies are visible to you alone)
• `help` — this list
• `status` — model, database, index size, requests in progress, schedules
• `sources` — registered knowledge sources with document counts and last sync
• `sync [NAME|PATH]` — sync one source (or all); a folder under a sync root is registered first
• `faq review` — FAQ entries waiting for your review; `faq approve|reject ID`, `faq edit ID new answer…`
• `eval` — the last evaluation run's summary; `eval run NAME` runs a set (summary to your DM); `eval sets` lists them
• `policy explain @user [#channel]` — a decision for that user, and every rule that fired
• `audit verify` — check the audit hash chain
• `audit recent [@user]` — the last 10 audit records (needs the `audit_export` action)
• `schedule list` — scheduled jobs with their last run and last failure
• `schedule add KIND NAME CRON [timezone=Asia/Tokyo] [target=slack:C123] [key=value …] [disabled]` — \
add a job (CRON: 5 crontab fields, or 6 with seconds first; kinds: retention, checkpoint, sync with \
source=NAME or path=FOLDER, ask with question=… and a target, faq_refresh, eval with set=NAME \
[tag=…] and a target for drops)
• `schedule remove NAME` — remove a job and its runs
• `schedule run-now NAME` — run a job once now and show its outcome""",
        "ja": """*Kura 管理コマンド*（`/kura …`、管理者のみ。返信はあなたにだけ表示されます）
• `help` — この一覧
• `status` — モデル、データベース、索引の規模、処理中の質問、スケジュール
• `sources` — 登録済みのナレッジソースと文書数、最終同期
• `sync [NAME|PATH]` — ソースを同期（省略時はすべて）。同期ルート下のフォルダーは先に登録
• `faq review` — あなたの確認待ちの FAQ。`faq approve|reject ID`、`faq edit ID 新しい回答…`
• `eval` — 前回の評価結果。`eval run NAME` で評価セットを実行（結果は DM へ）、`eval sets` で一覧
• `policy explain @user [#channel]` — そのユーザーへの判定と、適用されたすべてのルール
• `audit verify` — 監査ログのハッシュチェーンを検証
• `audit recent [@user]` — 直近 10 件の監査記録（`audit_export` 権限が必要）
• `schedule list` — スケジュールと前回の実行・前回の失敗
• `schedule add KIND NAME CRON [timezone=Asia/Tokyo] [target=slack:C123] [key=value …] [disabled]` — \
ジョブを追加（CRON は crontab の 5 項目、先頭に秒を加えた 6 項目も可。種類: retention、checkpoint、\
source=NAME か path=FOLDER の sync、question=… と target を指定する ask、faq_refresh、\
set=NAME [tag=…] と悪化時の通知先 target を指定する eval）
• `schedule remove NAME` — ジョブとその実行記録を削除
• `schedule run-now NAME` — ジョブを今すぐ 1 回実行して結果を表示""",
    },
    "database_down": {
        "en": "The database is unavailable; nothing was changed.",
        "ja": "データベースに接続できません。何も変更していません。",
    },
    "status": {
        "en": "*Kura status*\n• model: `{model}`\n• database: ok\n"
        "• index: {documents} documents, {chunks} chunks (`{embedding}`)\n• requests in progress: {busy}",
        "ja": "*Kura の状態*\n• モデル: `{model}`\n• データベース: 正常\n"
        "• 索引: 文書 {documents} 件、チャンク {chunks} 件（`{embedding}`）\n• 処理中の質問: {busy}",
    },
    "no_sources": {
        "en": "No knowledge sources yet. `kura sources add PATH` or `/kura sync PATH` adds one.",
        "ja": "ナレッジソースはまだありません。`kura sources add PATH` か `/kura sync PATH` で追加できます。",
    },
    "sources_title": {"en": "*Knowledge sources*", "ja": "*ナレッジソース*"},
    "source_line": {
        "en": "• `{name}` `{path}` — {documents} documents, {chunks} chunks, last sync {when}",
        "ja": "• `{name}` `{path}` — 文書 {documents} 件、チャンク {chunks} 件、最終同期 {when}",
    },
    "last_sync_failed": {"en": " (the last attempt failed)", "ja": "（前回の試行は失敗）"},
    "never": {"en": "never", "ja": "なし"},
    "not_a_sync_root": {
        "en": "`{path}` is not a source's name, a known source or under a configured sync root; nothing was synced.",
        "ja": "`{path}` はソース名でも既知のソースでも、設定された同期ルートの下でもありません。何も同期していません。",
    },
    "sync_title": {"en": "*Sync*", "ja": "*同期*"},
    "sync_line": {"en": "• `{name}`: {counts} ({seconds:.1f}s)", "ja": "• `{name}`: {counts}（{seconds:.1f} 秒）"},
    "sync_refused": {"en": "   refused `{path}`: {reason}", "ja": "   取り込めません `{path}`: {reason}"},
    "sync_failed": {
        "en": "• `{name}`: the folder `{path}` is missing or unreadable; nothing of it was synced",
        "ja": "• `{name}`: フォルダー `{path}` がないか読めません。このソースは同期していません",
    },
    "sync_stale": {
        "en": "{count} FAQ entries sent back to review.",
        "ja": "FAQ {count} 件をレビューに戻しました。",
    },
    "sync_nothing": {"en": "no files", "ja": "ファイルなし"},
    "outcome_added": {"en": "added {n}", "ja": "追加 {n}"},
    "outcome_changed": {"en": "changed {n}", "ja": "変更 {n}"},
    "outcome_access_updated": {"en": "access updated {n}", "ja": "権限更新 {n}"},
    "outcome_unchanged": {"en": "unchanged {n}", "ja": "変更なし {n}"},
    "outcome_removed": {"en": "removed {n}", "ja": "削除 {n}"},
    "outcome_refused": {"en": "refused {n}", "ja": "取り込み不可 {n}"},
    "outcome_withdrawn": {"en": "withdrawn {n}", "ja": "提供停止 {n}"},
    "outcome_skipped": {"en": "skipped {n}", "ja": "対象外 {n}"},
    "no_such_folder": {"en": "• `{path}`: no such folder", "ja": "• `{path}`: フォルダーがありません"},
    "nothing_to_sync": {"en": "No sources to sync.", "ja": "同期するソースがありません。"},
    "chain_intact": {
        "en": "✅ audit chain intact: {records} records",
        "ja": "✅ 監査チェーンは改ざんされていません: {records} 件",
    },
    "chain_pruned": {
        "en": " (records up to {seq} removed by retention, behind a signed anchor)",
        "ja": "（{seq} 番までの記録は保存期間により削除済み。署名付きアンカーあり）",
    },
    "chain_broken": {
        "en": "❌ audit chain broken at record {seq}: {problem}",
        "ja": "❌ 監査チェーンが記録 {seq} で壊れています: {problem}",
    },
    "schedules_unavailable": {"en": "Schedules are not available here.", "ja": "ここではスケジュールを使えません。"},
    "no_schedules": {"en": "No schedules.", "ja": "スケジュールはありません。"},
    "schedules_none": {"en": "\n• schedules: none", "ja": "\n• スケジュール: なし"},
    "schedules_title": {"en": "*Schedules*", "ja": "*スケジュール*"},
    "never_run": {"en": "never run", "ja": "未実行"},
    "last": {"en": "last", "ja": "前回"},
    "last_failure": {"en": "   last failure: {run}", "ja": "   前回の失敗: {run}"},
    "schedule_removed": {"en": "Removed schedule `{name}`.", "ja": "スケジュール `{name}` を削除しました。"},
    "no_such_schedule": {"en": "No schedule named `{name}`.", "ja": "`{name}` という名前のスケジュールはありません。"},
    "schedule_added": {
        "en": "Added schedule `{name}`: {summary}",
        "ja": "スケジュール `{name}` を追加しました: {summary}",
    },
    "nothing_changed": {"en": "Nothing was changed: {reason}", "ja": "何も変更していません: {reason}"},
    "policy_for": {"en": "*Policy for {who}*{where}", "ja": "*{who} へのポリシー判定*{where}"},
    "in_channel": {"en": " in {channel}", "ja": "（{channel}）"},
    "not_in_directory": {"en": "{user} is not in the directory.", "ja": "{user} はディレクトリに登録されていません。"},
    "no_audit_records": {"en": "No audit records.", "ja": "監査記録はありません。"},
    "recent_title": {"en": "*Recent audit records*", "ja": "*直近の監査記録*"},
    "sync_report": {
        "en": "Sync of `{root}`: {counts}; {stale} FAQ entries sent back to review.",
        "ja": "`{root}` の同期: {counts}。FAQ {stale} 件をレビューに戻しました。",
    },
}


def admin_text(key: str, language: Language, **fields: object) -> str:
    """An admin reply or job message in ``language``, with ``fields`` filled in."""
    return _ADMIN[key][language].format(**fields)
