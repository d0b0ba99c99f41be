"""The Article: the document that flows from crawler to bus to index to API.

Its id is a hash of the canonical URL, so the same story fetched twice (or
through a feed and a sitemap) is one document, and re-indexing it is an update.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 3
"""Version 2 added date provenance, the quality flag and revisions; version 3 the
mentions and the enrichment fields (near-duplicates, stories, people). Older messages
still on the bus read with the newer fields at their defaults."""
SCHEMA_VERSIONS = range(1, SCHEMA_VERSION + 1)
MAX_REVISIONS = 50
ARTICLE_ID_PATTERN = r"^[0-9a-f]{32}$"


_AMP_QUERY = re.compile(r"^((amp|amp_js_v|usqp)(=.*)?|outputtype=amp)$", re.IGNORECASE)
_AMP_SUFFIX = re.compile(r"\.amp(\.html?)?$", re.IGNORECASE)
_MOBILE_LABELS = ("amp.", "m.", "mobile.")


def _desktop_variant(url: str) -> str:
    """AMP and mobile addresses mapped by rule to the article's own address.

    Applies when a page names no canonical of its own: amp./m./mobile. host
    labels (m.example.com, en.m.example.org), /amp path segments, .amp(.html)
    suffixes and the ?amp / ?amp=1 / ?outputType=amp switches are dropped.
    """
    scheme, netloc, path, query, fragment = urlsplit(url)
    userinfo, at, host = netloc.rpartition("@")
    labels = host.split(".")
    for index, label in enumerate(labels[:-2]):
        if f"{label.lower()}." in _MOBILE_LABELS:
            host = ".".join(labels[:index] + labels[index + 1 :])
            break
    path = "/".join(s for s in path.split("/") if s.lower() != "amp") or "/"
    path = _AMP_SUFFIX.sub(r"\1", path)
    query = "&".join(p for p in query.split("&") if p and not _AMP_QUERY.match(p))
    return urlunsplit((scheme, f"{userinfo}{at}{host}", path, query, fragment))


def canonicalize_url(url: str) -> str:
    """Normalise a URL so that one story has one address.

    Lower-cases scheme and host, drops tracking parameters (utm_*, fbclid, ...)
    and the fragment, and maps AMP and mobile variants to the article's own
    address. Raises ValueError for anything that is not http(s).
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    normalized = normalize_url(_desktop_variant(url.strip()))
    scheme, netloc, path, query, _fragment = urlsplit(normalized)
    return urlunsplit((scheme, netloc, path or "/", query, ""))


def article_id(canonical_url: str) -> str:
    """Stable id: the first 128 bits of SHA-256 over the canonical URL, in hex."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def content_hash(title: str, text: str) -> str:
    """Fingerprint of what a reader sees, to tell an updated story from a re-fetch."""
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("datetimes must carry a timezone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class DateSource(StrEnum):
    """Where published_at came from, so a reader can weigh it."""

    JSON_LD = "json-ld"
    META = "meta"
    URL = "url"
    HTMLDATE = "htmldate"
    FEED = "feed"
    SITEMAP = "sitemap"


class Quality(StrEnum):
    """Whether the extracted text looks like the article: low ones are kept but marked."""

    OK = "ok"
    LOW = "low"


class PreviousVersion(BaseModel):
    """The version before the latest change, whole, so the change can be shown as a diff."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    text: str
    content_hash: str
    crawled_at: UtcDatetime


