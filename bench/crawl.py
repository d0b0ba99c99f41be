"""Crawl throughput end to end (issue 16, targets 2 and 6), all in one run on one site.

.venv/bin/python bench/crawl.py [--quick] [--pages N] [--newsplease-pages M] [--no-profile]

A local site (bench/crawl_site.py: the 121 real benchmark pages copied under distinct
URLs, 8 sources with feeds and news sitemaps, Debian's nginx on loopback) is crawled by:

- newsagg: `newsagg crawl --once` in a temporary data dir (embedded bus), its default
  politeness (--host-concurrency sets NEWSAGG_CRAWL_HOST_CONCURRENCY, a documented
  setting; 2 and 8 gave the same pages/s on 400 pages here: the crawl is CPU-bound).
  pages/s is published articles over the wall time of the whole command, start included;
  CPU seconds and peak RSS over its whole process tree (extraction workers too). Its
  start-up (to the first article on the bus), steady rate (first to last article) and
  tail (last article to exit) come from the bus's publish times. The full run's py-spy
  profile is of a second crawl of the site after the timed ones: py-spy pauses every
  process it samples, a cost the unprofiled ceiling would not pay.
- the extraction ceiling: plain `trafilatura.extract` (defaults) over the same files read
  from disk by a process pool on every core; pages/s over the extraction map, after one
  warm-up page per worker.
- news-please 1.6.16, installed into .cache/bench/news-please (outside the timing), with
  its RssCrawler from each source's homepage over a site built the same way with fewer
  pages (--newsplease-pages, 200 by default: its run takes minutes), its article
  heuristics off and newspaper as its extractor (its readability extractor fails on every
  page with the readability-lxml it installs today), kept on loopback (newspaper's image
  fetches go to a closed local proxy port); its body F1 against the benchmark's ground
  truth with bench/extraction_score.py, a page it did not store scoring 0.

Before timing, the bytecode of what each tool imports is written (this machine sets
PYTHONDONTWRITEBYTECODE; a user's first run would have written it), and with it newsagg's
language model is unpacked into the user's cache (importing the workers' preload does it,
as a first crawl would).
Ratios are of pages/s measured in this run; CPU ms per page is the steadier figure on a
shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from _measure import Measured, run_measured
from _report import profile_path, report, results_dir, target
from crawl_site import Site, build_site, originals, serve
from extraction_score import score
from newsagg.core.cores import available_cores

ROOT = Path(__file__).resolve().parents[1]
NEWSAGG = ROOT / ".venv" / "bin" / "newsagg"
NEWSPLEASE_VERSION = "1.6.16"
NEWSPLEASE_VENV = ROOT / ".cache" / "bench" / "news-please"
_PASS_LINE = re.compile(r"pass finished: [^:]+: \d+ listed, (\d+) new")


_PRECOMPILE = """
import compileall, importlib, sys, sysconfig
from pathlib import Path
for name in sys.argv[1:]:
    importlib.import_module(name)
stdlib = Path(sysconfig.get_paths()["stdlib"])
folders = {
    Path(module.__file__).parent
    for module in list(sys.modules.values())
    if getattr(module, "__file__", None) and stdlib not in Path(module.__file__).parents
}
for folder in sorted(folders):
    compileall.compile_dir(folder, maxlevels=0, quiet=2)
"""


def precompile(python: Path, modules: list[str]) -> None:
    """Write the bytecode of every package the tool imports, untimed, as a user's first
    run would have: this machine sets PYTHONDONTWRITEBYTECODE, so without it each
    measured start compiles its imports from source (seconds of CPU)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([str(python), "-c", _PRECOMPILE, *modules], env=env, check=True)


NEWSAGG_MODULES = [
    "newsagg.cli.main",
    "newsagg.crawler.runner",
    "newsagg.crawler.pipelines",
    "newsagg.crawler.worker_preload",
    "newsagg.core.adapters.sqlite_bus",
    "scrapy.core.engine",
    "scrapy.core.downloader.handlers.http11",
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.spidermiddlewares.depth",
    "scrapy.extensions.throttle",
    "scrapy.robotstxt",
]
"""One module per folder a crawl loads from (precompile covers each folder)."""
NEWSPLEASE_MODULES = [
    "newsplease.__main__",
    "newsplease.single_crawler",
    "newsplease.pipeline.pipelines",
    "newsplease.pipeline.extractor.article_extractor",
    "newsplease.crawler.spiders.rss_crawler",
    "scrapy.core.engine",
    "scrapy.core.downloader.handlers.http11",
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.spidermiddlewares.depth",
    "scrapy.extensions.throttle",
]


