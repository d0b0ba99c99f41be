"""Request and response bodies of /v1/saved-searches, separate from the stored SavedSearch.

A saved search's filters go in and come out under /v1/search's own parameter names (`from`,
`language`, `person`...), so a client saves exactly the search it ran; the stored form
(SavedFilters) is the store's. The webhook secret is in the answer to the POST (and to a
PATCH that rotates it) only.
"""

from __future__ import annotations

from datetime import datetime

from newsagg.core.alerts.model import MAX_EMAILS, SavedSearch, Schedule, Status
from newsagg.core.article import Quality
from pydantic import BaseModel, ConfigDict, Field

MAX_NAME = 200
MAX_URL = 2000
EMAIL_PATTERN = r"^[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,255}$"
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""No control characters: a name goes into email subjects and feed titles."""

EXAMPLE_CREATE = {
    "name": "Soman on a bike",
    "q": "Milind Soman cycling",
    "sources": ["marquee-daily"],
    "webhook_url": "https://hooks.example.com/newsagg",
    "emails": ["desk@example.com"],
    "schedule": "instant",
}


class FilterFields(BaseModel):
    """/v1/search's filters by its names; what a field says is what /v1/search's says."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sources: list[str] | None = Field(None, max_length=32, description="Only these sources.")
    source: list[str] | None = Field(None, max_length=32, description="Alias of `sources`.")
    exclude_sources: list[str] | None = Field(None, max_length=32)
    authors: list[str] | None = Field(None, max_length=32)
    language: list[str] | None = Field(None, max_length=32, description="ISO 639-1 codes.")
    from_: str | None = Field(
        None,
        alias="from",
        max_length=40,
        description="Published on or after (ISO date or datetime, UTC unless it says).",
    )
    to: str | None = Field(
        None, max_length=40, description="Published on or before; a date means that whole day."
    )
    date_source: list[str] | None = Field(None, max_length=32)
    quality: Quality | None = None
    person: list[str] | None = Field(None, max_length=32)


class SavedSearchCreate(FilterFields):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_CREATE]})

    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)
    q: str | None = Field(
        None,
        description="The query, in /v1/search's grammar; read at once (a syntax error is a "
        "422 with its `position`). Leave it out to match every new article the filters let in.",
    )
    webhook_url: str | None = Field(
        None,
        max_length=MAX_URL,
        description="Where matches are POSTed as signed JSON (X-Newsagg-Signature: "
        "sha256=<hex HMAC-SHA256 of the body under `secret`>). http(s); private and loopback "
        "addresses are refused unless the server allows them.",
    )
    emails: list[str] = Field(
        [],
        max_length=MAX_EMAILS,
        description="Addresses that get a digest by email (when the server has SMTP).",
    )
    schedule: Schedule = Field(
        Schedule.INSTANT,
        description="instant (as matches come), hourly or daily (a digest at the server's "
        "digest hour, UTC).",
    )


class SavedSearchPatch(FilterFields):
    """Only the fields given change; a filter given replaces that filter."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paused": True}, {"paused": False, "q": "Soman"}]}
    )

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)
    q: str | None = None
    webhook_url: str | None = Field(None, max_length=MAX_URL, description="null removes it.")
    emails: list[str] | None = Field(None, max_length=MAX_EMAILS)
    schedule: Schedule | None = None
    paused: bool | None = Field(
        None,
        description="true pauses deliveries (matching goes on); false resumes them and clears "
        "`failing`: the matches kept meanwhile are sent.",
    )
    rotate_secret: bool = Field(
        False, description="Make a new webhook secret; the answer carries it (once)."
    )
    rotate_feed_token: bool = Field(False, description="Make a new feed URL; the old one stops.")


class SavedSearchView(BaseModel):
    """A saved search as its owner sees it: never its webhook secret."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(examples=["ss_4f2a9c0d1e2b3a4c"])
    name: str
    q: str | None
    sources: list[str]
    exclude_sources: list[str]
    authors: list[str]
    language: list[str]
    from_: datetime | None = Field(alias="from")
    to: datetime | None
    date_source: list[str]
    quality: Quality | None
    person: list[str]
    webhook_url: str | None
    emails: list[str]
    schedule: Schedule
    status: Status = Field(
        description="active, paused, or failing (delivery gave up after the server's attempts; "
        'matches are kept; resume with PATCH {"paused": false}).'
    )
    paused: bool
    failing: bool
    feed_url: str = Field(
        description="RSS of the newest matches; its token is the credential, so feed readers "
        "need no API key."
    )
    pending: int = Field(description="Matches not delivered yet (counted up to 1,000).")
    created_at: datetime
    updated_at: datetime
    last_delivery_at: datetime | None = Field(description="When a delivery last got through.")
    last_attempt_at: datetime | None
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    attempts: int = Field(description="Failed attempts since the last delivery that worked.")
    next_attempt_at: datetime | None
    test_requested_at: datetime | None = Field(
        description="Set by POST .../test until the worker has sent the test delivery."
    )
    last_spike_at: datetime | None


class SavedSearchCreated(SavedSearchView):
    secret: str = Field(
        description="The webhook's HMAC-SHA256 key. Shown here only: keep it (PATCH "
        "rotate_secret makes a new one)."
    )


class SavedSearchPatched(SavedSearchView):
    secret: str | None = Field(
        None, description="The new webhook secret when the PATCH asked rotate_secret, else null."
    )


class SavedSearchList(BaseModel):
    saved_searches: list[SavedSearchView] = Field(description="The caller's, oldest first.")


class MatchedArticle(BaseModel):
    id: str
    url: str
    title: str
    source: str
    published_at: datetime | None
    story_id: str | None
    matched_at: datetime = Field(description="When the saved search found it (at ingest).")
    delivery_id: str | None = Field(
        description="The delivery it is in (X-Newsagg-Delivery), once one was opened."
    )
    delivered_at: datetime | None


class MatchesResponse(BaseModel):
    id: str = Field(description="The saved search.")
    since: datetime | None = Field(
        description="null: the matches not delivered yet; else every match found since then."
    )
    matches: list[MatchedArticle] = Field(
        description="Oldest first when pending, newest first with `since`. Articles purged "
        "from the index since they matched are left out."
    )


def view_fields(search: SavedSearch, feed_url: str, pending: int) -> dict[str, object]:
    """The view's fields of a stored search, under /v1/search's names."""
    filters = search.filters
    return {
        "id": search.id,
        "name": search.name,
        "q": search.q,
        "sources": list(filters.sources),
        "exclude_sources": list(filters.exclude_sources),
        "authors": list(filters.authors),
        "language": list(filters.languages),
        "from": filters.published_from,
        "to": filters.published_to,
        "date_source": list(filters.date_sources),
        "quality": filters.quality,
        "person": list(filters.people),
        "webhook_url": search.webhook_url,
        "emails": list(search.emails),
        "schedule": search.schedule,
        "status": search.status,
        "paused": search.paused,
        "failing": search.failing,
        "feed_url": feed_url,
        "pending": pending,
        "created_at": search.created_at,
        "updated_at": search.updated_at,
        "last_delivery_at": search.last_delivery_at,
        "last_attempt_at": search.last_attempt_at,
        "last_error": search.last_error,
        "attempts": search.attempts,
        "next_attempt_at": search.next_attempt_at,
        "test_requested_at": search.test_requested_at,
        "last_spike_at": search.last_spike_at,
    }
