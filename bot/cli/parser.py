"""The ``kura`` argument parser: every command, its flags, and the handler it runs.

Handlers are named as ``"module:function"`` strings that :func:`bot.cli.main` imports only for
the command being run, so ``kura --help`` and light commands never load models or SDKs.
"""

from __future__ import annotations

import argparse

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The full command tree."""
    parser = argparse.ArgumentParser(prog="kura", description="Kura: permission-safe answers from your documents.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="embedded database, sample knowledge, local model, interactive chat")
    demo.add_argument("--as", dest="user", metavar="EMAIL", help="chat as this directory user")
    demo.add_argument("--channel", metavar="ID", help="answer as if in this channel")
    demo.add_argument("--no-ingest", action="store_true", help="skip ingesting the sample knowledge")
    demo.set_defaults(handler="bot.cli.chat:demo")

    sub.add_parser("serve", help="run the configured chat adapters (Slack)").set_defaults(handler="bot.cli.serve:serve")

    ask = sub.add_parser("ask", help="one question through the whole pipeline")
    ask.add_argument("--as", dest="user", metavar="EMAIL", required=True)
    ask.add_argument("--channel", metavar="ID", help="the channel the answer is posted in (default: direct)")
    ask.add_argument("--json", action="store_true", help="print {answer, citations, decision, audit_id}")
    ask.add_argument("question")
    ask.set_defaults(handler="bot.cli.chat:ask")

    minutes = sub.add_parser(
        "minutes", help="meeting minutes from a transcript, a Slack thread or channel, a Teams meeting"
    )
    minutes.add_argument("--as", dest="user", metavar="EMAIL", required=True, help="who asks (policy action minutes)")
    minutes.add_argument("path", nargs="?", help="a transcript file: .vtt, .srt, .txt, .md, .docx")
    minutes.add_argument("--slack-channel", metavar="ID", help="a Slack channel's messages (with --since)")
    minutes.add_argument("--since", metavar="ISO", help="start of the period (2026-11-20 or 2026-11-20T09:00+09:00)")
    minutes.add_argument("--until", metavar="ISO", help="end of the period (default: now)")
    minutes.add_argument("--slack-thread", metavar="URL", help="a Slack thread: the link of its first message")
    minutes.add_argument("--teams-meeting", metavar="ID", help="a Teams online meeting id (Graph)")
    minutes.add_argument("--language", choices=["ja", "en"], help="the minutes' language (default: the meeting's)")
    minutes.add_argument(
        "--post-to", metavar="TARGET", help="post them too, e.g. slack:C0123 (the audience rule applies)"
    )
    minutes.add_argument("--json", action="store_true", help="print {title, summary, decisions, action_items, ...}")
    minutes.set_defaults(handler="bot.cli.minutes:minutes")

    ingest = sub.add_parser("ingest", help="add or sync a folder of documents")
    ingest.add_argument("path")
    ingest.add_argument(
        "--allow", action="append", metavar="PRINCIPAL", help="default access for files without metadata (repeatable)"
    )
    ingest.add_argument("--classification", help="default classification for files without metadata")
    ingest.add_argument("--json", action="store_true")
    ingest.set_defaults(handler="bot.cli.admin:ingest")

    policy = sub.add_parser("policy", help="validate or explain the policy").add_subparsers(
        dest="policy_command", required=True, metavar="SUBCOMMAND"
    )
    check = policy.add_parser("check", help="validate policy files, with file:line for each problem")
    check.add_argument("file", nargs="?", help="a policy file (default: the configured one)")
    check.set_defaults(handler="bot.cli.admin:policy_check")
    explain = policy.add_parser("explain", help="show a decision and every rule that fired")
    explain.add_argument("--as", dest="user", metavar="EMAIL", required=True)
    explain.add_argument("--action", default="ask")
    explain.add_argument("--channel", metavar="ID")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(handler="bot.cli.admin:policy_explain")

    db = sub.add_parser("db", help="database administration").add_subparsers(
        dest="db_command", required=True, metavar="SUBCOMMAND"
    )
    db.add_parser("upgrade", help="apply migrations").set_defaults(handler="bot.cli.admin:db_upgrade")

    audit_sub = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="SUBCOMMAND"
    )
    verify = audit_sub.add_parser("verify", help="check the hash chain")
    verify.add_argument("--json", action="store_true")
    expect = verify.add_mutually_exclusive_group()
    expect.add_argument(
        "--expect-head", metavar="LINE", help="also fail unless the chain still holds this checkpoint (line or JSON)"
    )
    expect.add_argument(
        "--expect-head-file", metavar="FILE", help="as --expect-head, with the newest checkpoint line in FILE"
    )
    verify.set_defaults(handler="bot.cli.audit:audit_verify")
    export = audit_sub.add_parser("export", help="stream records, oldest first, as JSONL or CSV for a SIEM")
    export.add_argument("--since", metavar="ISO", help="records created at or after this date or datetime (UTC)")
    export.add_argument("--until", metavar="ISO", help="records created before this date or datetime (exclusive)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", metavar="FILE", help="write to FILE (mode 0600) instead of stdout")
    export.add_argument("--include-text", action="store_true", help="add the decrypted question and answer")
    export.add_argument(
        "--redact",
        action="store_true",
        help="redact personal data in exported text (default: KURA_AUDIT_EXPORT_REDACT)",
    )
    export.set_defaults(handler="bot.cli.audit:audit_export")
    checkpoint = audit_sub.add_parser("checkpoint", help="sign the chain head, or re-check a signed checkpoint")
    checkpoint.add_argument("--json", action="store_true")
    again = checkpoint.add_mutually_exclusive_group()
    again.add_argument("--verify", metavar="LINE", help="re-check a checkpoint printed before (line or JSON)")
    again.add_argument("--verify-file", metavar="FILE", help="re-check the checkpoint kept in FILE")
    checkpoint.set_defaults(handler="bot.cli.audit:audit_checkpoint")
    purge = audit_sub.add_parser(
        "purge", help="apply retention: text past its period, then old records (chain verifies)"
    )
    purge.add_argument(
        "--older-than", type=int, metavar="DAYS", help="question and answer text (default: the policy's retention)"
    )
    purge.add_argument(
        "--records-older-than", type=int, metavar="DAYS", help="whole records (default: the policy's audit_metadata)"
    )
    purge.add_argument("--dry-run", action="store_true", help="only count what would be purged")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(handler="bot.cli.audit:audit_purge")
    rotate = audit_sub.add_parser("rotate-key", help="retire the audit text key and start a new one")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(handler="bot.cli.audit:audit_rotate_key")
    hold = audit_sub.add_parser(
        "hold", help="legal holds: keep a user's or channel's text from purging"
    ).add_subparsers(dest="hold_command", required=True, metavar="SUBCOMMAND")
    hold_add = hold.add_parser("add", help="put a user or channel under legal hold")
    whom = hold_add.add_mutually_exclusive_group(required=True)
    whom.add_argument("--user", metavar="EMAIL")
    whom.add_argument("--channel", metavar="ID")
    hold_add.add_argument("--reason", required=True, metavar="TEXT")
    hold_add.add_argument("--json", action="store_true")
    hold_add.set_defaults(handler="bot.cli.audit:audit_hold_add")
    hold_release = hold.add_parser("release", help="release a legal hold (the row is kept)")
    hold_release.add_argument("id", type=int)
    hold_release.add_argument("--reason", required=True, metavar="TEXT")
    hold_release.add_argument("--json", action="store_true")
    hold_release.set_defaults(handler="bot.cli.audit:audit_hold_release")
    hold_list = hold.add_parser("list", help="active legal holds")
    hold_list.add_argument("--all", action="store_true", help="released holds too")
    hold_list.add_argument("--json", action="store_true")
    hold_list.set_defaults(handler="bot.cli.audit:audit_hold_list")

    _schedule_commands(sub)
    _sources_commands(sub)
    _faq_commands(sub)
    _eval_command(sub)

    models = sub.add_parser("models", help="local models").add_subparsers(
        dest="models_command", required=True, metavar="SUBCOMMAND"
    )
    listing = models.add_parser("list", help="the catalog: licences, sizes, memory, measured quality")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler="bot.cli.admin:models_list")
    plan = models.add_parser("plan", help="estimate GPUs on vLLM for N users, from the audit log's usage")
    plan.add_argument("--users", type=int, required=True, metavar="N", help="people who may use Kura")
    plan.add_argument(
        "--peak-share", type=float, required=True, metavar="P", help="share of them active in the peak hour (0..1]"
    )
    plan.add_argument(
        "--hours", type=float, default=8.0, metavar="H", help="working hours a day (only when no usage is recorded)"
    )
    plan.add_argument("--since", type=int, default=30, metavar="DAYS", help="usage of the last DAYS days (default 30)")
    plan.add_argument("--latency", type=float, default=10.0, metavar="S", help="target seconds to a whole answer")
    plan.add_argument("--gpu", metavar="NAME", help="one GPU of the table (L4, A10, L40S, A100-80GB, H100-80GB)")
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(handler="bot.cli.models:models_plan")
    fetch = models.add_parser("fetch", help="fetch and verify a local model's weights")
    fetch.add_argument("model", nargs="?", help="catalog id (default: the configured one)")
    fetch.set_defaults(handler="bot.cli.admin:models_fetch")
    _teams_commands(sub)
    return parser


def _teams_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``kura teams package``."""
    teams = sub.add_parser("teams", help="Microsoft Teams").add_subparsers(
        dest="teams_command", required=True, metavar="SUBCOMMAND"
    )
    package = teams.add_parser("package", help="the Teams app package to upload (manifest and icons)")
    package.add_argument("--out", default="kura-teams.zip", metavar="FILE", help="default: ./kura-teams.zip")
    package.add_argument("--host", help="the public host of kura serve (added to validDomains and the URLs)")
    package.add_argument("--app-version", metavar="V", help="MAJOR.MINOR.PATCH (default: Kura's version)")
    package.add_argument("--developer-name", default="Kura operator", metavar="NAME")
    package.add_argument("--website-url", metavar="URL")
    package.add_argument("--privacy-url", metavar="URL")
    package.add_argument("--terms-url", metavar="URL")
    package.add_argument("--json", action="store_true", help="print {path, app_id, manifest_version, files}")
    package.set_defaults(handler="bot.cli.teams:teams_package")


