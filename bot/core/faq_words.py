"""The words of the FAQ, in Japanese and English: the approval line under a served answer, review
requests and their buttons, reviewers' results, digests. Part of the catalogue (``bot.core.messages``):
thread history leaves these texts out."""

from __future__ import annotations

from bot.errors import Language

__all__ = ["FAQ_WORDS", "faq_text"]

FAQ_WORDS: dict[str, dict[Language, str]] = {
    "approved_on": {
        "ja": "_（FAQ: 文書の担当者が {date} に確認した回答です）_",
        "en": "_(FAQ: approved by the owner on {date})_",
    },
    "review_title": {
        "ja": "*FAQ の確認をお願いします（#{id}）*",
        "en": "*Please review FAQ entry #{id}*",
    },
    "review_stale": {
        "ja": "承認済みの回答を見直してください: {reason}",
        "en": "This approved answer needs another look: {reason}",
    },
    "review_question": {"ja": "*質問:* {question}", "en": "*Question:* {question}"},
    "review_answer": {"ja": "*回答案:*\n{answer}", "en": "*Draft answer:*\n{answer}"},
    "review_asked": {
        "ja": "{asked} 人が同じ趣旨の質問をしました。",
        "en": "{asked} people asked this.",
    },
    "review_cli": {
        "ja": "コマンドでも操作できます: `kura faq approve {id} --as {email}`（`reject` / `edit --answer …`）",
        "en": "Or on the command line: `kura faq approve {id} --as {email}` (`reject`, `edit --answer …`)",
    },
    "button_approve": {"ja": "承認", "en": "Approve"},
    "button_edit": {"ja": "編集", "en": "Edit"},
    "button_reject": {"ja": "却下", "en": "Reject"},
    "reject_confirm": {
        "ja": "FAQ #{id} を却下しますか？ 今後使われることも、再び下書きされることもありません。",
        "en": "Reject FAQ #{id}? It will not be used or drafted again.",
    },
    "cancel": {"ja": "キャンセル", "en": "Cancel"},
    "edit_title": {"ja": "FAQ #{id} の回答を編集", "en": "Edit FAQ #{id}"},
    "edit_label": {"ja": "回答", "en": "Answer"},
    "edit_submit": {"ja": "保存して承認", "en": "Save and approve"},
    "approved": {
        "ja": "FAQ #{id} を承認しました。次の質問からこの回答が使われます。",
        "en": "FAQ #{id} is approved: it answers the next people who ask.",
    },
    "edited": {
        "ja": "FAQ #{id} の回答を更新し、承認しました。",
        "en": "FAQ #{id} has your answer and is approved.",
    },
    "rejected": {
        "ja": "FAQ #{id} を却下しました。今後使われることはありません。",
        "en": "FAQ #{id} is rejected: it will not be used or drafted again.",
    },
    "added": {
        "ja": "FAQ #{id} を追加しました（承認済み）。",
        "en": "FAQ #{id} is added, approved.",
    },
    "unknown_source": {
        "ja": "文書が見つかりません: {source}（取り込み済みの文書のパスを指定してください）",
        "en": "No such document: {source} (give the path of an ingested document)",
    },
    "pending_title": {"ja": "*確認待ちの FAQ（{count} 件）*", "en": "*FAQ entries waiting for your review ({count})*"},
    "pending_line": {"ja": "• #{id} [{status}] {question}", "en": "• #{id} [{status}] {question}"},
    "pending_others": {
        "ja": "ほかに {others} 件ありますが、引用文書を読めないため表示していません。",
        "en": "{others} more cite documents you may not read: not shown.",
    },
    "nothing_to_review": {
        "ja": "あなたが確認できる FAQ はありません（確認待ちは全体で {others} 件）。",
        "en": "No FAQ entry is waiting for you ({others} waiting in all).",
    },
    "admin_usage": {
        "ja": "`/kura faq review` · `/kura faq approve ID` · `/kura faq reject ID` · `/kura faq edit ID 新しい回答…`",
        "en": "`/kura faq review` · `/kura faq approve ID` · `/kura faq reject ID` · `/kura faq edit ID new answer…`",
    },
    "page_title": {"ja": "よくある質問", "en": "Frequently asked questions"},
    "no_entry": {"ja": "FAQ #{id} はありません。", "en": "There is no FAQ entry #{id}."},
    "not_reviewer": {
        "ja": "FAQ #{id} を確認できるのは、引用文書の担当者か管理者だけです。",
        "en": "Only the owner of the documents FAQ #{id} cites, or an admin, may review it.",
    },
    "cannot_read": {
        "ja": "FAQ #{id} が引用する文書のうち、あなたが読めないものがあるため確認できません。",
        "en": "You may not read every document FAQ #{id} cites, so you cannot review it.",
    },
    "source_gone": {
        "ja": "FAQ #{id} が引用する文書がなくなっています。回答を編集するか却下してください。",
        "en": "A document FAQ #{id} cites is gone: edit the answer or reject it.",
    },
    "empty_answer": {
        "ja": "回答が空か長すぎます（{limit} 文字まで）。",
        "en": "The answer is empty or too long (at most {limit} characters).",
    },
    "unknown_reviewer": {
        "ja": "あなたはディレクトリに登録されていないため、FAQ を確認できません。",
        "en": "You are not in the directory, so you cannot review FAQ entries.",
    },
    "gaps_title": {
        "ja": "*答えられなかったよくある質問*（文書の追加をご検討ください）",
        "en": "*Frequent questions Kura could not answer well* (worth a document)",
    },
    "gap_line": {
        "ja": "• {question} — {askers} 人（{why}）",
        "en": "• {question} — {askers} people ({why})",
    },
    "gap_no_sources": {"ja": "該当文書なし", "en": "no sources"},
    "gap_thumbs_down": {"ja": "👎 {count} 件", "en": "👎 {count}"},
    "no_gaps": {"ja": "答えられなかったよくある質問はありません。", "en": "No frequent unanswered questions."},
}


def faq_text(key: str, language: Language, **fields: object) -> str:
    """An FAQ word in ``language`` with ``fields`` filled in."""
    return FAQ_WORDS[key][language].format(**fields)
