from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ holds shared helpers (fakes, servers) importable by every suite.
sys.path.insert(0, str(Path(__file__).parent))


from newsagg.cli.demo_site import MANIFEST_PATH, SITE_DIR, DemoSite, DemoSites

pytest_plugins = ["kafka_fixtures", "elasticsearch_fixtures"]  # real servers, on first use

MANIFEST = json.loads(MANIFEST_PATH.read_text())


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSites]:
    """Both demo outlets, each on its own port; `.url` is Marquee Daily's."""
    sites = DemoSites().start()
    yield sites
    sites.stop()


@pytest.fixture(scope="session")
def manifest() -> dict:
    return MANIFEST


@pytest.fixture
def bad_site(tmp_path: Path) -> Iterator[DemoSite]:
    """Another site whose feed lists an empty page, a non-HTML page and a missing one
    (copies of Marquee Daily's, on the feed's own origin as `allow_private` requires)."""
    root = tmp_path / "bad-site"
    (root / "articles").mkdir(parents=True)
    for name in ("empty.html", "not-html.html"):
        shutil.copy(SITE_DIR / "articles" / name, root / "articles" / name)
    site = DemoSite(0, site_dir=root).start()
    items = "".join(
        f"<item><title>{name}</title><link>{site.url}/articles/{name}</link></item>"
        for name in ("empty.html", "not-html.html", "does-not-exist.html")
    )
    (root / "rss.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    )
    yield site
    site.stop()
