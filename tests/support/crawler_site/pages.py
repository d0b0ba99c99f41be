"""The test site's pages. `__BASE__` becomes the site's own address when served."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    body: str
    content_type: str = "text/html; charset=utf-8"
    validators: bool = False
    """Send ETag / Last-Modified and answer conditional requests with 304."""


PARAGRAPHS = (
    "The night market on the river road opened an hour late because the generator would "
    "not start, and by the time the lamps came on the queue for grilled corn reached the bridge.",
    "Stallholders said the season had been slow until the film crew arrived, and that the crew "
    "bought more tea in a week than the office workers usually buy in a month.",
    "A spokesperson for the municipal council said the road would stay closed to traffic on "
    "weekends until the end of the year, and that the lamps would be replaced before winter.",
    "Residents who wrote to the council asked for more benches, a second water tap and a "
    "later closing time; the council promised to answer all three questions at its next meeting.",
)


def article(
    slug: str,
    title: str,
    *,
    canonical: str | None = None,
    structured: bool = True,
    published: str = "2026-09-10T08:00:00+00:00",
) -> Page:
    """A news article; `structured=False` leaves out JSON-LD and og:type (heuristics decide)."""
    head = f"<title>{title}</title>"
    if canonical:
        head += f'<link rel="canonical" href="__BASE__{canonical}">'
    if structured:
        head += (
            '<meta property="og:type" content="article">'
            '<script type="application/ld+json">{"@context": "https://schema.org", '
            f'"@type": "NewsArticle", "headline": "{title}", "datePublished": "{published}"}}'
            "</script>"
        )
    body = "".join(f"<p>{p} ({slug})</p>" for p in PARAGRAPHS)
    return Page(
        f"<!doctype html><html lang='en'><head>{head}</head><body>"
        f"<nav><a href='/'>Home</a> <a href='/news/'>News</a></nav>"
        f"<article><h1>{title}</h1><p class='byline'>By Riya Mehta</p>{body}</article>"
        "</body></html>"
    )


def rss(*items: tuple[str, str]) -> Page:
    entries = "".join(
        f"<item><title>{path}</title><link>__BASE__{path}</link><pubDate>{date}</pubDate></item>"
        for path, date in items
    )
    return Page(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"{entries}</channel></rss>",
        "application/rss+xml",
        validators=True,
    )


def urlset(*urls: tuple[str, str]) -> Page:
    entries = "".join(
        f"<url><loc>__BASE__{path}</loc><lastmod>{lastmod}</lastmod></url>"
        for path, lastmod in urls
    )
    return Page(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</urlset>",
        "application/xml",
        validators=True,
    )


def index_page(title: str, links: list[str], extra_head: str = "", prose: str = "") -> Page:
    anchors = "".join(f"<li><a href='{href}'>Story at {href}</a></li>" for href in links)
    return Page(
        f"<!doctype html><html><head><title>{title}</title>{extra_head}</head><body>"
        f"<h1>{title}</h1>{prose}<ul>{anchors}</ul></body></html>"
    )


FRESH = "Thu, 10 Sep 2026 08:00:00 GMT"

PAGES: dict[str, Page] = {
    "/robots.txt": Page(
        "User-agent: *\nDisallow: /private/\n\nSitemap: __BASE__/sitemap-index.xml\n",
        "text/plain",
    ),
    # the homepage announces its feed; robots.txt names the sitemap index
    "/": index_page(
        "Riverside Times",
        ["/articles/home-1.html", "/news/"],
        '<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">',
    ),
    "/feed.xml": rss(
        ("/articles/home-1.html", FRESH),
        ("/articles/home-2.html?amp=1", FRESH),  # names no canonical: mapped by rule
        ("/amp/articles/home-3.html", FRESH),  # AMP path, same key as the sitemap's home-3
        ("/amp-story/home-4", FRESH),  # AMP page that names its canonical
    ),
    "/articles/home-1.html": article("home-1", "Night market opens late"),
    "/articles/home-2.html": article("home-2", "Council keeps the river road closed"),
    "/amp/articles/home-3.html": article(
        "home-3", "Film crew buys the tea", canonical="/articles/home-3.html"
    ),
    "/articles/home-3.html": article("home-3", "Film crew buys the tea"),
    "/amp-story/home-4": article(
        "home-4", "Residents ask for benches", canonical="/articles/home-4.html"
    ),
    "/articles/home-4.html": article("home-4", "Residents ask for benches"),
    "/sitemap-index.xml": Page(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>__BASE__/sitemap-old.xml</loc><lastmod>2020-01-01</lastmod></sitemap>"
        "<sitemap><loc>__BASE__/sitemap-new.xml</loc><lastmod>2026-09-12</lastmod></sitemap>"
        "</sitemapindex>",
        "application/xml",
    ),
    "/sitemap-old.xml": urlset(("/articles/old-1.html", "2020-01-01")),
    "/sitemap-new.xml": urlset(
        ("/articles/home-3.html", "2026-09-10"),
        ("/articles/home-4.html", "2026-09-10"),
        ("/articles/old-2.html", "2019-05-05"),
    ),
    "/articles/old-1.html": article("old-1", "Lamps replaced in 2020", published="2020-01-01"),
    "/articles/old-2.html": article("old-2", "Benches installed in 2019", published="2019-05-05"),
    # section crawling: an index page, a tag page, an author page and three articles
    "/news/": index_page(
        "News",
        [
            "/articles/sec-1.html",
            "/articles/sec-2.html",
            "/tag/markets/",
            "/author/riya-mehta/",
            "/news/archive/",  # denied by pattern
            "/about/",  # not allowed by any pattern
            "http://elsewhere.invalid/articles/x.html",  # another host
        ],
    ),
    "/tag/markets/": index_page("Markets", ["/articles/sec-1.html", "/articles/sec-3.html"]),
    "/author/riya-mehta/": index_page(
        "Riya Mehta",
        ["/articles/sec-2.html"],
        '<meta property="og:type" content="profile">',
        "<p>Riya Mehta writes about the river road and the people who keep it busy.</p>",
    ),
    "/news/archive/": index_page("Archive", ["/articles/archived.html"]),
    "/about/": index_page("About", []),
    "/articles/sec-1.html": article("sec-1", "Generator trouble on market night"),
    "/articles/sec-2.html": article("sec-2", "Second water tap promised"),
    "/articles/sec-3.html": article("sec-3", "Later closing time considered", structured=False),
    # hostile and broken input
    "/hostile.xml": rss(
        *(
            (path, FRESH)
            for path in (
                "/hostile/bomb",
                "/hostile/huge",
                "/hostile/huge-stream",
                "/hostile/loop-a",
                "/hostile/stall",
                "/hostile/missing",
                "/hostile/error",
                "/private/secret.html",
                "/articles/survivor.html",
            )
        )
    ),
    "/private/secret.html": article("secret", "Disallowed by robots.txt"),
    "/articles/survivor.html": article("survivor", "The crawl goes on"),
    "/broken.xml": Page("<rss><channel><item><link>", "application/rss+xml"),
    "/closed.xml": rss(("/articles/home-1.html", FRESH)),
}

SLOW_ARTICLES = 24
"""Pages under /slow/ answer after a delay, so a crawl of them can be interrupted midway."""
SLOW_PATHS = [f"/slow/{n:02d}.html" for n in range(SLOW_ARTICLES)]
PAGES.update(
    {
        # a feed and a sitemap that both send validators and list the same slow articles
        "/slow-feed.xml": rss(*((path, FRESH) for path in SLOW_PATHS)),
        "/slow-sitemap.xml": urlset(*((path, "2026-09-10") for path in SLOW_PATHS)),
        # links no request can be made of, between two good ones: neither may be lost
        "/odd-links.xml": Page(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            + "".join(
                f"<item><title>x</title><link>{link}</link></item>"
                for link in (
                    "__BASE__/slow/00.html",
                    "javascript:alert(1)",
                    "mailto:desk@example.com",
                    "http://[::1/unclosed",
                    "http://127.0.0.1:99999/port",
                    "__BASE__/slow/01.html",
                )
            )
            + "</channel></rss>",
            "application/rss+xml",
            validators=True,
        ),
        **{
            path: article(f"slow-{n}", f"Slow story number {n} from the river road")
            for n, path in enumerate(SLOW_PATHS)
        },
    }
)
