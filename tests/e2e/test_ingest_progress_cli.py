"""``kura ingest``'s progress bar: drawn when stdout and stderr are both terminals, never with
``--json`` (whose stdout stays one JSON object) nor when either is redirected.

The terminals are real pseudo-terminals (one for stdout, one for stderr), so rich sees what it
sees in a person's shell. No model is needed: ingest embeds with the packaged e5 model.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import KURA, _env

pytestmark = pytest.mark.e2e

#: What only the bar draws: its chunk count and rate column, and the time-left column.
_BAR_MARKS = ("files ·", "chunks", "ETA")
#: Any bar at all, whatever its columns: rich's bar glyph.
_ANY_BAR = "━"


def _drain(fd: int, into: bytearray) -> None:
    """Read a pty's master side until the child's side closes (EIO on Linux)."""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return
        into.extend(data)


def _run(env: dict[str, str], args: list[str], *, stdout_tty: bool, stderr_tty: bool) -> tuple[int, str, str]:
    """Run kura with stdout and stderr each a terminal or a pipe; (exit code, stdout, stderr)."""
    outputs = (bytearray(), bytearray())
    readers: list[threading.Thread] = []
    ends: list[int | None] = []
    masters: list[int] = []
    for tty, buffer in zip((stdout_tty, stderr_tty), outputs, strict=True):
        if tty:
            master, child = pty.openpty()
            masters.append(master)
            ends.append(child)
            readers.append(threading.Thread(target=_drain, args=(master, buffer), daemon=True))
        else:
            ends.append(subprocess.PIPE)
    env = env | {"COLUMNS": "160", "TERM": "xterm-256color"}
    process = subprocess.Popen([KURA, *args], env=env, stdout=ends[0], stderr=ends[1], stdin=subprocess.DEVNULL)
    for end in ends:
        if isinstance(end, int) and end != subprocess.PIPE:
            os.close(end)
    for reader in readers:
        reader.start()
    piped_out, piped_err = process.communicate(timeout=300)
    for reader in readers:
        reader.join(timeout=10)
    for master in masters:
        os.close(master)
    stdout = piped_out.decode() if piped_out is not None else outputs[0].decode(errors="replace")
    stderr = piped_err.decode() if piped_err is not None else outputs[1].decode(errors="replace")
    return process.returncode, stdout, stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A few public documents, enough chunks for the bar to draw more than once."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / ".kura-access.yaml").write_text("allow: [public]\nclassification: public\n", encoding="utf-8")
    for n in range(3):
        body = "\n\n".join(f"## 節 {k}\n\n第{n}文書の第{k}節です。申請は月末までに提出します。" * 3 for k in range(6))
        (root / f"doc-{n}.md").write_text(f"# 文書 {n}\n\n{body}\n", encoding="utf-8")
    return root


def test_ingest_in_a_terminal_draws_files_chunks_rate_and_time_left(tmp_path: Path, folder: Path) -> None:
    code, stdout, stderr = _run(_env(tmp_path / "data"), ["ingest", str(folder)], stdout_tty=True, stderr_tty=True)
    assert 0 == code, stderr
    assert "ingested" in stdout
    assert "added 3" in stdout
    for mark in _BAR_MARKS:
        assert mark in stderr, (mark, stderr[-2000:])


def test_ingest_json_in_a_terminal_prints_clean_json_and_no_bar(tmp_path: Path, folder: Path) -> None:
    code, stdout, stderr = _run(
        _env(tmp_path / "data"), ["ingest", str(folder), "--json"], stdout_tty=True, stderr_tty=True
    )
    assert 0 == code, stderr
    assert "\x1b" not in stdout
    report = json.loads(stdout.replace("\r\n", "\n"))
    assert 3 == report["counts"]["added"]
    assert _ANY_BAR not in stderr, stderr


@pytest.mark.parametrize(("stdout_tty", "stderr_tty"), [(False, True), (True, False), (False, False)])
def test_ingest_with_output_redirected_draws_no_bar(
    tmp_path: Path, folder: Path, stdout_tty: bool, stderr_tty: bool
) -> None:
    """``kura ingest DIR > log`` in a terminal: the bar would go to the terminal while the report
    goes to the file; a redirected stderr would fill a log with frames."""
    code, stdout, stderr = _run(
        _env(tmp_path / "data"), ["ingest", str(folder)], stdout_tty=stdout_tty, stderr_tty=stderr_tty
    )
    assert 0 == code, stderr
    assert "added 3" in stdout
    assert _ANY_BAR not in stderr, stderr


def test_sources_add_and_sync_in_a_terminal_draw_the_same_bar(tmp_path: Path, folder: Path) -> None:
    """Every sync path of the CLI goes through the same bar: ``kura sources add`` (which syncs at
    once) and ``kura sources sync`` after a file changed."""
    env = _env(tmp_path / "data")
    add = ["sources", "add", str(folder), "--name", "docs"]
    code, stdout, stderr = _run(env, add, stdout_tty=True, stderr_tty=True)
    assert 0 == code, stderr
    assert "added 3" in stdout
    for mark in _BAR_MARKS:
        assert mark in stderr, (mark, stderr[-2000:])
    (folder / "doc-0.md").write_text("# 文書 0\n\n書き換えました。\n", encoding="utf-8")
    code, stdout, stderr = _run(env, ["sources", "sync", "docs"], stdout_tty=True, stderr_tty=True)
    assert 0 == code, stderr
    assert "changed 1" in stdout
    assert "docs" in stderr  # the bar is labelled with the source's name
    for mark in _BAR_MARKS:
        assert mark in stderr, (mark, stderr[-2000:])
