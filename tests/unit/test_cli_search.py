"""`newsagg search`: the API's filters, from the store or through NEWSAGG_API_URL, printed with
whole URLs and a correct count."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from newsagg.api.app import create_app
from newsagg.api.service import server_config
from newsagg.core.adapters import open_store
from newsagg.core.article import Article
from newsagg.core.settings import Settings
from rich.console import Console
from support.servers import free_port, wait_until

from newsagg.cli.main import _parser
from newsagg.cli.search import SearchArgs, print_search

LONG_URL = "https://marquee.example/2026/09/06/" + "milind-soman-cycles-from-baroda-" * 4 + "end"


def story(url: str, title: str, day: int, author: str, language: str = "en") -> Article:
    return Article.create(
        url=url,
        source="marquee",
        title=title,
        text=f"{title}. Milind Soman kept cycling north, the crowd said.",
        authors=[author],
        language=language,
        published_at=datetime(2026, 9, day, 9, tzinfo=UTC),
        date_source="meta",
        crawled_at=datetime(2026, 10, 1, tzinfo=UTC),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings.resolved_store_url, writable=True)
    store.upsert(
        [
            story(LONG_URL, "Milind Soman cycles to Delhi", 6, "Priya Nair"),
            story("https://marquee.example/b", "Soman cycling, day two", 8, "Dev Mehta"),
            story("https://marquee.example/c", "Soman cycling, day three", 9, "Dev Mehta", "hi"),
        ]
    )
    store.close()
    return settings


@pytest.fixture
def api(settings: Settings) -> Iterator[str]:
    """The real API over the same index, on a free loopback port."""
    served = settings.model_copy(update={"api_host": "127.0.0.1", "api_port": free_port()})
    store = open_store(settings.resolved_store_url, writable=False)
    server = uvicorn.Server(server_config(served, create_app(served, store=store)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 20, "uvicorn to start")
    yield f"http://127.0.0.1:{served.api_port}"
    server.should_exit = True
    thread.join(timeout=20)
    store.close()


def printed(settings: Settings, args: SearchArgs) -> str:
    out = io.StringIO()
    print_search(settings, args, as_json=False, console=Console(file=out, width=40))
    return out.getvalue()


@pytest.fixture(params=["store", "api"])
def reader(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The same settings, searching the store itself or through the API."""
    if request.param == "store":
        return settings
    return settings.model_copy(update={"api_url": request.getfixturevalue("api")})


def test_a_url_is_printed_whole_on_a_narrow_terminal(reader: Settings):
    shown = printed(reader, SearchArgs(query="Delhi"))
    assert "1 article matches" in shown
    assert f"   {LONG_URL}\n" in shown


def test_the_filters_of_the_api(reader: Settings):
    shown = printed(reader, SearchArgs(query="Soman", authors=("Dev Mehta",), languages=("en",)))
    assert "1 article matches" in shown
    assert "day two" in shown
    dated = printed(
        reader, SearchArgs(query="Soman", published_from="2026-09-07", published_to="2026-09-08")
    )
    assert "1 article matches" in dated  # `to` as a date is the whole day
    assert "day two" in dated


def test_a_cursor_pages_on(reader: Settings):
    first = printed(reader, SearchArgs(sort="date", size=2))
    assert "3 articles match" in first
    cursor = first.rsplit("next page: --cursor ", 1)[1].split()[0]
    second = printed(reader, SearchArgs(sort="date", size=2, cursor=cursor))
    assert "Milind Soman cycles to Delhi" in second
    assert "next page" not in second


def test_the_command_line_takes_the_api_filters():
    line = "search Soman --from 2026-09-01 --to 2026-09-30 --author A --language en --sort date"
    args = _parser().parse_args([*line.split(), "--cursor", "abc", "--source", "s"])
    assert (args.published_from, args.published_to) == ("2026-09-01", "2026-09-30")
    assert (args.authors, args.languages, args.sources) == (["A"], ["en"], ["s"])
    assert (args.sort, args.cursor) == ("date", "abc")


def test_every_subcommand_has_a_description():
    parser = _parser()
    (commands,) = (a for a in parser._actions if a.dest == "command")
    missing = [name for name, sub in commands.choices.items() if not sub.description]
    assert missing == []
