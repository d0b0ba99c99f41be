"""The delivery loop: sends each saved search's new matches to its webhook and emails.

It runs in a thread of its own beside the matching loop, not between its batches: a
webhook may take its whole timeout (NEWSAGG_ALERTS_WEBHOOK_TIMEOUT) and an SMTP server
longer, and matching must not stall behind them (the bus offsets would wait, and the
lag with them). The matching loop wakes it with the ids of the searches that matched a
batch, so an instant search is delivered as soon as its matches are recorded.

At least once, one article never twice per search: `AlertStore.open_delivery` writes the
delivery before it is sent, the receivers get it under its id (X-Newsagg-Delivery), and
only then is it closed. A worker killed in between sends the same delivery again (same
id, same articles); a failed one is retried, the same, with exponential backoff from
NEWSAGG_ALERTS_RETRY_DELAY up to NEWSAGG_ALERTS_MAX_RETRY_DELAY, and after
NEWSAGG_ALERTS_MAX_ATTEMPTS failed attempts the search is `failing`: it waits, its
matches kept, until it is resumed or a test delivery works. A search with both a webhook
and emails is delivered when both took it; a retry sends to both again (same id).

An article purged from the store after it matched is left out of the delivery (its
match is closed with the others): there is nothing left to show of it.

Each worker delivers the searches of its shard (shard_of(search id, NEWSAGG_ALERTS_SHARDS)).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import secrets
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from newsagg.alerts.metrics import (
    DELIVERIES,
    DELIVERY_LATENCY,
    FAILING_SEARCHES,
    MATCHES_PRUNED,
    PENDING_MATCHES,
)
from newsagg.core.alerts.delivery import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    USER_AGENT,
    WebhookRefused,
    resolve_webhook,
    signature,
)
from newsagg.core.alerts.model import Delivery, Match, SavedSearch, Schedule
from newsagg.core.alerts.spikes import SpikeReport, history_hours, spike_report
from newsagg.core.article import Article
from newsagg.core.ports import AlertStore, SearchStore, StoreUnavailable
from newsagg.core.query import QuerySyntaxError
from newsagg.core.search import Hit, SearchQuery, Sort
from newsagg.core.settings import Settings
from newsagg.core.sources import shard_of

log = logging.getLogger("newsagg.alerts")

TICK = 1.0
"""Seconds between passes, and between reads of the saved searches: a test delivery asked
for through the API goes out within about this long..."""
PRUNE_INTERVAL = 3600.0
"""Seconds between prunes of the matches older than NEWSAGG_ALERTS_MATCH_RETENTION_DAYS."""
LIST_SHARE = 0.1
"""...unless reading them takes long: at most this share of the time goes to it (10,000
saved searches take about 0.3 s to read from SQLite: then they are read every 3 s, and a
search woken by new matches is read alone, fresh, meanwhile)."""
SWEEP_INTERVAL = 5.0
"""Seconds between checks of every search of the shard for pending matches (matched by
another worker, or left by a restart; less often if that takes long, see LIST_SHARE); the
gauges are set then too."""
SPIKE_INTERVAL = 600.0
"""Seconds between the starts of two rounds of spike checks over the shard's searches (two
store queries each)..."""
SPIKE_BUDGET = 0.2
"""...a round done a slice per pass, at most this many seconds of checks each, so ten
thousand searches never hold up an instant delivery for more than that."""
SPIKE_REPEAT = timedelta(hours=24)
"""One spike alert per spike: none again for a search within this long of its last."""
DELIVERY_LIMIT = 500
"""Matches per delivery; more go in the next one, at once."""
PREVIEW = 3
"""Articles a test delivery shows (the search's newest matches), and..."""
SPIKE_ARTICLES = 10
"""...a spike alert (the search's newest articles)."""
SNIPPET_CHARS = 300
FRESH_FOR = 0.1
"""Seconds a listed search counts as current; older, it is read again before it is acted on."""
HELD_WAIT = 2.0
HELD_RETRY = 0.1
"""Seconds a matched article the delivery's reader does not show yet is waited for, and
between its reads (the store's reader reloads every 0.25 s)."""


class Interrupted(Exception):
    """Asked to stop in the middle of a delivery: it stays open, and is sent as it is by
    the next run."""


class DeliveryFailed(Exception):
    """A channel did not take the delivery: an error, a non-2xx answer or a timeout."""


# -- what is sent -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message to a search's receivers."""

    search: SavedSearch
    event: str
    """matches, test or spike."""
    delivery: str
    articles: list[dict[str, Any]]
    spike: SpikeReport | None = None

    def stories(self) -> list[dict[str, Any]]:
        """The articles grouped by story, in the order their first article comes; an
        article of no story is a group of its own (story_id null)."""
        groups: dict[str, dict[str, Any]] = {}
        for article in self.articles:
            key = article["story_id"] or f"article:{article['id']}"
            group = groups.setdefault(key, {"story_id": article["story_id"], "article_ids": []})
            group["article_ids"].append(article["id"])
        return list(groups.values())

    def body(self) -> bytes:
        """The webhook's JSON body: these exact bytes are signed."""
        document: dict[str, Any] = {
            "id": self.search.id,
            "name": self.search.name,
            "q": self.search.q,
            "delivery": self.delivery,
            "event": self.event,
            "articles": self.articles,
            "stories": self.stories(),
        }
        if self.spike is not None:
            document["spike"] = {
                "last_24h": self.spike.last_24h,
                "threshold": self.spike.threshold,
                "baseline_daily_mean": round(self.spike.baseline_daily_mean, 3),
                "baseline_hours": self.spike.baseline_hours,
                "rule": self.spike.rule,
            }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def entry_of(article: Article) -> dict[str, Any]:
    """An article as a delivery lists it."""
    snippet = (article.summary or article.text)[:SNIPPET_CHARS]
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "source": article.source,
        "published_at": _iso(article.published_at),
        "story_id": article.story_id,
        "snippet": snippet,
    }


