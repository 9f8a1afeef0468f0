"""What every fake outside service shares: its aiohttp app served on 127.0.0.1 on a free port for
the life of an ``async with`` (or ``start``/``stop``)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["LocalServer"]


class LocalServer:
    """A fake's lifecycle; the fake builds its routes in :meth:`_app`."""

    _runner: web.AppRunner | None = None
    _port: int | None = None

    def _app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving (open connections are cut)."""
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (only while started)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"
