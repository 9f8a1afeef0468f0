"""The ``kura`` command contract: embedded defaults from nothing, policy commands, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.wiring import sample_knowledge
from tests.e2e.conftest import run_kura

pytestmark = pytest.mark.e2e


def test_embedded_defaults_from_an_empty_data_dir(fresh_env: dict[str, str], model_url: str) -> None:
    """No database URL and no model URL: kura starts the embedded PostgreSQL and the local model itself."""
    assert 0 == run_kura(fresh_env, "ingest", str(sample_knowledge() / "public")).code
    done = run_kura(fresh_env, "ask", "--as", "alice@example.co.jp", "--json", "When was the company founded?")
    assert 0 == done.code, done.stderr
    reply = done.json()
    assert "1987" in str(reply["answer"])
    assert (Path(fresh_env["KURA_DATA_DIR"]) / "postgres" / "PG_VERSION").exists()


def test_policy_explain_shows_the_rules(fresh_env: dict[str, str]) -> None:
    """Explain an allowed and a denied decision; exit 3 on deny."""
    allowed = run_kura(fresh_env, "policy", "explain", "--as", "carol@example.co.jp", "--action", "ask")
    assert 0 == allowed.code
    assert "ALLOW" in allowed.stdout
    assert "clearance confidential" in allowed.stdout
    denied = run_kura(fresh_env, "policy", "explain", "--as", "alice@example.co.jp", "--action", "admin")
    assert 3 == denied.code
    assert "action_not_allowed" in denied.stdout


def test_policy_check_reports_file_and_line(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """A broken policy file: exit 2, each problem with file:line."""
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\nroles:\n  employee:\n    actions: [ask, fly]\n", encoding="utf-8")
    done = run_kura(fresh_env, "policy", "check", str(bad))
    assert 2 == done.code
    assert f"{bad}:4:" in done.stdout
    assert "'fly'" in done.stdout


def test_broken_configured_policy_fails_closed(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """kura refuses to answer at all with a broken policy file: exit 2 with one line."""
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: [\n", encoding="utf-8")
    done = run_kura(fresh_env | {"KURA_POLICY_FILE": str(bad)}, "ask", "--as", "alice@example.co.jp", "hi")
    assert 2 == done.code
    assert 1 == len(done.stderr.strip().splitlines())
    assert str(bad) in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("ingest", "/no/such/folder"), {}, "no such file or folder"),
        (("ask", "--as", "alice@example.co.jp", "  "), {}, "empty"),
        (("policy", "explain", "--as", "a@b.c"), {"KURA_RETRIEVAL_TOP_K": "many"}, "retrieval"),
        (("ingest", ".", "--allow", "public"), {}, "go together"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    fresh_env: dict[str, str], args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    """Bad input of each kind: exit 2 and a one-line reason on stderr."""
    done = run_kura(fresh_env | env, *args)
    assert 2 == done.code
    lines = [line for line in done.stderr.strip().splitlines() if "Warning" not in line and "return Path" not in line]
    assert 1 == len(lines), done.stderr
    assert needle in lines[0]


def test_serve_refuses_blank_slack_secrets_and_an_unreachable_slack_in_one_line(fresh_env: dict[str, str]) -> None:
    """A blank signing secret is no secret: serve exits 2 saying what is missing (it used to start and
    answer every request with 500). A Slack API that cannot be reached at start: one line, exit 4."""
    blank = fresh_env | {"KURA_SLACK_BOT_TOKEN": "xoxb-test", "KURA_SLACK_SIGNING_SECRET": "  "}
    done = run_kura(blank, "serve")
    assert 2 == done.code
    assert done.stderr.strip().splitlines()[-1].startswith("kura: no chat adapter is configured")
    unreachable = blank | {
        "KURA_SLACK_SIGNING_SECRET": "s3cret",
        "KURA_SLACK_API_URL": "http://127.0.0.1:9/api/",
        "KURA_LLM_BASE_URL": "http://127.0.0.1:9/v1",
        "KURA_HTTP_PORT": "0",
    }
    done = run_kura(unreachable, "serve")
    assert 4 == done.code, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("kura: Slack could not be reached at start")
    assert "Traceback" not in done.stderr