def entry_of_hit(hit: Hit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "url": hit.url,
        "title": hit.title,
        "source": hit.source,
        "published_at": _iso(hit.published_at),
        "story_id": hit.story_id,
        "snippet": hit.snippet.replace("<mark>", "").replace("</mark>", ""),
    }


def subject_of(outgoing: Outgoing) -> str:
    name = outgoing.search.name
    if outgoing.event == "test":
        return f'newsagg: test delivery for "{name}"'
    if outgoing.event == "spike" and outgoing.spike is not None:
        return f'newsagg: coverage spike for "{name}": {outgoing.spike.last_24h} articles in 24 h'
    count = len(outgoing.articles)
    return f'newsagg: {count} new article{"" if count == 1 else "s"} for "{name}"'


def email_of(outgoing: Outgoing, sender: str) -> EmailMessage:
    """A multipart digest: plain text and HTML (every value escaped), grouped by story."""
    by_id = {article["id"]: article for article in outgoing.articles}
    groups = [[by_id[i] for i in group["article_ids"]] for group in outgoing.stories()]
    intro = {
        "test": "A test delivery: this is how alerts of this saved search will look.",
        "spike": "Coverage is far above its usual level.",
        "matches": "New articles matching your saved search.",
    }[outgoing.event]
    if outgoing.spike is not None:
        intro += f" {outgoing.spike.rule}"
    plain = [subject_of(outgoing), "", intro, f"Query: {outgoing.search.q or '(any)'}", ""]
    rich = [
        f"<h2>{html.escape(subject_of(outgoing))}</h2>",
        f"<p>{html.escape(intro)}</p>",
        f"<p>Query: <code>{html.escape(outgoing.search.q or '(any)')}</code></p>",
    ]
    for group in groups:
        if len(group) > 1:
            plain.append(f"Story ({len(group)} articles):")
            rich.append(f"<h3>Story ({len(group)} articles)</h3>")
        rich.append("<ul>")
        for article in group:
            when = f", {article['published_at'][:10]}" if article["published_at"] else ""
            plain.append(f"- {article['title']} ({article['source']}{when})")
            plain.append(f"  {article['url']}")
            rich.append(
                f'<li><a href="{html.escape(article["url"], quote=True)}">'
                f"{html.escape(article['title'])}</a> "
                f"<small>{html.escape(article['source'] + when)}</small>"
                f"<br>{html.escape(article['snippet'])}</li>"
            )
        rich.append("</ul>")
        plain.append("")
    plain.append(f"Delivery {outgoing.delivery}")
    message = EmailMessage()
    message["Subject"] = subject_of(outgoing)
    message["From"] = sender
    message["To"] = ", ".join(outgoing.search.emails)
    message[DELIVERY_HEADER] = outgoing.delivery
    message[EVENT_HEADER] = outgoing.event
    message.set_content("\n".join(plain))
    message.add_alternative("<html><body>" + "\n".join(rich) + "</body></html>", subtype="html")
    return message


