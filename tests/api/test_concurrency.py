"""Requests do not wait for each other: the store's blocking calls run off the event loop.

A store whose search blocks until the test lets it go proves it on real uvicorn, configured
as `newsagg api` configures one worker: a second request is answered while the first
waits in the store, and two searches are inside the store at the same time.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import uvicorn
from newsagg.api.app import create_app
from newsagg.api.service import server_config
from newsagg.core.query import Term
from newsagg.core.search import SearchPage, SearchQuery
from newsagg.core.settings import Settings
from support.servers import free_port, wait_until

WAIT_S = 20


@dataclass
class BlockingStore:
    """Searches for `slow` wait for `release`; every search first waits (up to WAIT_S) at
    `together` when `pair` is set, which only two searches inside at once can pass."""

    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    pair: bool = False
    together: threading.Barrier = field(default_factory=lambda: threading.Barrier(2))

    def search(self, query: SearchQuery) -> SearchPage:
        if self.pair:
            self.together.wait(timeout=WAIT_S)  # BrokenBarrierError (a 500) if alone
        if isinstance(query.query, Term) and query.query.text == "slow":
            self.entered.set()
            assert self.release.wait(timeout=WAIT_S)
        return SearchPage(total=0, hits=[])

    def health(self) -> bool:
        return True

    def count(self) -> int:
        return 0

    def close(self) -> None:
        pass


@dataclass
class Served:
    port: int
    store: BlockingStore

    def search(self, q: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT_S)
        try:
            connection.request("GET", f"/v1/search?q={q}&facets=")
            return connection.getresponse().status
        finally:
            connection.close()


@pytest.fixture
def served() -> Iterator[Served]:
    store = BlockingStore()
    settings = Settings(api_host="127.0.0.1", api_port=free_port())
    server = uvicorn.Server(server_config(settings, create_app(settings, store=store)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, "uvicorn to start")
    try:
        yield Served(settings.api_port, store)
    finally:
        store.release.set()
        server.should_exit = True
        thread.join(timeout=20)


def test_a_request_is_answered_while_another_waits_in_the_store(served: Served):
    with ThreadPoolExecutor(1) as pool:
        slow: Future[int] = pool.submit(served.search, "slow")
        assert served.store.entered.wait(WAIT_S), "the slow search never reached the store"
        assert served.search("fast") == 200
        assert not slow.done(), "the slow search should still be waiting in the store"
        served.store.release.set()
        assert slow.result(timeout=WAIT_S) == 200


def test_two_searches_are_in_the_store_at_once(served: Served):
    served.store.pair = True
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(served.search, ["first", "second"]))
    assert answers == [200, 200]
