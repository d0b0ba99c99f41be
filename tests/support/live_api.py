"""The API on real uvicorn in a thread, configured as `newsagg api` configures it."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator

import uvicorn
from newsagg.api.app import create_app
from newsagg.api.service import server_config
from newsagg.core.settings import Settings

from support.fakes import MemoryStore
from support.servers import free_port, wait_until


class LiveApi:
    """An API listening on `port`; calling it GETs a path and returns the status."""

    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(
        self, path: str = "/v1/articles/missing", port: int | None = None, **headers: str
    ) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()


Get = LiveApi


def serve(settings: Settings) -> Iterator[LiveApi]:
    """The API on a free loopback port until the generator is closed."""
    settings = settings.model_copy(update={"api_host": "127.0.0.1", "api_port": free_port()})
    server = uvicorn.Server(server_config(settings, create_app(settings, store=MemoryStore())))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, "uvicorn to start")
    try:
        yield LiveApi(settings.api_port)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
