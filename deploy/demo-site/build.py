#!/usr/bin/env python3
"""Render the demo's fictional news outlets from Markdown sources into static sites.

There are three outlets, each with its own look: Marquee Daily (``articles/*.md``
and ``templates/`` beside this script, rendered into ``site/``), Reel News
(``outlets/reel-news/``, rendered into ``site-reel-news/``) and Spotlight Express
(``outlets/spotlight-express/``, rendered into ``site-spotlight-express/``), which runs
agency copy. An :class:`Outlet`
says where an outlet's sources, templates and output live and what differs
between them; the rendering code is shared.

Each source file is YAML front matter plus a light body syntax: paragraphs
separated by blank lines, ``## `` / ``### `` subheadings, ``> `` pull quotes,
``!gallery <caption>`` (an image gallery with a visible caption line) and
``!credit <text>`` (an image credit line). Page chrome and feed skeletons live in
each outlet's ``templates/`` (``string.Template``), its stylesheet and script in
its ``assets/``.

The output is plain static files (article pages, listing pages, RSS, sitemaps,
robots.txt and, for Marquee Daily, bad inputs for the crawler's tests) plus one
``manifest.json`` for the whole demo beside this script. Every absolute URL is
written with the literal ``__BASE_URL__`` placeholder; the demo server
substitutes its own origin when it serves a file.

Usage: ``python deploy/demo-site/build.py`` rebuilds; ``--check`` exits 1 when
a committed site or ``manifest.json`` is stale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import filecmp
import functools
import hashlib
import html
import json
import random
import re
import shutil
import sys
import tempfile
import xml.dom.minidom
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape as xml_escape

import yaml

HERE = Path(__file__).resolve().parent
MANIFEST_PATH = HERE / "manifest.json"

BASE = "__BASE_URL__"
REFERENCE_SLUG = "milind-soman-ankita-konwar-roadside-romance-cycling"
REFERENCE_QUERY = "Milind Soman cycling"
REFERENCE_PHRASE = "roadside romance"
WINDOW = (dt.date(2026, 9, 1), dt.date(2026, 11, 20))
WORD_LIMITS = (200, 700)
TZ_LABELS = {"+05:30": "IST", "-07:00": "PDT", "-08:00": "PST", "+00:00": "GMT", "+01:00": "BST"}


@dataclass(frozen=True)
class Outlet:
    """One fictional publication: its sources, its output and what makes it look like itself."""

    source: str  # the source name newsagg indexes it under
    name: str
    tagline: str
    description: str  # the homepage's meta description
    root: Path  # holds articles/, templates/ and assets/
    site_dir: str  # output directory, relative to this script's directory
    sections: tuple[str, ...]
    section_colours: tuple[str, ...]
    logo_colour: str
    accent_colour: str
    locale: str
    rss_path: str
    news_sitemap_path: str
    sitemap_index_path: str | None = None
    people_property: str = "about"  # the JSON-LD property that names the people tagged
    reader_comments: bool = False  # generated reader comments below each story
    crawler_fixtures: bool = False  # a robots-forbidden page and bad inputs for the tests

    @property
    def articles_dir(self) -> Path:
        return self.root / "articles"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def assets_dir(self) -> Path:
        return self.root / "assets"

    @property
    def private_path(self) -> str | None:
        """A staff-only page that robots.txt forbids (Marquee Daily only)."""
        return "private/editorial-preview.html" if self.crawler_fixtures else None


MARQUEE_DAILY = Outlet(
    source="marquee-daily",
    name="Marquee Daily",
    tagline="Entertainment news, every day",
    description="Latest Bollywood, Hollywood, TV, music, streaming and celebrity fitness news.",
    root=HERE,
    site_dir="site",
    sections=(
        "Bollywood",
        "Hollywood",
        "Television",
        "Web series",
        "Music",
        "Fitness",
        "Lifestyle",
    ),
    section_colours=("#c2185b", "#283593", "#00695c", "#6a1b9a", "#ef6c00", "#2e7d32", "#ad1457"),
    logo_colour="#111111",
    accent_colour="#b0003a",
    locale="en_IN",
    rss_path="rss.xml",
    news_sitemap_path="news-sitemap.xml",
    sitemap_index_path="sitemap.xml",
    reader_comments=True,
    crawler_fixtures=True,
)
REEL_NEWS = Outlet(
    source="reel-news",
    name="Reel News",
    tagline="Screens, stages and the stars on them",
    description="Film, TV, streaming and music news and reviews from London and Mumbai.",
    root=HERE / "outlets" / "reel-news",
    site_dir="site-reel-news",
    sections=("Film", "TV", "Streaming", "Music", "Fitness"),
    section_colours=("#0d47a1", "#00838f", "#4527a0", "#d84315", "#558b2f"),
    logo_colour="#0b1d3a",
    accent_colour="#f5a300",
    locale="en_GB",
    rss_path="feed.xml",
    news_sitemap_path="sitemap-news.xml",
    people_property="mentions",
)
SPOTLIGHT_EXPRESS = Outlet(
    source="spotlight-express",
    name="Spotlight Express",
    tagline="Bollywood, TV and OTT news from Delhi",
    description="Film, television, streaming and music news from Delhi, updated all day.",
    root=HERE / "outlets" / "spotlight-express",
    site_dir="site-spotlight-express",
    sections=("Movies", "Television", "Streaming", "Music"),
    section_colours=("#6a1b4d", "#1565c0", "#2e7d32", "#e65100"),
    logo_colour="#3b0a45",
    accent_colour="#e53935",
    locale="en_IN",
    rss_path="rss/latest.xml",
    news_sitemap_path="sitemaps/news.xml",
    people_property="mentions",
)
OUTLETS = (MARQUEE_DAILY, REEL_NEWS, SPOTLIGHT_EXPRESS)

COMMENTERS = (
    "Priyanka S.",
    "Rahul_Kolkata",
    "Neha Joshi",
    "cinephile_88",
    "Amit Verma",
    "Sarah L.",
    "Farhan K.",
    "Deepa Nair",
    "Joel M.",
    "Ritu Agarwal",
    "MovieBuff Mumbai",
    "Kavya R.",
    "Sunil Thakur",
    "Ayesha Khan",
    "Vivek from Pune",
    "Ananya B.",
)
COMMENTS_BY_SECTION: dict[str, tuple[str, ...]] = {
    "Bollywood": (
        "Can't wait to watch this in theatres with the whole family.",
        "The music has been on loop in our house for weeks.",
        "Hope the makers keep ticket prices reasonable, it adds up for a family of five.",
        "Good to see original stories doing well for a change.",
    ),
    "Hollywood": (
        "Hope it gets a proper release here and not just two shows a day.",
        "The festival buzz is always bigger than the actual film, let's see.",
        "Saw the trailer twice already. Take my money.",
        "Nice to read something positive about the people behind the camera.",
    ),
    "Television": (
        "My grandmother has not missed a single episode, I am not joking.",
        "Honestly the show was better in the first two seasons.",
        "Who else watches the repeat telecast the next morning?",
        "TV still does family viewing better than any app.",
    ),
    "Web series": (
        "Adding this to my watchlist right now.",
        "StreamBox has been on a roll this year.",
        "Please release all episodes at once, no weekly drops!",
        "Finally a show that trusts the audience to be patient.",
    ),
    "Music": (
        "Been listening on repeat since Friday.",
        "Saw them live in Pune last year, absolutely magical.",
        "Need a concert in Hyderabad please!",
        "This is the kind of music that deserves a bigger audience.",
    ),
    "Fitness": (
        "Tried this this morning, my legs are already complaining.",
        "Inspiring, but some of us have office jobs and two kids :)",
        "Rest days are so underrated, glad someone said it.",
        "Saving this for when the festive sweets are finished.",
    ),
    "Lifestyle": (
        "My mother's saree is coming out of the cupboard for my sister's wedding now.",
        "Pastels are a yes from me.",
        "Love that people are choosing handloom, weavers deserve this.",
        "The photos in this exhibition must be something else.",
    ),
}
GENERIC_COMMENTS = (
    "Great read. This is why I keep coming back to this site.",
    "Shared this in the family group, everyone already has an opinion.",
    "Please fix the autoplay videos on mobile. Otherwise love the coverage.",
)


@dataclass(frozen=True)
class Block:
    """One body element: ``p``, ``h2``, ``h3``, ``quote``, ``gallery`` or ``credit``."""

    kind: str
    text: str


@dataclass(frozen=True)
class Comment:
    """A reader comment shown below an article."""

    name: str
    text: str
    posted: dt.datetime


@dataclass
class Article:
    """One article as read from its source file."""

    slug: str
    headline: str
    authors: list[str]
    section: str
    published: dt.datetime
    updated: dt.datetime | None
    summary: str
    tags: list[str]
    image_alt: str
    blocks: list[Block]
    story: str  # label shared by the articles about one event
    people: list[str]  # hand-checked: everyone the text names in full (not authors)
    duplicate: str | None = None  # label shared by the copies of one agency text
    comments: list[Comment] = field(default_factory=list)

    @property
    def path(self) -> str:
        """Path of the rendered page, relative to the site root."""
        return f"articles/{self.slug}.html"

    @property
    def url(self) -> str:
        """Absolute URL, with the base-URL placeholder."""
        return f"{BASE}/{self.path}"

    @property
    def modified(self) -> dt.datetime:
        """Last modification time (the update, else the publication)."""
        return self.updated or self.published

    @property
    def text(self) -> str:
        """Headline, summary and body as plain text."""
        return "\n".join([self.headline, self.summary, *(b.text for b in self.blocks)])

    @property
    def word_count(self) -> int:
        """Number of words in the body."""
        return sum(len(b.text.split()) for b in self.blocks)

    @property
    def mentions(self) -> list[str]:
        """The people its JSON-LD names: those of its tags that are people, as editors tag."""
        return [tag for tag in self.tags if tag in self.people]


# ----------------------------------------------------------------------------- reading


def slugify(text: str) -> str:
    """Lower-case, hyphenated form of a name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_datetime(value: object, where: str) -> dt.datetime:
    """Parse an ISO 8601 datetime that must carry a timezone."""
    text = value if isinstance(value, str) else str(value)
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{where}: datetime {value!r} has no timezone")
    return parsed