# -- channels ---------------------------------------------------------------------------


class WebhookSender:
    """Signed JSON POSTs, to the address checked at send time, redirects not followed.

    `timeout` bounds the whole attempt (connect, send, the answer's status line and
    headers), not each read: a receiver that drips a byte a second would otherwise hold
    the delivery loop, and every search of its shard, for as long as it likes. The answer's
    body is never read (its status is all a delivery needs), so a receiver answering a
    huge body costs nothing either. Each attempt runs on an event loop of its own, where
    a deadline cancels the request cleanly."""

    def __init__(self, timeout: float, *, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private

    def send(self, outgoing: Outgoing) -> None:
        url = outgoing.search.webhook_url
        if not url:
            raise DeliveryFailed("no webhook URL")
        try:
            target = resolve_webhook(url, allow_private=self.allow_private)
        except WebhookRefused as exc:
            raise DeliveryFailed(f"webhook refused: {exc}") from exc
        body = outgoing.body()
        # Connect to the address that passed the check (not a second DNS answer), naming
        # the host in Host and in TLS (SNI and certificate check).
        address = f"[{target.address}]" if ":" in target.address else target.address
        pinned = httpx.URL(url).copy_with(host=address.strip("[]"))
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        headers = {
            "Host": host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature(outgoing.search.secret, body),
            DELIVERY_HEADER: outgoing.delivery,
            EVENT_HEADER: outgoing.event,
        }
        try:
            status = asyncio.run(self._post(pinned, body, headers, target.host))
        except TimeoutError as exc:
            late = f"webhook: no answer within {self.timeout:g} s (timed out)"
            raise DeliveryFailed(late) from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook: {type(exc).__name__}: {exc}"[:500]) from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"webhook answered HTTP {status}")

    async def _post(self, url: httpx.URL, body: bytes, headers: dict[str, str], host: str) -> int:
        async with (
            asyncio.timeout(self.timeout),
            httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client,
            client.stream(
                "POST", url, content=body, headers=headers, extensions={"sni_hostname": host}
            ) as response,
        ):
            return response.status_code


class EmailSender:
    """SMTP (smtp_* settings): STARTTLS and login when set.

    NEWSAGG_ALERTS_WEBHOOK_TIMEOUT bounds the whole session, not each read (as for
    webhooks): when it runs out a watchdog shuts the socket down, which ends the blocked
    read at once (an SMTP server dripping its greeting would otherwise hold the loop)."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password.get_secret_value()
        self.starttls = settings.smtp_starttls
        self.sender = settings.smtp_from
        self.timeout = settings.alerts_webhook_timeout

    def send(self, outgoing: Outgoing) -> None:
        message = email_of(outgoing, self.sender)
        smtp = smtplib.SMTP(timeout=self.timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            if smtp.sock is not None:
                with contextlib.suppress(OSError):
                    smtp.sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(self.timeout, expire)
        watchdog.start()
        try:
            smtp.connect(self.host, self.port)
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message, self.sender, list(outgoing.search.emails))
            smtp.quit()
        except (smtplib.SMTPException, OSError) as exc:
            if expired.is_set():
                raise DeliveryFailed(
                    f"email: no answer within {self.timeout:g} s (timed out)"
                ) from exc
            raise DeliveryFailed(f"email: {type(exc).__name__}: {exc}"[:500]) from exc
        finally:
            watchdog.cancel()
            smtp.close()


# -- when ---------------------------------------------------------------------------------


def backoff(attempts: int, first: float, ceiling: float) -> timedelta:
    """The wait after `attempts` failed attempts: first, 2 x first, 4 x first ... ceiling."""
    return timedelta(seconds=min(first * 2 ** max(attempts - 1, 0), ceiling))


def digest_slot(now: datetime, hour: int) -> datetime:
    """The latest daily digest time (hour:00 UTC) at or before now."""
    slot = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def is_due(search: SavedSearch, now: datetime, digest_hour: int) -> bool:
    """Whether a delivery of this search may go now (pending matches aside).

    A retry waits for its backoff whatever the schedule. Otherwise instant: always;
    hourly: an hour after the last delivery; daily: once the digest hour has come since
    the last delivery (or since the search was made, so a new one waits for its first)."""
    if search.paused or search.failing:
        return False
    if search.attempts > 0:
        return search.next_attempt_at is None or now >= search.next_attempt_at
    if search.schedule is Schedule.INSTANT:
        return True
    if search.schedule is Schedule.HOURLY:
        last = search.last_delivery_at
        return last is None or now - last >= timedelta(hours=1)
    reference = search.last_delivery_at or search.created_at
    return reference < digest_slot(now, digest_hour)


# -- the loop ---------------------------------------------------------------------------


class Deliverer:
    """Delivers the saved searches of one shard, until `stop` is set."""

    def __init__(
        self,
        alerts: AlertStore,
        store: SearchStore,
        settings: Settings,
        *,
        webhook: WebhookSender | None = None,
        email: EmailSender | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.alerts = alerts
        self.store = store
        self.shard = settings.alerts_shard
        self.shards = settings.alerts_shards
        self.max_attempts = settings.alerts_max_attempts
        self.retry_delay = settings.alerts_retry_delay
        self.max_retry_delay = settings.alerts_max_retry_delay
        self.digest_hour = settings.alerts_digest_hour
        self.webhook = webhook or WebhookSender(
            settings.alerts_webhook_timeout,
            allow_private=settings.alerts_allow_private_webhooks,
        )
        self.email = (
            email if email is not None else (EmailSender(settings) if settings.smtp_host else None)
        )
        self.stop = stop or threading.Event()
        self.clock = clock
        self._woken: set[str] = set()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._next_sweep = float("-inf")
        self._next_list = float("-inf")
        self._list_read = float("-inf")
        self._listed: dict[str, SavedSearch] = {}
        self._next_spike_round = float("-inf")
        self._next_prune = float("-inf")
        days = settings.alerts_match_retention_days
        self.retention = timedelta(days=days) if days else None
        self._spike_queue: list[str] = []
        self._history: int | None = None
        self._no_smtp_warned: set[str] = set()

    def wake(self, search_ids: Iterable[str]) -> None:
        """These searches have new matches: look at them now (called by the matching loop)."""
        with self._lock:
            self._woken.update(search_ids)
        self._wake.set()

    def run(self) -> None:
        """Deliver until `stop`; an outage of a store is waited out, damage goes up."""
        delay = 0.5
        while not self.stop.is_set():
            try:
                self.tick()
                delay = 0.5
            except Interrupted:
                break
            except StoreUnavailable as exc:
                log.warning("delivery paused (%s); retrying in %.1fs", exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, self.max_retry_delay)
                continue
            self._wake.wait(TICK)

    def tick(self) -> None:
        """One pass: test deliveries asked for, searches woken or whose retry is due, and
        every SWEEP_INTERVAL the shard's searches with pending matches."""
        with self._lock:
            self._wake.clear()  # a wake from now on is for the next pass
            woken, self._woken = self._woken, set()
        searches = self._searches(woken)
        pending: set[str] = set()
        started = time.monotonic()
        if started >= self._next_sweep:
            pending = self._sweep(searches)
            took = time.monotonic() - started
            self._next_sweep = started + max(SWEEP_INTERVAL, took / LIST_SHARE)
        for listed in searches:
            if self.stop.is_set():
                return
            wanted = listed.id in woken or listed.id in pending or listed.attempts > 0
            if listed.test_requested_at is None and not wanted:
                continue
            search = self._fresh(listed)  # acted on as stored now, not as last listed
            if search is None:
                continue
            if search.test_requested_at is not None:
                self.send_test(search)
            elif self._channels(search) and is_due(search, self.clock(), self.digest_hour):
                self.deliver(search)
        self._spike_slice(searches)
        if self.retention is not None and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_INTERVAL
            self._prune(searches, self.retention)

    def _prune(self, searches: Sequence[SavedSearch], retention: timedelta) -> None:
        """Matches older than the retention: the delivered ones, and those of the shard's
        feed-only searches (nothing marks them delivered). Matches waiting for a channel
        that failed, is paused or has no SMTP server yet are kept."""
        feed_only = [s.id for s in searches if not s.webhook_url and not s.emails]
        pruned = self.alerts.prune(self.clock() - retention, feed_only)
        MATCHES_PRUNED.inc(pruned)
        if pruned:
            log.info("pruned %d matches older than %s", pruned, retention)

    def _spike_slice(self, searches: Sequence[SavedSearch]) -> None:
        """Spike checks for SPIKE_BUDGET seconds at most, going on with the round."""
        started = time.monotonic()
        if not self._spike_queue and started >= self._next_spike_round:
            self._next_spike_round = started + SPIKE_INTERVAL
            self._spike_queue = [s.id for s in reversed(searches)]
            self._history = None  # the index's history, read once a round
        by_id = {s.id: s for s in searches}
        while self._spike_queue and time.monotonic() - started < SPIKE_BUDGET:
            search = by_id.get(self._spike_queue.pop())
            if search is not None:
                self._check_spike(search)

    def _searches(self, woken: set[str]) -> list[SavedSearch]:
        """The shard's saved searches: all read afresh every TICK (or less often, see
        LIST_SHARE); between those reads, the woken ones read one by one."""
        started = time.monotonic()
        if started >= self._next_list:
            self._listed = {
                s.id: s for s in self.alerts.list() if shard_of(s.id, self.shards) == self.shard
            }
            self._list_read = time.monotonic()
            took = self._list_read - started
            self._next_list = started + max(TICK, took / LIST_SHARE)
        else:
            for search_id in woken:
                if shard_of(search_id, self.shards) != self.shard:
                    continue
                fresh = self.alerts.get(search_id)
                if fresh is None:
                    self._listed.pop(search_id, None)
                else:
                    self._listed[search_id] = fresh
        return list(self._listed.values())

    def _fresh(self, listed: SavedSearch) -> SavedSearch | None:
        """The search as stored now (None if deleted), unless it was just listed."""
        if time.monotonic() - self._list_read < FRESH_FOR:
            return listed
        fresh = self.alerts.get(listed.id)
        if fresh is None:
            self._listed.pop(listed.id, None)
        else:
            self._listed[listed.id] = fresh
        return fresh

    def _sweep(self, searches: Sequence[SavedSearch]) -> set[str]:
        """The searches with pending matches (and a channel); sets the gauges."""
        pending = self.alerts.pending_counts()
        counts = {s.id: pending.get(s.id, 0) for s in searches if self._channels(s)}
        FAILING_SEARCHES.set(sum(1 for s in searches if s.failing))
        PENDING_MATCHES.set(sum(counts.values()))
        return {search_id for search_id, count in counts.items() if count}

    def _channels(self, search: SavedSearch) -> list[str]:
        """The channels this search is delivered by here (email only with SMTP set)."""
        channels = ["webhook"] if search.webhook_url else []
        if search.emails:
            if self.email is not None:
                channels.append("email")
            elif search.id not in self._no_smtp_warned:
                self._no_smtp_warned.add(search.id)
                log.warning(
                    "saved search %s has emails but NEWSAGG_SMTP_HOST is not set", search.id
                )
        return channels

    def _send(self, outgoing: Outgoing) -> str | None:
        """Send to every channel; why one failed (None when all took it)."""
        errors = []
        for channel in self._channels(outgoing.search):
            sender = self.webhook if channel == "webhook" else self.email
            assert sender is not None
            try:
                sender.send(outgoing)
            except DeliveryFailed as exc:
                DELIVERIES.labels(channel, outgoing.event, "failed").inc()
                errors.append(str(exc))
                log.warning(
                    "%s delivery %s of %s failed: %s",
                    outgoing.event,
                    outgoing.delivery,
                    outgoing.search.id,
                    exc,
                )
                continue
            DELIVERIES.labels(channel, outgoing.event, "ok").inc()
        return "; ".join(errors) if errors else None

    def deliver(self, search: SavedSearch) -> bool:
        """Open (or re-open) the search's delivery, send it, close it; False if nothing
        was pending. Failure counts an attempt and sets the backoff."""
        delivery = self.alerts.open_delivery(search.id, DELIVERY_LIMIT)
        if delivery is None:
            return False
        articles = self._articles(delivery.matches)
        now = self.clock()
        error = None
        if articles:
            outgoing = Outgoing(search, "matches", delivery.id, articles)
            error = self._send(outgoing)
        if error is None:
            self._close(delivery)
            if len(delivery.matches) >= DELIVERY_LIMIT:
                self.wake([search.id])  # more are waiting: the next pass sends them
            return True
        recorded = self._record(
            search.id,
            lambda fresh: {
                "attempts": fresh.attempts + 1,
                "last_attempt_at": now,
                "last_error": error,
                "next_attempt_at": now
                + backoff(fresh.attempts + 1, self.retry_delay, self.max_retry_delay),
                "failing": fresh.attempts + 1 >= self.max_attempts,
            },
        )
        if recorded is not None and recorded.failing and not search.failing:
            log.error(
                "saved search %s is failing after %d attempts: %s",
                search.id,
                recorded.attempts,
                error,
            )
        return True

    def _close(self, delivery: Delivery) -> None:
        delivered = datetime.now(UTC)
        self.alerts.close_delivery(delivery, delivered)
        for match in delivery.matches:
            DELIVERY_LATENCY.observe(max(0.0, (delivered - match.matched_at).total_seconds()))
        now = self.clock()
        self._record(
            delivery.search_id,
            lambda _fresh: {
                "last_delivery_at": now,
                "last_attempt_at": now,
                "attempts": 0,
                "next_attempt_at": None,
                "failing": False,
                "last_error": None,
            },
        )
        log.info(
            "delivered %s of %s: %d matches", delivery.id, delivery.search_id, len(delivery.matches)
        )

    def _articles(self, matches: Sequence[Match]) -> list[dict[str, Any]]:
        """The matched articles as the store holds them now, in match order; one gone
        from the store (purged) is left out.

        Whoever matched them saw them stored, but maybe in another reader (another
        worker's, or this thread's own in a test) that reloaded sooner: one missing is read
        again for up to HELD_WAIT seconds before it counts as gone, else a just-matched
        article would be closed as delivered without being sent. Asked to stop meanwhile,
        the delivery is left open (Interrupted)."""
        wanted = {m.article_id for m in matches}
        held = self.store.get_many(list(wanted))
        deadline = time.monotonic() + HELD_WAIT
        while wanted - held.keys() and time.monotonic() < deadline:
            if self.stop.wait(HELD_RETRY):
                raise Interrupted  # not closed with articles missing: they would be lost
            held |= self.store.get_many(list(wanted - held.keys()))
        return [entry_of(held[m.article_id]) for m in matches if m.article_id in held]

    def send_test(self, search: SavedSearch) -> None:
        """A test delivery (event `test`, the newest matches as a preview); its outcome is
        the search's delivery state: one that works clears `failing`, so the matches kept
        are delivered next."""
        requested = search.test_requested_at
        now = self.clock()
        if not self._channels(search):
            error: str | None = "no webhook URL or email to test (or no SMTP server set)"
        else:
            preview = self._articles(self.alerts.matches(search.id, limit=PREVIEW))
            outgoing = Outgoing(search, "test", f"dt_{secrets.token_hex(12)}", preview)
            error = self._send(outgoing)

        def changes(fresh: SavedSearch) -> dict[str, Any]:
            done: dict[str, Any] = {"last_attempt_at": now, "last_error": error}
            if fresh.test_requested_at == requested:
                done["test_requested_at"] = None
            if error is None:
                done.update(attempts=0, next_attempt_at=None, failing=False)
            return done

        self._record(search.id, changes)
        log.info("test delivery of %s: %s", search.id, error or "ok")

    def check_spikes(self, searches: Sequence[SavedSearch]) -> None:
        """A whole round of spike checks at once."""
        self._history = None
        for search in searches:
            self._check_spike(search)

    def _check_spike(self, search: SavedSearch) -> None:
        """One `spike` event per spike, for an active search with a channel."""
        if search.paused or search.failing or not self._channels(search):
            return
        now = self.clock()
        if search.last_spike_at is not None and now - search.last_spike_at < SPIKE_REPEAT:
            return
        try:
            query = search.search_query()
        except QuerySyntaxError:
            return
        if self._history is None:
            self._history = history_hours(self.store, now)
        report = spike_report(self.store, query, now, history=self._history)
        if report.spike:
            self.send_spike(search, query, report)

    def send_spike(self, search: SavedSearch, query: SearchQuery, report: SpikeReport) -> None:
        newest = self.store.search(
            query.model_copy(update={"sort": Sort.DATE, "size": SPIKE_ARTICLES})
        )
        articles = [entry_of_hit(hit) for hit in newest.hits]
        outgoing = Outgoing(search, "spike", f"ds_{secrets.token_hex(12)}", articles, report)
        if self._send(outgoing) is None:
            at = self.clock()
            self._record(search.id, lambda _fresh: {"last_spike_at": at})

    def _record(
        self, search_id: str, changes: Callable[[SavedSearch], dict[str, Any]]
    ) -> SavedSearch | None:
        """Write delivery state onto the search as stored at the write (AlertStore.modify),
        so an edit made through the API meanwhile (a pause, a new name) is kept; a search
        deleted meanwhile is left (None)."""
        try:
            updated = self.alerts.modify(
                search_id, lambda fresh: fresh.model_copy(update=changes(fresh))
            )
        except KeyError:
            self._listed.pop(search_id, None)
            return None
        if search_id in self._listed:
            self._listed[search_id] = updated  # the next pass sees what this one did
        return updated
