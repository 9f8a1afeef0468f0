"""What every fake outside service shares: its aiohttp app served on 127.0.0.1 on a free port for
the life of an ``async with`` (or ``start``/``stop``), over plain HTTP or, with ``tls = True``, over
HTTPS with the test CA's server certificate (:mod:`tests.fakes.tls`)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["LocalServer"]


class LocalServer:
    """A fake's lifecycle; the fake builds its routes in :meth:`_app`.

    ``tls`` (a class attribute a fake or an instance may set before :meth:`start`) serves HTTPS;
    clients then trust :func:`tests.fakes.tls.ca_file`.
    """

    tls: bool = False
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
        context = None
        if self.tls:
            from tests.fakes.tls import server_context

            context = server_context()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
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
        """``http://127.0.0.1:PORT``, or ``https://…`` when serving TLS."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
