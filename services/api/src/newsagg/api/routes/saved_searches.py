"""/v1/saved-searches: save a search, hear about its new matches (webhook, email, feed).

Matching and delivery are the alerts worker's (`newsagg alerts`); the API writes what the
owner asks (the search, pause, a test request) and reads what the worker recorded. Owners
are API keys (a prefix of the key's hash) or `default` on an open API; another owner's
search is a 404, never a 403, so ids tell nothing. The feed, outside /v1, takes the
search's own token instead of a key, since feed readers send none.
"""

from __future__ import annotations

import hmac
import re
import threading
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import HTTPException
from newsagg.api.deps import SettingsDep, StoreDep
from newsagg.api.problems import Refused
from newsagg.api.routes.feeds import RSS_MEDIA_TYPE, rss
from newsagg.api.routes.filters import invalid, parse_bound, search_filters
from newsagg.api.saved_models import (
    EMAIL_PATTERN,
    FilterFields,
    MatchedArticle,
    MatchesResponse,
    SavedSearchCreate,
    SavedSearchCreated,
    SavedSearchList,
    SavedSearchPatch,
    SavedSearchPatched,
    SavedSearchView,
    view_fields,
)
from newsagg.core.adapters import open_alert_store
from newsagg.core.alerts.delivery import WebhookRefused, resolve_webhook
from newsagg.core.alerts.model import (
    SavedFilters,
    SavedSearch,
    new_feed_token,
    new_secret,
    owner_of,
)
from newsagg.core.alerts.spikes import SpikeReport, spike_report
from newsagg.core.article import Quality
from newsagg.core.ports import AlertStore
from newsagg.core.query import QuerySyntaxError
from newsagg.core.search import Sort
from newsagg.core.settings import Settings
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/v1/saved-searches", tags=["saved searches"])
feed_router = APIRouter(tags=["saved searches"])
MAX_PENDING_COUNTED = 1000
MAX_FEED_ITEMS = 50
MAX_MATCHES = 500
FILTER_NAMES = tuple(name for name in FilterFields.model_fields)
SearchId = Annotated[str, Path(description="The saved search's id (ss_ and 16 hex digits).")]


async def get_alert_store(request: Request) -> AlertStore:
    """The saved searches' store, opened (with its schema) by the first request that needs
    it: an alerts store down at the API's start fails these routes (a 503), not the API."""
    store = request.app.state.alert_store
    if store is None:
        store = await run_in_threadpool(open_alerts, request.app.state)
    return store


def open_alerts(state: Any) -> AlertStore:
    lock: threading.Lock = state.alert_lock
    with lock:
        if state.alert_store is None:
            settings: Settings = state.settings
            store = open_alert_store(settings.resolved_alerts_url, settings)
            try:
                store.ensure_schema()
            except BaseException:
                store.close()
                raise
            state.alert_store = store
        return state.alert_store


async def get_owner(request: Request) -> str:
    """The API key's owner id (ApiKeyMiddleware left the key's hash), or `default`."""
    return owner_of(getattr(request.state, "api_key_hash", None))


AlertStoreDep = Annotated[AlertStore, Depends(get_alert_store)]
OwnerDep = Annotated[str, Depends(get_owner)]


# -- validation --------------------------------------------------------------------


async def saved_filters(q: str | None, fields: dict[str, Any]) -> SavedFilters:
    """Read q and the filters exactly as /v1/search does (its own parsing); a query that
    cannot be read is a 422 naming where."""
    quality = fields.get("quality")
    try:
        parsed = await search_filters(
            q=q,
            sources=fields.get("sources") or [],
            source=fields.get("source") or [],
            exclude_sources=fields.get("exclude_sources") or [],
            authors=fields.get("authors") or [],
            language=fields.get("language") or [],
            from_=fields.get("from_"),
            to=fields.get("to"),
            date_source=fields.get("date_source") or [],
            quality=Quality(quality) if quality else None,
            person=fields.get("person") or [],
        )
    except QuerySyntaxError as exc:
        raise Refused(
            422,
            "Invalid query",
            str(exc),
            position=exc.position,
            reason=exc.reason,
            errors=[{"parameter": "q", "message": str(exc)}],
        ) from exc
    query = parsed.query
    return SavedFilters(**{name: getattr(query, name) for name in SavedFilters.model_fields})