def run_newsagg(
    site: Site, work: Path, host_concurrency: int | None, profile: Path | None
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    precompile(NEWSAGG.parent / "python", NEWSAGG_MODULES)
    (work / "sources.yaml").write_text(site.sources_yaml())
    log = work / "newsagg.log"
    env = {
        **os.environ,
        "NEWSAGG_DATA_DIR": str(work / "data"),
        "NEWSAGG_SOURCES": str(work / "sources.yaml"),
    }
    if host_concurrency is not None:
        env["NEWSAGG_CRAWL_HOST_CONCURRENCY"] = str(host_concurrency)
    started = time.time()
    with log.open("wb") as stderr:  # the published count is read from the crawl's log
        measured = run_measured(
            [str(NEWSAGG), "crawl", "--once"], env=env, timeout=900, profile=profile, stderr=stderr
        )
    text = log.read_text(errors="replace")
    if measured.returncode != 0:
        raise RuntimeError(f"newsagg crawl failed ({measured.returncode}):\n{text[-3000:]}")
    published = sum(int(n) for n in _PASS_LINE.findall(text))
    return {
        **_row("newsagg crawl --once", published, measured),
        **_phases(work / "data" / "bus.sqlite", started, started + measured.wall_s),
    }


def _phases(bus: Path, started: float, ended: float) -> dict[str, float]:
    """Where the crawl's wall time went, from the bus's own publish times: start-up (the
    command's start to the first article on the bus), the steady rate between the first
    and the last article, and the tail (the last article to the command's exit)."""
    with closing(sqlite3.connect(f"file:{bus}?mode=ro", uri=True)) as conn:
        first, last, count = conn.execute(
            "SELECT MIN(ts), MAX(ts), COUNT(*) FROM messages"
        ).fetchone()
    if not count:
        return {}
    return {
        "first_article_s": round(first - started, 2),
        "steady_pages_per_s": round((count - 1) / (last - first), 2) if last > first else 0.0,
        "tail_s": round(ended - last, 2),
    }


def _row(tool: str, pages: int, measured: Measured, note: str = "") -> dict[str, Any]:
    return {
        "tool": tool,
        "pages": pages,
        "wall_s": round(measured.wall_s, 2),
        "pages_per_s": round(pages / measured.wall_s, 2) if measured.wall_s else 0.0,
        "cpu_ms_per_page": round(1000 * measured.cpu_s / pages, 1) if pages else 0.0,
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "note": note,
    }


def _plain_extract(path: str) -> int:
    import trafilatura

    return len(trafilatura.extract(Path(path).read_bytes()) or "")


def _warm() -> None:
    import trafilatura

    trafilatura.extract("<html><body><p>" + "warm up the extractor. " * 20 + "</p></body></html>")


def run_ceiling(site: Site, workers: int) -> dict[str, Any]:
    """Plain trafilatura on every core over the site's files: the crawl's upper bound."""
    paths = [str(page.path) for page in site.pages]
    with ProcessPoolExecutor(workers, initializer=_warm) as pool:
        list(pool.map(_plain_extract, paths[:workers], chunksize=1))  # every worker started
        children = psutil.Process().children(recursive=True)
        before = sum(sum(c.cpu_times()[:2]) for c in children)
        started = time.monotonic()
        list(pool.map(_plain_extract, paths, chunksize=4))
        wall = time.monotonic() - started
        cpu = sum(sum(c.cpu_times()[:2]) for c in children) - before
        rss = sum(c.memory_info().rss for c in children) / 2**20
    return _row(
        f"trafilatura.extract x{workers} processes",
        len(paths),
        Measured(wall, cpu, rss, 0),
        "files read from disk; no fetching",
    )


def ensure_newsplease() -> Path:
    """news-please in its own venv (its dependencies clash with ours), pinned."""
    python = NEWSPLEASE_VENV / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('news-please'))"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.stdout.strip() == NEWSPLEASE_VERSION:
            return NEWSPLEASE_VENV / "bin" / "news-please"
    uv = shutil.which("uv") or str(ROOT / ".cache" / "uv" / "bin" / "uv")
    print(f"installing news-please=={NEWSPLEASE_VERSION} into {NEWSPLEASE_VENV} (not timed)")
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(NEWSPLEASE_VENV)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", f"news-please=={NEWSPLEASE_VERSION}"],
        env={**os.environ, "VIRTUAL_ENV": str(NEWSPLEASE_VENV)},
        check=True,
    )
    return NEWSPLEASE_VENV / "bin" / "news-please"


