"""One table row: a fault repeated at random moments, each run on a fresh data dir.

A run starts the site, a webhook receiver, the indexer, the alerts worker and the API,
saves through the API one search that matches every story (delivered at once to the
receiver), then starts the crawler, waits for the first article to be fetched, injects
the fault at a seeded random moment within the crawl, heals it, and waits until the index holds
every story and the receiver was delivered each of them (or gives up). It then counts
through the API's export: expected, indexed, lost, duplicated, and the recovery time from
the fault to the moment everything was indexed; and through the receiver: articles
delivered, lost (indexed, never delivered) and duplicated (under two delivery ids), and
the time from the fault until everything indexed was delivered.
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.alerts import DeliveryCount, Receiver, save_search
from reliability.faults import Fault, Unavailable
from reliability.pipeline import Count, Pipeline
from reliability.site import NewsSite, Story

RUN_TIMEOUT = 150.0
"""Seconds after the fault before a run that has not indexed and delivered everything is
counted."""
STARTUP_TIMEOUT = 90.0
"""Seconds for the API to take the saved search, and for the crawler to fetch a page."""
SETTLE_SECONDS = 2.0
"""A last look after everything is indexed, for late duplicates."""


@dataclass
class Run:
    count: Count
    recovery_seconds: float | None
    deliveries: DeliveryCount | None = None
    """None: the run never got as far as counting them."""
    delivery_seconds: float | None = None
    """From the fault until every indexed story was delivered; None: never."""

    @property
    def green(self) -> bool:
        return (
            self.count.lost == 0
            and self.count.duplicated == 0
            and self.count.complete
            and self.deliveries is not None
            and self.deliveries.lost == 0
            and self.deliveries.duplicated == 0
            and self.deliveries.unsigned == 0
        )


@dataclass
class Row:
    backend: str
    scenario: str
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None
    logs: list[str] = field(default_factory=list)

    problems: list[str] = field(default_factory=list)

    @property
    def green(self) -> bool:
        return self.skipped is None and not self.problems and all(run.green for run in self.runs)

    def as_dict(self) -> dict[str, Any]:
        recoveries = [r.recovery_seconds for r in self.runs if r.recovery_seconds is not None]
        deliveries = [r.deliveries for r in self.runs if r.deliveries is not None]
        delivery_times = [r.delivery_seconds for r in self.runs if r.delivery_seconds is not None]
        return {
            "backend": self.backend,
            "scenario": self.scenario,
            "repeats": len(self.runs),
            "expected": sum(r.count.expected for r in self.runs),
            "indexed": sum(r.count.indexed for r in self.runs),
            "lost": sum(r.count.lost for r in self.runs),
            "duplicated": sum(r.count.duplicated for r in self.runs),
            "recovery_median_s": round(statistics.median(recoveries), 1) if recoveries else None,
            "recovery_max_s": round(max(recoveries), 1) if recoveries else None,
            "unrecovered": sum(1 for r in self.runs if r.recovery_seconds is None),
            "delivered": sum(d.delivered for d in deliveries),
            "deliveries_lost": sum(d.lost for d in deliveries),
            "deliveries_duplicated": sum(d.duplicated for d in deliveries),
            "deliveries_unsigned": sum(d.unsigned for d in deliveries),
            "deliveries_resent": sum(d.resent for d in deliveries),
            "deliveries_uncounted": len(self.runs) - len(deliveries),
            "delivered_median_s": (
                round(statistics.median(delivery_times), 1) if delivery_times else None
            ),
            "delivered_max_s": round(max(delivery_times), 1) if delivery_times else None,
            "skipped": self.skipped,
            "problems": self.problems,
            "logs": self.logs,
        }


@dataclass
class Settings:
    """What every run of a harness invocation shares."""

    stories: list[Story]
    work_dir: Path
    page_delay: float = 0.2
    backend_env: dict[str, str] = field(default_factory=dict)
    fresh_env: Any = None
    """Called per run for env that must be new each run (an Elasticsearch index name)."""


def _crawl_window(settings: Settings) -> float:
    """About how long the crawl of the site lasts once it has begun."""
    return max(2.0, len(settings.stories) * settings.page_delay / 2)


def run_once(fault: Fault, settings: Settings, rng: random.Random, run_dir: Path) -> Run:
    site = NewsSite(settings.stories, delay=settings.page_delay).start()
    receiver = Receiver().start()
    pipeline: Pipeline | None = None
    try:
        env, per_service = fault.prepare(run_dir)
        fresh = settings.fresh_env() if settings.fresh_env else {}
        pipeline = Pipeline(
            run_dir, site.sources_yaml(), {**settings.backend_env, **fresh, **env}, per_service
        )
        pipeline.receiver = receiver
        # all but the crawler start while the search is saved (the API takes seconds to
        # answer on a loaded machine); the crawl begins once the search exists
        pipeline.start(("api", "index", "alerts"))
        save_search(pipeline.api, site.source, receiver, timeout=STARTUP_TIMEOUT)
        pipeline.start()
        first = "the first article fetched"
        _wait(lambda: site.articles_served() > 0, STARTUP_TIMEOUT, first, pipeline)
        pause_until = time.monotonic() + rng.uniform(0.0, _crawl_window(settings))
        while time.monotonic() < pause_until:
            pipeline.tend()
            time.sleep(0.05)
        fault_at = time.monotonic()
        heal_at = fault_at + fault.inject(pipeline, rng)
        healed = False
        count: Count | None = None
        recovered_at: float | None = None
        delivered_at: float | None = None
        while time.monotonic() < fault_at + RUN_TIMEOUT:
            if not healed and time.monotonic() >= heal_at:
                fault.heal(pipeline)
                healed = True
            pipeline.tend()
            if healed and (count := pipeline.count(site.expected_urls)) and count.complete:
                if recovered_at is None:
                    recovered_at = time.monotonic()
                if receiver.count(count.ids).complete:
                    delivered_at = time.monotonic()
                    break
            time.sleep(0.5)
        if not healed:
            fault.heal(pipeline)
        time.sleep(SETTLE_SECONDS)
        pipeline.tend()
        final = _final_count(pipeline, site) or count
        if final is None:
            final = Count(len(site.expected_urls), 0, len(site.expected_urls), 0)
        return Run(
            final,
            None if recovered_at is None else recovered_at - fault_at,
            receiver.count(final.ids),
            None if delivered_at is None else delivered_at - fault_at,
        )
    finally:
        if pipeline is not None:
            pipeline.stop()
        fault.cleanup()
        receiver.stop()
        site.stop()


def _final_count(pipeline: Pipeline, site: NewsSite) -> Count | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pipeline.tend()
        if (count := pipeline.count(site.expected_urls)) is not None:
            return count
        time.sleep(0.5)
    return None


def _wait(probe: Any, timeout: float, what: str, pipeline: Pipeline) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.tend()
        if probe():
            return
        time.sleep(0.1)
    tails = "\n".join(f"--- {n}\n{s.log_tail()}" for n, s in pipeline.services.items())
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


def run_row(
    backend: str, fault: Fault, settings: Settings, repeats: int, seed: int, keep_logs: bool
) -> Row:
    row = Row(backend, fault.name)
    rng = random.Random(f"{seed}:{backend}:{fault.name}")
    slug = "".join(c if c.isalnum() else "-" for c in fault.name).strip("-")
    for repeat in range(repeats):
        run_dir = settings.work_dir / backend / f"{slug}-{repeat + 1}"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        try:
            run = run_once(fault, settings, rng, run_dir)
        except Unavailable as exc:
            row.skipped = str(exc)
            shutil.rmtree(run_dir, ignore_errors=True)
            return row
        except RuntimeError as exc:  # the run never got going: red, and the table goes on
            row.problems.append(f"run {repeat + 1}: {str(exc).splitlines()[0]}")
            expected = len(settings.stories)
            run = Run(Count(expected, 0, expected, 0), None)
        row.runs.append(run)
        row.problems.extend(fault.problems)
        fault.problems.clear()
        clean = run.green
        if clean and not keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            row.logs.append(str(run_dir))
    return row
