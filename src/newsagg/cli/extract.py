"""`newsagg extract FILE...`: the crawler's extraction on saved pages, one JSON Article per line.

For checking what the crawler would make of a site's pages, and for the
extraction benchmark. The page's address comes from --url, else from the page's
own rel=canonical / og:url; the source name from --source, else that address's
host. A page with no address of its own is still extracted (`newsagg extract *.html`
works on any saved pages): an Article needs an http(s) URL, so it gets
UNKNOWN_URL + the page's hash, under the reserved `.invalid` domain that never resolves
(nothing will fetch it), and the source `unknown`. A file without an article gets one
line on stderr and makes the exit code 1; the other files are still printed, in input
order.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from newsagg.crawler.extraction import ExtractionError, extract_article, stated_url

GZIP_MAGIC = b"\x1f\x8b"
UNKNOWN_URL = "https://unknown.invalid/page/"
UNKNOWN_SOURCE = "unknown"


def read_page(path: Path) -> bytes:
    """A saved page's bytes, gunzipped when the file is gzip (whatever its name says)."""
    data = path.read_bytes()
    return gzip.decompress(data) if data.startswith(GZIP_MAGIC) else data


def _source_of(url: str) -> str:
    host = urlsplit(url).hostname or "unknown"
    return host.removeprefix("www.")


def extract_one(path: Path, url: str | None, source: str | None) -> str:
    """The Article's JSON for one file; raises ExtractionError or OSError with the reason."""
    page = read_page(path)
    address = url or stated_url(page)
    if not address:
        address = UNKNOWN_URL + hashlib.sha256(page).hexdigest()[:32]
        source = source or UNKNOWN_SOURCE
    article = extract_article(page, url=address, source=source or _source_of(address))
    return article.model_dump_json()


def run_extract(
    files: list[Path],
    url: str | None,
    source: str | None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """0 when every file gave an article, 1 when some did not."""
    failed = 0
    for path in files:
        try:
            print(extract_one(path, url, source), file=out, flush=True)
        except (ExtractionError, OSError, EOFError, gzip.BadGzipFile) as exc:
            failed += 1
            print(f"newsagg extract: {path}: {exc}", file=err, flush=True)
    return 1 if failed else 0
