from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsagg.cli.demo_site import MANIFEST_PATH, SITE_DIR, DemoSite, DemoSites

# real Kafka and Elasticsearch, started on first use by the tests that ask for them
pytest_plugins = ["support.kafka_broker", "support.elasticsearch_node", "pytester"]

MANIFEST = json.loads(MANIFEST_PATH.read_text())
JVM_FIXTURES = frozenset({"kafka_url", "private_kafka", "elasticsearch_node", "elasticsearch_url"})
"""Fixtures that start a JVM (Kafka or Elasticsearch from deploy/local): their tests are `jvm`."""
BROWSER_DIR = Path(__file__).parent / "browser"
SLOW_TESTS = ("e2e/*", "integration/test_crawl*.py", "api/test_schemathesis.py")
"""`slow` by where they are, besides every `e2e` test (services as separate processes,
fault runs) and every test of the crawler's test site (`site` in tests/integration): real
`newsagg crawl` processes (seconds each) and the API fuzzing. Minutes in all, so the quick
loop, `-m "not jvm and not browser and not slow"`, leaves them to `make test`."""
_running: list[pytest.Item] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark by what a test uses or where it is, so a new Kafka, browser, pipeline or crawl
    test cannot forget its marker.

    Fixtures fetched at run time (`request.getfixturevalue`) are not in the closure: their
    parameters carry the mark instead, and `pytest_fixture_setup` below refuses to start a
    JVM for an unmarked test."""
    for item in items:
        if JVM_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.jvm)
        if item.path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)
        crawls = "site" in getattr(item, "fixturenames", ()) and item.path.match("integration/*")
        if crawls or item.get_closest_marker("e2e") or any(map(item.path.match, SLOW_TESTS)):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> None:
    """`-m "not jvm"` must never start a JVM: a test that reaches one unmarked fails here."""
    if fixturedef.argname in JVM_FIXTURES and _running:
        item = _running[-1]
        if item.get_closest_marker("jvm") is None:
            pytest.fail(
                f"{item.nodeid} starts {fixturedef.argname} but is not marked jvm: give the "
                "parameter that fetches it pytest.param(..., marks=pytest.mark.jvm)",
                pytrace=False,
            )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSites]:
    """Both demo outlets, each on its own port; `.url` is Marquee Daily's."""
    sites = DemoSites().start()
    yield sites
    sites.stop()


@pytest.fixture(scope="session")
def manifest() -> dict:
    return MANIFEST


@pytest.fixture(scope="module")
def bad_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """Another site whose feed lists an empty page, a non-HTML page and a missing one
    (copies of Marquee Daily's, on the feed's own origin as `allow_private` requires);
    module-scoped, as the pipeline that crawls it is."""
    root = tmp_path_factory.mktemp("bad-site")
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
