"""``kura schedule …`` as an operator runs it: add, list, run now and remove a sync job with
``--json``; bad input exits 2 with one line; each change leaves an audit record of its own."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e


def test_operator_adds_lists_runs_and_removes_a_schedule(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """A nightly sync of a small folder: stored as given, listed, run now (one done run with the
    ingest counts), listed with that run, removed; three operator audit records; the chain holds."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / ".kura-access.yaml").write_text("allow: [public]\nclassification: public\n", encoding="utf-8")
    (docs / "hello.md").write_text("# Hello\n\nThe office opens at nine.\n", encoding="utf-8")
    env = fresh_env

    bad = run_kura(env, "schedule", "add", "nope", "--name", "x", "--cron", "0 2 * * *")
    assert (2, 1) == (bad.code, len(bad.stderr.strip().splitlines())), bad.stderr
    assert bad.stderr.startswith(
        "kura: unknown job kind 'nope' (ask, checkpoint, eval, faq_refresh, minutes, retention, sync"
    )
    bad = run_kura(env, "schedule", "add", "sync", "--name", "x", "--cron", "0 2 * *", "--param", f"path={docs}")
    assert (2, True) == (bad.code, bad.stderr.startswith("kura: cron '0 2 * *' has 4 fields")), bad.stderr

    added = run_kura(
        env,
        *("schedule", "add", "sync", "--name", "docs", "--cron", "0 2 * * 1-5", "--timezone", "Asia/Tokyo"),
        *("--param", f"path={docs}", "--as", "Dave@Example.co.jp", "--json"),
    )
    assert 0 == added.code, added.stderr
    assert {"name": "docs", "kind": "sync", "params": {"path": str(docs)}, "cron": "0 2 * * 1-5"}.items() <= (
        added.json().items()
    )
    assert ("Asia/Tokyo", None, "dave@example.co.jp", True) == (
        added.json()["timezone"],
        added.json()["target"],
        added.json()["owner"],
        added.json()["enabled"],
    )
    again = run_kura(env, "schedule", "add", "sync", "--name", "docs", "--cron", "0 3 * * *", "--param", f"path={docs}")
    assert (2, "kura: a schedule named 'docs' already exists") == (again.code, again.stderr.strip())

    listed = run_kura(env, "schedule", "list", "--json")
    assert 0 == listed.code, listed.stderr
    [row] = json.loads(listed.stdout)
    assert ("docs", None, None) == (row["name"], row["last_run"], row["last_failure"])

    ran = run_kura(env, "schedule", "run-now", "docs", "--json")
    assert 0 == ran.code, ran.stderr
    run = ran.json()
    assert ("docs", "done", 1, None) == (run["schedule"], run["status"], run["attempts"], run["error"])
    assert str(run["outcome"]).startswith(f"{docs}: added 1")

    [row] = json.loads(run_kura(env, "schedule", "list", "--json").stdout)
    assert (run["id"], "done") == (row["last_run"]["id"], row["last_run"]["status"])

    removed = run_kura(env, "schedule", "remove", "docs", "--json")
    assert (0, "docs") == (removed.code, removed.json()["name"]), removed.stderr
    assert [] == json.loads(run_kura(env, "schedule", "list", "--json").stdout)
    missing = run_kura(env, "schedule", "run-now", "docs")
    assert (2, "kura: no schedule named 'docs'") == (missing.code, missing.stderr.strip())

    export = run_kura(env, "audit", "export", "--include-text")
    assert 0 == export.code, export.stderr
    operator = [json.loads(line) for line in export.stdout.splitlines()]
    operator = [r for r in operator if r["platform"] == "cli" and "schedule" in str(r["question"])]
    assert [f"cli:{getpass.getuser()}"] * 3 == [r["user_ref"] for r in operator]
    assert ["added schedule docs", "ran schedule docs now", "removed schedule docs"] == [
        str(r["answer"]).split(":")[0] for r in operator
    ]
    verify = run_kura(env, "audit", "verify", "--json")
    assert (0, True) == (verify.code, verify.json()["ok"])
