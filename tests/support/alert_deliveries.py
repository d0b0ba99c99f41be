"""What the alerts end-to-end tests save and check: the saved searches, the same searches
on the API, and what a webhook receiver was delivered of them."""

from __future__ import annotations

from newsagg.core.alerts.model import SavedFilters

from support.pipeline import Pipeline
from support.webhook_receiver import Received, WebhookReceiver

SEARCHES = {
    "soman": ("Milind Soman cycling", SavedFilters()),
    "phrase": ('"roadside romance"', SavedFilters()),
    "reel-cycling": ("cycling", SavedFilters(sources=("reel-news",))),
    "marquee": (None, SavedFilters(sources=("marquee-daily",))),
}
"""Saved searches by a name of the tests': a query, a phrase, a query with a filter, and
a filter alone (every article of one outlet: many matches)."""
DELIVERY_TIMEOUT = 120.0
WORKER_ENV = {
    "NEWSAGG_ALERTS_METRICS_PORT": "0",
    "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS": "true",
}


def found_by_search(pipeline: Pipeline) -> dict[str, set[str]]:
    """Per saved search of SEARCHES, the ids the same search finds through the API."""
    found = {}
    for name, (q, filters) in SEARCHES.items():
        params: dict[str, str | int] = {"size": 100, "collapse": "none"}
        if q:
            params["q"] = q
        if filters.sources:
            params["source"] = filters.sources[0]
        page = pipeline.api("/v1/search", **params)
        assert page["total"] == len(page["hits"]) > 0, name
        found[name] = {hit["id"] for hit in page["hits"]}
    return found


def delivered(received: list[Received]) -> dict[str, dict[str, set[str]]]:
    """Per saved search id, per article id, the delivery ids it was sent under (any answer)."""
    seen: dict[str, dict[str, set[str]]] = {}
    for post in received:
        body = post.json
        for article in body["articles"]:
            seen.setdefault(body["id"], {}).setdefault(article["id"], set()).add(post.delivery)
    return seen


def accepted_ids(receiver: WebhookReceiver, search_id: str) -> set[str]:
    """The articles of the search's deliveries the receiver answered 2xx to."""
    return {
        article["id"]
        for post in receiver.accepted()
        if post.json["id"] == search_id
        for article in post.json["articles"]
    }


def assert_exactly_once(receiver: WebhookReceiver, searches: dict, expected: dict) -> None:
    """Every search got the expected articles, each under one delivery id, all signed."""
    assert all(post.signed for post in receiver.received)
    assert all(post.headers["x-newsagg-event"] == "matches" for post in receiver.received)
    seen = delivered(receiver.received)
    for name, search in searches.items():
        assert accepted_ids(receiver, search.id) == expected[name], name
        twice = {a: ids for a, ids in seen.get(search.id, {}).items() if len(ids) > 1}
        assert not twice, f"{name}: articles under two delivery ids: {twice}"