def newsplease_config(site: Site, work: Path) -> Path:
    """Its default config, storing JSON only, RssCrawler on each source's homepage, its
    article heuristics off (every feed item on this site is an article)."""
    default = NEWSPLEASE_VENV.glob("lib/python*/site-packages/newsplease/config/config.cfg")
    cfg = next(default).read_text()
    cfg = cfg.replace("working_path = ~/news-please-repo/", f"working_path = {work}/")
    cfg = re.sub(
        r"ITEM_PIPELINES = \{[^}]*\}",
        "ITEM_PIPELINES = {'newsplease.pipeline.pipelines.ArticleMasterExtractor':100,\n"
        "                  'newsplease.pipeline.pipelines.JsonFileStorage':300\n"
        "                  }",
        cfg,
    )
    cfg = cfg.replace("LOG_LEVEL = INFO", "LOG_LEVEL = ERROR")
    # its readability extractor fails on every page with the readability-lxml it installs
    # today (a str pattern on bytes), and the failure drops the article: newspaper only
    cfg = cfg.replace(
        "extractors = ['newspaper_extractor', 'readability_extractor',",
        "extractors = ['newspaper_extractor',",
    )
    config = work / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.cfg").write_text(cfg)
    sites = [
        {
            "url": home,
            "crawler": "RssCrawler",
            "overwrite_heuristics": {
                "og_type": False,
                "linked_headlines": False,
                "self_linked_headlines": False,
                "crawler_contains_only_article_alikes": True,
            },
            "pass_heuristics_condition": "crawler_contains_only_article_alikes",
        }
        for home in site.sources.values()
    ]
    (config / "sitelist.hjson").write_text(json.dumps({"base_urls": sites}, indent=1))
    return config


def _loopback_only(site: Site) -> dict[str, str]:
    """Proxy settings that keep a tool on loopback: newspaper (inside news-please) fetches
    the pages' images from their publishers' hosts to pick a top image; through a proxy
    on a closed loopback port those fetches fail at once, and the site's hosts bypass it."""
    hosts = ",".join(sorted({urlsplit(home).hostname or "" for home in site.sources.values()}))
    closed = "http://127.0.0.1:9"
    return {
        **{name: closed for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
        "NO_PROXY": hosts,
        "no_proxy": hosts,
    }


def run_newsplease(site: Site, work: Path) -> dict[str, Any]:
    command = ensure_newsplease()
    work.mkdir(parents=True, exist_ok=True)
    config = newsplease_config(site, work)
    precompile(command.parent / "python", NEWSPLEASE_MODULES)
    log = work / "news-please.log"
    with log.open("wb") as output:  # its warnings (one per image it may not fetch) go here
        measured = run_measured(
            [str(command), "-c", str(config), "-no-confirm"],
            env={**os.environ, "HOME": str(work), **_loopback_only(site)},
            cwd=work,
            timeout=900,
            stdout=output,
            stderr=output,
        )
    outputs = list((work / "data").rglob("*.json"))
    if not outputs:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"news-please stored no article (exit {measured.returncode}):\n{tail}")
    expected = {original.key: original.body for original in originals()}
    texts: dict[str, str] = {}
    for stored in outputs:
        item = json.loads(stored.read_text())
        texts[item.get("url", "")] = item.get("maintext") or ""
    # a page it did not store (its extractor failed on it) scores as an empty extraction
    f1 = score((texts.get(page.url, ""), expected[page.key]) for page in site.pages).f1
    stored_pages = sum(page.url in texts for page in site.pages)
    row = _row(
        f"news-please {NEWSPLEASE_VERSION}",
        stored_pages,
        measured,
        f"its own site of {len(site.pages)} pages, {stored_pages} stored; body F1 {f1:.3f}"
        " over all of them (a page not stored scores 0)",
    )
    return {**row, "body_f1": round(f1, 4)}