BLOCK_PREFIXES = (
    ("### ", "h3"),
    ("## ", "h2"),
    ("> ", "quote"),
    ("!gallery ", "gallery"),
    ("!credit ", "credit"),
)


def parse_body(text: str) -> list[Block]:
    """Split a body into blocks (blank-line separated; lines of a block are joined)."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        line = " ".join(part.strip() for part in chunk.splitlines())
        for prefix, kind in BLOCK_PREFIXES:
            if line.startswith(prefix):
                blocks.append(Block(kind, line.removeprefix(prefix).strip()))
                break
        else:
            blocks.append(Block("p", line))
    return blocks


def default_comments(slug: str, section: str, published: dt.datetime) -> list[Comment]:
    """Pick 2-4 plausible reader comments, deterministically per slug (Marquee sections)."""
    rng = random.Random(slug)
    pool = [*COMMENTS_BY_SECTION[section], *GENERIC_COMMENTS]
    count = rng.randint(2, 4)
    names = rng.sample(COMMENTERS, count)
    texts = rng.sample(pool, count)
    minutes = sorted(rng.randint(20, 60 * 30) for _ in range(count))
    return [
        Comment(name, text, published + dt.timedelta(minutes=m))
        for name, text, m in zip(names, texts, minutes, strict=True)
    ]


def load_article(outlet: Outlet, path: Path) -> Article:
    """Read and validate one source file of an outlet."""
    where = path.name
    match = re.match(r"---\n(.*?)\n---\n(.*)", path.read_text(encoding="utf-8"), re.S)
    if not match:
        raise ValueError(f"{where}: missing YAML front matter")
    meta: dict[str, Any] = yaml.safe_load(match.group(1))
    required = {
        *("slug", "headline", "authors", "section", "published", "summary", "tags"),
        *("story", "people"),
    }
    if missing := required - meta.keys():
        raise ValueError(f"{where}: missing fields {sorted(missing)}")
    if meta["slug"] != path.stem:
        raise ValueError(f"{where}: slug {meta['slug']!r} does not match the file name")
    if meta["section"] not in outlet.sections:
        raise ValueError(f"{where}: unknown section {meta['section']!r}")
    published = parse_datetime(meta["published"], where)
    updated = parse_datetime(meta["updated"], where) if meta.get("updated") else None
    if not WINDOW[0] <= published.date() <= WINDOW[1]:
        raise ValueError(f"{where}: published {published} outside {WINDOW}")
    if updated and updated < published:
        raise ValueError(f"{where}: updated before published")
    comments = [
        Comment(c["name"], c["text"], published + dt.timedelta(minutes=int(c["minutes_after"])))
        for c in meta.get("comments", [])
    ]
    if comments and not outlet.reader_comments:
        raise ValueError(f"{where}: {outlet.name} pages have no reader comments")
    if not comments and outlet.reader_comments:
        comments = default_comments(meta["slug"], meta["section"], published)
    article = Article(
        slug=meta["slug"],
        headline=meta["headline"],
        authors=list(meta["authors"]),
        section=meta["section"],
        published=published,
        updated=updated,
        summary=meta["summary"],
        tags=list(meta["tags"]),
        image_alt=meta.get("image_alt", meta["headline"]),
        blocks=parse_body(match.group(2)),
        story=meta["story"],
        people=list(meta["people"]),
        duplicate=meta.get("duplicate"),
        comments=comments,
    )
    if unnamed := [name for name in article.people if name not in article.text]:
        raise ValueError(f"{where}: people {unnamed} are not named in full in the text")
    if not WORD_LIMITS[0] <= article.word_count <= WORD_LIMITS[1]:
        raise ValueError(f"{where}: {article.word_count} body words, outside {WORD_LIMITS}")
    return article


def load_articles(outlet: Outlet) -> list[Article]:
    """One outlet's articles, newest first."""
    articles = [load_article(outlet, p) for p in sorted(outlet.articles_dir.glob("*.md"))]
    return sorted(articles, key=lambda a: a.published, reverse=True)


