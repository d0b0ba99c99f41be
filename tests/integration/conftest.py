"""What the integration suites share: the crawler's test site, one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.crawler_site import CrawlerSite


@pytest.fixture(scope="module")
def site() -> Iterator[CrawlerSite]:
    """The crawler's test site on a free loopback port; its request log is the module's."""
    running = CrawlerSite().start()
    yield running
    running.stop()