def versus(
    ours: dict[str, Any],
    other: dict[str, Any],
    pages: tuple[str, str, int],
    cpu: str,
) -> list[dict[str, Any]]:
    """The two comparisons with another tool of one run: pages/s against a goal (`pages`:
    whom, goal, digits of the ratio) and CPU ms per page, reported (`cpu`: whom), the
    steadier figure on a shared machine."""
    name, goal, digits = pages
    return [
        target(
            f"crawl pages/s vs {name}",
            round(ours["pages_per_s"] / other["pages_per_s"], digits),
            goal,
            newsagg=f"{ours['pages_per_s']} pages/s",
            peer=f"{other['pages_per_s']} pages/s",
        ),
        target(
            f"crawl CPU ms per page vs {cpu}",
            round(ours["cpu_ms_per_page"] / other["cpu_ms_per_page"], 3),
            "",
            newsagg=f"{ours['cpu_ms_per_page']} ms",
            peer=f"{other['cpu_ms_per_page']} ms",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~100 pages, no news-please")
    parser.add_argument("--pages", type=int, help="article pages on the site (default 2,000)")
    parser.add_argument("--newsplease-pages", type=int, default=200)
    parser.add_argument("--host-concurrency", type=int, help="default: newsagg's own (2)")
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="no py-spy over the newsagg crawl (a full run writes crawl.profile.speedscope.json)",
    )
    args = parser.parse_args()
    pages = args.pages or (100 if args.quick else 2000)
    workers = available_cores()  # as newsagg's extraction pool sizes itself
    results_dir().mkdir(parents=True, exist_ok=True)
    profile = None if args.quick or args.no_profile else profile_path("crawl", "profile")
    peer: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="newsagg-bench-crawl-") as temp:
        work = Path(temp)
        work.chmod(0o755)  # nginx's workers run as another user when nginx starts as root
        site = build_site(work / "site", pages)
        with serve(site):
            ours = run_newsagg(site, work / "newsagg", args.host_concurrency, None)
            ceiling = run_ceiling(site, workers)
            if profile is not None:  # its own run: py-spy pauses what it samples
                run_newsagg(site, work / "newsagg-profiled", args.host_concurrency, profile)
                print(f"profile of the newsagg crawl: {profile}")
        rows = [ours, ceiling]
        if args.quick:
            rows.append(
                {**_row("news-please", 0, Measured(0, 0, 0, 0)), "note": "skipped in quick mode"}
            )
        else:
            np_site = build_site(work / "np-site", args.newsplease_pages)
            with serve(np_site):
                peer = run_newsplease(np_site, work / "news-please")
            rows.append(peer)
    targets = versus(
        ours,
        ceiling,
        ("the extraction ceiling (plain trafilatura, all cores)", ">= 0.8", 3),
        "the extraction ceiling's (steadier under load)",
    )
    if ours.get("steady_pages_per_s"):
        targets.append(
            target(
                "crawl steady pages/s (first to last article) vs the extraction ceiling"
                " (reported: start-up and tail left out)",
                round(ours["steady_pages_per_s"] / ceiling["pages_per_s"], 3),
                "",
                newsagg=f"{ours['steady_pages_per_s']} pages/s; start-up to the first article"
                f" {ours['first_article_s']} s, tail after the last {ours['tail_s']} s",
                peer=f"{ceiling['pages_per_s']} pages/s",
            )
        )
    if peer is not None and peer["pages_per_s"]:
        targets += versus(ours, peer, ("news-please", ">= 5", 2), "news-please (lower is better)")
        targets.append(
            target(
                "news-please body F1 on its crawl (reported, no goal)",
                peer["body_f1"],
                "",
                newsagg="—",
                peer=f"F1 {peer['body_f1']}",
            )
        )
        targets.append(
            target(
                "news-please peak RSS, MB (whole process tree)",
                peer["peak_rss_mb"],
                "",
                newsagg="—",
                peer=f"{peer['peak_rss_mb']} MB",
            )
        )
    targets.append(
        target(
            "crawler peak RSS, MB (whole process tree)",
            ours["peak_rss_mb"],
            "",
            newsagg=f"{ours['peak_rss_mb']} MB",
        )
    )
    params = {
        "pages": pages,
        "sources": len(site.sources),
        "cores": workers,
        "host_concurrency": args.host_concurrency or "default",
        "newsplease_pages": 0 if args.quick else args.newsplease_pages,
        "quick": args.quick,
    }
    report("crawl", rows, params, targets)


if __name__ == "__main__":
    main()
