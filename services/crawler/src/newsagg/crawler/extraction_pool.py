"""Worker processes for extraction, shared by every crawl running in this process.

Parsing a page takes tens of milliseconds of CPU; on the reactor thread (or a
thread, under the GIL) it would hold up fetching. A process pool sized to the
cores does it in parallel. The polling crawler runs one Scrapy crawl per source
at once, so the crawls share one pool: it starts with the first open spider and
then stays up, warm, between passes (a pass that ends must not make the next
one pay for starting workers again); it ends with the crawler process. Workers
come from a forkserver that has preloaded the extraction code and warmed it
(worker_preload): forking the crawler itself would copy its reactor, bus and
metrics threads mid-flight.

Workers end with the crawler, even when it is killed with SIGKILL. The forkserver is
their parent, and it cannot notice the crawler's death: it waits for EOF on an "alive"
pipe whose write end the forkserver hands to every worker, and each worker waits for
work on a queue whose write end it holds too. So each worker watches the crawler's pid
itself; once the workers are gone, the forkserver and the resource tracker see EOF and
exit as well.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from typing import Any, TypeVar

from newsagg.core.article import Article
from newsagg.core.cores import available_cores
from newsagg.crawler.items import FetchedPage
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

T = TypeVar("T")


def _exit_with(crawler_pid: int) -> None:
    """End this worker as soon as the crawler process ends, however it ends (Linux)."""
    if not hasattr(os, "pidfd_open"):
        return
    try:
        crawler = os.pidfd_open(crawler_pid)
    except ProcessLookupError:
        os._exit(1)  # the crawler died before this worker started

    def wait_then_exit() -> None:
        select.select([crawler], [], [])  # a pidfd turns readable when its process exits
        os._exit(1)

    threading.Thread(target=wait_then_exit, name="exit-with-crawler", daemon=True).start()


def _start_worker(crawler_pid: int) -> None:
    """Tie the worker's life to the crawler's (the forkserver preloaded the rest)."""
    _exit_with(crawler_pid)


def _spawn_workers(executor: ProcessPoolExecutor, workers: int) -> None:
    """Start the forkserver and every worker now, on a thread, while the crawl fetches
    its listings. Left to the first submit, the start (imports, the preload's warm-up:
    seconds of CPU) would block the reactor thread that submits."""

    def spawn() -> None:
        try:
            for started in [executor.submit(os.getpid) for _ in range(workers)]:
                started.result()
        except Exception:  # a pool shut down or broken meanwhile: the next submit tells
            return

    threading.Thread(target=spawn, name="extraction-pool-start", daemon=True).start()


def extract_page(page: FetchedPage) -> Article:
    """The page's article, in a worker (ExtractionError when it holds none). Extraction
    is imported here, where the forkserver has preloaded it: the crawler's own process,
    which only submits pages, never loads trafilatura and the language model."""
    from newsagg.crawler.extraction import extract_article

    return extract_article(
        page.body,
        url=page.url,
        source=page.source,
        feed_published_at=page.feed_published_at,
        listed_in=page.listed_in,
        own_sites=page.own_sites,
        content_type=page.content_type,
    )


class ExtractionTimeout(Exception):
    """A page's extraction ran past its deadline; the workers were replaced."""


def _reactor() -> Any:
    from twisted.internet import reactor  # imported late: Scrapy chooses the reactor

    return reactor


def _as_deferred(future: Future[T]) -> Deferred[T]:
    """Fire a Deferred on the reactor thread when the worker's result arrives (unless it
    has fired already: its deadline passed). A call cancelled by the shutdown of a broken
    pool fails as the pool did; before, its Deferred never fired and its pass never ended."""
    deferred: Deferred[T] = Deferred()

    def settle(done: Future[T]) -> None:
        if deferred.called:
            return
        if done.cancelled():  # queued when a broken pool was shut down: never run
            deferred.errback(Failure(BrokenProcessPool("the pool was renewed before it ran")))
            return
        error = done.exception()
        if error is not None:
            deferred.errback(Failure(error))
        else:
            deferred.callback(done.result())

    future.add_done_callback(lambda done: _reactor().callFromThread(settle, done))
    return deferred


