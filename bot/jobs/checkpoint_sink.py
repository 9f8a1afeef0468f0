"""The ``checkpoint`` job: sign the audit chain's head and write it somewhere outside the database.

Someone with the database owner's rights can rewrite the chain from any record on (recomputing
every hash) or cut its tail, and ``kura audit verify`` alone cannot tell. A signed checkpoint kept
where that person cannot write can: the record it names no longer has its hash, or is gone
(``kura audit verify --expect-head``). ``kura serve`` keeps a schedule of this job on
``KURA_SCHEDULER_CHECKPOINT_CRON`` (hourly), writing to ``KURA_AUDIT_CHECKPOINT_SINK``:

    unset                   file:$KURA_DATA_DIR/audit-checkpoints.log (easy, but on Kura's host:
                            point it somewhere the database's owner cannot write)
    file:/abs/path          the line appended, then fsync
    syslog                  the local syslog socket (/dev/log), facility user
    syslog:/path/socket     another local syslog socket
    syslog://host[:port]    a syslog server over UDP (port 514 by default)
    https://… or http://…   POST the checkpoint as JSON (+ ``line``); Bearer token if configured
    off                     no schedule

Each run first verifies the whole chain, and with a file sink also re-checks the last checkpoint
in the file; either failing stops the run (it fails, recorded in ``schedule_runs``) without
writing. Scheduled checkpoints leave no audit record of their own: each would move the head.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from bot.audit.checkpoint import (
    AuditTampered,
    Checkpoint,
    format_line,
    head_problem,
    last_line,
    parse,
    read_head,
    sign,
    to_json,
)
from bot.audit.keyring import checkpoint_key
from bot.errors import ConfigurationError, InputError, UpstreamError
from bot.jobs.cron import cron_trigger
from bot.jobs.store import ScheduleSpec, ScheduleStore
from bot.settings import KuraSettings

if TYPE_CHECKING:
    from bot.wiring import Runtime

__all__ = [
    "CHECKPOINT_SCHEDULE",
    "Sink",
    "checkpoint_spec",
    "keep_checkpoint_schedule",
    "parse_sink",
    "write_checkpoint",
]

_log = logging.getLogger(__name__)

#: The name of the schedule ``kura serve`` keeps on ``KURA_SCHEDULER_CHECKPOINT_CRON``.
CHECKPOINT_SCHEDULE = "checkpoint"
#: The default file, beside (not inside) the database's folder.
DEFAULT_FILE = "audit-checkpoints.log"
_SETTING = "KURA_AUDIT_CHECKPOINT_SINK"
_HTTP_TIMEOUT_S = 10.0
# Only the end of a long sink file is read to find its newest line.
_TAIL_BYTES = 64 * 1024

SinkKind = Literal["file", "syslog", "http", "off"]


@dataclass(frozen=True)
class Sink:
    """Where checkpoints go: ``target`` is the file path, the syslog address (a socket path or
    ``host:port``) or the URL."""

    kind: SinkKind
    target: str = ""
    #: True for a syslog ``host:port`` (UDP) rather than a local socket.
    remote: bool = False

    def describe(self) -> str:
        """Where, for outcomes and logs (a URL without its user info or query)."""
        if self.kind == "http":
            url = urlsplit(self.target)
            return f"{url.scheme}://{url.hostname}{f':{url.port}' if url.port else ''}{url.path}"
        return f"{self.kind} {self.target}".strip()


def parse_sink(value: str | None, data_dir: Path) -> Sink:
    """The sink a setting names (unset: the default file under ``data_dir``).

    Raises:
        ConfigurationError: not one of the forms in the module docstring.
    """
    if value is None or not value.strip():
        return Sink("file", str(data_dir / DEFAULT_FILE))
    text = value.strip()
    if text == "off":
        return Sink("off")
    if text.startswith("file:"):
        path = Path(text.removeprefix("file:"))
        if not path.is_absolute():
            raise ConfigurationError(f"{_SETTING}={value!r}: a file sink needs an absolute path (file:/var/log/…)")
        return Sink("file", str(path))
    if text == "syslog":
        return Sink("syslog", "/dev/log" if os.path.exists("/dev/log") else "/var/run/syslog")
    if text.startswith("syslog://"):
        url = urlsplit(text)
        try:
            port = url.port or 514
        except ValueError:
            port = 0
        if not url.hostname or not port:
            raise ConfigurationError(f"{_SETTING}={value!r}: expected syslog://host[:port]")
        return Sink("syslog", f"{url.hostname}:{port}", remote=True)
    if text.startswith("syslog:/"):
        return Sink("syslog", text.removeprefix("syslog:"))
    url = urlsplit(text)
    if url.scheme in ("http", "https") and url.hostname:
        return Sink("http", text)
    raise ConfigurationError(
        f"{_SETTING}={value!r}: expected file:/path, syslog, syslog:/socket, syslog://host:port, https://… or off"
    )


def checkpoint_spec(settings: KuraSettings) -> ScheduleSpec | None:
    """The checkpoint schedule made from the settings; None when the sink is ``off``.

    Raises:
        ConfigurationError: the sink, cron line or time zone is not valid.
    """
    if parse_sink(settings.audit_checkpoint_sink, settings.data_dir).kind == "off":
        return None
    jobs = settings.scheduler
    try:
        cron_trigger(jobs.checkpoint_cron, jobs.timezone)
    except InputError as exc:
        raise ConfigurationError(
            f"KURA_SCHEDULER_CHECKPOINT_CRON={jobs.checkpoint_cron!r} KURA_SCHEDULER_TIMEZONE={jobs.timezone!r}: {exc}"
        ) from exc
    return ScheduleSpec(CHECKPOINT_SCHEDULE, "checkpoint", jobs.checkpoint_cron, jobs.timezone)


async def keep_checkpoint_schedule(store: ScheduleStore, settings: KuraSettings) -> str | None:
    """Keep the ``checkpoint`` schedule on the settings (``added``/``updated``), or remove the one
    made from them when the sink is ``off`` (``removed``); None when nothing changed."""
    spec = checkpoint_spec(settings)
    if spec is not None:
        return await store.ensure(spec)
    existing = await store.get(CHECKPOINT_SCHEDULE)
    if existing is not None and existing.kind == "checkpoint" and existing.owner is None:
        await store.remove(CHECKPOINT_SCHEDULE)
        return "removed"
    return None


def _tail(path: Path) -> str:
    """The end of ``path`` ("" when it does not exist yet)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - _TAIL_BYTES))
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the checkpoint file: {exc.strerror}") from exc


