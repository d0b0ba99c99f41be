"""The `newsagg` command: one entry point, a sub-command per service."""

from __future__ import annotations

import argparse
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
from newsagg.core.ports import DataCorrupted, StoreUnavailable
from newsagg.core.query import QuerySyntaxError
from newsagg.core.settings import Settings
from newsagg.core.sources import SourcesError, load_sources
from pydantic import ValidationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsagg", description="News aggregation: crawl, index and search news articles."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    crawl = commands.add_parser("crawl", help="crawl the sources in NEWSAGG_SOURCES")
    crawl.add_argument("--once", action="store_true", help="one pass over every source, then exit")
    crawl.add_argument(
        "--since",
        type=_iso_moment,
        metavar="DATE",
        help="backfill: one pass fetching articles listed on/after DATE (YYYY-MM-DD), then exit",
    )
    commands.add_parser("index", help="index articles from the bus into the search store")
    reindex = commands.add_parser(
        "reindex", help="Elasticsearch: copy into a new versioned index, swap aliases"
    )
    reindex.add_argument("--batch-size", type=int, default=500, help="documents per bulk request")
    reindex.add_argument("--max-docs-per-second", type=float, help="throttle (default: none)")
    api = commands.add_parser("api", help="serve the search API")
    api.add_argument("--host", help="default: NEWSAGG_API_HOST (127.0.0.1)")
    api.add_argument("--port", type=int, help="default: NEWSAGG_API_PORT (8000)")
    commands.add_parser("up", help="run crawler, indexer and API together (Ctrl-C stops all)")
    demo = commands.add_parser("demo", help="serve the bundled demo news site and run `up` on it")
    demo.add_argument(
        "--site-port",
        type=int,
        default=0,
        help="port of the first demo site, the next outlet's is the one after (default: any free)",
    )
    extract = commands.add_parser(
        "extract", help="extract articles from saved pages (.html, .html.gz) as JSON lines"
    )
    extract.add_argument("files", nargs="+", type=Path, metavar="FILE")
    extract.add_argument("--url", help="the pages' address (default: the page's canonical link)")
    extract.add_argument("--source", help="source name (default: the address's host)")
    search = commands.add_parser("search", help="search the index and print the results")
    search.add_argument("query", help='e.g. "Milind Soman cycling"')
    search.add_argument("--source", action="append", default=[], help="only this source")
    search.add_argument("--sort", choices=["relevance", "date"], default="relevance")
    search.add_argument("--size", type=int, default=10)
    search.add_argument("--json", action="store_true", help="print the result page as JSON")
    commands.add_parser("api-key", help="print a new random API key and its hash")
    status = commands.add_parser("status", help="indexer lag per partition and dead letters")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    replay = commands.add_parser("replay", help="re-index from the log (stop the indexers first)")
    start = replay.add_mutually_exclusive_group(required=True)
    start.add_argument("--from-beginning", action="store_true", help="from the start of the log")
    start.add_argument(
        "--since",
        type=_iso_moment,
        metavar="DATE",
        help="from this ISO date or datetime (UTC by default)",
    )
    commands.add_parser("check", help="check the bus, index and crawl state for damage")
    repair = commands.add_parser(
        "repair", help="rebuild damaged data (stop the services first; see docs/runbook.md)"
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
        from newsagg.cli.search import print_search

        print_search(settings, args.query, args.source, args.sort, args.size, as_json=args.json)
    elif args.command == "status":
        from newsagg.cli.bus_admin import print_status

        return print_status(settings, as_json=args.json)
    elif args.command == "replay":
        from newsagg.cli.bus_admin import replay

        return replay(settings, None if args.from_beginning else args.since)
    elif args.command == "check":
        from newsagg.cli.repair import run_check

        return run_check(settings)
    elif args.command == "repair":
        from newsagg.cli.repair import run_repair

        if not (args.index or args.crawl_state or args.bus):
            raise ValueError("name what to repair: --index, --crawl-state and/or --bus")
        return run_repair(settings, index=args.index, crawl_state=args.crawl_state, bus=args.bus)
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ValueError(
                f"cannot serve the API on {host}:{port} ({exc.strerror}); "
                "stop what uses it or set NEWSAGG_API_PORT"
            ) from exc


def _up(settings: Settings, env: dict[str, str], announce: bool = False) -> int:
    from newsagg.cli.supervisor import Supervisor

    configure_logging(settings.log_level, settings.log_format, "up")
    load_sources(Path(env.get("NEWSAGG_SOURCES", settings.sources)))  # fail now, not in a child
    _check_port_free(settings.api_host, settings.api_port)
    api = f"http://{settings.api_host}:{settings.api_port}"
    announced = False

    def announce_when_ready() -> None:
        nonlocal announced
        if announced or not announce:
            return
        try:
            with urllib.request.urlopen(f"{api}/readyz", timeout=1) as response:
                articles = json.load(response).get("articles") or 0
        except OSError:
            return
        if articles:
            announced = True
            print(
                f"\nnewsagg is up: {articles} articles indexed so far.\n"
                f"  Search page: {api}/?q=Milind+Soman+cycling\n"
                f"  Search API:  {api}/v1/search?q=Milind+Soman+cycling\n"
                f"  API docs:    {api}/docs\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )

    return Supervisor(env).run(on_tick=announce_when_ready)


def _demo(settings: Settings, site_port: int) -> int:
    from newsagg.cli.demo_site import DemoSites

    sites = DemoSites.kept_in(settings.data_dir, site_port).start()
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        sources = settings.data_dir / "demo-sources.yaml"
        sources.write_text(sites.sources_yaml(), encoding="utf-8")
        for site in sites.sites:
            logging.getLogger("newsagg.demo").warning(
                "demo news site %s on %s", site.outlet.name, site.url
            )
            print(f"Demo news site: {site.outlet.name} at {site.url}/", flush=True)
        print(f"Demo sources: {sources}", flush=True)
        return _up(settings, {**os.environ, "NEWSAGG_SOURCES": str(sources)}, announce=True)
    finally:
        sites.stop()


if __name__ == "__main__":
    sys.exit(main())