def _schedule_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``kura schedule list|add|remove|run-now``."""
    schedule = sub.add_parser("schedule", help="scheduled jobs as data").add_subparsers(
        dest="schedule_command", required=True, metavar="SUBCOMMAND"
    )
    listing = schedule.add_parser("list", help="schedules with their last run and last failure")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler="bot.cli.schedule:schedule_list")
    add = schedule.add_parser(
        "add", help="add a scheduled job (kinds: retention, checkpoint, sync, ask, minutes, faq_refresh, eval)"
    )
    add.add_argument("kind", metavar="KIND")
    add.add_argument("--name", required=True, help="a unique name (letters, digits, . _ -)")
    add.add_argument(
        "--cron",
        required=True,
        help='crontab line "minute hour day month weekday" (weekday 0/7 = Sunday); 6 fields: seconds first',
    )
    add.add_argument(
        "--timezone", metavar="ZONE", help="IANA zone the cron is read in (default: KURA_SCHEDULER_TIMEZONE)"
    )
    add.add_argument("--target", metavar="TARGET", help="where the job reports: slack:C123, slack:C123/TS, slack:@U123")
    add.add_argument("--param", action="append", metavar="KEY=VALUE", help="a job parameter (repeatable)")
    add.add_argument("--as", dest="owner", metavar="EMAIL", help="the schedule's owner (a directory user)")
    add.add_argument("--disabled", action="store_true", help="store it without running it")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler="bot.cli.schedule:schedule_add")
    remove = schedule.add_parser("remove", help="remove a schedule and its runs")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(handler="bot.cli.schedule:schedule_remove")
    run_now = schedule.add_parser("run-now", help="run a schedule's job once now, in this process")
    run_now.add_argument("name", metavar="NAME")
    run_now.add_argument("--json", action="store_true")
    run_now.set_defaults(handler="bot.cli.schedule:schedule_run_now")


def _sources_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``kura sources add|list|sync|remove``: the registry every sync uses."""
    sources = sub.add_parser("sources", help="folders of documents Kura keeps in sync").add_subparsers(
        dest="sources_command", required=True, metavar="SUBCOMMAND"
    )
    add = sources.add_parser("add", help="register a folder (and sync it now)")
    add.add_argument("path")
    add.add_argument("--name", help="a unique name (default: the folder's name)")
    add.add_argument("--schedule", metavar="CRON", help="also sync it on this cron line (a schedule sync-NAME)")
    add.add_argument(
        "--allow", action="append", metavar="PRINCIPAL", help="default access for files without metadata (repeatable)"
    )
    add.add_argument("--classification", help="default classification for files without metadata")
    add.add_argument("--no-sync", action="store_true", help="register only; the first sync comes later")
    add.add_argument("--as", dest="user", metavar="EMAIL", help="who adds it (recorded)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler="bot.cli.sources:sources_add")
    listing = sources.add_parser("list", help="registered sources with their documents and last sync")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler="bot.cli.sources:sources_list")
    sync = sources.add_parser("sync", help="sync one source, or all (unchanged files cost nothing)")
    sync.add_argument("name", nargs="?", metavar="NAME")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(handler="bot.cli.sources:sources_sync")
    remove = sources.add_parser("remove", help="unregister a source: its documents stop being served")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--json", action="store_true")
    remove.set_defaults(handler="bot.cli.sources:sources_remove")