def _append(path: Path, line: str, *, make_folder: bool) -> None:
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot append the checkpoint: {exc.strerror}") from exc


class _RaisingSysLogHandler(logging.handlers.SysLogHandler):
    """SysLogHandler whose send errors reach the job (the stock one prints them and goes on)."""

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # called inside emit's except block: re-raise what failed


def _syslog(sink: Sink, line: str) -> None:
    if sink.remote:
        host, _, port = sink.target.rpartition(":")
        address: str | tuple[str, int] = (host, int(port))
    else:
        address = sink.target
    try:
        handler = _RaisingSysLogHandler(address=address, socktype=socket.SOCK_DGRAM)
    except OSError as exc:
        raise UpstreamError(f"checkpoint sink syslog {sink.target}: {exc.strerror or exc}") from exc
    handler.ident = "kura-audit: "
    handler.append_nul = False
    try:
        handler.emit(logging.LogRecord("kura.audit", logging.INFO, __file__, 0, line, None, None))
    except OSError as exc:
        raise UpstreamError(f"checkpoint sink syslog {sink.target}: {exc.strerror or exc}") from exc
    finally:
        handler.close()


async def _post(sink: Sink, body: dict[str, object], token: str | None) -> None:
    import aiohttp  # only when an HTTP sink is used

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    timeout = aiohttp.ClientTimeout(total=_HTTP_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(sink.target, data=json.dumps(body), headers=headers, allow_redirects=False) as response,
        ):
            if not 200 <= response.status < 300:
                raise UpstreamError(f"checkpoint sink {sink.describe()}: HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UpstreamError(f"checkpoint sink {sink.describe()}: {type(exc).__name__}") from exc


async def _previous_holds(rt: Runtime, sink: Sink, key: bytes) -> str:
    """With a file sink, re-check the newest checkpoint in it: "" when it holds or there is none."""
    if sink.kind != "file":
        return ""
    path = Path(sink.target)
    text = await asyncio.to_thread(_tail, path)
    if not text.strip():
        return ""
    try:
        previous: Checkpoint = parse(last_line(text, str(path)))
    except InputError as exc:
        return f"{path}: its last line is not a checkpoint ({exc})"
    if 0 < previous.seq <= await rt.audit.anchor_through():
        return ""  # its record was removed for retention: nothing left to compare it with
    problem = await head_problem(rt.audit, previous, key)
    return f"the last checkpoint in {path} (seq={previous.seq}): {problem}" if problem else ""


async def write_checkpoint(rt: Runtime) -> str:
    """Verify the chain (and the last checkpoint of a file sink), sign its head, write it to the
    configured sink; the one-line outcome.

    Raises:
        AuditTampered: the chain or the previous checkpoint does not hold (nothing is written).
        ConfigurationError: the sink is ``off`` or not valid, the key is missing or bad, the file
            cannot be written.
        UpstreamError: a syslog or HTTP sink did not take it (the scheduler tries again).
    """
    settings = rt.settings
    sink = parse_sink(settings.audit_checkpoint_sink, settings.data_dir)
    if sink.kind == "off":
        raise ConfigurationError(f"{_SETTING}=off: there is nowhere to write checkpoints")
    key = checkpoint_key(settings)
    rt.audit.use_anchor_key(key)
    head = await read_head(rt.audit)
    result = await rt.audit.verify()
    if not result.ok:
        raise AuditTampered(f"chain broken at record {result.first_bad}: {result.problem}; no checkpoint written")
    problem = await _previous_holds(rt, sink, key)
    if problem:
        raise AuditTampered(f"{problem}; no checkpoint written")
    signed = sign(head, key)
    line = format_line(signed)
    if sink.kind == "file":
        default = settings.audit_checkpoint_sink is None or not settings.audit_checkpoint_sink.strip()
        await asyncio.to_thread(_append, Path(sink.target), line, make_folder=default)
    elif sink.kind == "syslog":
        await asyncio.to_thread(_syslog, sink, line)
    else:
        token = settings.audit_checkpoint_sink_token
        body = to_json(signed, head.records) | {"line": line}
        await _post(sink, body, token.get_secret_value() if token else None)
    _log.info("checkpoint: seq=%d written to %s", signed.seq, sink.describe())
    return f"checkpoint seq={signed.seq} hash={signed.hash[:16]}… written to {sink.describe()}"