def load_outlets() -> list[tuple[Outlet, list[Article]]]:
    """Every outlet with its articles; checks the demo-wide invariants."""
    loaded = [(outlet, load_articles(outlet)) for outlet in OUTLETS]
    everything = [a for _, articles in loaded for a in articles]
    if REFERENCE_SLUG not in {a.slug for a in loaded[0][1]}:
        raise ValueError(f"reference article {REFERENCE_SLUG!r} is missing from {OUTLETS[0].name}")
    if len({a.slug for a in everything}) != len(everything):
        raise ValueError("two articles share a slug")
    hits = [a.slug for a in everything if REFERENCE_PHRASE in a.text.lower()]
    if hits != [REFERENCE_SLUG]:
        raise ValueError(f"{REFERENCE_PHRASE!r} must appear only in the reference story: {hits}")
    check_duplicates(loaded)
    return loaded


def check_duplicates(loaded: list[tuple[Outlet, list[Article]]]) -> None:
    """Copies of one agency text: two or more, one per outlet, all in one story."""
    groups: dict[str, list[tuple[str, Article]]] = {}
    for outlet, articles in loaded:
        for a in articles:
            if a.duplicate:
                groups.setdefault(a.duplicate, []).append((outlet.source, a))
    for label, members in groups.items():
        sources = [source for source, _ in members]
        if len(members) < 2 or len(set(sources)) != len(sources):
            raise ValueError(f"duplicate {label!r}: needs copies on two or more outlets")
        if len({a.story for _, a in members}) != 1:
            raise ValueError(f"duplicate {label!r}: its copies are in different stories")


