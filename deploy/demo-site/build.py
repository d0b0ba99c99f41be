#!/usr/bin/env python3
"""Render the Marquee Daily demo news site from ``articles/*.md`` into ``site/``.

Each source file is YAML front matter plus a light body syntax: paragraphs
separated by blank lines, ``## `` / ``### `` subheadings, ``> `` pull quotes,
``!gallery <caption>`` (an image gallery with a visible caption line) and
``!credit <text>`` (an image credit line). Page chrome and feed skeletons live in
``templates/`` (``string.Template``), the stylesheet and script in ``assets/``.

The output is plain static files (article pages, listing pages, RSS, sitemaps,
robots.txt and bad inputs for the crawler's tests) plus ``manifest.json`` beside
this script. Every absolute URL is written with the literal ``__BASE_URL__``
placeholder; the demo server substitutes its own origin when it serves a file.

Usage: ``python deploy/demo-site/build.py`` rebuilds; ``--check`` exits 1 when
the committed ``site/`` or ``manifest.json`` is stale.
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
ARTICLES_DIR = HERE / "articles"
TEMPLATES_DIR = HERE / "templates"
ASSETS_DIR = HERE / "assets"
SITE_DIR = HERE / "site"
MANIFEST_PATH = HERE / "manifest.json"

BASE = "__BASE_URL__"
SITE_NAME = "Marquee Daily"
TAGLINE = "Entertainment news, every day"
REFERENCE_SLUG = "milind-soman-ankita-konwar-roadside-romance-cycling"
REFERENCE_QUERY = "Milind Soman cycling"
REFERENCE_PHRASE = "roadside romance"
TRACKED_PEOPLE = ("Milind Soman", "Ankita Konwar")
SECTIONS = ("Bollywood", "Hollywood", "Television", "Web series", "Music", "Fitness", "Lifestyle")
SECTION_COLOURS = ("#c2185b", "#283593", "#00695c", "#6a1b9a", "#ef6c00", "#2e7d32", "#ad1457")
WINDOW = (dt.date(2026, 9, 1), dt.date(2026, 11, 20))
WORD_LIMITS = (200, 700)
PRIVATE_PATH = "private/editorial-preview.html"
TZ_LABELS = {"+05:30": "IST", "-07:00": "PDT", "-08:00": "PST", "+00:00": "GMT"}

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
        """Tracked people named in the headline, summary or body."""
        return [name for name in TRACKED_PEOPLE if name in self.text]


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
    """Pick 2-4 plausible reader comments, deterministically per slug."""
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


def load_article(path: Path) -> Article:
    """Read and validate one source file."""
    where = path.name
    match = re.match(r"---\n(.*?)\n---\n(.*)", path.read_text(encoding="utf-8"), re.S)
    if not match:
        raise ValueError(f"{where}: missing YAML front matter")
    meta: dict[str, Any] = yaml.safe_load(match.group(1))
    required = {"slug", "headline", "authors", "section", "published", "summary", "tags"}
    if missing := required - meta.keys():
        raise ValueError(f"{where}: missing fields {sorted(missing)}")
    if meta["slug"] != path.stem:
        raise ValueError(f"{where}: slug {meta['slug']!r} does not match the file name")
    if meta["section"] not in SECTIONS:
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
        comments=comments or default_comments(meta["slug"], meta["section"], published),
    )
    if not WORD_LIMITS[0] <= article.word_count <= WORD_LIMITS[1]:
        raise ValueError(f"{where}: {article.word_count} body words, outside {WORD_LIMITS}")
    return article


def load_articles(directory: Path = ARTICLES_DIR) -> list[Article]:
    """All articles, newest first; checks the reference-story invariants."""
    articles = [load_article(p) for p in sorted(directory.glob("*.md"))]
    if REFERENCE_SLUG not in {a.slug for a in articles}:
        raise ValueError(f"reference article {REFERENCE_SLUG!r} is missing")
    hits = [a.slug for a in articles if REFERENCE_PHRASE in a.text.lower()]
    if hits != [REFERENCE_SLUG]:
        raise ValueError(f"{REFERENCE_PHRASE!r} must appear only in the reference story: {hits}")
    return sorted(articles, key=lambda a: a.published, reverse=True)


# ----------------------------------------------------------------------------- helpers


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES_DIR / name).read_text(encoding="utf-8"))


def fill(template: str, /, **values: object) -> str:
    """Substitute a template from ``templates/`` (every placeholder must be given)."""
    return _template(template).substitute(values).rstrip("\n")


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


def ad(slot: str, width: int, height: int) -> str:
    """An advertisement block as ad servers leave it in static HTML."""
    return fill("ad.html", slot=slot, width=width, height=height)


def newsletter(box_id: str) -> str:
    """Newsletter sign-up box."""
    return fill("newsletter.html", box_id=box_id, site_name=SITE_NAME)


def document(
    *,
    head: str,
    page_type: str,
    body_class: str,
    current: str | None,
    main: str,
    articles: list[Article],
) -> str:
    """A full HTML5 page: cookie banner, header, ticker, ads, sidebar, footer."""
    nav = ['<li><a href="/">Home</a></li>']
    for section in SECTIONS:
        active = ' class="active" aria-current="page"' if section == current else ""
        nav.append(f'<li><a href="/{section_path(section)}"{active}>{esc(section)}</a></li>')
    nav.append('<li><a href="/rss.xml">RSS</a></li>')
    trend = [
        link_item(a, f' <span class="trend-section">{esc(a.section)}</span>')
        for a in trending(articles)
    ]
    return (
        fill(
            "page.html",
            head=head,
            page_type=page_type,
            body_class=body_class,
            site_name=SITE_NAME,
            tagline=TAGLINE,
            nav_items="\n".join(nav),
            ticker_items="\n".join(link_item(a) for a in ticker(articles)),
            ad_top=ad("leaderboard-top", 728, 90),
            main=main,
            trending_items="\n".join(trend),
            ad_sidebar=ad("sidebar-mpu", 300, 250),
            newsletter_side=newsletter("newsletter-side"),
            ad_halfpage=ad("sidebar-halfpage", 300, 600),
            ad_bottom=ad("leaderboard-bottom", 728, 90),
            footer_sections="\n".join(
                f'<li><a href="/{section_path(s)}">{esc(s)}</a></li>' for s in SECTIONS
            ),
            private_path=PRIVATE_PATH,
        )
        + "\n"
    )


# ----------------------------------------------------------------------------- article pages


def body_html(article: Article, also_read: Article | None) -> str:
    """Render the body, with an in-article ad and an 'Also read' link as real sites do."""
    parts: list[str] = []
    paragraphs = 0
    for block in article.blocks:
        if block.kind == "p":
            parts.append(f"<p>{esc(block.text)}</p>")
            paragraphs += 1
            if paragraphs == 2:
                parts.append(ad("in-article", 300, 250))
            if paragraphs == 3 and also_read is not None:
                parts.append(
                    '<aside class="also-read"><strong>Also read:</strong> '
                    f'<a href="/{also_read.path}">{esc(also_read.headline)}</a></aside>'
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


def article_json_ld(article: Article) -> dict[str, Any]:
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
        "publisher": {"@type": "Organization", "name": SITE_NAME, "url": f"{BASE}/", "logo": logo},
        "articleSection": article.section,
        "keywords": article.tags,
        "wordCount": article.word_count,
        "inLanguage": "en",
        "isAccessibleForFree": True,
    }


def article_head(article: Article) -> str:
    """<head> metadata of an article page."""
    image = f"{BASE}/{image_path(article.section)}"
    props = [
        ("og:site_name", SITE_NAME),
        ("og:type", "article"),
        ("og:title", article.headline),
        ("og:description", article.summary),
        ("og:url", article.url),
        ("og:image", image),
        ("og:image:alt", article.image_alt),
        ("og:locale", "en_IN"),
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
            f"<title>{esc(article.headline)} | {SITE_NAME}</title>",
            *(f'<meta name="{k}" content="{attr(v)}">' for k, v in names),
            f'<link rel="canonical" href="{article.url}">',
            *(f'<meta property="{k}" content="{attr(v)}">' for k, v in props),
            json_ld(article_json_ld(article)),
        ]
    )


def article_page(article: Article, articles: list[Article]) -> str:
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
        body=body_html(article, related[0] if related else None),
        tags="\n".join(f"<li>{esc(tag)}</li>" for tag in article.tags),
        ad_below=ad("below-article", 728, 90),
        related_items="\n".join(related_items),
        newsletter=newsletter("newsletter"),
        comment_count=len(article.comments),
        comments="\n".join(comments),
    )
    return document(
        head=article_head(article),
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


def cards(articles: list[Article]) -> str:
    """Story cards for a listing page."""
    return "\n".join(fill("card.html", **card_values(a)) for a in articles)


def listing_head(title: str, description: str, path: str) -> str:
    """<head> metadata of a listing page (og:type website, CollectionPage)."""
    url = f"{BASE}/{path}"
    site = {"@type": "WebSite", "name": SITE_NAME, "url": f"{BASE}/"}
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
            f'<meta property="og:site_name" content="{SITE_NAME}">',
            '<meta property="og:type" content="website">',
            f'<meta property="og:title" content="{attr(title)}">',
            f'<meta property="og:url" content="{url}">',
            f'<meta property="og:description" content="{attr(description)}">',
            f'<meta property="og:image" content="{BASE}/static/img/logo.svg">',
            json_ld(data),
        ]
    )


def home_page(articles: list[Article]) -> str:
    """The homepage: lead story plus the latest stories."""
    main = fill(
        "home.html", site_name=SITE_NAME, cards=cards(articles[1:25]), **card_values(articles[0])
    )
    head = listing_head(
        f"{SITE_NAME} - {TAGLINE}",
        "Latest Bollywood, Hollywood, TV, music, streaming and celebrity fitness news.",
        "",
    )
    return document(
        head=head,
        page_type="home",
        body_class="page-home",
        current=None,
        main=main,
        articles=articles,
    )


def section_page(section: str, articles: list[Article]) -> str:
    """One section index page."""
    main = fill(
        "section.html",
        section=esc(section),
        section_lower=esc(section.lower()),
        site_name=SITE_NAME,
        cards=cards([a for a in articles if a.section == section]),
    )
    head = listing_head(
        f"{section} news | {SITE_NAME}",
        f"Latest {section} news from {SITE_NAME}.",
        section_path(section),
    )
    return document(
        head=head,
        page_type="section",
        body_class=f"page-section section-{slugify(section)}",
        current=section,
        main=main,
        articles=articles,
    )


def about_page(articles: list[Article]) -> str:
    """About / contact / privacy page."""
    team = sorted({name for a in articles for name in a.authors})
    main = fill(
        "about.html", site_name=SITE_NAME, team="\n".join(f"<li>{esc(n)}</li>" for n in team)
    )
    head = listing_head(f"About us | {SITE_NAME}", f"About {SITE_NAME}.", "about.html")
    return document(
        head=head,
        page_type="static",
        body_class="page-static",
        current=None,
        main=main,
        articles=articles,
    )


def private_page(articles: list[Article]) -> str:
    """A staff-only draft that robots.txt forbids crawling."""
    head = "\n".join(
        [
            f"<title>Staff preview | {SITE_NAME}</title>",
            '<meta name="robots" content="noindex, nofollow">',
        ]
    )
    return document(
        head=head,
        page_type="private",
        body_class="page-private",
        current=None,
        main=fill("private.html"),
        articles=articles,
    )


# ----------------------------------------------------------------------------- feeds


def rss_feed(articles: list[Article]) -> str:
    """RSS 2.0 feed of every article."""
    items = [
        fill(
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
        fill("rss.xml", site_name=SITE_NAME, base=BASE, last_build=last, items="\n".join(items))
        + "\n"
    )


def news_sitemap(articles: list[Article]) -> str:
    """Google News sitemap of every article."""
    urls = [
        fill(
            "news-sitemap-url.xml",
            url=a.url,
            lastmod=a.modified.isoformat(),
            site_name=SITE_NAME,
            published=a.published.isoformat(),
            title=xml_escape(a.headline),
        )
        for a in articles
    ]
    return fill("news-sitemap.xml", urls="\n".join(urls)) + "\n"


def sitemap_index(articles: list[Article]) -> str:
    """Sitemap index pointing at the news sitemap."""
    lastmod = max(a.modified for a in articles).isoformat()
    return fill("sitemap.xml", base=BASE, lastmod=lastmod) + "\n"


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


def static_assets() -> dict[str, str]:
    """Stylesheet, script and SVG images, by path."""
    assets = {
        "static/css/site.css": (ASSETS_DIR / "site.css").read_text(encoding="utf-8"),
        "static/js/site.js": (ASSETS_DIR / "site.js").read_text(encoding="utf-8"),
        "static/img/logo.svg": svg_card(SITE_NAME, "#111111", 220, 48),
        "static/img/favicon.svg": svg_card("M", "#b0003a", 32, 32),
        "static/img/ad-placeholder.svg": svg_card("Ad", "#dddddd", 300, 250),
    }
    for section, colour in zip(SECTIONS, SECTION_COLOURS, strict=True):
        assets[image_path(section)] = svg_card(section, colour)
    return assets


# ----------------------------------------------------------------------------- build


def manifest(articles: list[Article]) -> dict[str, Any]:
    """What tests need to know about the generated site."""
    return {
        "site_name": SITE_NAME,
        "base_url_placeholder": BASE,
        "reference_slug": REFERENCE_SLUG,
        "reference_query": REFERENCE_QUERY,
        "reference_phrase": REFERENCE_PHRASE,
        "article_count": len(articles),
        "articles": [
            {
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
            }
            for a in articles
        ],
        "listing_pages": ["index.html", *(section_path(s) for s in SECTIONS)],
        "other_pages": ["about.html"],
        "feeds": {
            "rss": "rss.xml",
            "news_sitemap": "news-sitemap.xml",
            "sitemap_index": "sitemap.xml",
        },
        "robots": "robots.txt",
        "private_paths": [PRIVATE_PATH],
        "bad_inputs": {
            "broken_feed": "feed-broken.xml",
            "empty_page": "articles/empty.html",
            "not_html": "articles/not-html.html",
        },
    }


def render(articles: list[Article]) -> dict[str, str | bytes]:
    """Every output file of the site, by path relative to the site root."""
    files: dict[str, str | bytes] = dict(static_assets())
    for article in articles:
        files[article.path] = article_page(article, articles)
    files["index.html"] = home_page(articles)
    for section in SECTIONS:
        files[section_path(section)] = section_page(section, articles)
    files["about.html"] = about_page(articles)
    files[PRIVATE_PATH] = private_page(articles)
    files["rss.xml"] = rss_feed(articles)
    files["news-sitemap.xml"] = news_sitemap(articles)
    files["sitemap.xml"] = sitemap_index(articles)
    files["robots.txt"] = fill("robots.txt", site_name=SITE_NAME, base=BASE) + "\n"
    files["feed-broken.xml"] = fill("feed-broken.xml", site_name=SITE_NAME, base=BASE) + "\n"
    files["articles/empty.html"] = b""
    files["articles/not-html.html"] = not_html_bytes()
    return files


def self_check(files: dict[str, str | bytes]) -> None:
    """Fail the build if a feed is malformed, the broken feed parses, or an origin leaks."""
    for name in ("rss.xml", "news-sitemap.xml", "sitemap.xml"):
        xml.dom.minidom.parseString(files[name])
    try:
        xml.dom.minidom.parseString(files["feed-broken.xml"])
    except ExpatError:
        pass
    else:
        raise AssertionError("feed-broken.xml unexpectedly parses")
    for path, content in files.items():
        if isinstance(content, str) and re.search(r"https?://(localhost|127\.0\.0\.1)", content):
            raise AssertionError(f"{path}: hard-coded local origin instead of {BASE}")


def write_site(out_dir: Path, manifest_path: Path) -> int:
    """Render everything into ``out_dir`` (replacing it) and write the manifest."""
    articles = load_articles()
    files = render(articles)
    self_check(files)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    for rel, content in files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="\n")
    text = json.dumps(manifest(articles), indent=2, ensure_ascii=False) + "\n"
    manifest_path.write_text(text, encoding="utf-8")
    return len(articles)


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
    """True if the committed site and manifest match a fresh build."""
    with tempfile.TemporaryDirectory() as tmp:
        out, man = Path(tmp) / "site", Path(tmp) / "manifest.json"
        write_site(out, man)
        return (
            SITE_DIR.is_dir()
            and MANIFEST_PATH.is_file()
            and same_tree(out, SITE_DIR)
            and filecmp.cmp(man, MANIFEST_PATH, shallow=False)
        )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Build the Marquee Daily demo news site.")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if site/ or manifest.json is out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        if is_fresh():
            print("demo site is up to date")
            return 0
        print("demo site is stale: run python deploy/demo-site/build.py", file=sys.stderr)
        return 1
    count = write_site(SITE_DIR, MANIFEST_PATH)
    print(f"built {count} articles into {SITE_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
