"""The bounded form of `make reliability`: a few faults, once each, on 12 stories.

Each run is real: a local site of real-page stories, `newsagg crawl`, `index`, `api`
and `alerts` as processes, a saved search of every story delivering to a webhook
receiver on 127.0.0.1, the fault at a seeded random moment, and the count through the
API and the receiver. Deselect with `-m 'not reliability'`; `make reliability` runs
every row.
"""

from __future__ import annotations

import signal

import pytest

from reliability.faults import Fault, KillWorker, NoFault, Signal
from reliability.harness import Settings, run_row
from reliability.site import MissingBenchmark, load_stories

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(420)]

FAULTS = [
    NoFault("no fault"),
    Signal("kill -9 crawler", service="crawl", signum=signal.SIGKILL),
    Signal("kill -9 indexer", service="index", signum=signal.SIGKILL),
    KillWorker("kill -9 extraction worker"),
    Signal("kill -9 alerts", service="alerts", signum=signal.SIGKILL),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    try:
        stories = load_stories(12)
    except MissingBenchmark as exc:
        pytest.skip(str(exc))
    return Settings(stories, tmp_path_factory.mktemp("reliability"), page_delay=0.2)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_nothing_lost_nothing_duplicated(fault: Fault, settings: Settings):
    row = run_row("embedded", fault, settings, repeats=1, seed=12, keep_logs=False)
    summary = row.as_dict()
    assert row.green, summary
    assert summary["indexed"] == summary["expected"] == 12
    assert summary["delivered"] == 12