def filter_fields(filters: SavedFilters) -> dict[str, Any]:
    """A stored search's filters as FilterFields takes them, to apply a PATCH on."""
    return {
        "sources": list(filters.sources),
        "exclude_sources": list(filters.exclude_sources),
        "authors": list(filters.authors),
        "language": list(filters.languages),
        "from_": filters.published_from.isoformat() if filters.published_from else None,
        "to": filters.published_to.isoformat() if filters.published_to else None,
        "date_source": list(filters.date_sources),
        "quality": filters.quality,
        "person": list(filters.people),
    }


def checked_name(name: str) -> str:
    if not name.strip():
        raise invalid("name", "cannot be blank")
    return name.strip()


def checked_emails(emails: list[str]) -> tuple[str, ...]:
    for address in emails:
        if not re.fullmatch(EMAIL_PATTERN, address):
            raise invalid("emails", f"not an email address: {address[:100]!r}")
    return tuple(dict.fromkeys(emails))


def webhook_refusal(url: str, allow_private: bool) -> str | None:
    """Why this webhook URL is refused, or None.

    http(s) with a host and no credentials; unless private webhooks are allowed, the host
    must resolve, to public addresses only (delivery.resolve_webhook, the worker's own
    check, which it repeats at send time since DNS answers change). When they are allowed
    the host is not resolved here: only the URL's form is checked.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    try:
        parts.port  # noqa: B018 - raises for a port out of range or not a number
    except ValueError:
        return "has an invalid port"
    if allow_private:
        return None
    try:
        resolve_webhook(url, allow_private=False)
    except WebhookRefused as exc:
        return str(exc)
    return None


async def checked_webhook(url: str | None, settings: Settings) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    refusal = await run_in_threadpool(webhook_refusal, url, settings.alerts_allow_private_webhooks)
    if refusal:
        raise invalid("webhook_url", f"{url[:200]!r} {refusal}")
    return url


# -- reading -----------------------------------------------------------------------


def feed_url(settings: Settings, search: SavedSearch) -> str:
    """Absolute, on the configured public URL (never the request's Host header)."""
    return f"{settings.public_url}/feeds/saved/{search.id}.xml?token={search.feed_token}"


def view(store: AlertStore, settings: Settings, search: SavedSearch) -> dict[str, Any]:
    pending = len(store.pending(search.id, limit=MAX_PENDING_COUNTED))
    return view_fields(search, feed_url(settings, search), pending)


def owned(store: AlertStore, owner: str, search_id: str) -> SavedSearch:
    """The owner's saved search; a 404 for a missing one and another owner's alike."""
    search = store.get(search_id)
    if search is None or search.owner != owner:
        raise HTTPException(404, f"no saved search with id {search_id!r}")
    return search


# -- routes ------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=SavedSearchCreated,
    summary="Save a search",
    responses={
        409: {"description": "The owner holds as many saved searches as allowed."},
        422: {"description": "A bad field, a query that cannot be read, or a refused webhook."},
    },
)
async def create_saved_search(
    store: AlertStoreDep,
    settings: SettingsDep,
    owner: OwnerDep,
    body: SavedSearchCreate,
) -> dict[str, Any]:
    """Save a query and filters (as /v1/search takes them) with where to deliver new
    matches. The answer holds the webhook `secret` (only here) and the `feed_url`."""
    fields = body.model_dump(include=set(FILTER_NAMES))
    filters = await saved_filters(body.q, fields)
    search = SavedSearch(
        owner=owner,
        name=checked_name(body.name),
        q=body.q if body.q and body.q.strip() else None,
        filters=filters,
        webhook_url=await checked_webhook(body.webhook_url, settings),
        emails=checked_emails(body.emails),
        schedule=body.schedule,
    )

    limit = settings.alerts_max_per_owner

    def too_many(held: int) -> Refused:
        return Refused(
            409,
            "Too many saved searches",
            f"this key already holds {held} saved searches, the most allowed "
            f"(NEWSAGG_ALERTS_MAX_PER_OWNER={limit}); delete one first",
        )

    def save() -> dict[str, Any]:
        held = store.count(owner)
        if held >= limit:
            raise too_many(held)
        store.create(search)
        # Counted again once written: two saves of one owner at once both passed the first
        # count (neither store can count and create in one step), and the one that finds
        # the owner over the limit takes its own back out. Both may, then; never more.
        if store.count(owner) > limit:
            store.delete(search.id)
            raise too_many(limit)
        return {**view(store, settings, search), "secret": search.secret}

    return await run_in_threadpool(save)


