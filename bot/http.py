"""The one HTTP server of ``kura serve``: adapters mount their routes on it (Slack ``/slack/events``,
Teams ``/api/messages``), parts register readiness checks, and it serves ``/healthz``, ``/readyz``
and ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.errors import ConfigurationError
from bot.metrics import Metrics
from bot.settings import HttpSettings

__all__ = ["Check", "HttpHost", "RequestHandler"]

_log = logging.getLogger(__name__)

#: A readiness check: True when the part it stands for can serve.
Check = Callable[[], Awaitable[bool]]
RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpHost:
    """An aiohttp application on ``KURA_HTTP_HOST``/``KURA_HTTP_PORT``: routes are added before
    :meth:`start`; checks may be added at any time and are run on every ``/readyz``."""

    def __init__(self, settings: HttpSettings, metrics: Metrics, *, check_timeout_s: float = 2.0) -> None:
        self._settings = settings
        self._metrics = metrics
        self._timeout = check_timeout_s
        self._checks: dict[str, Check] = {}
        self._app = web.Application()
        self._app.router.add_get("/healthz", self._healthz)
        self._app.router.add_get("/readyz", self._readyz)
        self._app.router.add_get("/metrics", self._metrics_page)
        self._runner: web.AppRunner | None = None
        self._port = settings.port

    @property
    def port(self) -> int:
        """The port listened on: the bound one once started (useful when port 0 was asked)."""
        return self._port

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    def add_route(self, method: str, path: str, handler: RequestHandler) -> None:
        """Serve ``method path`` with ``handler``; only before :meth:`start`."""
        if self._runner is not None:
            raise RuntimeError(f"cannot add {method} {path}: the HTTP host is already started")
        self._app.router.add_route(method, path, handler)

    def add_check(self, name: str, check: Check) -> None:
        """Make ``/readyz`` depend on ``check`` (named in its answer when it fails)."""
        self._checks[name] = check

    async def _run_check(self, name: str, check: Check) -> str:
        try:
            ok = await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return "timeout"
        except Exception as exc:  # a broken check means "not ready", never a 500
            _log.warning("readiness check failed check=%s error=%s", name, type(exc).__name__)
            return "error"
        return "ok" if ok else "failing"

    async def readiness(self) -> dict[str, str]:
        """Every check's state (``ok``, ``failing``, ``timeout``, ``error``), run concurrently."""
        names = list(self._checks)
        states = await asyncio.gather(*(self._run_check(n, self._checks[n]) for n in names))
        return dict(zip(names, states, strict=True))

    async def start(self) -> None:
        """Listen; afterwards :attr:`port` is the bound port."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self._settings.host}:{self._settings.port}"
            raise ConfigurationError(
                f"cannot listen on {where} ({exc.strerror or exc}): set KURA_HTTP_HOST / KURA_HTTP_PORT"
            ) from exc
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple):
                self._port = int(address[1])
                break
        _log.info("http host listening host=%s port=%s", self._settings.host, self._port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _request: web.Request) -> web.Response:
        states = await self.readiness()
        not_ready = {name: state for name, state in states.items() if state != "ok"}
        if not_ready:
            return web.json_response({"ready": False, "not_ready": not_ready}, status=503)
        return web.json_response({"ready": True})

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        body, content_type = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})
