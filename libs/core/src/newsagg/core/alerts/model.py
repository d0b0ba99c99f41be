"""Saved searches, the articles they matched, and the deliveries that carry them.

A saved search is a query plus /v1/search's filters, an owner and where to deliver. Each
newly indexed article is matched against every active saved search at ingest (a Matcher),
and a match is recorded once per (search, article): that key is what keeps one article
from being sent twice for one search.

A Delivery is written before it is sent and closed only after the receiver took it
(at least once): a worker killed in between sends the same delivery again, under the same
id and with the same articles, so a receiver that remembers delivery ids sees each article
once. Matches that arrive while a delivery is open wait for the next one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from newsagg.core.query import parse_query
from newsagg.core.search import SearchQuery
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_OWNER = "default"
"""The owner of saved searches made on an open API (no keys configured)."""
SEARCH_ID_PATTERN = r"^ss_[0-9a-f]{16}$"
MAX_EMAILS = 10


def new_search_id() -> str:
    return f"ss_{secrets.token_hex(8)}"


def new_secret() -> str:
    """The webhook's HMAC-SHA256 key: 256 random bits."""
    return secrets.token_hex(32)


def new_feed_token() -> str:
    """The feed URL's credential: unguessable, URL-safe."""
    return secrets.token_urlsafe(24)


def owner_of(key_hash: str | None) -> str:
    """The owner id of an API key (a prefix of its hash, never the key), or DEFAULT_OWNER."""
    return key_hash[:16] if key_hash else DEFAULT_OWNER


def delivery_id(search_id: str, first_match: datetime, article_ids: list[str]) -> str:
    """Stable for the same articles of the same search: the X-Newsagg-Delivery header.

    The time is taken in UTC (a naive one as UTC), so the same instant read back from a
    store in another zone gives the same id."""
    first = first_match if first_match.tzinfo else first_match.replace(tzinfo=UTC)
    digest = hashlib.sha256(
        "\n".join([search_id, first.astimezone(UTC).isoformat(), *sorted(article_ids)]).encode()
    ).hexdigest()
    return f"dl_{digest[:24]}"


class Schedule(StrEnum):
    """When matches go out: each as it comes, or gathered into an hourly or daily digest."""

    INSTANT = "instant"
    HOURLY = "hourly"
    DAILY = "daily"


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FAILING = "failing"
    """Delivery gave up after NEWSAGG_ALERTS_MAX_ATTEMPTS; matching goes on, matches are
    kept, and resuming the search (or a test delivery that works) sends them."""


class SavedFilters(BaseModel):
    """/v1/search's filters, as SearchQuery names them."""

    model_config = ConfigDict(frozen=True)

    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    published_from: datetime | None = None
    published_to: datetime | None = None
    date_sources: tuple[str, ...] = ()
    quality: str | None = None
    people: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _valid_for_search(self) -> SavedFilters:
        """A value /v1/search refuses (an unknown date source or quality) is refused when
        the search is saved, not each time it is matched."""
        SearchQuery(**self.model_dump())
        return self


class SavedSearch(BaseModel):
    """One saved search with its delivery settings and delivery state."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_search_id, pattern=SEARCH_ID_PATTERN)
    owner: str = DEFAULT_OWNER
    name: str = Field(min_length=1, max_length=200)
    q: str | None = Field(default=None, description="The query as the user typed it.")
    filters: SavedFilters = SavedFilters()
    webhook_url: str | None = None
    emails: tuple[str, ...] = Field(default=(), max_length=MAX_EMAILS)
    schedule: Schedule = Schedule.INSTANT
    paused: bool = False
    secret: str = Field(default_factory=new_secret)
    feed_token: str = Field(default_factory=new_feed_token)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # Delivery state, written by the alerts worker.
    last_delivery_at: datetime | None = None
    """When a delivery last reached its receivers."""
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    """Why the last attempt failed; None once one works."""
    attempts: int = 0
    """Failed attempts of the open delivery since the last one that worked."""
    next_attempt_at: datetime | None = None
    """Backoff: no attempt before this."""
    failing: bool = False
    test_requested_at: datetime | None = None
    """Set by the API's test button; the worker sends a test delivery and clears it."""
    last_spike_at: datetime | None = None
    """When a spike alert was last sent (one per spike, not one per delivery)."""

    @property
    def status(self) -> Status:
        if self.paused:
            return Status.PAUSED
        return Status.FAILING if self.failing else Status.ACTIVE

    def search_query(self, **changes: object) -> SearchQuery:
        """The SearchQuery this saved search stands for (raises QuerySyntaxError if its
        text no longer parses); `changes` sets paging, sort or collapse."""
        parsed = parse_query(self.q) if self.q and self.q.strip() else None
        return SearchQuery(query=parsed, **self.filters.model_dump(), **changes)


class Match(BaseModel):
    """An article a saved search found at ingest; at most one per (search_id, article_id)."""

    model_config = ConfigDict(frozen=True)

    search_id: str
    article_id: str
    matched_at: datetime
    delivery_id: str | None = None
    """The delivery it was put in, once one was opened for it."""
    delivered_at: datetime | None = None


class Delivery(BaseModel):
    """An open delivery: written before it is sent, closed once the receivers took it."""

    model_config = ConfigDict(frozen=True)

    id: str
    search_id: str
    matches: tuple[Match, ...]
