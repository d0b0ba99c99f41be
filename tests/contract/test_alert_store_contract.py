"""What every AlertStore adapter promises: SQLite (embedded) and Elasticsearch, one suite."""

from __future__ import annotations

import multiprocessing
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsagg.core.adapters import open_alert_store
from newsagg.core.adapters.es_alerts import ElasticsearchAlertStore
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.alerts.model import (
    Match,
    SavedFilters,
    SavedSearch,
    Schedule,
    delivery_id,
    new_search_id,
)
from newsagg.core.ports import AlertStore, DataCorrupted, StoreUnavailable
from newsagg.core.settings import Settings
from support.damage import garbage

ALERT_ADAPTERS = ["sqlite", pytest.param("elasticsearch", marks=pytest.mark.jvm)]
T0 = datetime(2026, 10, 1, 8, 0, 0, 123456, tzinfo=UTC)

Opener = Callable[[], AlertStore]


@pytest.fixture(params=ALERT_ADAPTERS)
def open_alerts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens a store on the same fresh data each call (a SQLite file, or indices of a
    prefix of their own on the session's node); the Elasticsearch indices are dropped."""
    if request.param == "sqlite":
        url, settings = f"sqlite:///{tmp_path / 'alerts.sqlite'}", Settings()
    else:
        url = request.getfixturevalue("elasticsearch_url")
        settings = Settings(alerts_index=request.getfixturevalue("es_prefix"))
    opened: list[AlertStore] = []

    def opener() -> AlertStore:
        store = open_alert_store(url, settings)
        store.ensure_schema()
        opened.append(store)
        return store

    yield opener
    drop = getattr(opened[-1], "drop", None) if opened else None
    if drop is not None:
        drop()
    for store in opened:
        store.close()


@pytest.fixture
def alerts(open_alerts: Opener) -> AlertStore:
    return open_alerts()


def saved(name: str = "Soman", owner: str = "default", minutes: int = 0, **fields) -> SavedSearch:
    return SavedSearch(
        name=name,
        q="Milind Soman",
        owner=owner,
        created_at=T0 + timedelta(minutes=minutes),
        **fields,
    )


def found(search: SavedSearch, *articles: str, seconds: int = 0) -> list[Match]:
    """Matches of `articles`, one second apart from T0 + seconds."""
    return [
        Match(
            search_id=search.id,
            article_id=article,
            matched_at=T0 + timedelta(seconds=seconds + n),
        )
        for n, article in enumerate(articles)
    ]


def ids(matches) -> list[str]:
    return [m.article_id for m in matches]


# -- saved searches -----------------------------------------------------------------


def test_create_get_list_and_count_by_owner(alerts: AlertStore):
    first = saved(
        "cycling",
        owner="k1",
        filters=SavedFilters(
            sources=("marquee",),
            languages=("en",),
            published_from=datetime(2026, 9, 1, tzinfo=UTC),
            people=("milind soman",),
            date_sources=("json-ld",),
        ),
        webhook_url="https://hooks.example/in",
        emails=("desk@example.org",),
        schedule=Schedule.DAILY,
    )
    second = saved("running", owner="k1", minutes=1)
    other = saved("other key", owner="k2", minutes=2)
    for search in (second, other, first):  # not in creation-time order
        alerts.create(search)

    assert alerts.get(first.id) == first
    assert alerts.get(new_search_id()) is None
    assert alerts.list("k1") == [first, second]
    assert alerts.list() == [first, second, other]
    assert alerts.list("nobody") == []
    assert (alerts.count("k1"), alerts.count("k2"), alerts.count("nobody")) == (2, 1, 0)
    with pytest.raises(ValueError, match=first.id):
        alerts.create(first.model_copy(update={"name": "again"}))
    assert alerts.get(first.id) == first


def test_update_replaces_and_refuses_a_missing_search(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    changed = search.model_copy(
        update={
            "name": "renamed",
            "paused": True,
            "failing": True,
            "attempts": 3,
            "last_error": "HTTP 500",
            "next_attempt_at": T0 + timedelta(minutes=5),
            "emails": (),
        }
    )
    alerts.update(changed)
    assert alerts.get(search.id) == changed
    assert alerts.list() == [changed]
    with pytest.raises(KeyError):
        alerts.update(saved("never created"))
    assert alerts.list() == [changed]


def test_modify_changes_the_stored_version_and_refuses_a_missing_search(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    alerts.update(search.model_copy(update={"paused": True}))  # by another hand, meanwhile
    stored = alerts.modify(search.id, lambda s: s.model_copy(update={"last_error": "HTTP 500"}))
    assert (stored.paused, stored.last_error) == (True, "HTTP 500")  # the pause is kept
    assert alerts.get(search.id) == stored
    with pytest.raises(KeyError):
        alerts.modify(new_search_id(), lambda s: s)
    with pytest.raises(ValueError, match="id"):
        alerts.modify(search.id, lambda s: s.model_copy(update={"id": new_search_id()}))
    assert alerts.get(search.id) == stored


def test_modifications_from_many_threads_are_never_lost(alerts: AlertStore):
    """The API (pause, rename) and the worker (delivery state) change one search at once."""
    search = saved()
    alerts.create(search)

    def bump(_: int) -> None:
        alerts.modify(search.id, lambda s: s.model_copy(update={"attempts": s.attempts + 1}))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(bump, range(40)))
    stored = alerts.get(search.id)
    assert stored is not None
    assert stored.attempts == 40


def test_the_revision_changes_with_what_matching_depends_on_only(alerts: AlertStore):
    """Created, deleted, changed by its owner (the API sets updated_at to now): a new
    revision; delivery state written by the worker: the same one (the worker re-reads the
    list on a change)."""
    seen = [alerts.revision()]

    def changed() -> bool:
        seen.append(alerts.revision())
        return seen[-1] != seen[-2]

    first, second = saved("first"), saved("second", minutes=1)
    alerts.create(first)
    assert changed()
    alerts.create(second)
    assert changed()
    alerts.modify(first.id, lambda s: s.model_copy(update={"attempts": 2, "last_error": "500"}))
    alerts.update(alerts.get(second.id).model_copy(update={"last_delivery_at": T0}))
    assert not changed()
    alerts.modify(
        first.id, lambda s: s.model_copy(update={"paused": True, "updated_at": datetime.now(UTC)})
    )
    assert changed()
    alerts.delete(second.id)
    assert changed()
    third = saved("third", minutes=2)
    alerts.create(third)  # as many searches as before the delete
    assert changed()
    assert alerts.revision() == seen[-1]


def test_a_rebuilt_sqlite_file_never_passes_for_the_one_it_replaced(tmp_path: Path):
    """Its counter starts again from 0: the same count of changes is another revision."""
    revisions = []
    for name in ("before.sqlite", "rebuilt.sqlite"):
        store = SqliteAlertStore(tmp_path / name)
        store.create(saved())
        revisions.append(store.revision())
        store.close()
    assert revisions[0] != revisions[1]


def test_by_feed_token(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    alerts.create(saved("another", minutes=1))
    assert alerts.by_feed_token(search.feed_token) == search
    assert alerts.by_feed_token("not-a-token") is None
    rotated = search.model_copy(update={"feed_token": "rotated-token-0123456789abcdef"})
    alerts.update(rotated)
    assert alerts.by_feed_token(search.feed_token) is None
    assert alerts.by_feed_token(rotated.feed_token) == rotated


def test_delete_takes_the_matches_with_it(alerts: AlertStore):
    search, kept = saved(), saved("kept", minutes=1)
    alerts.create(search)
    alerts.create(kept)
    alerts.add_matches(found(search, "a1", "a2") + found(kept, "a1"))
    alerts.open_delivery(search.id)

    assert alerts.delete(search.id) is True
    assert alerts.get(search.id) is None
    assert alerts.pending(search.id) == []
    assert alerts.matches(search.id) == []
    assert alerts.delete(search.id) is False
    assert ids(alerts.pending(kept.id)) == ["a1"]
    # the same id saved again starts with nothing: no match, no open delivery
    alerts.create(search)
    assert alerts.open_delivery(search.id) is None
    assert alerts.add_matches(found(search, "a1")) == 1


# -- matches ------------------------------------------------------------------------


def test_add_matches_is_idempotent_even_once_delivered(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    assert alerts.add_matches(found(search, "a1", "a2", "a3")) == 3
    assert alerts.add_matches(found(search, "a1", "a2", "a3", seconds=60)) == 0
    assert alerts.add_matches(found(search, "a3", "a4") + found(search, "a4")) == 1
    assert alerts.add_matches([]) == 0
    # the first record stands: a later match of the same article does not move it
    assert alerts.pending(search.id)[0].matched_at == T0

    delivery = alerts.open_delivery(search.id)
    assert delivery is not None
    alerts.close_delivery(delivery, T0 + timedelta(hours=1))
    assert alerts.add_matches(found(search, "a1", "a2", "a3", "a4", seconds=7200)) == 0
    assert alerts.pending(search.id) == []
    assert all(m.delivered_at == T0 + timedelta(hours=1) for m in alerts.matches(search.id))


def test_matches_of_a_search_that_does_not_exist_are_not_recorded(alerts: AlertStore):
    ghost = saved("deleted meanwhile")
    assert alerts.add_matches(found(ghost, "a1")) == 0
    assert alerts.matches(ghost.id) == []


def test_pending_is_oldest_first_per_search(alerts: AlertStore):
    search, other = saved(), saved("other", minutes=1)
    alerts.create(search)
    alerts.create(other)
    late, early = found(search, "late", seconds=30), found(search, "early", "middle")
    alerts.add_matches(late + early + found(other, "elsewhere"))

    pending = alerts.pending(search.id)
    assert ids(pending) == ["early", "middle", "late"]
    assert [m.matched_at for m in pending] == [T0, T0 + timedelta(seconds=1), late[0].matched_at]
    assert all(m.delivery_id is None and m.delivered_at is None for m in pending)
    assert ids(alerts.pending(search.id, limit=2)) == ["early", "middle"]
    assert ids(alerts.pending(other.id)) == ["elsewhere"]


def test_pending_counts_every_search_with_undelivered_matches_in_one_read(
    alerts: AlertStore, monkeypatch: pytest.MonkeyPatch
):
    searches = [saved(f"s{n}", minutes=n) for n in range(3)]
    for search in searches:
        alerts.create(search)
    assert alerts.pending_counts() == {}
    first, second, quiet = searches
    alerts.add_matches(found(first, "a1", "a2", "a3") + found(second, "b1"))
    alerts.add_matches(found(quiet, "c1"))
    assert alerts.pending_counts() == {first.id: 3, second.id: 1, quiet.id: 1}

    delivery = alerts.open_delivery(first.id, limit=2)
    assert delivery is not None
    assert alerts.pending_counts()[first.id] == 3  # opened, not delivered yet
    alerts.close_delivery(delivery, T0 + timedelta(minutes=1))
    assert alerts.pending_counts() == {first.id: 1, second.id: 1, quiet.id: 1}
    everything = alerts.open_delivery(quiet.id)
    assert everything is not None
    alerts.close_delivery(everything, T0 + timedelta(minutes=1))
    assert alerts.pending_counts() == {first.id: 1, second.id: 1}

    if isinstance(alerts, ElasticsearchAlertStore):  # the aggregation's pages join up
        monkeypatch.setattr("newsagg.core.adapters.es_alerts.PENDING_PAGE", 1)
        assert alerts.pending_counts() == {first.id: 1, second.id: 1}


def test_matches_newest_first_since_and_limit(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    alerts.add_matches(found(search, "m0", "m1", "m2", "m3", "m4"))
    delivery = alerts.open_delivery(search.id, limit=2)
    assert delivery is not None
    alerts.close_delivery(delivery, T0 + timedelta(minutes=1))

    everything = alerts.matches(search.id)
    assert ids(everything) == ["m4", "m3", "m2", "m1", "m0"]
    assert [m.delivered_at is not None for m in everything] == [False, False, False, True, True]
    assert ids(alerts.matches(search.id, since=T0 + timedelta(seconds=2))) == ["m4", "m3", "m2"]
    assert ids(alerts.matches(search.id, limit=2)) == ["m4", "m3"]
    assert alerts.matches(search.id, since=T0 + timedelta(days=1)) == []


# -- deliveries ---------------------------------------------------------------------


def test_open_delivery_is_none_when_nothing_is_pending(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    assert alerts.open_delivery(search.id) is None
    assert alerts.open_delivery(new_search_id()) is None


def test_an_open_delivery_stays_the_same_until_closed(alerts: AlertStore):
    search = saved()
    alerts.create(search)
    alerts.add_matches(found(search, "a1", "a2", "a3"))

    delivery = alerts.open_delivery(search.id, limit=2)
    assert delivery is not None
    assert ids(delivery.matches) == ["a1", "a2"]
    assert delivery.search_id == search.id
    assert delivery.id == delivery_id(search.id, T0, ["a1", "a2"])
    assert all(m.delivery_id == delivery.id for m in delivery.matches)
    # asked again (a worker killed between send and close): the same id and articles
    assert alerts.open_delivery(search.id, limit=10) == delivery
    # matches arriving while it is open wait for the next delivery
    alerts.add_matches(found(search, "a4", seconds=10))
    assert alerts.open_delivery(search.id) == delivery
    pending = alerts.pending(search.id)
    assert ids(pending) == ["a1", "a2", "a3", "a4"]
    assert [m.delivery_id for m in pending] == [delivery.id, delivery.id, None, None]

    alerts.close_delivery(delivery, T0 + timedelta(minutes=1))
    assert ids(alerts.pending(search.id)) == ["a3", "a4"]
    following = alerts.open_delivery(search.id)
    assert following is not None
    assert ids(following.matches) == ["a3", "a4"]
    assert following.id != delivery.id
    # closing the first again changes nothing
    alerts.close_delivery(delivery, T0 + timedelta(minutes=2))
    assert alerts.open_delivery(search.id) == following
    alerts.close_delivery(following, T0 + timedelta(minutes=3))
    assert alerts.pending(search.id) == []
    assert alerts.open_delivery(search.id) is None
    delivered = {m.article_id: m for m in alerts.matches(search.id)}
    assert delivered["a1"].delivered_at == T0 + timedelta(minutes=1)
    assert delivered["a1"].delivery_id == delivery.id
    assert delivered["a4"].delivered_at == T0 + timedelta(minutes=3)


def test_prune_deletes_old_delivered_matches_and_old_undeliverable_ones_only(
    alerts: AlertStore,
):
    hooked, feed_only = saved("webhook"), saved("feed only", minutes=1)
    for search in (hooked, feed_only):
        alerts.create(search)
    alerts.add_matches(found(hooked, "d1", "d2", "o1", "o2", "p1"))  # T0 .. T0 + 4 s
    alerts.add_matches(found(hooked, "new1", seconds=3600))
    delivered = alerts.open_delivery(hooked.id, limit=2)  # d1, d2
    alerts.close_delivery(delivered, T0 + timedelta(minutes=1))
    still_open = alerts.open_delivery(hooked.id, limit=2)  # o1, o2: sent, not yet closed
    alerts.add_matches(found(feed_only, "f1", "f2"))
    alerts.add_matches(found(feed_only, "fnew", seconds=3600))
    cutoff = T0 + timedelta(minutes=30)

    assert alerts.prune(cutoff) == 2  # d1, d2: delivered and old
    assert ids(alerts.matches(hooked.id)) == ["new1", "p1", "o2", "o1"]
    assert alerts.prune(cutoff, undelivered_of=[feed_only.id]) == 2  # f1, f2
    assert ids(alerts.matches(feed_only.id)) == ["fnew"]
    # the open delivery and an undelivered match of a search with a channel are kept
    assert alerts.open_delivery(hooked.id) == still_open
    assert ids(alerts.pending(hooked.id)) == ["o1", "o2", "p1", "new1"]
    assert alerts.prune(cutoff, undelivered_of=[feed_only.id]) == 0


def test_deliveries_of_searches_are_independent(alerts: AlertStore):
    one, two = saved(), saved("two", minutes=1)
    alerts.create(one)
    alerts.create(two)
    alerts.add_matches(found(one, "a1") + found(two, "a1", "a2"))
    first, second = alerts.open_delivery(one.id), alerts.open_delivery(two.id)
    assert first is not None
    assert second is not None
    assert (ids(first.matches), ids(second.matches)) == (["a1"], ["a1", "a2"])
    alerts.close_delivery(first, T0)
    assert alerts.open_delivery(two.id) == second


def test_everything_persists_across_close_and_reopen(open_alerts: Opener):
    store = open_alerts()
    search = saved()
    store.create(search)
    store.add_matches(found(search, "a1", "a2", "a3"))
    delivery = store.open_delivery(search.id, limit=2)
    store.close()

    reopened = open_alerts()
    assert reopened.get(search.id) == search
    assert reopened.health()
    assert reopened.open_delivery(search.id) == delivery
    assert ids(reopened.pending(search.id)) == ["a1", "a2", "a3"]


def test_threads_sharing_a_store_count_each_match_once(alerts: AlertStore):
    """The API's threadpool and the worker's threads share one store object."""
    search = saved()
    alerts.create(search)
    articles = [f"a{n:03d}" for n in range(120)]
    batches = [  # overlapping: each article is in two batches, at the same time in both
        found(search, *articles[start : start + 40], seconds=start) for start in range(0, 120, 20)
    ]
    with ThreadPoolExecutor(4) as pool:
        added = sum(pool.map(alerts.add_matches, batches))
    assert added == len(articles)
    assert ids(alerts.pending(search.id, limit=500)) == articles


# -- SQLite: processes, damage ------------------------------------------------------


def _add_in_another_process(path: Path, search: SavedSearch, start, results) -> None:
    """Record 300 matches in batches, then open the search's delivery; report what it got
    (or the error, so the test fails at once with it)."""
    try:
        store = SqliteAlertStore(path)
        start.wait()
        articles = [f"a{n:03d}" for n in range(300)]
        added = sum(
            store.add_matches(found(search, *articles[first : first + 30], seconds=first))
            for first in range(0, len(articles), 30)
        )
        delivery = store.open_delivery(search.id, limit=50)
        store.close()
        results.put((added, delivery.id if delivery else None))
    except Exception as exc:  # handed to the test process
        results.put(exc)


def test_two_processes_record_the_same_matches_once(tmp_path: Path):
    path = tmp_path / "alerts.sqlite"
    store = SqliteAlertStore(path)
    search = saved()
    store.create(search)
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_add_in_another_process, args=(path, search, start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sum(added for added, _ in outcomes) == 300
    (opened,) = {delivery for _, delivery in outcomes}  # both got the one open delivery
    delivery = store.open_delivery(search.id)
    assert delivery is not None
    assert delivery.id == opened
    assert len(delivery.matches) == 50
    assert len(store.pending(search.id, limit=1000)) == 300
    store.close()


def test_a_garbage_file_is_data_corrupted_with_its_remedy(tmp_path: Path):
    path = tmp_path / "alerts.sqlite"
    path.write_bytes(b"these are not the saved searches " * 200)
    with pytest.raises(DataCorrupted, match="not a SQLite database") as caught:
        SqliteAlertStore(path)
    assert "alerts worker" in caught.value.remedy
    path.write_bytes(b"")
    with pytest.raises(DataCorrupted, match="zero bytes"):
        open_alert_store(f"sqlite:///{path}")


def test_a_damaged_page_is_data_corrupted(tmp_path: Path):
    path = tmp_path / "alerts.sqlite"
    store = SqliteAlertStore(path)
    search = saved()
    store.create(search)
    store.add_matches(found(search, *(f"article-{n:05d}" for n in range(2000))))
    store.close()
    SqliteAlertStore(path).close()  # the last close checkpoints the WAL into the file
    assert path.stat().st_size > 8 * 4096
    garbage(path, 4 * 4096)
    with pytest.raises(DataCorrupted, match="quick_check") as caught:
        SqliteAlertStore(path)
    assert caught.value.path == str(path)


# -- Elasticsearch: outages -----------------------------------------------------------


def test_an_unreachable_cluster_is_store_unavailable():
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = ElasticsearchAlertStore.from_url(
        f"http://127.0.0.1:{port}", Settings(store_timeout=2, alerts_index="unreachable")
    )
    search = saved()
    calls: list[Callable[[], object]] = [
        store.ensure_schema,
        lambda: store.create(search),
        lambda: store.get(search.id),
        store.list,
        lambda: store.add_matches(found(search, "a1")),
        lambda: store.open_delivery(search.id),
        lambda: store.matches(search.id),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            call()
    assert store.health() is False
    store.close()


@pytest.mark.jvm
def test_indices_not_made_yet_are_store_unavailable(elasticsearch_url: str, es_prefix: str):
    store = ElasticsearchAlertStore.from_url(elasticsearch_url, Settings(alerts_index=es_prefix))
    try:
        assert store.health() is False
        with pytest.raises(StoreUnavailable, match="ensure_schema"):
            store.list()
        with pytest.raises(StoreUnavailable, match="ensure_schema"):
            store.get(new_search_id())
        store.ensure_schema()
        store.ensure_schema()  # again: nothing to do
        assert store.health() is True
        assert store.list() == []
    finally:
        store.drop()
        store.close()


@pytest.mark.jvm
def test_a_close_cut_short_after_marking_leaves_no_open_delivery(
    elasticsearch_url: str, es_prefix: str
):
    """A worker stopped between marking the matches delivered and deleting the open
    delivery's document: the next open_delivery sees it was closed and moves on."""
    store = ElasticsearchAlertStore.from_url(elasticsearch_url, Settings(alerts_index=es_prefix))
    try:
        store.ensure_schema()
        search = saved()
        store.create(search)
        store.add_matches(found(search, "a1", "a2"))
        delivery = store.open_delivery(search.id)
        assert delivery is not None
        store._bulk(  # what close_delivery writes before it deletes the document
            [
                {
                    "_op_type": "update",
                    "_index": store.matches_index,
                    "_id": f"{search.id}:{m.article_id}",
                    "doc": {"delivered_at": T0.isoformat()},
                }
                for m in delivery.matches
            ],
            "mark delivered",
        )
        assert store.open_delivery(search.id) is None
        store.add_matches(found(search, "a3", seconds=60))
        following = store.open_delivery(search.id)
        assert following is not None
        assert ids(following.matches) == ["a3"]
    finally:
        store.drop()
        store.close()