class ExtractionPool:
    """A ProcessPoolExecutor started by its first user, kept warm while the process
    lives, that submits work as Deferreds.

    Its workers exit with the crawler process: at a normal exit concurrent.futures
    joins them, on a kill each one's pidfd watch ends it."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or available_cores()
        self._executor: ProcessPoolExecutor | None = None
        self._users = 0
        self._lock = threading.Lock()
        self.pending = 0
        """Pages submitted and not yet done (waiting for a worker or in one)."""
        self._pending_lock = threading.Lock()
        """Its own lock: shutdown (under _lock) runs the done callbacks of cancelled work."""

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["newsagg.crawler.worker_preload"])
        return ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._executor is None:
                self._executor = self._start()
                _spawn_workers(self._executor, self.workers)

    def release(self) -> None:
        """A crawl is done with the pool; its workers stay up for the next pass."""
        with self._lock:
            self._users = max(0, self._users - 1)

    def shutdown(self) -> None:
        """Stop the workers now (tests, and a process that crawls no more)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None

    @property
    def users(self) -> int:
        """Crawls between open_spider and close_spider now."""
        with self._lock:
            return self._users

    @property
    def worker_pids(self) -> frozenset[int]:
        """The live workers' pids (empty before the first crawl)."""
        with self._lock:
            executor = self._executor
            processes = dict(getattr(executor, "_processes", None) or {})
        return frozenset(pid for pid, process in processes.items() if process.is_alive())

    def submit(self, function: Callable[..., T], *args: Any, timeout: float) -> Deferred[T]:
        """Run `function` in a worker; a dead worker fails this call and renews the pool.

        Past `timeout` seconds the call fails with ExtractionTimeout and every worker is
        killed and the pool renewed: a worker cannot be told to stop one task, and one
        stuck for good (a pathological page, a hang) would hold its pass open for ever,
        and with it every later pass of its source. The other calls in flight then fail
        with BrokenProcessPool, which their callers may try again."""
        with self._lock:
            executor = self._executor
            if executor is None:
                raise RuntimeError("extraction pool used outside open_spider/close_spider")
            try:
                future = executor.submit(function, *args)
            except BrokenProcessPool:
                self._renew(executor)
                raise
        with self._pending_lock:
            self.pending += 1
        future.add_done_callback(self._one_done)
        deferred = _as_deferred(future)
        _Deadline(self, executor, future, deferred, timeout)
        deferred.addErrback(self._renew_if_broken, executor)
        return deferred

    def replace_workers(self, executor: ProcessPoolExecutor) -> None:
        """Kill the executor's workers and renew the pool (a stuck one is among them)."""
        with self._lock:
            for pid in list(getattr(executor, "_processes", None) or {}):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._renew(executor)

    def _one_done(self, _future: Future[Any]) -> None:
        with self._pending_lock:
            self.pending -= 1

    def _renew_if_broken(self, failure: Failure, executor: ProcessPoolExecutor) -> Failure:
        if failure.check(BrokenProcessPool):
            with self._lock:
                self._renew(executor)
        return failure

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        """Replace a broken executor once (callers hold the lock)."""
        if self._executor is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()


class _Deadline:
    """One call's deadline: past it, the workers are killed and the call fails with
    ExtractionTimeout. A call still queued behind others (not handed to a worker yet) gets
    its time again, so only the time in a worker counts, however long the queue."""

    def __init__(
        self,
        pool: ExtractionPool,
        executor: ProcessPoolExecutor,
        future: Future[Any],
        deferred: Deferred[Any],
        seconds: float,
    ) -> None:
        self.pool, self.executor, self.future, self.seconds = pool, executor, future, seconds
        self.deferred = deferred
        self.call = _reactor().callLater(seconds, self._expire)
        deferred.addBoth(self._cancel)

    def _cancel(self, result: T) -> T:
        if self.call.active():
            self.call.cancel()
        return result

    def _expire(self) -> None:
        if self.deferred.called:
            return
        if not self.future.running():
            self.call = _reactor().callLater(self.seconds, self._expire)
            return
        self.pool.replace_workers(self.executor)
        self.deferred.errback(
            Failure(ExtractionTimeout(f"extraction ran past {self.seconds:g}s; workers replaced"))
        )


SHARED_POOL = ExtractionPool()
