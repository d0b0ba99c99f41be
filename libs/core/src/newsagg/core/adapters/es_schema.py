"""The Elasticsearch index layout as code: templates, versioned indices, two aliases.

    <prefix>-v1, <prefix>-v2, ...   versioned indices, made from the `<prefix>` index template
    <prefix>                        read alias: what searches, gets and counts use
    <prefix>-write                  write alias: where upserts go (require_alias on every bulk)

Text is analysed in Python with the embedded store's analysis (text_analyzer: simple
tokenizer, lowercase, ASCII folding, English stemmer) and indexed as space-joined terms
in `*_terms` fields with the built-in `whitespace` analyzer, because the Elasticsearch
build we can fetch (the integ-test-zip) has no `english` analyzer, stemmer or
asciifolding. The original `title` and `text` are indexed unstemmed (standard tokenizer +
lowercase) for exact names, phrases and highlighting. Collapsing uses derived group keys
(GROUP_KEYS), never the article's own fields. docs/elasticsearch.md has the details.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from newsagg.core.adapters.text_analyzer import TextAnalyzer
from newsagg.core.article import Article
from newsagg.core.search import MAX_PAGE_SIZE
from pydantic import TypeAdapter

SCHEMA_VERSION = 3
"""Bump with any mapping change. A change that only adds fields reaches a live index with
ensure_schema (see mapping_update); any other needs `newsagg reindex`.
Version 2 added date provenance, the quality flag and revisions (issue 17); version 3 the
mentions, the enrichment fields and the group keys (issue 18)."""

EXACT_ANALYZER = "news_exact"
TERMS_FIELDS = ("title_terms", "text_terms", "author_terms")
"""Derived fields: kept in _source (so _reindex can copy them), never returned."""
DUPLICATE_KEY = "duplicate_key"
STORY_KEY = "story_key"
GROUP_KEYS = {DUPLICATE_KEY: "duplicate_group", STORY_KEY: "story_id"}
"""Collapse key -> the article field it stands for. Elasticsearch's collapse puts every
document without a value into one group; an article without a group (not enriched yet)
must be its own group, so the key is the field's value, else the article's own id."""
DERIVED_FIELDS = (*TERMS_FIELDS, "sort_date", *GROUP_KEYS)
"""Written by to_source, never read back into an Article."""

RESULT_WINDOW = 10_000 + MAX_PAGE_SIZE
"""from + size of one search: the API pages up to offset 10,000 with up to MAX_PAGE_SIZE hits."""

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_STORED_ONLY_KEYWORD = {"type": "keyword", "index": False, "doc_values": False}
_TERMS = {"type": "text", "analyzer": "whitespace", "norms": True}
_EXACT = {"type": "text", "analyzer": EXACT_ANALYZER}
_KEPT_ONLY = {"type": "object", "enabled": False}
"""Held in _source for reading back, never parsed into fields."""


_DATE = TypeAdapter(datetime)
"""Encodes sort_date as the article's own dates are encoded."""


def read_alias(prefix: str) -> str:
    return prefix


def write_alias(prefix: str) -> str:
    return f"{prefix}-write"


def index_name(prefix: str, version: int) -> str:
    return f"{prefix}-v{version}"


def index_version(prefix: str, index: str) -> int:
    """The N of `<prefix>-vN`."""
    return int(index.removeprefix(f"{prefix}-v"))


def index_settings_component(shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    """Operational settings, apart so an operator can change them without a new schema.

    Shards and replicas (NEWSAGG_STORE_SHARDS / NEWSAGG_STORE_REPLICAS) apply to indices
    created from the template: a new `<prefix>-vN` (`newsagg reindex`) takes a new shard
    count; replicas of a live index change with a settings update.
    """
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "refresh_interval": "1s",
            "max_result_window": RESULT_WINDOW,
        }
    }


