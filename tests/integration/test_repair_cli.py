"""`newsagg check`, `newsagg repair` and the commands that meet damaged data, on real files."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.adapters.sqlite_bus import SqliteLogBus
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.alerts.model import Match, SavedSearch
from newsagg.core.ports import ARTICLES_TOPIC
from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery
from newsagg.crawler.spider import url_key
from newsagg.crawler.state import CrawlState
from support.damage import PAGE, article, full_bus, garbage, middle_page, segment_file

from newsagg.cli.main import main
from newsagg.cli.supervisor import DATA_CORRUPTED, INDEX_OUTDATED, Supervisor

ARTICLES = 120


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory the `newsagg` command works on, with the defaults' file names."""
    for name in ("NEWSAGG_BUS_URL", "NEWSAGG_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSAGG_INDEXER_METRICS_PORT", "0")
    return tmp_path


def indexed(data: Path) -> Path:
    """A bus of ARTICLES articles, all indexed (by `repair --index` on an empty index)."""
    full_bus(data / "bus.sqlite", ARTICLES)
    assert main(["repair", "--index"]) == 0
    return data / "index"


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_check_on_a_new_data_dir_says_missing(data: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["check"]) == 0
    assert [line.split(":")[:2] for line in lines(capsys)] == [
        ["bus", " missing"],
        ["index", " missing"],
        ["crawl state", " missing"],
        ["saved searches", " missing"],
    ]


def test_check_on_whole_data_says_ok(data: Path, capsys: pytest.CaptureFixture[str]):
    indexed(data)
    CrawlState(data / "crawler-state.sqlite").close()
    capsys.readouterr()
    assert main(["check"]) == 0
    out = lines(capsys)
    assert out[0].startswith(f"bus: ok: {ARTICLES} messages")
    assert out[1].startswith(f"index: ok: {ARTICLES} articles")
    assert out[2].startswith("crawl state: ok: whole")


def test_check_names_each_damage_and_exits_1(data: Path, capsys: pytest.CaptureFixture[str]):
    index = indexed(data)
    garbage(segment_file(index, "store"), 0, 64)
    (data / "crawler-state.sqlite").write_bytes(b"garbage " * 512)
    capsys.readouterr()
    assert main(["check"]) == 1
    bus, index_line, state, alerts = lines(capsys)
    assert bus.startswith("bus: ok")
    assert index_line.startswith("index: corrupted: ")
    assert "repair --index" in index_line
    assert state.startswith("crawl state: corrupted: ")
    assert "repair --crawl-state" in state
    assert alerts.startswith("saved searches: missing")


