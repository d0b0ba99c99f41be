"""The search page in real headless Chromium (Debian's, never a downloaded one) over `newsagg demo`.

`make test` installs Chromium with apt-get when it is missing (see the Makefile's `browser`
target); NEWSAGG_TEST_CHROMIUM points at another build. Screenshots go to
test-artifacts/browser/ and their paths are printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chromium_session import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from support.pipeline import Pipeline, indexed_pipeline, pipeline_env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, manifest: dict) -> Iterator[Pipeline]:
    """`newsagg demo` as a user starts it (demo sites, crawler, indexer and API), once for
    the module: the tests only read, and `keyed_api` starts an API of its own."""
    root = tmp_path_factory.mktemp("browser-demo")
    running = Pipeline(pipeline_env(root / "data"), root, commands=("demo",))
    with indexed_pipeline(running, manifest["article_count"]):
        yield running


# Module scope, not session: Playwright's sync API keeps an asyncio loop running while it is
# open, and later suites that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM.exists(), (
        f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium, or set "
        "NEWSAGG_TEST_CHROMIUM to a Chromium executable"
    )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context per test (no shared history, storage or cookies); script errors and
    missing assets fail it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The API's own 4xx answers are part of the tests; a missing page asset is not.
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/v1/" not in r.url
            else None
        ),
    )
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for path in SCREENSHOTS:
        terminalreporter.write_line(f"search page screenshot: {path}")