def articles_component() -> dict[str, Any]:
    """Analysis and mappings together: a component template is validated on its own."""
    return {
        "settings": {
            "analysis": {
                "analyzer": {
                    EXACT_ANALYZER: {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase"],
                    }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"schema_version": SCHEMA_VERSION},
            "properties": {
                "schema_version": {"type": "integer"},
                "id": _KEYWORD,
                "url": _STORED_ONLY_KEYWORD,
                "canonical_url": _KEYWORD,
                "source": _KEYWORD,
                "title": _EXACT,
                "text": _EXACT,
                "summary": {"type": "text", "index": False},
                "authors": _KEYWORD,
                "published_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "crawled_at": {"type": "date"},
                "sort_date": {"type": "date"},
                "language": _KEYWORD,
                "section": _KEYWORD,
                "tags": _KEYWORD,
                "image_url": _STORED_ONLY_KEYWORD,
                "word_count": {"type": "integer"},
                "content_hash": _KEYWORD,
                "date_source": _KEYWORD,
                "date_confidence": {"type": "float"},
                "listed_at": {"type": "date"},
                "date_notes": _STORED_ONLY_KEYWORD,
                "quality": _KEYWORD,
                "quality_score": {"type": "float"},
                "quality_reasons": _STORED_ONLY_KEYWORD,
                "revision": {"type": "integer"},
                "previous": _KEPT_ONLY,
                "revisions": _KEPT_ONLY,
                "mentions": _KEYWORD,
                "enrichment": {"type": "integer"},
                "minhash": _KEPT_ONLY,
                "lsh_bands": _KEYWORD,
                "duplicate_group": _KEYWORD,
                "duplicate_of": _KEYWORD,
                "story_id": _KEYWORD,
                "people": _KEYWORD,
                **{field: _TERMS for field in TERMS_FIELDS},
                **{key: _KEYWORD for key in GROUP_KEYS},
            },
        },
    }


def mapping_update() -> dict[str, Any]:
    """What put_mapping sends to a live index of an older version: every property (those
    it has are unchanged, the new ones are added; a changed one is refused) and the new
    version in _meta."""
    mappings = articles_component()["mappings"]
    return {"properties": mappings["properties"], "meta": mappings["_meta"]}


COMPONENTS = {"index-settings": index_settings_component, "articles": articles_component}


def components(shards: int = 1, replicas: int = 1) -> dict[str, dict[str, Any]]:
    """Every component template's body, by name, for this layout."""
    return {
        "index-settings": index_settings_component(shards, replicas),
        "articles": articles_component(),
    }


def index_template(prefix: str) -> dict[str, Any]:
    """The composable template every `<prefix>-vN` index is created from."""
    return {
        "index_patterns": [f"{prefix}-v*"],
        "composed_of": [f"{prefix}-{name}" for name in COMPONENTS],
        "priority": 200,
        "version": SCHEMA_VERSION,
        "_meta": {"managed_by": "newsagg", "description": "news articles"},
    }


def terms(analyzer: TextAnalyzer, text: str) -> str:
    """Text as the space-joined terms the index and the queries both use."""
    return " ".join(analyzer.analyze(text))


def group_keys(source: dict[str, Any]) -> dict[str, str]:
    """The collapse keys of a document (see GROUP_KEYS)."""
    return {key: source.get(field) or source["id"] for key, field in GROUP_KEYS.items()}


def derived_fields(article: Article, analyzer: TextAnalyzer) -> dict[str, Any]:
    """The DERIVED_FIELDS of an article's document, as JSON values."""
    return {
        "sort_date": _DATE.dump_python(article.published_at or article.crawled_at, mode="json"),
        **{key: getattr(article, field) or article.id for key, field in GROUP_KEYS.items()},
        "title_terms": terms(analyzer, article.title),
        "text_terms": terms(analyzer, article.text),
        # One value per author, so a phrase never spans two names.
        "author_terms": [terms(analyzer, author) for author in article.authors],
    }


def to_source(article: Article, analyzer: TextAnalyzer) -> bytes:
    """The article's document (its JSON fields and the DERIVED_FIELDS) as a bulk request
    carries it.

    The article is encoded by pydantic in one call and the derived fields are appended to
    its object: the whole document as a dict through json.dumps cost 0.01-0.02 CPU ms an
    article more (of ~0.05), on the one thread that builds every upsert's requests."""
    article_json = article.model_dump_json()
    derived_json = json.dumps(derived_fields(article, analyzer), ensure_ascii=False)
    return f"{article_json[:-1]},{derived_json[1:]}".encode()


def from_source(source: dict[str, Any]) -> Article:
    fields = {k: v for k, v in source.items() if k not in DERIVED_FIELDS}
    return Article.model_validate(fields)


def version_of(article: Article) -> int:
    """The external version: crawled_at in milliseconds, so newer crawls win."""
    return int(article.crawled_at.astimezone(UTC).timestamp() * 1000)