# ----------------------------------------------------------------------------- helpers


@functools.cache
def _template(directory: Path, name: str) -> Template:
    return Template((directory / name).read_text(encoding="utf-8"))


def fill(outlet: Outlet, template: str, /, **values: object) -> str:
    """Substitute one of the outlet's templates (every placeholder it uses must be given)."""
    return _template(outlet.templates_dir, template).substitute(values).rstrip("\n")


def esc(text: str) -> str:
    """Escape text content (quotes stay literal so sentences remain greppable)."""
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    """Escape an attribute value."""
    return html.escape(text, quote=True)


def section_path(section: str) -> str:
    """Path of a section index page, relative to the site root."""
    return f"section/{slugify(section)}.html"


def image_path(section: str) -> str:
    """Path of the section's illustration."""
    return f"static/img/sections/{slugify(section)}.svg"


def human_date(moment: dt.datetime) -> str:
    """Visible date such as ``14 September 2026, 11:42 IST``."""
    offset = moment.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    label = TZ_LABELS.get(offset, f"UTC{offset}")
    return f"{moment.day} {moment:%B %Y, %H:%M} {label}"


def short_date(moment: dt.datetime) -> str:
    """Visible date for listings, e.g. ``14 Sep 2026``."""
    return f"{moment.day} {moment:%b %Y}"