def test_repair_index_makes_every_article_of_the_bus_searchable_again(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    index = indexed(data)
    garbage(segment_file(index, "term"), 0, PAGE)
    assert main(["check"]) == 1
    capsys.readouterr()
    assert main(["repair", "--index"]) == 0
    out = capsys.readouterr().out
    assert "moved" in out
    assert f"{ARTICLES} articles" in out
    assert len(list(data.glob("index.corrupt-*"))) == 1  # kept, not deleted
    assert main(["check"]) == 0
    store = TantivyStore(index, writable=False)
    for n in range(ARTICLES):
        assert store.get(article(n).id) is not None
    page = store.search(SearchQuery(query=parse_query('"story 17"'), size=100))
    assert article(17).id in {hit.id for hit in page.hits}
    store.close()


def test_repair_index_refuses_while_an_indexer_runs(data: Path, capsys: pytest.CaptureFixture[str]):
    index = indexed(data)
    bus = SqliteLogBus(data / "bus.sqlite")
    member = bus.consumer(ARTICLES_TOPIC, "indexer")
    member.poll(1, timeout=0)  # holds the group's lease
    try:
        assert main(["repair", "--index"]) == 1
    finally:
        member.close()
        bus.close()
    assert "running member" in capsys.readouterr().err
    assert index.exists()
    assert not list(data.glob("index.corrupt-*"))


def test_repair_crawl_state_records_every_indexed_article(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    indexed(data)
    path = data / "crawler-state.sqlite"
    path.write_bytes(b"\x00garbage" * 1024)
    assert main(["repair", "--crawl-state"]) == 0
    assert f"from {ARTICLES} articles" in capsys.readouterr().out
    assert main(["check"]) == 0
    state = CrawlState(path)
    try:
        for n in range(ARTICLES):
            a = article(n)
            assert not state.needs_fetch(url_key(a.url), None)
            assert state.is_unchanged(url_key(a.url), a.content_hash)
        assert state.needs_fetch(url_key("https://s.example/not-indexed"), None)
    finally:
        state.close()


def test_status_on_a_damaged_bus_is_one_line_not_a_traceback(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    (data / "bus.sqlite").write_bytes(b"")
    assert main(["status"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("newsagg status: ")
    assert "zero bytes" in err[0]


def test_the_indexer_exits_with_its_own_code_on_a_damaged_bus(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    path = full_bus(data / "bus.sqlite", ARTICLES)
    garbage(path, middle_page(path), 4 * PAGE)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main(["index"]) == DATA_CORRUPTED
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert "repair --bus" in capsys.readouterr().err


@pytest.mark.parametrize("exit_code", [DATA_CORRUPTED, INDEX_OUTDATED])
def test_the_supervisor_does_not_restart_a_service_that_met_damaged_data_or_an_old_index(
    tmp_path: Path, exit_code: int
):
    marker = tmp_path / "starts"
    code = f"open({str(marker)!r}, 'a').write('x'); raise SystemExit({exit_code})"
    supervisor = Supervisor(commands={"index": [sys.executable, "-c", code]})
    threading.Timer(3.0, lambda: supervisor._request_stop(signal.SIGTERM, None)).start()
    assert supervisor.run() == 0
    assert marker.read_text() == "x"  # started once, never again


def test_repair_bus_copies_every_readable_message_into_a_new_log(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    path = full_bus(data / "bus.sqlite", ARTICLES)
    garbage(path, middle_page(path), PAGE)
    assert main(["check"]) == 1
    assert main(["repair", "--bus"]) == 0
    recovered = SqliteLogBus(path)  # whole again
    count = recovered.topic_size(ARTICLES_TOPIC)
    recovered.close()
    assert 0 < count < ARTICLES
    assert f"{count} messages copied" in capsys.readouterr().out
    assert len(list(data.glob("bus.sqlite.corrupt-*Z"))) == 1
    assert main(["check"]) == 0


def test_repair_bus_on_an_empty_file_starts_a_new_log_and_says_what_to_do(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    (data / "bus.sqlite").write_bytes(b"")
    assert main(["repair", "--bus"]) == 1
    out = capsys.readouterr().out
    assert "0 messages copied" in out
    assert "repair --crawl-state" in out
    assert main(["check"]) == 0  # a fresh, whole log


def saved_searches(path: Path, count: int) -> dict[str, SavedSearch]:
    """`count` saved searches (about a page of SQLite each: a long query), the first with a
    delivered match and a pending one."""
    store = SqliteAlertStore(path)
    searches = [
        SavedSearch(name=f"search {n}", q=f"topic{n} " + "word " * 700) for n in range(count)
    ]
    for search in searches:
        store.create(search)
    first = searches[0].id
    at = datetime(2026, 10, 1, tzinfo=UTC)
    store.add_matches([Match(search_id=first, article_id=a, matched_at=at) for a in ("a1", "a2")])
    delivery = store.open_delivery(first, limit=1)
    assert delivery is not None
    store.close_delivery(delivery, at)
    store.close()
    return {search.id: search for search in searches}


def test_check_counts_saved_searches(data: Path, capsys: pytest.CaptureFixture[str]):
    saved_searches(data / "alerts.sqlite", 3)
    assert main(["check"]) == 0
    assert lines(capsys)[3] == (
        f"saved searches: ok: 3 saved searches, 2 matches ({data / 'alerts.sqlite'})"
    )


def test_repair_alerts_keeps_every_readable_search_and_match(
    data: Path, capsys: pytest.CaptureFixture[str]
):
    path = data / "alerts.sqlite"
    before = saved_searches(path, 60)
    garbage(path, middle_page(path), PAGE)
    assert main(["check"]) == 1
    assert "saved searches: corrupted: " in (out := capsys.readouterr().out)
    assert "repair --alerts" in out

    assert main(["repair", "--alerts"]) == 0
    assert "unreadable: 1 saved-search rows" in capsys.readouterr().out
    assert len(list(data.glob("alerts.sqlite.corrupt-*Z"))) == 1
    store = SqliteAlertStore(path)
    after = store.list()
    assert len(after) == len(before) - 1
    assert all(search == before[search.id] for search in after)
    first = next(iter(before))
    assert [m.article_id for m in store.pending(first)] == ["a2"]  # a1 stays delivered
    store.close()
    assert main(["check"]) == 0
