"""Wiring of the API service: uvicorn on NEWSAGG_API_HOST:NEWSAGG_API_PORT.

With more than one worker (NEWSAGG_API_WORKERS, default one per core) uvicorn's own
supervisor binds the port once and runs that many worker processes on it. Within a worker
the store's calls already run in threads, off the event loop, but tantivy's bindings release
the GIL only while tantivy searches: snippets, documents, models, JSON and HTTP hold it, and
two threads of one process ran store calls 1.3x as fast as one (bench/api.py, "store
calls/s, 2 threads / 1 thread"). Cores are used by processes. uvicorn runs on uvloop and
httptools (dependencies of this package). The workers count their requests in Prometheus
multiprocess mode (files in a directory of this run), so /metrics, whichever worker answers
it, shows the sums over all of them.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile

import uvicorn
from newsagg.api import metrics
from newsagg.api.app import create_app
from newsagg.core.cores import available_cores
from newsagg.core.logs import configure_logging
from newsagg.core.settings import Settings
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

WORKER_HEALTHCHECK_SECONDS = 60
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def run_api(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format, "api")
    workers = worker_count(settings)
    if workers == 1:
        uvicorn.Server(server_config(settings, create_app(settings))).run()
        return
    metrics_dir = tempfile.mkdtemp(prefix="newsagg-api-metrics-")
    os.environ[metrics.MULTIPROCESS_VARIABLE] = metrics_dir  # inherited by the spawned workers
    try:
        config = server_config(settings, functools.partial(worker_app, settings), workers=workers)
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def worker_app(settings: Settings) -> ASGIApp:
    """The app of one worker process (spawned: it logs as the parent was told to)."""
    stop_with_parent()
    configure_logging(settings.log_level, settings.log_format, "api")
    return create_app(settings)


def stop_with_parent() -> None:
    """Have Linux send this worker SIGTERM (a graceful stop) when its parent dies: a parent
    killed with -9 cannot stop its workers, which would go on serving the port."""
    parent = multiprocessing.parent_process()
    if not sys.platform.startswith("linux") or parent is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent.pid:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def worker_count(settings: Settings) -> int:
    """NEWSAGG_API_WORKERS, or one per core usable by this process when 0.

    The rate limit's buckets live in each process: with several workers a client would get
    the limit once per worker it reaches, so a rate limit means one worker by default, and
    asking for more is refused rather than quietly multiplying the limit.
    """
    if settings.api_rate_limit > 0:
        if settings.api_workers > 1:
            raise ValueError(
                f"api_workers={settings.api_workers} with api_rate_limit on: the rate limit is "
                "kept per process, so several workers would multiply it; use 1 worker (or 0), "
                "or limit rates in a proxy in front"
            )
        return 1
    if settings.api_workers:
        return settings.api_workers
    return available_cores()


def server_config(settings: Settings, app: ASGIApp | object, *, workers: int = 1) -> uvicorn.Config:
    """uvicorn's settings. X-Forwarded-For is the app's business (guards.install_forwarded,
    from NEWSAGG_API_TRUSTED_PROXIES): uvicorn's own reading would trust any local client.
    `app` is the app, or with several workers a picklable factory each worker calls."""
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        workers=workers,
        factory=workers > 1,
        # A spawned worker imports the app before it answers the supervisor's pings: on a
        # busy machine that outlasts uvicorn's 5 s, and the worker would be killed as hung.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