def join_names(names: list[str]) -> str:
    """Join names as ``A``, ``A and B`` or ``A, B and C``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def json_ld(data: dict[str, Any]) -> str:
    """Wrap data in a JSON-LD script element."""
    payload = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{payload}\n</script>'


def related_to(article: Article, articles: list[Article], count: int = 4) -> list[Article]:
    """Other stories sharing tags or section (never the reference story)."""
    tags = {t.lower() for t in article.tags}

    def rank(other: Article) -> tuple[int, float]:
        shared = len(tags & {t.lower() for t in other.tags})
        same = 2 if other.section == article.section else 0
        distance = abs((other.published - article.published).total_seconds())
        return (-(3 * shared + same), distance)

    pool = [a for a in articles if a.slug not in {article.slug, REFERENCE_SLUG}]
    return sorted(pool, key=rank)[:count]


def trending(articles: list[Article], count: int = 5) -> list[Article]:
    """Pick a fixed, plausible 'most read' list (never the reference story)."""
    pool = [a for a in articles if a.slug != REFERENCE_SLUG]
    return sorted(pool, key=lambda a: hashlib.sha1(a.slug.encode()).hexdigest())[:count]


def ticker(articles: list[Article], count: int = 5) -> list[Article]:
    """Latest headlines for the breaking-news strip (never the reference story)."""
    return [a for a in articles if a.slug != REFERENCE_SLUG][:count]


def link_item(article: Article, extra: str = "") -> str:
    """A list item linking to an article."""
    return f'<li><a href="/{article.path}">{esc(article.headline)}</a>{extra}</li>'


# ----------------------------------------------------------------------------- page chrome


def ad(outlet: Outlet, slot: str, width: int, height: int) -> str:
    """An advertisement block as ad servers leave it in static HTML."""
    return fill(outlet, "ad.html", slot=slot, width=width, height=height)


def newsletter(outlet: Outlet, box_id: str) -> str:
    """Newsletter sign-up box."""
    return fill(outlet, "newsletter.html", box_id=box_id, site_name=outlet.name)


def document(
    outlet: Outlet,
    *,
    head: str,
    page_type: str,
    body_class: str,
    current: str | None,
    main: str,
    articles: list[Article],
) -> str:
    """A full HTML5 page: cookie banner, header, ticker, ads, sidebar, footer.

    Every value is offered to the outlet's ``page.html``; it uses those its design has.
    """
    nav = ['<li><a href="/">Home</a></li>']
    for section in outlet.sections:
        active = ' class="active" aria-current="page"' if section == current else ""
        nav.append(f'<li><a href="/{section_path(section)}"{active}>{esc(section)}</a></li>')
    nav.append(f'<li><a href="/{outlet.rss_path}">RSS</a></li>')
    trend = [
        link_item(a, f' <span class="trend-section">{esc(a.section)}</span>')
        for a in trending(articles)
    ]
    return (
        fill(
            outlet,
            "page.html",
            head=head,
            page_type=page_type,
            body_class=body_class,
            site_name=outlet.name,
            tagline=outlet.tagline,
            nav_items="\n".join(nav),
            ticker_items="\n".join(link_item(a) for a in ticker(articles)),
            ad_top=ad(outlet, "leaderboard-top", 728, 90),
            main=main,
            trending_items="\n".join(trend),
            ad_sidebar=ad(outlet, "sidebar-mpu", 300, 250),
            newsletter_side=newsletter(outlet, "newsletter-side"),
            ad_halfpage=ad(outlet, "sidebar-halfpage", 300, 600),
            ad_bottom=ad(outlet, "leaderboard-bottom", 728, 90),
            footer_sections="\n".join(
                f'<li><a href="/{section_path(s)}">{esc(s)}</a></li>' for s in outlet.sections
            ),
            private_path=outlet.private_path or "",
        )
        + "\n"
    )


# ----------------------------------------------------------------------------- article pages


def body_html(outlet: Outlet, article: Article, also_read: Article | None) -> str:
    """Render the body, with an in-article ad and an 'Also read' link as real sites do."""
    parts: list[str] = []
    paragraphs = 0
    for block in article.blocks:
        if block.kind == "p":
            parts.append(f"<p>{esc(block.text)}</p>")
            paragraphs += 1
            if paragraphs == 2:
                parts.append(ad(outlet, "in-article", 300, 250))
            if paragraphs == 3 and also_read is not None:
                parts.append(
                    fill(
                        outlet,
                        "also-read.html",
                        path=also_read.path,
                        headline=esc(also_read.headline),
                    )
                )
        elif block.kind in {"h2", "h3"}:
            parts.append(f"<{block.kind}>{esc(block.text)}</{block.kind}>")
        elif block.kind == "quote":
            parts.append(f'<blockquote class="pull-quote"><p>{esc(block.text)}</p></blockquote>')
        elif block.kind == "gallery":
            images = "\n".join(
                f'<img src="/{image_path(article.section)}" '
                f'alt="{attr(article.image_alt)} ({n} of 3)" width="320" height="400" '
                'loading="lazy">'
                for n in range(1, 4)
            )
            parts.append(f'<p class="gallery-title"><strong>{esc(block.text)}</strong></p>')
            parts.append(f'<div class="instagram-gallery">\n{images}\n</div>')
        elif block.kind == "credit":
            parts.append(f'<p class="image-credit"><em>{esc(block.text)}</em></p>')
    return "\n".join(parts)


def article_json_ld(outlet: Outlet, article: Article) -> dict[str, Any]:
    """schema.org NewsArticle for an article page."""
    logo = {"@type": "ImageObject", "url": f"{BASE}/static/img/logo.svg"}
    return {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": article.url},
        "url": article.url,
        "headline": article.headline,
        "description": article.summary,
        "image": [f"{BASE}/{image_path(article.section)}"],
        "datePublished": article.published.isoformat(),
        "dateModified": article.modified.isoformat(),
        "author": [
            {"@type": "Person", "name": name, "url": f"{BASE}/about.html#team"}
            for name in article.authors
        ],
        "publisher": {
            "@type": "Organization",
            "name": outlet.name,
            "url": f"{BASE}/",
            "logo": logo,
        },
        "articleSection": article.section,
        "keywords": article.tags,
        outlet.people_property: [{"@type": "Person", "name": name} for name in article.mentions],
        "wordCount": article.word_count,
        "inLanguage": "en",
        "isAccessibleForFree": True,
    }


def article_head(outlet: Outlet, article: Article) -> str:
    """<head> metadata of an article page."""
    image = f"{BASE}/{image_path(article.section)}"
    props = [
        ("og:site_name", outlet.name),
        ("og:type", "article"),
        ("og:title", article.headline),
        ("og:description", article.summary),
        ("og:url", article.url),
        ("og:image", image),
        ("og:image:alt", article.image_alt),
        ("og:locale", outlet.locale),
        ("article:published_time", article.published.isoformat()),
        ("article:modified_time", article.modified.isoformat()),
        ("article:section", article.section),
        *(("article:author", name) for name in article.authors),
        *(("article:tag", tag) for tag in article.tags),
    ]
    names = [
        ("description", article.summary),
        ("author", ", ".join(article.authors)),
        ("keywords", ", ".join(article.tags)),
        ("robots", "index, follow, max-image-preview:large"),
        ("twitter:card", "summary_large_image"),
        ("twitter:title", article.headline),
        ("twitter:description", article.summary),
    ]
    return "\n".join(
        [
            f"<title>{esc(article.headline)} | {outlet.name}</title>",
            *(f'<meta name="{k}" content="{attr(v)}">' for k, v in names),
            f'<link rel="canonical" href="{article.url}">',
            *(f'<meta property="{k}" content="{attr(v)}">' for k, v in props),
            json_ld(article_json_ld(outlet, article)),
        ]
    )


def article_page(outlet: Outlet, article: Article, articles: list[Article]) -> str:
    """A full article page with all the chrome text extraction has to remove."""
    related = related_to(article, articles)
    updated = ""
    if article.updated:
        updated = (
            f' <span class="sep">|</span> <time class="updated" datetime="'
            f'{article.updated.isoformat()}">Updated: {human_date(article.updated)}</time>'
        )
    comments = [
        fill(
            outlet,
            "comment.html",
            number=n,
            name=esc(c.name),
            text=esc(c.text),
            posted_iso=c.posted.isoformat(),
            posted_human=human_date(c.posted),
        )
        for n, c in enumerate(article.comments, start=1)
    ]
    related_items = [
        link_item(
            r, f' <time datetime="{r.published.isoformat()}">{short_date(r.published)}</time>'
        )
        for r in related
    ]
    main = fill(
        outlet,
        "article.html",
        section=esc(article.section),
        section_path=section_path(article.section),
        headline=esc(article.headline),
        summary=esc(article.summary),
        byline=" and ".join(
            f'<a class="author" rel="author" href="/about.html#team">{esc(name)}</a>'
            for name in article.authors
        ),
        published_iso=article.published.isoformat(),
        published_human=human_date(article.published),
        updated=updated,
        read_minutes=max(1, round(article.word_count / 200)),
        image_path=image_path(article.section),
        image_alt=attr(article.image_alt),
        url=article.url,
        body=body_html(outlet, article, related[0] if related else None),
        tags="\n".join(
            fill(outlet, "tag.html", tag=esc(tag), slug=slugify(tag)) for tag in article.tags
        ),
        ad_below=ad(outlet, "below-article", 728, 90),
        related_items="\n".join(related_items),
        newsletter=newsletter(outlet, "newsletter"),
        comment_count=len(article.comments),
        comments="\n".join(comments),
    )
    return document(
        outlet,
        head=article_head(outlet, article),
        page_type="article",
        body_class=f"page-article section-{slugify(article.section)}",
        current=article.section,
        main=main,
        articles=articles,
    )


# ----------------------------------------------------------------------------- listing pages


def card_values(article: Article) -> dict[str, object]:
    """Values shared by story cards and the homepage lead."""
    return {
        "path": article.path,
        "image_path": image_path(article.section),
        "image_alt": attr(article.image_alt),
        "section": esc(article.section),
        "section_path": section_path(article.section),
        "headline": esc(article.headline),
        "summary": esc(article.summary),
        "authors": esc(join_names(article.authors)),
        "published_iso": article.published.isoformat(),
        "published_short": short_date(article.published),
    }


def cards(outlet: Outlet, articles: list[Article]) -> str:
    """Story cards for a listing page."""
    return "\n".join(fill(outlet, "card.html", **card_values(a)) for a in articles)


def listing_head(outlet: Outlet, title: str, description: str, path: str) -> str:
    """<head> metadata of a listing page (og:type website, CollectionPage)."""
    url = f"{BASE}/{path}"
    site = {"@type": "WebSite", "name": outlet.name, "url": f"{BASE}/"}
    data = {
        "@context": "https://schema.org",
        "@type": "CollectionPage",
        "name": title,
        "url": url,
        "isPartOf": site,
    }
    return "\n".join(
        [
            f"<title>{esc(title)}</title>",
            f'<meta name="description" content="{attr(description)}">',
            f'<link rel="canonical" href="{url}">',
            f'<meta property="og:site_name" content="{outlet.name}">',
            '<meta property="og:type" content="website">',
            f'<meta property="og:title" content="{attr(title)}">',
            f'<meta property="og:url" content="{url}">',
            f'<meta property="og:description" content="{attr(description)}">',
            f'<meta property="og:image" content="{BASE}/static/img/logo.svg">',
            json_ld(data),
        ]
    )


def home_page(outlet: Outlet, articles: list[Article]) -> str:
    """The homepage: lead story plus the latest stories."""
    main = fill(
        outlet,
        "home.html",
        site_name=outlet.name,
        cards=cards(outlet, articles[1:25]),
        **card_values(articles[0]),
    )
    head = listing_head(outlet, f"{outlet.name} - {outlet.tagline}", outlet.description, "")
    return document(
        outlet,
        head=head,
        page_type="home",
        body_class="page-home",
        current=None,
        main=main,
        articles=articles,
    )


def section_page(outlet: Outlet, section: str, articles: list[Article]) -> str:
    """One section index page."""
    main = fill(
        outlet,
        "section.html",
        section=esc(section),
        section_lower=esc(section.lower()),
        site_name=outlet.name,
        cards=cards(outlet, [a for a in articles if a.section == section]),
    )
    head = listing_head(
        outlet,
        f"{section} news | {outlet.name}",
        f"Latest {section} news from {outlet.name}.",
        section_path(section),
    )
    return document(
        outlet,
        head=head,
        page_type="section",
        body_class=f"page-section section-{slugify(section)}",
        current=section,
        main=main,
        articles=articles,
    )


def about_page(outlet: Outlet, articles: list[Article]) -> str:
    """About / contact / privacy page."""
    team = sorted({name for a in articles for name in a.authors})
    main = fill(
        outlet,
        "about.html",
        site_name=outlet.name,
        team="\n".join(f"<li>{esc(n)}</li>" for n in team),
    )
    head = listing_head(outlet, f"About us | {outlet.name}", f"About {outlet.name}.", "about.html")
    return document(
        outlet,
        head=head,
        page_type="static",
        body_class="page-static",
        current=None,
        main=main,
        articles=articles,
    )


def private_page(outlet: Outlet, articles: list[Article]) -> str:
    """A staff-only draft that robots.txt forbids crawling."""
    head = "\n".join(
        [
            f"<title>Staff preview | {outlet.name}</title>",
            '<meta name="robots" content="noindex, nofollow">',
        ]
    )
    return document(
        outlet,
        head=head,
        page_type="private",
        body_class="page-private",
        current=None,
        main=fill(outlet, "private.html"),
        articles=articles,
    )


# ----------------------------------------------------------------------------- feeds


def rss_feed(outlet: Outlet, articles: list[Article]) -> str:
    """RSS 2.0 feed of every article."""
    items = [
        fill(
            outlet,
            "rss-item.xml",
            title=xml_escape(a.headline),
            url=a.url,
            pub_date=email.utils.format_datetime(a.published),
            description=xml_escape(a.summary),
            authors=xml_escape(join_names(a.authors)),
            creators="\n".join(f"<dc:creator>{xml_escape(n)}</dc:creator>" for n in a.authors),
            categories="\n".join(
                f"<category>{xml_escape(c)}</category>" for c in [a.section, *a.tags]
            ),
        )
        for a in articles
    ]
    last = email.utils.format_datetime(max(a.modified for a in articles))
    return (
        fill(
            outlet,
            "rss.xml",
            site_name=outlet.name,
            base=BASE,
            last_build=last,
            items="\n".join(items),
        )
        + "\n"
    )


def news_sitemap(outlet: Outlet, articles: list[Article]) -> str:
    """Google News sitemap of every article."""
    urls = [
        fill(
            outlet,
            "news-sitemap-url.xml",
            url=a.url,
            lastmod=a.modified.isoformat(),
            site_name=outlet.name,
            published=a.published.isoformat(),
            title=xml_escape(a.headline),
        )
        for a in articles
    ]
    return fill(outlet, "news-sitemap.xml", urls="\n".join(urls)) + "\n"


def sitemap_index(outlet: Outlet, articles: list[Article]) -> str:
    """Sitemap index pointing at the news sitemap."""
    lastmod = max(a.modified for a in articles).isoformat()
    return fill(outlet, "sitemap.xml", base=BASE, lastmod=lastmod) + "\n"


def not_html_bytes() -> bytes:
    """Binary-ish bytes that are not HTML (a PNG signature, then noise without `<`)."""
    rng = random.Random(1729)
    noise = bytes(rng.randrange(256) for _ in range(1200)).translate(None, b"<>")
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise[:1024]


def svg_card(label: str, colour: str, width: int = 1200, height: int = 675) -> str:
    """A simple placeholder illustration."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="{colour}"/>'
        f'<text x="50%" y="50%" fill="#fff" font-family="Arial" font-size="{height // 8}" '
        f'text-anchor="middle" dominant-baseline="middle">{xml_escape(label)}</text></svg>\n'
    )


