"""Revisions through the real crawler, indexer and API (issue 17): a local site's story
changes its headline and a paragraph between two polls, and keeps its id.

The indexer and the API run as services; each poll is a `newsagg crawl --once` of its own
process (only the crawl state file carries over), as a scheduled crawl would run.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.pipeline import Pipeline, pipeline_env
from support.servers import Service, wait_until

from newsagg.cli.demo_site import DemoSite

pytestmark = pytest.mark.e2e
PUBLISHED = "2026-11-29T06:00:00+00:00"
HEADLINE = "Festival jury named for the winter edition"
NEW_HEADLINE = "Festival jury named, with a late change of chair"
PARAGRAPHS = [
    "The winter film festival named its five-member jury on Sunday, two weeks before the "
    "opening night at the restored Regal theatre.",
    "The jury will be chaired by the veteran editor Lakshmi Narayan, who cut three of the "
    "festival's past opening films and arrived on a zeppelin tour of the coast.",
    "Organisers said the competition section has twelve films this year, four of them "
    "debuts, and that tickets for the closing night sold out within an hour.",
    "Screenings will run across four venues, with free outdoor shows on the promenade for "
    "the first weekend, weather permitting.",
]
NEW_SECOND = (
    "The jury will now be chaired by the cinematographer Arvind Rao, after Lakshmi Narayan "
    "withdrew for health reasons on Monday morning."
)
CHANGED = [PARAGRAPHS[0], NEW_SECOND, *PARAGRAPHS[2:]]


def story_page(url: str, headline: str, paragraphs: list[str], modified: str) -> str:
    """A news page as sites make them: JSON-LD, Open Graph, navigation around the story."""
    structured = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": headline,
        "datePublished": PUBLISHED,
        "dateModified": modified,
        "author": [{"@type": "Person", "name": "Meera Iyer"}],
        "mainEntityOfPage": url,
    }
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(headline)} | Festival Times</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{html.escape(headline)}">
<meta name="author" content="Meera Iyer">
<script type="application/ld+json">{json.dumps(structured)}</script>
</head><body>
<header><nav><a href="/">Home</a> <a href="/films.html">Films</a></nav></header>
<main><article>
<h1>{html.escape(headline)}</h1>
<p class="byline">By Meera Iyer</p>
{body}
</article></main>
<footer><p>Festival Times. All rights reserved.</p></footer>
</body></html>
"""


@dataclass
class Site:
    directory: Path
    server: DemoSite

    @property
    def story_url(self) -> str:
        return f"{self.server.url}/articles/jury.html"

    def publish(self, headline: str, paragraphs: list[str], modified: datetime) -> None:
        """The story as the site now serves it, and a sitemap dating it `modified`."""
        stamp = modified.isoformat(timespec="seconds")
        page = story_page(self.story_url, headline, paragraphs, stamp)
        (self.directory / "articles" / "jury.html").write_text(page, encoding="utf-8")
        self.relist(modified)

    def relist(self, lastmod: datetime) -> None:
        """The sitemap alone says the story changed (a site bumping lastmod without an edit)."""
        (self.directory / "sitemap.xml").write_text(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.story_url}</loc>"
            f"<lastmod>{lastmod.isoformat(timespec='seconds')}</lastmod></url></urlset>"
        )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    directory = tmp_path / "site"
    (directory / "articles").mkdir(parents=True)
    server = DemoSite(0, site_dir=directory).start()
    yield Site(directory, server)
    server.stop()


def poll(pipeline: Pipeline, log_dir: Path) -> str:
    """One crawl pass in a process of its own; its log, with each fetch and drop in it."""
    log_dir.mkdir()
    crawl = Service(["crawl", "--once"], {**pipeline.env, "NEWSAGG_LOG_LEVEL": "DEBUG"}, log_dir)
    assert crawl.process.wait(timeout=180) == 0, crawl.log()
    return crawl.log()


def article(pipeline: Pipeline, article_id: str) -> dict:
    return pipeline.api(f"/v1/articles/{article_id}")