class RevisionSummary(BaseModel):
    """An earlier version, without its text (the bus keeps that)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    revision: int = Field(ge=1)
    title: str
    content_hash: str
    crawled_at: UtcDatetime
    word_count: int = Field(ge=0)


class Article(BaseModel):
    """One news article, clean text plus metadata, as JSON on the bus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    id: str = Field(min_length=32, max_length=32, pattern=ARTICLE_ID_PATTERN)
    url: str
    canonical_url: str
    source: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=2000)
    text: str = Field(min_length=1)
    summary: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    crawled_at: UtcDatetime
    language: str | None = None
    section: str | None = None
    tags: list[str] = Field(default_factory=list)
    image_url: str | None = None
    word_count: int = Field(ge=0)
    content_hash: str
    date_source: DateSource | None = None
    date_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    listed_at: UtcDatetime | None = None
    date_notes: list[str] = Field(default_factory=list)
    quality: Quality = Quality.OK
    quality_score: float = Field(default=1.0, ge=0.0, le=1.0)
    quality_reasons: list[str] = Field(default_factory=list)
    revision: int = Field(default=1, ge=1)
    previous: PreviousVersion | None = None
    revisions: list[RevisionSummary] = Field(default_factory=list, max_length=MAX_REVISIONS)
    mentions: list[str] = Field(default_factory=list)
    """Person names the page's own metadata names (JSON-LD about/mentions of a Person)."""
    # Set by the indexer's enrichment stage; the crawler leaves them at their defaults.
    enrichment: int = Field(default=0, ge=0)
    """Version of the method that enriched the article; 0 = never enriched."""
    minhash: str | None = None
    """The text's MinHash signature, opaque to stores: stored, not indexed."""
    lsh_bands: list[str] = Field(default_factory=list)
    """LSH band keys: a terms query on them finds near-duplicate candidates."""
    duplicate_group: str | None = Field(default=None, pattern=ARTICLE_ID_PATTERN)
    """Id of the near-duplicate group's first-indexed member (its own id if it has no copy)."""
    duplicate_of: str | None = Field(default=None, pattern=ARTICLE_ID_PATTERN)
    """Id of the group's original (earliest published, ties: earliest crawl) for a copy."""
    story_id: str | None = Field(default=None, pattern=ARTICLE_ID_PATTERN)
    """Id of the story's first-indexed article (its own id when it starts a story)."""
    people: list[str] = Field(default_factory=list)
    """Normalised full names of the people it is about ("Milind Soman")."""

    @model_validator(mode="after")
    def _check_identity(self) -> Article:
        if self.schema_version not in SCHEMA_VERSIONS:
            raise ValueError(f"unsupported schema_version {self.schema_version}")
        if self.id != article_id(self.canonical_url):
            raise ValueError("id is not the hash of canonical_url")
        return self

    @model_validator(mode="after")
    def _check_date_provenance(self) -> Article:
        """A date without a source cannot be weighed; a source without a date is a lie.

        Version-1 documents predate provenance: their dates stand without a source.
        """
        if self.published_at is None:
            if self.date_source is not None or self.date_confidence is not None:
                raise ValueError("date_source and date_confidence need a published_at")
        elif self.date_source is None and self.schema_version >= 2:
            raise ValueError("a published_at needs its date_source")
        return self

    @classmethod
    def create(
        cls,
        *,
        url: str,
        source: str,
        title: str,
        text: str,
        canonical_url: str | None = None,
        crawled_at: datetime | None = None,
        **metadata: object,
    ) -> Article:
        """Build an Article from extracted parts, deriving id, counts and hash."""
        canonical = canonicalize_url(canonical_url or url)
        return cls(
            id=article_id(canonical),
            url=url,
            canonical_url=canonical,
            source=source,
            title=title,
            text=text,
            crawled_at=crawled_at or datetime.now(UTC),
            word_count=len(text.split()),
            content_hash=content_hash(title, text),
            **metadata,  # type: ignore[arg-type]
        )

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Article:
        return cls.model_validate_json(data)


def revise(stored: Article | None, fetched: Article) -> Article:
    """The fetched article, carrying the id's history on from the stored one.

    A re-fetch with the same text is not a revision: the history and updated_at stay.
    A changed text counts one more revision and keeps the stored version as `previous`
    (whole, for a diff) and as a summary in `revisions`. Its updated_at is the page's own
    when the page states one later than the stored crawl, else when the change was seen.
    A stale fetch (older than the stored crawl) is returned as it is: stores skip it.
    """
    if stored is None or stored.crawled_at > fetched.crawled_at:
        return fetched
    if stored.content_hash == fetched.content_hash:
        return fetched.model_copy(
            update={
                "revision": stored.revision,
                "previous": stored.previous,
                "revisions": stored.revisions,
                "updated_at": stored.updated_at,
            }
        )
    summary = RevisionSummary(
        revision=stored.revision,
        title=stored.title,
        content_hash=stored.content_hash,
        crawled_at=stored.crawled_at,
        word_count=stored.word_count,
    )
    stated = fetched.updated_at
    changed_at = stated if stated is not None and stated > stored.crawled_at else None
    return fetched.model_copy(
        update={
            "revision": stored.revision + 1,
            "previous": PreviousVersion(
                title=stored.title,
                text=stored.text,
                content_hash=stored.content_hash,
                crawled_at=stored.crawled_at,
            ),
            "revisions": [*stored.revisions, summary][-MAX_REVISIONS:],
            "updated_at": changed_at or fetched.crawled_at,
        }
    )


def newest_crawls(articles: Iterable[Article]) -> dict[str, Article]:
    """One article per id, the most recent crawl: what a store keeps of a batch."""
    newest: dict[str, Article] = {}
    for article in articles:
        held = newest.get(article.id)
        if held is None or article.crawled_at >= held.crawled_at:
            newest[article.id] = article
    return newest
