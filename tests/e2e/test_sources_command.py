"""``kura sources …`` as an operator runs it, through the installed command: add (with a schedule),
list, sync, remove with ``--json``; ``kura ingest`` registers the folder it ingests; bad input exits
2 with one line and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e

ACCESS = "allow: [public]\nclassification: public\n"


def _docs(path: Path, text: str = "# Hello\n\nThe office opens at nine.\n") -> Path:
    path.mkdir()
    (path / ".kura-access.yaml").write_text(ACCESS, encoding="utf-8")
    (path / "hello.md").write_text(text, encoding="utf-8")
    return path


def _one_line_error(env: dict[str, str], *args: str) -> str:
    done = run_kura(env, *args)
    lines = done.stderr.strip().splitlines()
    assert (2, 1) == (done.code, len(lines)), done.stderr
    return lines[0]


def test_operator_adds_lists_syncs_and_removes_a_source(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """Add with a nightly schedule (synced at once), listed with its counts and cron, a change seen by
    the next sync and nothing by the one after, the schedule runs the same sync, then removed."""
    env = fresh_env
    docs = _docs(tmp_path / "docs")

    added = run_kura(
        env, "sources", "add", str(docs), "--schedule", "0 2 * * *", "--as", "Dave@Example.co.jp", "--json"
    )
    assert 0 == added.code, added.stderr
    out = json.loads(added.stdout)
    assert ("docs", str(docs), "sync-docs", []) == (out["name"], out["path"], out["schedule"], out["stale"])
    sync = out["sync"]
    assert isinstance(sync, dict)
    assert (1, None) == (sync["counts"]["added"], sync["error"])

    schedules = json.loads(run_kura(env, "schedule", "list", "--json").stdout)
    assert [("sync-docs", "sync", {"source": "docs"}, "0 2 * * *", "dave@example.co.jp")] == [
        (s["name"], s["kind"], s["params"], s["cron"], s["owner"]) for s in schedules
    ]

    listed = run_kura(env, "sources", "list", "--json")
    assert 0 == listed.code, listed.stderr
    [row] = json.loads(listed.stdout)
    assert ("docs", str(docs), 1, "0 2 * * *", "dave@example.co.jp") == (
        row["name"],
        row["path"],
        row["documents"],
        row["schedule"],
        row["added_by"],
    )
    assert row["chunks"] >= 1
    assert row["synced_at"] is not None
    assert 1 == row["last_report"]["counts"]["added"]

    (docs / "hello.md").write_text("# Hello\n\nThe office opens at ten.\n", encoding="utf-8")
    synced = run_kura(env, "sources", "sync", "--json")
    assert 0 == synced.code, synced.stderr
    run = json.loads(synced.stdout)
    assert [] == run["stale"]
    [one] = run["sources"]
    assert ("docs", 1, [], [], None) == (
        one["name"],
        one["counts"]["changed"],
        one["refused"],
        one["removed"],
        one["error"],
    )
    again = json.loads(run_kura(env, "sources", "sync", "docs", "--json").stdout)
    assert 1 == again["sources"][0]["counts"]["unchanged"]

    ran = run_kura(env, "schedule", "run-now", "sync-docs", "--json")
    assert 0 == ran.code, ran.stderr
    outcome = str(json.loads(ran.stdout)["outcome"])
    assert outcome.startswith(f"{docs}: unchanged 1")
    assert outcome.endswith("0 FAQ entries back to review")

    removed = run_kura(env, "sources", "remove", "docs", "--json")
    assert 0 == removed.code, removed.stderr
    assert {
        "name": "docs",
        "path": str(docs),
        "documents_removed": 1,
        "schedules_removed": ["sync-docs"],
    } == json.loads(removed.stdout)
    assert [] == json.loads(run_kura(env, "sources", "list", "--json").stdout)


def test_ingest_registers_the_folder_and_bad_input_exits_2(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """``kura ingest FOLDER`` registers it (named after it) and says so in its JSON; a clash, an
    unknown name, a missing folder, a file and a bad cron each exit 2 with one line, and the bad
    cron registers nothing."""
    env = fresh_env
    docs = _docs(tmp_path / "docs")
    ingested = run_kura(env, "ingest", str(docs), "--json")
    assert 0 == ingested.code, ingested.stderr
    assert ("docs", 1) == (json.loads(ingested.stdout)["source"], json.loads(ingested.stdout)["counts"]["added"])
    [row] = json.loads(run_kura(env, "sources", "list", "--json").stdout)
    assert ("docs", 1) == (row["name"], row["documents"])

    assert "registered already as source 'docs'" in _one_line_error(env, "sources", "add", str(docs), "--no-sync")
    assert "no source named 'nope'" in _one_line_error(env, "sources", "sync", "nope")
    assert "no source named 'nope'" in _one_line_error(env, "sources", "remove", "nope")
    assert "no such folder" in _one_line_error(env, "sources", "add", str(tmp_path / "missing"))
    assert "not a folder" in _one_line_error(env, "sources", "add", str(docs / "hello.md"))
    other = _docs(tmp_path / "other")
    assert "has 4 fields" in _one_line_error(env, "sources", "add", str(other), "--schedule", "0 2 * *")
    assert ["docs"] == [r["name"] for r in json.loads(run_kura(env, "sources", "list", "--json").stdout)]
