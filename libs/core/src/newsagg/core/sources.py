"""The sources a deployment crawls, read from a YAML file (`NEWSAGG_SOURCES`).

sources:
  - name: marquee-daily
    feeds: [https://example.com/rss.xml]
    sitemaps: [https://example.com/news-sitemap.xml]
    interval: 900            # seconds between polls
  - name: no-feeds-daily
    homepage: https://other.example/          # feeds and sitemaps found on it and in robots.txt
    sections:                                 # pages followed from start URLs
      start_urls: [https://other.example/news/]
      depth: 2
      allow: ['/news/', '/\\d{4}/\\d{2}/']
      deny: ['/tag/', '/author/']
    domains: [example-amp.com]  # other domains whose pages may name this source's articles
    allow_private: false     # true only for sites on your own network (tests, the demo)

docs/crawling.md describes what the crawler does with each field. Several crawler
processes share one file: NEWSAGG_CRAWLER_SHARDS=n and NEWSAGG_CRAWLER_SHARD=i (0..n-1)
make crawler i crawl only the sources `shard_of` gives it (a stable hash of the name).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

_DOMAIN = re.compile(r"(?i)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")


class SourcesError(ValueError):
    """The sources file is missing or wrong; the message says where."""


class Sections(BaseModel):
    """Section crawling for sites without feeds: which links to follow, how deep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_urls: tuple[HttpUrl, ...] = Field(min_length=1)
    depth: int = Field(1, ge=1, le=5, description="Links followed away from a start URL.")
    allow: tuple[str, ...] = Field((), description="Follow only URLs matching one of these.")
    deny: tuple[str, ...] = Field((), description="Never follow URLs matching any of these.")
    _allow: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _deny: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    @field_validator("allow", "deny")
    @classmethod
    def _valid_patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {index} ({pattern!r}) is not a valid regular expression: {exc}"
                ) from exc
        return patterns

    def model_post_init(self, context: object) -> None:
        self._allow = [re.compile(p) for p in self.allow]
        self._deny = [re.compile(p) for p in self.deny]

    def follows(self, url: str) -> bool:
        """An allow pattern (if any) matches the URL and no deny pattern does."""
        if self._allow and not any(p.search(url) for p in self._allow):
            return False
        return not any(p.search(url) for p in self._deny)


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    feeds: tuple[HttpUrl, ...] = ()
    sitemaps: tuple[HttpUrl, ...] = ()
    homepage: HttpUrl | None = Field(
        None, description="Feeds (<link rel=alternate>) and robots.txt sitemaps found here."
    )
    sections: Sections | None = None
    domains: tuple[str, ...] = Field(
        (),
        description="Domains besides the fetched page's own whose canonical URLs its pages "
        "may claim (an AMP cache, a second brand); any other canonical is ignored.",
    )
    allow_private: bool = Field(
        False,
        description="Allow this source's own hosts (those of its feeds, sitemaps, homepage and "
        "section start URLs) on private or loopback addresses (tests, intranets).",
    )
    interval: float = Field(900.0, ge=10, description="Seconds between two polls.")

    @field_validator("domains")
    @classmethod
    def _valid_domains(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        for domain in domains:
            if not _DOMAIN.fullmatch(domain):
                raise ValueError(f"{domain!r} is not a domain name (like example.com)")
        return tuple(d.lower() for d in domains)

    def entry_urls(self) -> list[str]:
        """Every address the source configures: its feeds, sitemaps, homepage, sections."""
        starts = self.sections.start_urls if self.sections else ()
        homepage = (self.homepage,) if self.homepage else ()
        return [str(url) for url in (*self.feeds, *self.sitemaps, *homepage, *starts)]

    @model_validator(mode="after")
    def _has_an_entry_point(self) -> Source:
        if not (self.feeds or self.sitemaps or self.homepage or self.sections):
            raise ValueError("a source needs at least one of feeds, sitemaps, homepage, sections")
        return self


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique: {', '.join(duplicates)}")
        return self


def _where(loc: tuple[int | str, ...], raw: object) -> str:
    """'sources.1.sections.depth' -> 'sources[1] (name-of-it).sections.depth'."""
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        entries = raw.get("sources") if isinstance(raw, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        parts[:2] = [f"sources[{loc[1]}]" + (f" ({name})" if name else "")]
    return ".".join(parts) or "file"


def load_sources(path: Path) -> list[Source]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SourcesError(f"{path}: no such sources file (set NEWSAGG_SOURCES)") from exc
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return SourcesFile.model_validate(raw).sources
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(err['loc'], raw)}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise SourcesError(f"{path}: {problems}") from exc


def shard_of(name: str, shards: int) -> int:
    """The crawler shard (0..shards-1) that crawls the source called `name`.

    Rendezvous (highest-random-weight) hashing over blake2b, never Python's salted
    hash(): every process and every run agrees, and going from n to n+1 shards moves
    only the sources the new shard wins (about 1/(n+1) of them), so few crawl states
    start over.
    """
    if shards < 1:
        raise ValueError(f"shards must be 1 or more, not {shards}")

    def weight(shard: int) -> bytes:
        return hashlib.blake2b(f"{shard}:{name}".encode(), digest_size=8).digest()

    return max(range(shards), key=weight)


def select_shard(sources: list[Source], shard: int, shards: int) -> list[Source]:
    """The sources crawler `shard` of `shards` crawls: each source in exactly one shard."""
    if not 0 <= shard < shards:
        raise SourcesError(
            f"crawler shard {shard} of {shards}: NEWSAGG_CRAWLER_SHARD must be 0..{shards - 1}"
        )
    return [source for source in sources if shard_of(source.name, shards) == shard]
