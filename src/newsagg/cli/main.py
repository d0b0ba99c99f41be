"""The `newsagg` command: one entry point, a sub-command per service."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import socket
import sys
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from newsagg.core.logs import configure_logging
from newsagg.core.ports import DataCorrupted, IndexOutdated, StoreUnavailable
from newsagg.core.query import QuerySyntaxError
from newsagg.core.settings import Settings
from newsagg.core.sources import SourcesError, load_sources
from pydantic import ValidationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsagg", description="News aggregation: crawl, index and search news articles."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        """A sub-command with a one-line summary (in `newsagg -h`) and its own description."""
        return commands.add_parser(name, help=summary, description=description)

    crawl = command(
        "crawl",
        "crawl the sources in NEWSAGG_SOURCES",
        "Read the feeds and sitemaps of every source in NEWSAGG_SOURCES, fetch and extract "
        "new or changed articles and publish them to the bus. Polls each source on its "
        "interval until Ctrl-C, or makes one pass with --once / --since.",
    )
    crawl.add_argument("--once", action="store_true", help="one pass over every source, then exit")
    crawl.add_argument(
        "--since",
        type=_iso_moment,
        metavar="DATE",
        help="backfill: one pass fetching articles listed on/after DATE (YYYY-MM-DD), then exit",
    )
    command(
        "index",
        "index articles from the bus into the search store",
        "Consume articles from the bus, validate them, write them to the search store and "
        "only then commit; invalid ones go to the dead-letter topic. Runs until Ctrl-C.",
    )
    command(
        "alerts",
        "match new articles against saved searches and deliver the alerts",
        "Consume articles from the bus once the store holds them, match them against every "
        "saved search, record the matches and only then commit; deliver each search's new "
        "matches by signed webhook and email (with retries and backoff), test deliveries and "
        "spike alerts. Runs until Ctrl-C.",
    )
    reindex = command(
        "reindex",
        "Elasticsearch: copy into a new versioned index, swap aliases",
        "Elasticsearch only: create the next articles-vN index, copy every document into "
        "it, then move the read and write aliases, with no downtime.",
    )
    reindex.add_argument("--batch-size", type=int, default=500, help="documents per bulk request")
    reindex.add_argument("--max-docs-per-second", type=float, help="throttle (default: none)")
    api = command(
        "api",
        "serve the search API",
        "Serve the search API and the search page (FastAPI under uvicorn).",
    )
    api.add_argument("--host", help="default: NEWSAGG_API_HOST (127.0.0.1)")
    api.add_argument("--port", type=int, help="default: NEWSAGG_API_PORT (8000)")
    command(
        "up",
        "run crawler, indexer, alerts worker and API together (Ctrl-C stops all)",
        "Run the crawler, indexer, alerts worker and API as child processes, restart one "
        "that crashes, and print the addresses once the API is ready. A taken port stops it "
        "before anything starts, naming the variable to set. Ctrl-C stops them all.",
    )
    demo = command(
        "demo",
        "serve the bundled demo news sites and run `up` on them",
        "Serve two fictional demo news sites on localhost and run crawler, indexer and API "
        "on them. Everything the demo writes stays in <NEWSAGG_DATA_DIR>/demo/; a default "
        "port that is taken is replaced by a free one (shown in the banner).",
    )
    demo.add_argument(
        "--site-port",
        type=int,
        default=0,
        help="port of the first demo site, the next outlet's is the one after (default: any free)",
    )
    extract = command(
        "extract",
        "extract articles from saved pages (.html, .html.gz) as JSON lines",
        "Run the crawler's extraction on saved pages and print one Article as JSON per "
        "line. The address is --url, else the page's canonical link; a page with neither "
        "gets https://unknown.invalid/page/<sha256 of the page> (.invalid never resolves, "
        "so nothing fetches it) and the source 'unknown'.",
    )
    extract.add_argument("files", nargs="+", type=Path, metavar="FILE")
    extract.add_argument(
        "--url", help="the pages' address (default: the page's canonical link, else unknown)"
    )
    extract.add_argument("--source", help="source name (default: the address's host)")
    search = command(
        "search",
        "search the index and print the results",
        "Search with the API's query grammar and filters and print the hits. Asks the API "
        "at NEWSAGG_API_URL when it is set, else opens the store (NEWSAGG_STORE_URL).",
    )
    search.add_argument(
        "query", nargs="?", help='e.g. "Milind Soman cycling" (default: every article)'
    )
    search.add_argument(
        "--source",
        action="append",
        default=[],
        dest="sources",
        metavar="NAME",
        help="only this source",
    )
    search.add_argument(
        "--author",
        action="append",
        default=[],
        dest="authors",
        metavar="NAME",
        help="only this author",
    )
    search.add_argument(
        "--language", action="append", default=[], dest="languages", metavar="CODE", help="e.g. en"
    )
    search.add_argument(
        "--from", dest="published_from", metavar="DATE", help="published on or after"
    )
    search.add_argument(
        "--to", dest="published_to", metavar="DATE", help="published on or before (a date: all day)"
    )
    search.add_argument("--sort", choices=["relevance", "date"], default="relevance")
    search.add_argument("--size", type=int, default=10, help="hits per page, 1-100")
    search.add_argument("--cursor", help="the `next page` cursor a previous search printed")
    search.add_argument("--json", action="store_true", help="print the result page as JSON")
    command(
        "api-key",
        "print a new random API key and its hash",
        "Print a new random API key (for the consumer) and its sha256 hash (for NEWSAGG_API_KEYS).",
    )
    status = command(
        "status",
        "health per source, indexer lag and dead letters (works with the services down)",
        "Show what the monitoring dashboard shows, from the crawl state, the store and the "
        "bus: per source its last successful poll, the errors of its last pass and its "
        "articles today (UTC); the indexer group's lag per partition and the dead letters. "
        "Exits with 1, naming why, when a source had no successful poll for more than twice "
        "its interval, or the bus, store, crawl state or sources file cannot be read.",
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    replay = command(
        "replay",
        "re-index from the log (stop the indexers first)",
        "Move the indexer group back on the log, to the beginning or to a date; the next "
        "`newsagg index` re-indexes from there. Refuses while an indexer runs. Articles "
        "removed with `newsagg purge` come back if their messages are replayed.",
    )
    start = replay.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-beginning", action="store_true", help="from the start of the log")
    start.add_argument(
        "--since",
        type=_iso_moment,
        metavar="DATE",
        help="from this ISO date or datetime (UTC by default)",
    )
    replay.add_argument(
        "--re-enrich",
        action="store_true",
        help="with --from-beginning: enrich every article again (near-duplicates, stories, "
        "people), as after a change of thresholds; articles of an older enrichment version "
        "are enriched again without it",
    )
    command(
        "check",
        "check the bus, index, crawl state and saved searches for damage",
        "Open the bus, the index, the crawl state and the saved searches and report any "
        "damage, with the repair command for it (docs/runbook.md).",
    )
    repair = command(
        "repair",
        "rebuild damaged data (stop the services first; see docs/runbook.md)",
        "Move damaged data aside and rebuild it: the index from the bus, the crawl state "
        "from the index, the bus from what is readable. Stop the services first.",
    )
    repair.add_argument(
        "--index", action="store_true", help="move the index aside, re-index the bus log"
    )
    repair.add_argument(
        "--crawl-state", action="store_true", help="move it aside, rebuild it from the index"
    )
    repair.add_argument(
        "--bus",
        action="store_true",
        help="move the log aside, copy what is readable into a new one",
    )
    repair.add_argument(
        "--alerts",
        action="store_true",
        help="move the saved-search file aside, copy what is readable into a new one",
    )
    purge = command(
        "purge",
        "remove one source's articles from the index and the crawl state",
        "Delete every article of a source from the search store and forget them in the "
        "crawl state, so a later crawl of the source fetches them again. The bus keeps "
        "their messages: a replay of the log from before the purge indexes them again "
        "(purge once more after it). Stop the indexer first on the embedded index.",
    )
    purge.add_argument("--source", required=True, metavar="NAME", help="the source's name")
    return parser


def _iso_moment(value: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (UTC unless it carries an offset)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r} (e.g. 2026-09-01)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        if args.command == "api":
            settings = settings.model_copy(
                update={
                    k: v for k, v in {"api_host": args.host, "api_port": args.port}.items() if v
                }
            )
        return _run(args, settings)
    except (SourcesError, QuerySyntaxError, StoreUnavailable, ValidationError, ValueError) as exc:
        print(f"newsagg {args.command}: {exc}", file=sys.stderr)
        return 2
    except DataCorrupted as exc:
        from newsagg.cli.supervisor import DATA_CORRUPTED

        print(f"newsagg {args.command}: {exc}", file=sys.stderr)
        return DATA_CORRUPTED
    except IndexOutdated as exc:
        from newsagg.cli.supervisor import INDEX_OUTDATED

        print(f"newsagg {args.command}: {exc}", file=sys.stderr)
        return INDEX_OUTDATED


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "api-key":
        from newsagg.cli.api_keys import run_api_key

        return run_api_key()
    if args.command == "extract":
        from newsagg.cli.extract import run_extract

        return run_extract(args.files, args.url, args.source)
    if args.command == "crawl":
        from newsagg.crawler.runner import UnreadableSources, crawl

        try:
            crawl(settings, once=args.once, since=args.since)
        except UnreadableSources as exc:
            print(f"newsagg crawl: {exc}", file=sys.stderr)
            return 1
    elif args.command == "index":
        from newsagg.indexer.service import run_indexer

        run_indexer(settings)
    elif args.command == "alerts":
        from newsagg.alerts.service import run_alerts

        run_alerts(settings)
    elif args.command == "reindex":
        from newsagg.cli.reindex import run_reindex

        return run_reindex(settings, args.batch_size, args.max_docs_per_second)
    elif args.command == "api":
        from newsagg.api.service import run_api

        run_api(settings)
    elif args.command == "up":
        return _up(settings, dict(os.environ))
    elif args.command == "demo":
        return _demo(settings, args.site_port)
    elif args.command == "search":
        from newsagg.cli.search import SearchArgs, print_search

        search = SearchArgs(
            query=args.query,
            sources=tuple(args.sources),
            authors=tuple(args.authors),
            languages=tuple(args.languages),
            published_from=args.published_from,
            published_to=args.published_to,
            sort=args.sort,
            size=args.size,
            cursor=args.cursor,
        )
        print_search(settings, search, as_json=args.json)
    elif args.command == "status":
        from newsagg.cli.status import print_status

        return print_status(settings, as_json_output=args.json)
    elif args.command == "replay":
        from newsagg.cli.bus_admin import replay

        return replay(settings, None if args.from_beginning else args.since, args.re_enrich)
    elif args.command == "check":
        from newsagg.cli.repair import run_check

        return run_check(settings)
    elif args.command == "purge":
        from newsagg.cli.purge import run_purge

        return run_purge(settings, args.source)
    elif args.command == "repair":
        from newsagg.cli.repair import run_repair

        if not (args.index or args.crawl_state or args.bus or args.alerts):
            raise ValueError("name what to repair: --index, --crawl-state, --bus and/or --alerts")
        return run_repair(
            settings,
            index=args.index,
            crawl_state=args.crawl_state,
            bus=args.bus,
            alerts=args.alerts,
        )
    return 0


SERVICE_PORTS = (
    ("api_port", "NEWSAGG_API_PORT", "the API"),
    ("crawler_metrics_port", "NEWSAGG_CRAWLER_METRICS_PORT", "the crawler's metrics"),
    ("indexer_metrics_port", "NEWSAGG_INDEXER_METRICS_PORT", "the indexer's metrics"),
    ("alerts_metrics_port", "NEWSAGG_ALERTS_METRICS_PORT", "the alerts worker's metrics"),
)
ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def reachable_host(host: str) -> str:
    """An address to print for a service bound to `host`: loopback for "every address"."""
    if host in ANY_ADDRESS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _port_is_free(host: str, port: int, host_variable: str) -> bool:
    """False when another program holds the port; a host this machine cannot listen on
    (a typo, another machine's address) is a ValueError naming its variable."""
    with socket.socket(_family(host)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise ValueError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                f"set {host_variable} to an address of this machine"
            ) from exc
    return True


def _free_port(host: str) -> int:
    with socket.socket(_family(host)) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _claim_ports(
    settings: Settings, env: dict[str, str], *, choose_free: bool
) -> tuple[Settings, dict[str, str]]:
    """Check the API and metrics ports before any service starts, so a port another program
    holds is one clear error naming the variable to set, not a service that crashes and is
    restarted forever. With `choose_free` (the demo), a taken port the user did not choose
    is swapped for a free one; a port the user set is never changed behind their back."""
    chosen: dict[str, int] = {}
    for field, variable, what in SERVICE_PORTS:
        port = getattr(settings, field)
        host = settings.api_host if field == "api_port" else settings.metrics_host
        host_variable = "NEWSAGG_API_HOST" if field == "api_port" else "NEWSAGG_METRICS_HOST"
        if port == 0 or _port_is_free(host, port, host_variable):
            continue
        if choose_free and variable not in env:
            chosen[field] = _free_port(host)
            env = {**env, variable: str(chosen[field])}
            continue
        raise ValueError(
            f"port {port} for {what} on {host} is taken by another program; "
            f"stop it or set {variable} to a free port (0 turns metrics off)"
        )
    return settings.model_copy(update=chosen), env


def _banner(settings: Settings, articles: int, example_query: str | None) -> str:
    """What `up` and `demo` print once the API answers: every address a user may want."""
    api = f"http://{settings.api_host}:{settings.api_port}"
    query = f"?q={example_query.replace(' ', '+')}" if example_query else ""

    def metrics(port: int, variable: str) -> str:
        host = reachable_host(settings.metrics_host)
        return f"http://{host}:{port}/metrics" if port else f"off ({variable}=0)"

    noun = "article" if articles == 1 else "articles"
    return (
        f"\nnewsagg is up: {articles} {noun} indexed so far.\n"
        f"  Search page: {api}/{query}\n"
        f"  Search API:  {api}/v1/search{query}\n"
        f"  API docs:    {api}/docs\n"
        f"  Metrics:     api {api}/metrics\n"
        f"               crawler {metrics(settings.crawler_metrics_port, SERVICE_PORTS[1][1])}\n"
        f"               indexer {metrics(settings.indexer_metrics_port, SERVICE_PORTS[2][1])}\n"
        f"               alerts  {metrics(settings.alerts_metrics_port, SERVICE_PORTS[3][1])}\n"
        "  Ctrl-C stops everything.\n"
    )


def _up(
    settings: Settings,
    env: dict[str, str],
    *,
    choose_free_ports: bool = False,
    example_query: str | None = None,
    wait_for_articles: bool = False,
) -> int:
    """The services under the supervisor; the banner once the API is ready (for the
    demo: once it holds articles, so the example search finds something)."""
    from newsagg.cli.supervisor import Supervisor

    configure_logging(settings.log_level, settings.log_format, "up")
    load_sources(Path(env.get("NEWSAGG_SOURCES", settings.sources)))  # fail now, not in a child
    settings, env = _claim_ports(settings, env, choose_free=choose_free_ports)
    api = f"http://{settings.api_host}:{settings.api_port}"
    announced = False

    def announce_when_ready() -> None:
        nonlocal announced
        if announced:
            return
        try:
            with urllib.request.urlopen(f"{api}/readyz", timeout=1) as response:
                articles = json.load(response).get("articles") or 0
        except (OSError, ValueError):
            return
        if articles or not wait_for_articles:
            announced = True
            print(_banner(settings, articles, example_query), flush=True)

    return Supervisor(env).run(on_tick=announce_when_ready)


DEMO_DIR = "demo"
"""The demo's own directory under NEWSAGG_DATA_DIR: its bus, index, crawl state, sources and
site ports stay apart from the user's, so a later `newsagg up` on their own sources starts
clean."""


def _demo(settings: Settings, site_port: int) -> int:
    from newsagg.cli.demo_site import DemoSites

    demo_dir = settings.data_dir / DEMO_DIR
    sites = DemoSites.kept_in(demo_dir, site_port).start()
    try:
        sources = demo_dir / "demo-sources.yaml"
        sources.write_text(sites.sources_yaml(), encoding="utf-8")
        for site in sites.sites:
            logging.getLogger("newsagg.demo").warning(
                "demo news site %s on %s", site.outlet.name, site.url
            )
            print(f"Demo news site: {site.outlet.name} at {site.url}/", flush=True)
        print(f"Demo data: {demo_dir} (sources: {sources})", flush=True)
        env = {**os.environ, "NEWSAGG_SOURCES": str(sources), "NEWSAGG_DATA_DIR": str(demo_dir)}
        demo = settings.model_copy(update={"data_dir": demo_dir, "sources": sources})
        return _up(
            demo,
            env,
            choose_free_ports=True,
            example_query="Milind Soman cycling",
            wait_for_articles=True,
        )
    finally:
        sites.stop()


if __name__ == "__main__":
    sys.exit(main())