def static_assets(outlet: Outlet) -> dict[str, str]:
    """Stylesheet, script (``assets/x.css`` -> ``static/css/x.css``) and SVG images, by path."""
    assets = {
        f"static/{source.suffix.lstrip('.')}/{source.name}": source.read_text(encoding="utf-8")
        for source in sorted(outlet.assets_dir.iterdir())
    }
    assets["static/img/logo.svg"] = svg_card(outlet.name, outlet.logo_colour, 220, 48)
    assets["static/img/favicon.svg"] = svg_card(outlet.name[0], outlet.accent_colour, 32, 32)
    assets["static/img/ad-placeholder.svg"] = svg_card("Ad", "#dddddd", 300, 250)
    for section, colour in zip(outlet.sections, outlet.section_colours, strict=True):
        assets[image_path(section)] = svg_card(section, colour)
    return assets


# ----------------------------------------------------------------------------- build


def outlet_manifest(outlet: Outlet, articles: list[Article]) -> dict[str, Any]:
    """Where an outlet's site is and what it serves besides article pages."""
    feeds = {"rss": outlet.rss_path, "news_sitemap": outlet.news_sitemap_path}
    if outlet.sitemap_index_path:
        feeds["sitemap_index"] = outlet.sitemap_index_path
    bad_inputs = {
        "broken_feed": "feed-broken.xml",
        "empty_page": "articles/empty.html",
        "not_html": "articles/not-html.html",
    }
    return {
        "site_name": outlet.name,
        "site_dir": outlet.site_dir,
        "article_count": len(articles),
        "listing_pages": ["index.html", *(section_path(s) for s in outlet.sections)],
        "other_pages": ["about.html"],
        "feeds": feeds,
        # What `newsagg demo` gives the crawler: the sitemap index when there is one.
        "crawl": {
            "feed": outlet.rss_path,
            "sitemap": outlet.sitemap_index_path or outlet.news_sitemap_path,
        },
        "robots": "robots.txt",
        "private_paths": [outlet.private_path] if outlet.private_path else [],
        "bad_inputs": bad_inputs if outlet.crawler_fixtures else {},
    }