def wait_for_revision(pipeline: Pipeline, article_id: str, revision: int) -> dict:
    try:
        return wait_until(
            lambda: (a := article(pipeline, article_id))["revision"] == revision and a,
            60,
            f"revision {revision} indexed",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n{pipeline.logs()}") from None


def test_a_story_changed_between_two_polls_is_revision_2_of_the_same_id(tmp_path: Path, site: Site):
    sources = (
        f"sources:\n  - name: festival-times\n    sitemaps: [{site.server.url}/sitemap.xml]\n"
        "    allow_private: true\n"
    )
    pipeline = Pipeline(
        pipeline_env(tmp_path / "data", sources=sources), tmp_path, commands=("index", "api")
    )
    try:
        site.publish(HEADLINE, PARAGRAPHS, datetime.fromisoformat(PUBLISHED))  # never edited
        poll(pipeline, tmp_path / "poll-1")
        pipeline.wait_indexed(1, timeout=60)
        (hit,) = pipeline.api("/v1/search", q="jury")["hits"]
        first = article(pipeline, hit["id"])
        assert (first["title"], first["revision"], first["updated_at"]) == (HEADLINE, 1, None)
        assert first["date_source"] == "json-ld"
        assert pipeline.api(f"/v1/articles/{hit['id']}/revisions")["last_change"] is None
        first_crawl = datetime.fromisoformat(first["crawled_at"])

        # The site edits the story; the page says when, after the first crawl.
        edited = first_crawl.replace(microsecond=0) + timedelta(seconds=1)
        time.sleep(max(0.0, (edited - datetime.now(UTC)).total_seconds() + 0.1))
        site.publish(NEW_HEADLINE, CHANGED, edited)
        poll(pipeline, tmp_path / "poll-2")
        second = wait_for_revision(pipeline, hit["id"], 2)
        assert pipeline.indexed() == 1
        assert (second["id"], second["title"]) == (hit["id"], NEW_HEADLINE)
        assert NEW_SECOND in second["text"]
        assert "zeppelin" not in second["text"]
        assert datetime.fromisoformat(second["updated_at"]) == edited
        assert second["published_at"] == first["published_at"]

        found = pipeline.api("/v1/search", q="jury")
        assert found["total"] == 1
        revised_hit = found["hits"][0]
        assert (revised_hit["id"], revised_hit["revision"]) == (hit["id"], 2)
        assert revised_hit["previous_title"] == HEADLINE
        assert datetime.fromisoformat(revised_hit["updated_at"]) == edited
        assert pipeline.api("/v1/search", q="zeppelin")["total"] == 0  # the old text is gone

        history = pipeline.api(f"/v1/articles/{hit['id']}/revisions")
        assert [(r["revision"], r["title"]) for r in history["revisions"]] == [
            (1, HEADLINE),
            (2, NEW_HEADLINE),
        ]
        assert history["revisions"][0]["crawled_at"] == first["crawled_at"]
        change = history["last_change"]
        assert (change["from_revision"], change["to_revision"]) == (1, 2)
        assert (change["title_changed"], change["previous_title"]) == (True, HEADLINE)
        diff = change["diff"].splitlines()
        assert f"-{PARAGRAPHS[1]}" in diff
        assert f"+{NEW_SECOND}" in diff
        assert f" {PARAGRAPHS[2]}" in diff

        # The sitemap bumps the date again, the page is the same: fetched, not a revision.
        site.relist(edited + timedelta(minutes=1))
        third = poll(pipeline, tmp_path / "poll-3")
        assert f"Crawled (200) <GET {site.story_url}>" in third
        assert "unchanged since the last crawl" in third
        after_third = article(pipeline, hit["id"])
        assert after_third == second

        # Every version is still on the bus: replayed from the start, each is merged again
        # on what the store holds, and the revision stays 2.
        pipeline.services["index"].stop()
        replayed = pipeline.newsagg("replay", "--from-beginning")
        assert replayed.returncode == 0, replayed.stderr
        assert "2 messages" in replayed.stdout
        pipeline.services["index"] = Service(["index"], pipeline.env, tmp_path)
        bus = pipeline.bus()
        try:
            wait_until(
                lambda: sum(bus.group_lag("articles", "indexer").values()) == 0,
                60,
                "the replay indexed",
            )
        finally:
            bus.close()
        time.sleep(1.0)  # the API's reader reloads the index every 0.25 s
        assert article(pipeline, hit["id"]) == second
        assert pipeline.api(f"/v1/articles/{hit['id']}/revisions") == history
    finally:
        pipeline.stop()