@router.get("", response_model=SavedSearchList, summary="List your saved searches")
async def list_saved_searches(
    store: AlertStoreDep, settings: SettingsDep, owner: OwnerDep
) -> dict[str, Any]:
    def listing() -> list[dict[str, Any]]:
        return [view(store, settings, search) for search in store.list(owner)]

    return {"saved_searches": await run_in_threadpool(listing)}


@router.get("/{search_id}", response_model=SavedSearchView, summary="Get a saved search")
async def get_saved_search(
    store: AlertStoreDep, settings: SettingsDep, owner: OwnerDep, search_id: SearchId
) -> dict[str, Any]:
    return await run_in_threadpool(lambda: view(store, settings, owned(store, owner, search_id)))


@router.patch(
    "/{search_id}",
    response_model=SavedSearchPatched,
    summary="Change, pause or resume a saved search",
    responses={422: {"description": "A bad field, query or webhook."}},
)
async def patch_saved_search(
    store: AlertStoreDep,
    settings: SettingsDep,
    owner: OwnerDep,
    search_id: SearchId,
    body: SavedSearchPatch,
) -> dict[str, Any]:
    """Only the fields given change. `{"paused": false}` resumes a paused or failing search:
    the matches kept meanwhile go out. With `rotate_secret` the answer holds the new secret."""
    given = body.model_fields_set
    for name in ("name", "paused"):
        if name in given and getattr(body, name) is None:
            raise invalid(name, "cannot be null")
    search = await run_in_threadpool(owned, store, owner, search_id)
    changes: dict[str, Any] = {"updated_at": datetime.now(UTC)}
    filters_given = {name for name in FILTER_NAMES if name in given}
    if "q" in given or filters_given:
        q = body.q if "q" in given else search.q
        fields = {**filter_fields(search.filters), **body.model_dump(include=filters_given)}
        changes["filters"] = await saved_filters(q, fields)
        changes["q"] = q if q and q.strip() else None
    if "name" in given and body.name is not None:
        changes["name"] = checked_name(body.name)
    if "webhook_url" in given:
        changes["webhook_url"] = await checked_webhook(body.webhook_url, settings)
    if "emails" in given:
        changes["emails"] = checked_emails(body.emails or [])
    if "schedule" in given and body.schedule is not None:
        changes["schedule"] = body.schedule
    if body.paused is not None:
        changes["paused"] = body.paused
        if not body.paused:  # resuming starts delivery afresh, without the backoff
            changes.update(failing=False, attempts=0, next_attempt_at=None)
    if body.rotate_secret:
        changes["secret"] = new_secret()
    if body.rotate_feed_token:
        changes["feed_token"] = new_feed_token()

    def save() -> dict[str, Any]:
        # Onto the search as stored now, so the alerts worker's delivery state written
        # while the body was checked (a DNS lookup can take a while) is kept.
        updated = owned(store, owner, search_id).model_copy(update=changes)
        try:
            store.update(updated)
        except KeyError:  # deleted meanwhile
            raise HTTPException(404, f"no saved search with id {search_id!r}") from None
        answer = view(store, settings, updated)
        return {**answer, "secret": updated.secret if body.rotate_secret else None}

    return await run_in_threadpool(save)


@router.delete(
    "/{search_id}", status_code=204, response_class=Response, summary="Delete a saved search"
)
async def delete_saved_search(
    store: AlertStoreDep, owner: OwnerDep, search_id: SearchId
) -> Response:
    """Deletes it with its matches; its feed URL stops at once."""

    def delete() -> None:
        owned(store, owner, search_id)
        store.delete(search_id)

    await run_in_threadpool(delete)
    return Response(status_code=204)


