"""The crawler's bus writer killed with SIGKILL mid-burst loses no article and sends at
most one burst again: the real SqliteLogBus and CrawlState, in a process killed while it
writes, then a second process that writes what the crawl state does not hold yet (as the
next pass would fetch it)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.ports import ARTICLES_TOPIC
from newsagg.crawler.publishing import MAX_BURST
from newsagg.crawler.state import CrawlState
from support.servers import wait_until

PAGES = 5000

WRITER = """
import sys
from contextlib import closing
from pathlib import Path
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.crawler.crawl_pass import CrawlPass
from newsagg.crawler.publishing import BusWriter, Sent
from newsagg.crawler.state import CrawlState

data, pages = Path(sys.argv[1]), int(sys.argv[2])
state = CrawlState(data / "state.sqlite")
progress = CrawlPass(state)
writer = BusWriter(SqliteLogBus(data / "bus.sqlite"), progress.record_sent)
for n in range(pages):
    key = f"https://site.example/{n}"
    if progress.wants(key, None, None):  # what a pass fetches: not recorded yet
        writer.publish(Sent(key, f"hash-{n}", f"id-{n}"), b'{"n": %d}' % n)
writer.close()
state.close()
"""


def run_writer(data: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(data), str(PAGES)])


def on_bus(data: Path, group: str) -> list[str]:
    """The keys (article ids) of every message on the articles topic, in order (read by a
    group of its own: each reads the whole log)."""
    bus = SqliteLogBus(data / "bus.sqlite")
    consumer = bus.consumer(ARTICLES_TOPIC, group)
    keys: list[str] = []
    while batch := consumer.poll(1000, 0.1):
        keys += [str(message.key) for message in batch]
        consumer.commit(batch)
    consumer.close()
    bus.close()
    return keys


def recorded(data: Path) -> set[str]:
    """The article ids the crawl state marks as sent."""
    state = CrawlState(data / "state.sqlite")
    try:
        return {
            f"id-{n}"
            for n in range(PAGES)
            if not state.needs_fetch(f"https://site.example/{n}", None)
        }
    finally:
        state.close()


def published(data: Path) -> int:
    """Messages on the bus so far, read-only (never creating the file the writer makes)."""
    try:
        with closing(sqlite3.connect(f"file:{data / 'bus.sqlite'}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:  # not made yet
        return 0


def test_a_killed_writer_loses_nothing_and_repeats_at_most_one_burst(tmp_path: Path):
    first = run_writer(tmp_path)
    try:
        wait_until(lambda: published(tmp_path) >= PAGES // 3, 120, "a third of the articles")
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait()
    assert first.returncode == -signal.SIGKILL
    sent = on_bus(tmp_path, "after-the-kill")
    done = recorded(tmp_path)
    assert len(sent) < PAGES, "the writer finished before the kill: nothing was tested"
    assert len(set(sent)) == len(sent), "an article was published twice in one pass"
    assert done <= set(sent), f"recorded but not on the bus: {sorted(done - set(sent))[:3]}"
    assert len(set(sent) - done) <= MAX_BURST  # on the bus, not recorded: sent again

    second = run_writer(tmp_path)
    assert second.wait(120) == 0
    again = on_bus(tmp_path, "after-the-next-pass")
    assert set(again) == {f"id-{n}" for n in range(PAGES)}
    assert recorded(tmp_path) == set(again)
    assert len(again) - len(set(again)) == len(set(sent) - done) <= MAX_BURST


FAILING = """
import sys
from pathlib import Path
from twisted.internet import reactor
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.crawler.publishing import BusWriter, Sent

bus = SqliteLogBus(Path(sys.argv[1]) / "bus.sqlite")
bus.close()  # every write fails from here on, as on a full disk
recorded = []
writer = BusWriter(bus, recorded.extend)
outcome = []
done = writer.publish(Sent("https://site.example/0", "hash-0", "id-0"), b"{}")
done.addCallbacks(lambda _: outcome.append("ok"), lambda f: outcome.append(type(f.value).__name__))
done.addBoth(lambda _: reactor.stop())
reactor.run()
writer.close()
print(outcome, recorded)
"""


def test_a_failed_bus_write_fails_its_pages_and_records_none(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-c", FAILING, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['BusUnavailable'] []"
