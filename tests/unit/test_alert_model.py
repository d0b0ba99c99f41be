"""The saved-search model: the query it stands for, its status, ids and limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from newsagg.core.alerts.model import (
    DEFAULT_OWNER,
    MAX_EMAILS,
    SEARCH_ID_PATTERN,
    SavedFilters,
    SavedSearch,
    Status,
    delivery_id,
    new_feed_token,
    new_search_id,
    new_secret,
    owner_of,
)
from newsagg.core.query import QuerySyntaxError, parse_query
from newsagg.core.search import Sort
from pydantic import ValidationError

T0 = datetime(2026, 10, 1, 8, 30, tzinfo=UTC)


def test_search_query_carries_the_query_and_every_filter():
    filters = SavedFilters(
        sources=("marquee",),
        exclude_sources=("reelnews",),
        authors=("Priya Nair",),
        languages=("en",),
        published_from=T0,
        published_to=T0 + timedelta(days=7),
        date_sources=("json-ld", "none"),
        quality="ok",
        people=("milind soman",),
    )
    query = SavedSearch(name="cycling", q="Milind Soman cycling", filters=filters).search_query()
    assert query.query == parse_query("Milind Soman cycling")
    for name, value in filters.model_dump().items():
        assert getattr(query, name) == value


def test_search_query_takes_paging_and_sort_and_no_text_is_no_query():
    search = SavedSearch(name="everything from marquee", filters=SavedFilters(sources=("m",)))
    query = search.search_query(sort=Sort.DATE, size=50)
    assert (query.query, query.sort, query.size, query.sources) == (None, Sort.DATE, 50, ("m",))
    assert SavedSearch(name="blank", q="   ").search_query().query is None


def test_a_query_that_no_longer_parses_raises():
    with pytest.raises(QuerySyntaxError):
        SavedSearch(name="broken", q='"unclosed').search_query()


def test_filters_refuse_what_search_refuses():
    with pytest.raises(ValidationError, match="unknown date source"):
        SavedFilters(date_sources=("json_ld",))
    with pytest.raises(ValidationError, match="unknown quality"):
        SavedFilters(quality="great")


@pytest.mark.parametrize(
    ("paused", "failing", "status"),
    [
        (False, False, Status.ACTIVE),
        (False, True, Status.FAILING),
        (True, False, Status.PAUSED),
        (True, True, Status.PAUSED),
    ],
)
def test_status(paused: bool, failing: bool, status: Status):
    assert SavedSearch(name="s", paused=paused, failing=failing).status is status


def test_owner_is_a_prefix_of_the_key_hash_or_default():
    key_hash = "0123456789abcdef" * 4
    assert owner_of(key_hash) == "0123456789abcdef"
    assert owner_of(None) == DEFAULT_OWNER
    assert owner_of("") == DEFAULT_OWNER


def test_delivery_id_depends_on_the_search_the_time_and_the_article_set():
    first = delivery_id("ss_0000000000000001", T0, ["b", "a"])
    assert re.fullmatch(r"dl_[0-9a-f]{24}", first)
    assert delivery_id("ss_0000000000000001", T0, ["a", "b"]) == first
    # the same instant in another zone, or naive (taken as UTC)
    in_delhi = T0.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert delivery_id("ss_0000000000000001", in_delhi, ["a", "b"]) == first
    assert delivery_id("ss_0000000000000001", T0.replace(tzinfo=None), ["a", "b"]) == first
    others = {
        delivery_id("ss_0000000000000002", T0, ["a", "b"]),
        delivery_id("ss_0000000000000001", T0 + timedelta(microseconds=1), ["a", "b"]),
        delivery_id("ss_0000000000000001", T0, ["a", "b", "c"]),
        delivery_id("ss_0000000000000001", T0, ["a"]),
    }
    assert first not in others
    assert len(others) == 4


def test_ids_follow_the_pattern_and_others_are_refused():
    made = {new_search_id() for _ in range(100)}
    assert len(made) == 100
    assert all(re.fullmatch(SEARCH_ID_PATTERN, search_id) for search_id in made)
    assert re.fullmatch(SEARCH_ID_PATTERN, SavedSearch(name="s").id)
    for bad in ("ss_123", "ss_0123456789ABCDEF", "xx_0123456789abcdef", "ss_0123456789abcdef0"):
        with pytest.raises(ValidationError):
            SavedSearch(id=bad, name="s")


def test_secrets_and_feed_tokens_are_long_and_fresh_per_search():
    assert re.fullmatch(r"[0-9a-f]{64}", new_secret())
    assert len(new_feed_token()) >= 32
    one, two = SavedSearch(name="one"), SavedSearch(name="two")
    assert one.secret != two.secret
    assert one.feed_token != two.feed_token


def test_emails_name_length_limits():
    addresses = tuple(f"desk{n}@example.org" for n in range(MAX_EMAILS))
    assert SavedSearch(name="s", emails=addresses).emails == addresses
    with pytest.raises(ValidationError):
        SavedSearch(name="s", emails=(*addresses, "one.more@example.org"))
    with pytest.raises(ValidationError):
        SavedSearch(name="")
    with pytest.raises(ValidationError):
        SavedSearch(name="x" * 201)


def test_json_round_trip_keeps_everything():
    search = SavedSearch(
        name="cycling",
        q="Milind Soman",
        owner="0123456789abcdef",
        filters=SavedFilters(people=("milind soman",), published_from=T0),
        webhook_url="https://hooks.example/in",
        emails=("desk@example.org",),
        last_error="HTTP 500",
        next_attempt_at=T0,
        attempts=2,
    )
    assert SavedSearch.model_validate_json(search.model_dump_json()) == search
