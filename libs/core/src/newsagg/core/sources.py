"""The sources a deployment crawls, read from a YAML file (`NEWSAGG_SOURCES`).

sources:
  - name: marquee-daily
    feeds: [https://example.com/rss.xml]
    sitemaps: [https://example.com/news-sitemap.xml]
    interval: 900            # seconds between polls
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator


class SourcesError(ValueError):
    """The sources file is missing or wrong; the message says where."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    feeds: tuple[HttpUrl, ...] = ()
    sitemaps: tuple[HttpUrl, ...] = ()
    interval: float = Field(900.0, ge=10, description="Seconds between two polls.")

    @model_validator(mode="after")
    def _has_an_entry_point(self) -> Source:
        if not self.feeds and not self.sitemaps:
            raise ValueError("a source needs at least one feed or sitemap")
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
            f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SourcesError(f"{path}: {problems}") from exc
