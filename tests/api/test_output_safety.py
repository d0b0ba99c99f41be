"""What the API writes for others to open: feed links never come from the request's Host,
and no CSV cell is a formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.api.routes.export import CSV_COLUMNS, csv_lines
from newsagg.core.search import SearchPage, SearchQuery
from newsagg.core.settings import Settings
from pydantic import ValidationError
from support.demo_corpus import demo_articles

HOSTILE_HOST = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


class NoNews:
    """A store with nothing in it: the feed's channel is what is tested."""

    def search(self, query: SearchQuery) -> SearchPage:
        return SearchPage(total=0, hits=[])

    def close(self) -> None:
        pass


def feed_link(settings: Settings, **params: str) -> str:
    with TestClient(create_app(settings, store=NoNews())) as client:  # type: ignore[arg-type]
        response = client.get("/v1/search.rss", params=params, headers=HOSTILE_HOST)
    assert response.status_code == 200
    return ET.fromstring(response.content).findtext("channel/link") or ""


def test_the_feed_links_to_the_configured_public_url_not_the_host_header():
    link = feed_link(Settings(api_public_url="https://news.example.com/"), q="Soman")
    assert link == "https://news.example.com/v1/search.rss?q=Soman"


def test_without_a_public_url_the_feed_links_to_the_listen_address():
    link = feed_link(Settings(api_host="127.0.0.1", api_port=8123))
    assert link == "http://127.0.0.1:8123/v1/search.rss"


@pytest.mark.parametrize(
    "value", ["news.example.com", "javascript:alert(1)", "https://a b", "https://x/?q=1"]
)
def test_settings_refuse_a_public_url_that_is_not_one(value: str):
    with pytest.raises(ValidationError, match="api_public_url"):
        Settings(api_public_url=value)


FORMULAS = ['=HYPERLINK("https://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def rows(**update: object) -> Iterator[dict[str, str]]:
    article = demo_articles()[0].model_copy(update=update)
    yield from csv.DictReader(io.StringIO("".join(csv_lines(iter([article])))))


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_csv_cell_that_would_be_a_formula_is_kept_as_text(formula: str):
    (row,) = rows(
        title=formula,
        text=formula,
        authors=[formula, "Riya Mehta"],
        section=formula,
        source=formula,
        url=formula,
        language=formula,
    )
    for column in ("title", "text", "authors", "section", "source", "url", "language"):
        assert row[column].startswith("'" + formula[0]), column
    assert row["title"] == "'" + formula


def test_ordinary_csv_cells_are_unchanged():
    article = demo_articles()[0]
    (row,) = rows()
    assert list(row) == CSV_COLUMNS
    assert (row["title"], row["text"], row["url"]) == (article.title, article.text, article.url)
    assert row["word_count"] == str(article.word_count)