def manifest(loaded: list[tuple[Outlet, list[Article]]]) -> dict[str, Any]:
    """What tests need to know about the generated sites: the whole demo, then each outlet."""
    return {
        "base_url_placeholder": BASE,
        "reference_slug": REFERENCE_SLUG,
        "reference_source": MARQUEE_DAILY.source,
        "reference_query": REFERENCE_QUERY,
        "reference_phrase": REFERENCE_PHRASE,
        "article_count": sum(len(articles) for _, articles in loaded),
        "outlets": {
            outlet.source: outlet_manifest(outlet, articles) for outlet, articles in loaded
        },
        "articles": [
            {
                "source": outlet.source,
                "slug": a.slug,
                "path": a.path,
                "title": a.headline,
                "published_at": a.published.isoformat(),
                "updated_at": a.updated.isoformat() if a.updated else None,
                "authors": a.authors,
                "section": a.section,
                "tags": a.tags,
                "word_count": a.word_count,
                "mentions": a.mentions,
                "people": a.people,
                "story_label": a.story,
                "duplicate_label": a.duplicate,
            }
            for outlet, articles in loaded
            for a in articles
        ],
    }


def render(outlet: Outlet, articles: list[Article]) -> dict[str, str | bytes]:
    """Every output file of an outlet's site, by path relative to the site root."""
    files: dict[str, str | bytes] = dict(static_assets(outlet))
    for article in articles:
        files[article.path] = article_page(outlet, article, articles)
    files["index.html"] = home_page(outlet, articles)
    for section in outlet.sections:
        files[section_path(section)] = section_page(outlet, section, articles)
    files["about.html"] = about_page(outlet, articles)
    files[outlet.rss_path] = rss_feed(outlet, articles)
    files[outlet.news_sitemap_path] = news_sitemap(outlet, articles)
    if outlet.sitemap_index_path:
        files[outlet.sitemap_index_path] = sitemap_index(outlet, articles)
    files["robots.txt"] = fill(outlet, "robots.txt", site_name=outlet.name, base=BASE) + "\n"
    if outlet.private_path:
        files[outlet.private_path] = private_page(outlet, articles)
    if outlet.crawler_fixtures:
        broken = fill(outlet, "feed-broken.xml", site_name=outlet.name, base=BASE)
        files["feed-broken.xml"] = broken + "\n"
        files["articles/empty.html"] = b""
        files["articles/not-html.html"] = not_html_bytes()
    return files