def _eval_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``kura eval SET|harvest``."""
    ev = sub.add_parser(
        "eval",
        help="run an evaluation set through the real pipeline and score it (or: eval harvest)",
        description="Run SET (a name such as `sample`, or a YAML file) as the baseline and each --config; "
        "exit 1 when any leak is found, a gate fails or a case could not be run. "
        "`kura eval harvest` writes candidate cases from 👎 and unanswered questions.",
    )
    ev.add_argument("target", metavar="SET", help="a set name or file, or `harvest`")
    ev.add_argument("--config", action="append", metavar="FILE", help="settings to compare (repeatable)")
    ev.add_argument("--json", action="store_true", help="print the whole result as one JSON object")
    ev.add_argument("--report", metavar="DIR", help="write report.html and report.json there")
    ev.add_argument("--fail-under", action="append", metavar="METRIC=VALUE", help="a gate (repeatable)")
    ev.add_argument("--case", action="append", metavar="ID", help="only this case (repeatable)")
    ev.add_argument("--tag", action="append", metavar="TAG", help="only cases with this tag (repeatable)")
    ev.add_argument("--judge", metavar="local|URL", help="score faithfulness with this model (KURA_EVAL_JUDGE)")
    ev.add_argument("--judge-model", metavar="NAME", help="the judge's model name on its server")
    ev.add_argument("--output", metavar="FILE", help="harvest: the YAML file to write")
    ev.add_argument("--since", type=int, metavar="DAYS", default=30, help="harvest: how far back (days)")
    ev.set_defaults(handler="bot.cli.eval:eval_command")


def _faq_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``kura faq refresh|list|approve|reject|edit|add|gaps|export``."""
    faq = sub.add_parser("faq", help="frequent questions answered from approved entries").add_subparsers(
        dest="faq_command", required=True, metavar="SUBCOMMAND"
    )
    refresh = faq.add_parser("refresh", help="sync sources, mine frequent questions, draft, mark stale, ask reviewers")
    refresh.add_argument("--no-sync", action="store_true", help="skip syncing the sources")
    refresh.add_argument("--no-notify", action="store_true", help="do not message the reviewers")
    refresh.add_argument("--json", action="store_true", help="print what each step did")
    refresh.set_defaults(handler="bot.cli.faq:faq_refresh")
    listing = faq.add_parser("list", help="entries, newest first")
    listing.add_argument("--status", choices=["draft", "approved", "stale", "rejected"])
    listing.add_argument("--as", dest="user", metavar="EMAIL", help="only entries this person may read")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler="bot.cli.faq:faq_list")
    for verb, text in (("approve", "approve an entry: it is served from now on"), ("reject", "reject an entry")):
        review = faq.add_parser(verb, help=text)
        review.add_argument("id", metavar="ID")
        review.add_argument("--as", dest="user", metavar="EMAIL", required=True, help="the reviewer")
        review.add_argument("--json", action="store_true")
        review.set_defaults(handler=f"bot.cli.faq:faq_{verb}")
    edit = faq.add_parser("edit", help="replace an entry's answer (approved by the editor)")
    edit.add_argument("id", metavar="ID")
    edit.add_argument("--answer", required=True, metavar="TEXT")
    edit.add_argument("--as", dest="user", metavar="EMAIL", required=True, help="the reviewer")
    edit.add_argument("--json", action="store_true")
    edit.set_defaults(handler="bot.cli.faq:faq_edit")
    add = faq.add_parser("add", help="write an entry by hand (approved: the writer reviews it)")
    add.add_argument("--question", required=True, metavar="Q")
    add.add_argument("--answer", required=True, metavar="A")
    add.add_argument("--source", action="append", required=True, metavar="PATH", help="a cited document (repeatable)")
    add.add_argument("--as", dest="user", metavar="EMAIL", required=True, help="the reviewer writing it")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler="bot.cli.faq:faq_add")
    gaps = faq.add_parser("gaps", help="frequent questions that found no sources or got 👎")
    gaps.add_argument("--post-to", metavar="TARGET", help="also post the digest, e.g. slack:C0123")
    gaps.add_argument("--as", dest="user", metavar="EMAIL", help="who posts the digest (with --post-to)")
    gaps.add_argument("--json", action="store_true")
    gaps.set_defaults(handler="bot.cli.faq:faq_gaps")
    export = faq.add_parser("export", help="the FAQ page a reader may see, grouped by source")
    export.add_argument("--as", dest="user", metavar="EMAIL", required=True, help="the reader")
    export.add_argument("--format", choices=["md", "html"], default="md")
    export.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    export.set_defaults(handler="bot.cli.faq:faq_export")
