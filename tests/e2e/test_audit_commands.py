"""``kura audit …`` as an operator runs it: retention from the policy file, legal holds, exports,
checkpoints, key rotation — and each of those leaves an audit record of its own."""

from __future__ import annotations

import csv
import getpass
import io
import json
from pathlib import Path

import pytest

from bot.wiring import default_policy_file
from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e


def _refusals(env: dict[str, str], count: int) -> None:
    """Audit records without a model: an unknown user is refused before any model call."""
    for _ in range(count):
        done = run_kura(env, "ask", "--as", "mallory@evil.example", "--json", "給与を教えて")
        assert 3 == done.code, done.stderr


def _export(env: dict[str, str]) -> list[dict[str, object]]:
    done = run_kura(env, "audit", "export", "--format", "jsonl")
    assert 0 == done.code, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_operator_commands_are_audited_and_the_chain_holds(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """Hold, purge, export, checkpoint and key rotation by the operator each leave one record
    (platform cli, user cli:<OS user>, the command line); the chain verifies throughout."""
    env = fresh_env | {"KURA_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    _refusals(env, 2)

    held = run_kura(env, "audit", "hold", "add", "--user", "Mallory@Evil.example", "--reason", "case 17", "--json")
    assert 0 == held.code, held.stderr
    assert ("user", "mallory@evil.example") == (held.json()["kind"], held.json()["value"])

    purge = run_kura(env, "audit", "purge", "--json")
    assert 0 == purge.code, purge.stderr
    report = purge.json()
    plan = report["plan"]
    assert isinstance(plan, dict)
    assert (90, 90, 365, str(default_policy_file())) == (
        plan["question_text_days"],
        plan["answer_text_days"],
        plan["audit_metadata_days"],
        plan["source"],
    )
    assert (0, 0, False) == (report["purged"], report["held"], report["dry_run"])
    assert 0 == report["records"]["pruned"]  # type: ignore[index]

    checkpoint = run_kura(env, "audit", "checkpoint")
    assert 0 == checkpoint.code, checkpoint.stderr
    assert checkpoint.stdout.startswith("checkpoint seq=4 ")  # 2 refusals, the hold, the purge
    rotated = run_kura(env, "audit", "rotate-key", "--json")
    assert 0 == rotated.code, rotated.stderr
    out = tmp_path / "audit.jsonl"
    assert 0 == run_kura(env, "audit", "export", "--output", str(out)).code

    records = _export(env)
    operator = [r for r in records if r["platform"] == "cli"]
    assert [f"cli:{getpass.getuser()}"] * 5 == [r["user_ref"] for r in operator]
    assert ["admin", "admin", "admin", "admin", "audit_export"] == [r["action"] for r in operator]
    assert ["retention", "operator", "operator", "operator", "legal_hold"] == sorted(
        (str(r["reason_code"]) for r in operator), reverse=True
    )
    verify = run_kura(env, "audit", "verify", "--json")
    assert 0 == verify.code, verify.stderr
    assert (True, 8, 0) == (verify.json()["ok"], verify.json()["records"], verify.json()["pruned_through"])
    # The checkpoint taken before the later records still holds.
    again = run_kura(env, "audit", "checkpoint", "--verify", checkpoint.stdout.strip())
    assert 0 == again.code, again.stdout + again.stderr


def test_retention_periods_come_from_the_policy_file(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """A policy with its own retention section drives purge; flags override it; a dry run writes no record."""
    policy = tmp_path / "policy.yaml"
    text = default_policy_file().read_text(encoding="utf-8")
    start = text.index("retention:")
    policy.write_text(text[:start] + "retention:\n  question_text: 7d\n  answer_text: 30d\n", encoding="utf-8")
    env = fresh_env | {"KURA_POLICY_FILE": str(policy), "KURA_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    _refusals(env, 1)
    dry = run_kura(env, "audit", "purge", "--dry-run", "--json")
    assert 0 == dry.code, dry.stderr
    plan = dry.json()["plan"]
    assert (7, 30, None, str(policy)) == (
        plan["question_text_days"],  # type: ignore[index]
        plan["answer_text_days"],  # type: ignore[index]
        plan["audit_metadata_days"],  # type: ignore[index]
        plan["source"],  # type: ignore[index]
    )
    assert dry.json()["records"] is None
    flagged = run_kura(env, "audit", "purge", "--older-than", "3", "--records-older-than", "400", "--json")
    assert 0 == flagged.code, flagged.stderr
    assert (3, 3, 400) == tuple(
        flagged.json()["plan"][k]  # type: ignore[index]
        for k in ("question_text_days", "answer_text_days", "audit_metadata_days")
    )
    assert 2 == len(_export(env))  # the refusal and the real purge; not the dry run
    bad = run_kura(env, "audit", "purge", "--older-than", "0")
    assert 2 == bad.code
    assert "--older-than must be at least 1 day" in bad.stderr


def test_keys_named_by_settings_are_never_created_and_must_be_private(
    fresh_env: dict[str, str], tmp_path: Path
) -> None:
    """A configured audit or checkpoint key that is missing (a secret mount that failed) stops the
    command with one line naming it, and nothing is created; a key others may read is refused with
    the chmod that fixes it."""
    missing = tmp_path / "secrets" / "audit.key"
    done = run_kura(fresh_env | {"KURA_AUDIT_KEY_FILE": str(missing)}, "audit", "verify")
    assert 2 == done.code, done.stdout + done.stderr
    assert [f"{missing}: the audit key named by KURA_AUDIT_KEY_FILE does not exist"] == [
        line.split(";")[0].removeprefix("kura: ") for line in done.stderr.strip().splitlines()
    ]
    assert not missing.exists()
    assert not (Path(fresh_env["KURA_DATA_DIR"]) / "keys" / "audit.key").exists()

    missing_cp = tmp_path / "secrets" / "checkpoint.key"
    done = run_kura(fresh_env | {"KURA_AUDIT_CHECKPOINT_KEY_FILE": str(missing_cp)}, "audit", "checkpoint")
    assert 2 == done.code, done.stdout + done.stderr
    assert "named by KURA_AUDIT_CHECKPOINT_KEY_FILE does not exist" in done.stderr
    assert not missing_cp.exists()

    # The default keys are made on first use, private; loosened, they are refused.
    assert 0 == run_kura(fresh_env, "audit", "verify").code
    key = Path(fresh_env["KURA_DATA_DIR"]) / "keys" / "audit.key"
    assert 0o600 == key.stat().st_mode & 0o777
    key.chmod(0o644)
    done = run_kura(fresh_env, "audit", "verify")
    assert 2 == done.code
    assert f"(mode 0644); run `chmod 600 {key}`" in done.stderr
    assert 1 == len(done.stderr.strip().splitlines())


def test_scheduled_checkpoints_and_verify_expect_head(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """The checkpoint job (run now) appends a signed line to the default sink file; ``verify
    --expect-head-file`` and ``--expect-head`` accept it; a forged line fails with exit 1. A CSV
    export neutralises a question that is a spreadsheet formula, and every text checks out."""
    env = fresh_env | {"KURA_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    done = run_kura(env, "ask", "--as", "mallory@evil.example", "--json", '=HYPERLINK("http://evil.example","x")')
    assert 3 == done.code, done.stderr
    added = run_kura(env, "schedule", "add", "checkpoint", "--name", "checkpoint", "--cron", "41 * * * *")
    assert 0 == added.code, added.stderr
    ran = run_kura(env, "schedule", "run-now", "checkpoint", "--json")
    assert 0 == ran.code, ran.stdout + ran.stderr
    sink = Path(env["KURA_DATA_DIR"]) / "audit-checkpoints.log"
    (line,) = sink.read_text(encoding="utf-8").splitlines()
    assert line.startswith("checkpoint seq=")

    by_file = run_kura(env, "audit", "verify", "--expect-head-file", str(sink))
    assert 0 == by_file.code, by_file.stdout + by_file.stderr
    assert by_file.stdout.strip().endswith("holds")
    assert 0 == run_kura(env, "audit", "verify", "--expect-head", line).code
    digest = line.split()[2].removeprefix("hash=")
    forged = line.replace(digest, ("1" if digest[0] == "0" else "0") + digest[1:])
    altered = run_kura(env, "audit", "verify", "--expect-head", forged)
    assert 1 == altered.code
    assert "the signature does not match" in altered.stdout
    assert 2 == run_kura(env, "audit", "verify", "--expect-head", "checkpoint seq=1").code

    out = tmp_path / "audit.csv"
    exported = run_kura(env, "audit", "export", "--format", "csv", "--include-text", "--output", str(out))
    assert 0 == exported.code, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    asked = next(r for r in rows if r["action"] == "ask")
    assert asked["question"].startswith("'=HYPERLINK(")
    assert {"ok"} == {r["text_check"] for r in rows}