@router.get(
    "/{search_id}/matches",
    response_model=MatchesResponse,
    summary="New matches of a saved search",
)
async def get_saved_search_matches(
    store: AlertStoreDep,
    articles: StoreDep,
    owner: OwnerDep,
    search_id: SearchId,
    since: Annotated[
        str | None,
        Query(
            description="Leave out for the matches not delivered yet; an ISO date or datetime "
            "for every match found since then (delivered or not), e.g. your last visit.",
            examples=["2026-11-30T08:00:00Z"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_MATCHES, description="At most this many.")] = 100,
) -> MatchesResponse:
    """The articles the saved search found at ingest, as the index holds them now."""
    after = parse_bound(since, "since", end=False)

    def read() -> list[MatchedArticle]:
        owned(store, owner, search_id)
        if after is None:
            found = store.pending(search_id, limit=limit)
        else:
            found = store.matches(search_id, since=after, limit=limit)
        stored = articles.get_many([match.article_id for match in found])
        return [
            MatchedArticle(
                id=article.id,
                url=article.url,
                title=article.title,
                source=article.source,
                published_at=article.published_at,
                story_id=article.story_id,
                matched_at=match.matched_at,
                delivery_id=match.delivery_id,
                delivered_at=match.delivered_at,
            )
            for match in found
            if (article := stored.get(match.article_id)) is not None
        ]

    return MatchesResponse(id=search_id, since=after, matches=await run_in_threadpool(read))


@router.post(
    "/{search_id}/test",
    status_code=202,
    response_model=SavedSearchView,
    summary="Send a test delivery",
)
async def request_test_delivery(
    store: AlertStoreDep, settings: SettingsDep, owner: OwnerDep, search_id: SearchId
) -> dict[str, Any]:
    """Asks the alerts worker for an `event: "test"` delivery to the webhook and emails; it
    goes out within seconds, and `last_delivery_at` or `last_error` tells how it went. A
    test that gets through clears `failing`."""

    def request_test() -> dict[str, Any]:
        search = owned(store, owner, search_id)
        updated = search.model_copy(update={"test_requested_at": datetime.now(UTC)})
        store.update(updated)
        return view(store, settings, updated)

    return await run_in_threadpool(request_test)


@router.get(
    "/{search_id}/spikes",
    response_model=SpikeReport,
    summary="Is coverage of a saved search spiking?",
)
async def get_saved_search_spikes(
    alerts: AlertStoreDep, store: StoreDep, owner: OwnerDep, search_id: SearchId
) -> SpikeReport:
    """The search's matching articles per hour over the last 24 hours against the 14 days
    before (the baseline), and whether that is a spike by `rule`."""
    search = await run_in_threadpool(owned, alerts, owner, search_id)
    return await run_in_threadpool(spike_report, store, search.search_query(), datetime.now(UTC))


@feed_router.get(
    "/feeds/saved/{search_id}.xml",
    summary="A saved search's RSS feed",
    response_class=Response,
    responses={
        200: {"content": {RSS_MEDIA_TYPE: {}}, "description": "An RSS 2.0 document."},
        404: {"description": "No saved search with this id and token."},
        503: {"description": "The search store or the saved searches' store is unavailable."},
    },
)
async def get_saved_search_feed(
    alerts: AlertStoreDep,
    store: StoreDep,
    settings: SettingsDep,
    search_id: SearchId,
    token: Annotated[str, Query(max_length=200, description="The feed token from `feed_url`.")],
) -> Response:
    """The newest articles the saved search finds, newest first. Outside /v1: the token in
    the URL is the credential, so a feed reader needs no API key; a wrong one is a 404."""
    search = await run_in_threadpool(alerts.get, search_id)
    if search is None or not hmac.compare_digest(search.feed_token.encode(), token.encode()):
        raise HTTPException(404, f"no saved search feed {search_id!r} with this token")
    query = search.search_query(sort=Sort.DATE, size=MAX_FEED_ITEMS, facets=())
    page = await run_in_threadpool(store.search, query)
    return Response(
        rss(f"newsagg: {search.name}", feed_url(settings, search), page),
        media_type=RSS_MEDIA_TYPE,
    )