def self_check(outlet: Outlet, files: dict[str, str | bytes]) -> None:
    """Fail the build if a feed is malformed, the broken feed parses, or an origin leaks."""
    listings = (outlet.rss_path, outlet.news_sitemap_path, outlet.sitemap_index_path)
    for name in filter(None, listings):
        xml.dom.minidom.parseString(files[name])
    if "feed-broken.xml" in files:
        try:
            xml.dom.minidom.parseString(files["feed-broken.xml"])
        except ExpatError:
            pass
        else:
            raise AssertionError("feed-broken.xml unexpectedly parses")
    for path, content in files.items():
        if isinstance(content, str) and re.search(r"https?://(localhost|127\.0\.0\.1)", content):
            raise AssertionError(f"{path}: hard-coded local origin instead of {BASE}")


def write_sites(out_root: Path, manifest_path: Path) -> dict[str, int]:
    """Render each outlet into ``out_root/<site_dir>`` (replacing it); write the manifest.

    Returns the number of articles per output directory.
    """
    loaded = load_outlets()
    counts: dict[str, int] = {}
    for outlet, articles in loaded:
        files = render(outlet, articles)
        self_check(outlet, files)
        out_dir = out_root / outlet.site_dir
        if out_dir.exists():
            shutil.rmtree(out_dir)
        for rel, content in files.items():
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8", newline="\n")
        counts[outlet.site_dir] = len(articles)
    text = json.dumps(manifest(loaded), indent=2, ensure_ascii=False) + "\n"
    manifest_path.write_text(text, encoding="utf-8")
    return counts


def same_tree(left: Path, right: Path) -> bool:
    """True if two directory trees hold identical files."""
    cmp = filecmp.dircmp(left, right)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(left / d, right / d) for d in cmp.common_dirs)


def is_fresh() -> bool:
    """True if the committed sites and manifest match a fresh build."""
    with tempfile.TemporaryDirectory() as tmp:
        out, man = Path(tmp), Path(tmp) / "manifest.json"
        write_sites(out, man)
        return (
            MANIFEST_PATH.is_file()
            and filecmp.cmp(man, MANIFEST_PATH, shallow=False)
            and all(
                (HERE / o.site_dir).is_dir() and same_tree(out / o.site_dir, HERE / o.site_dir)
                for o in OUTLETS
            )
        )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Build the demo's news sites.")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a site or manifest.json is out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        if is_fresh():
            print("demo sites are up to date")
            return 0
        print("demo sites are stale: run python deploy/demo-site/build.py", file=sys.stderr)
        return 1
    counts = write_sites(HERE, MANIFEST_PATH)
    for site_dir, count in counts.items():
        print(f"built {count} articles into {HERE / site_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
