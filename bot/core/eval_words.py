"""The words of evaluation in chat, in Japanese and English: ``/kura eval`` replies and the summary a
run posts (a scheduled run when a metric dropped, a run started from chat when it is done). Part of
the catalogue (``bot.core.messages``). Metric names stay as the report writes them."""

from __future__ import annotations

from bot.errors import Language

__all__ = ["EVAL_WORDS", "eval_text"]

EVAL_WORDS: dict[str, dict[Language, str]] = {
    "usage": {
        "ja": "`/kura eval` — 前回の評価結果 · `/kura eval run NAME` — 評価セットを実行 · "
        "`/kura eval sets` — 評価セットの一覧",
        "en": "`/kura eval` — the last run's summary · `/kura eval run NAME` — run a set · "
        "`/kura eval sets` — the sets",
    },
    "no_runs": {
        "ja": "評価はまだ実行されていません。`/kura eval run sample` で実行できます。",
        "en": "No evaluation has run yet. `/kura eval run sample` starts one.",
    },
    "last_title": {
        "ja": "*前回の評価*: `{set}` · {when} · {cases} 件 · {run}",
        "en": "*Last evaluation*: `{set}` · {when} · {cases} cases · {run}",
    },
    "run_title": {
        "ja": "*評価 `{set}` が終わりました*（{cases} 件、{seconds} 秒、{run}）",
        "en": "*Evaluation `{set}` is done* ({cases} cases, {seconds} s, {run})",
    },
    "drop_title": {
        "ja": "*評価 `{set}`: 前回より悪くなった指標があります*（{cases} 件、{run}）",
        "en": "*Evaluation `{set}`: a metric dropped since the last run* ({cases} cases, {run})",
    },
    "drop_line": {"ja": "• {metric}: {before} → {after}", "en": "• {metric}: {before} → {after}"},
    "config_line": {"ja": "• `{config}`（{model}）: {metrics}", "en": "• `{config}` ({model}): {metrics}"},
    "leaks": {
        "ja": "• 漏えい {count} 件（ケース: {cases}）",
        "en": "• {count} leak(s) (cases: {cases})",
    },
    "passed": {"ja": "結果: 合格", "en": "Result: passed"},
    "failed": {
        "ja": "結果: *不合格*（問題 {count} 件。詳細はレポートにあります）",
        "en": "Result: *FAILED* ({count} problem(s); the report has the details)",
    },
    "failed_stored": {"ja": "結果: *不合格*", "en": "Result: *FAILED*"},
    "report": {"ja": "レポート: `{path}`", "en": "Report: `{path}`"},
    "no_report": {"ja": "レポートはありません", "en": "No report was written"},
    "started": {
        "ja": "評価 `{set}`（{cases} 件）を開始しました。終わったら結果を DM でお送りします。",
        "en": "Started the evaluation `{set}` ({cases} cases); the summary comes to your DM when it is done.",
    },
    "busy": {
        "ja": "評価 `{set}` を実行中です。終わってから次を始めてください。",
        "en": "The evaluation `{set}` is running; start another when it is done.",
    },
    "unknown_set": {
        "ja": "評価セット `{name}` はありません（あるもの: {known}）",
        "en": "There is no evaluation set `{name}` (known: {known})",
    },
    "bad_set": {"ja": "評価セットを読めません: {reason}", "en": "The evaluation set cannot be read: {reason}"},
    "sets_title": {"ja": "*評価セット*", "en": "*Evaluation sets*"},
    "set_line": {"ja": "• `{name}` — {cases} 件", "en": "• `{name}` — {cases} cases"},
    "set_broken": {"ja": "• `{name}` — 読めません: {reason}", "en": "• `{name}` — cannot be read: {reason}"},
    "no_model": {
        "ja": "このプロセスにはチャットモデルがないため、評価を実行できません（`kura serve` で動かしてください）。",
        "en": "This process has no chat model, so it cannot run an evaluation (run it from `kura serve`).",
    },
    "could_not_run": {
        "ja": "評価 `{set}` を実行できませんでした: {reason}",
        "en": "The evaluation `{set}` could not run: {reason}",
    },
}


def eval_text(key: str, language: Language, **fields: object) -> str:
    """An evaluation reply in ``language``, with ``fields`` filled in."""
    return EVAL_WORDS[key][language].format(**fields)
