"""A real Prometheus scraping a real pipeline (crawler, indexer, API and alerts worker as
processes) on the demo sites, with a saved search delivering to a webhook on 127.0.0.1:
every PromQL expression of the dashboard and of the alert rules runs against it, the alerts
are quiet while the pipeline is healthy, and real faults make theirs true.

One pipeline for the module, and its tests run in file order: healthy first, then the
faults (a dead letter, a demo site stopped), then the dashboard, whose panels then all have
data (errors and dead letters included), and last the alert conditions no fault here
drives, shown to compare real series."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from newsagg.core.adapters.sqlite_alerts import SqliteAlertStore
from newsagg.core.alerts.model import SavedSearch
from newsagg.core.ports import ARTICLES_TOPIC
from support.pipeline import SERVICES, Pipeline, indexed_pipeline, pipeline_env
from support.prometheus import (
    Prometheus,
    alert_rules,
    dashboard_queries,
    finite,
    substitute,
)
from support.servers import free_port, get_json, wait_until
from support.webhook_receiver import WebhookReceiver, webhook_receiver

from newsagg.cli.demo_site import DemoSite, DemoSites

pytestmark = pytest.mark.e2e
INTERVAL = 10
"""Every source's poll interval (the minimum): a stopped site is stale after 20 s."""
STOPPED = "reel-news"
"""The outlet whose site the fault test stops."""
WINDOW = "10m"
SAVED_QUERY = "cycling"
"""The saved search's query: some demo articles, so deliveries (and their latency) happen."""
"""The dashboard's $__rate_interval and $__range here: longer than the module's run."""


@dataclass
class Monitored:
    pipeline: Pipeline
    prometheus: Prometheus
    sites: DemoSites
    receiver: WebhookReceiver

    def site(self, source: str) -> DemoSite:
        (site,) = (s for s in self.sites.sites if s.outlet.source == source)
        return site


@pytest.fixture(scope="module")
def monitored(
    tmp_path_factory: pytest.TempPathFactory, bad_site: DemoSite, manifest: dict
) -> Iterator[Monitored]:
    """Prometheus first (it sees every series from its start), then the pipeline on demo
    sites of its own (the fault test stops one), with bad pages for crawl errors, and a
    saved search (in the alert store before anything is crawled, so it matches from the
    first article) delivering to a webhook on 127.0.0.1."""
    root = tmp_path_factory.mktemp("monitoring")
    sites = DemoSites().start()
    sources = sites.sources_yaml(interval=INTERVAL) + (
        "  - name: bad-pages\n"
        f"    feeds: [{bad_site.url}/rss.xml]\n"
        f"    interval: {INTERVAL}\n"
        "    allow_private: true\n"
    )
    crawler_port, indexer_port, alerts_port = free_port(), free_port(), free_port()
    env = pipeline_env(
        root / "data",
        sources=sources,
        extra={
            "NEWSAGG_CRAWLER_METRICS_PORT": str(crawler_port),
            "NEWSAGG_INDEXER_METRICS_PORT": str(indexer_port),
            "NEWSAGG_ALERTS_METRICS_PORT": str(alerts_port),
            "NEWSAGG_ALERTS_ALLOW_PRIVATE_WEBHOOKS": "true",
        },
    )
    prometheus = Prometheus(
        root / "prometheus",
        {
            "newsagg-crawler": f"127.0.0.1:{crawler_port}",
            "newsagg-indexer": f"127.0.0.1:{indexer_port}",
            "newsagg-api": f"127.0.0.1:{env['NEWSAGG_API_PORT']}",
            "newsagg-alerts": f"127.0.0.1:{alerts_port}",
        },
    )
    try:
        with webhook_receiver() as receiver:
            search = SavedSearch(name="cycling", q=SAVED_QUERY, webhook_url=receiver.url)
            receiver.secrets[search.id] = search.secret
            alerts = SqliteAlertStore(root / "data" / "alerts.sqlite")
            try:
                alerts.ensure_schema()
                alerts.create(search)
            finally:
                alerts.close()
            running = Pipeline(env, root, (*SERVICES, "alerts"))
            with indexed_pipeline(running, manifest["article_count"]):
                yield Monitored(running, prometheus, sites, receiver)
    finally:
        prometheus.stop()
        sites.stop()


def alert_expr(name: str) -> str:
    return alert_rules()[name]["expr"]


def firing(prometheus: Prometheus, name: str) -> list[dict]:
    """The series for which alert `name`'s condition holds now (its `for` aside)."""
    return prometheus.query(alert_expr(name))


def search_traffic(pipeline: Pipeline) -> None:
    """What an editor and an API consumer do: searches by every sort, with and without
    facets, a page, a static file, and a few bad requests (4xx)."""
    for sort in ("relevance", "date"):
        for q in ("Milind Soman cycling", "festival", '"roadside romance"'):
            pipeline.api("/v1/search", q=q, sort=sort)
    pipeline.api("/v1/search", q="cycling", facets="")
    for path in ("/", "/static/search.css"):
        with urllib.request.urlopen(f"{pipeline.url}{path}", timeout=10) as page:
            assert page.status == 200, path
    assert pipeline.get("/v1/search", q='"unbalanced')[0] == 400
    assert pipeline.get("/v1/articles/not-an-id")[0] == 404
    assert pipeline.get("/v1/search", q="x", size=1000)[0] == 422


def test_prometheus_scrapes_the_four_services(monitored: Monitored):
    prometheus = monitored.prometheus
    wait_until(
        lambda: set(prometheus.targets_up().values()) == {"up"},
        30,
        f"all four targets up ({prometheus.targets_up()})",
    )
    assert sorted(prometheus.targets_up()) == [
        "newsagg-alerts",
        "newsagg-api",
        "newsagg-crawler",
        "newsagg-indexer",
    ]
    # each service exposes only its own series: the crawler no indexer metric, and so on
    own = {
        "newsagg-crawler": "newsagg_crawler_",
        "newsagg-indexer": "newsagg_indexer_",
        "newsagg-api": "newsagg_api_",
        "newsagg-alerts": "newsagg_alerts_",
    }
    for job, prefix in own.items():
        names = {
            s["__name__"]
            for s in prometheus.api(
                "series", **{"match[]": f'{{job="{job}",__name__=~"newsagg_.*"}}'}
            )
        }
        assert any(n.startswith(prefix) for n in names), (job, names)
        foreign = {n for n in names for p in own.values() if p != prefix and n.startswith(p)}
        assert foreign == set(), job


def test_the_alert_conditions_are_quiet_on_a_healthy_pipeline(monitored: Monitored):
    prometheus, pipeline = monitored.prometheus, monitored.pipeline
    search_traffic(pipeline)
    # two polls after indexing: every source has answered within its interval since
    time.sleep(2 * INTERVAL)
    rules = prometheus.api("rules")["groups"]
    evaluated = {r["name"]: r for g in rules for r in g["rules"] if r["type"] == "alerting"}
    assert set(evaluated) == set(alert_rules())
    for name, rule in evaluated.items():
        assert rule["health"] == "ok", (name, rule.get("lastError"))
        assert firing(prometheus, name) == [], name
        assert rule["state"] == "inactive", name


def test_a_dead_letter_makes_its_alert_true(monitored: Monitored):
    bus = monitored.pipeline.bus()
    try:
        bus.publish(ARTICLES_TOPIC, "poison", b'{"title": "no id, no text"}')
    finally:
        bus.close()
    found = wait_until(
        lambda: firing(monitored.prometheus, "NewsaggDeadLetters"), 30, "the dead-letter alert"
    )
    assert {s["metric"]["topic"] for s in found} == {ARTICLES_TOPIC}
    # and Prometheus itself fires it (the rule has no `for`)
    wait_until(
        lambda: any(
            a["labels"]["alertname"] == "NewsaggDeadLetters" and a["state"] == "firing"
            for a in monitored.prometheus.api("alerts")["alerts"]
        ),
        20,
        "NewsaggDeadLetters firing in /api/v1/alerts",
    )


def test_a_stopped_source_makes_the_stale_source_alert_true(monitored: Monitored):
    prometheus = monitored.prometheus
    monitored.site(STOPPED).stop()
    started = time.monotonic()
    stale = wait_until(
        lambda: firing(prometheus, "NewsaggSourceStale"),
        2 * INTERVAL + 40,
        f"NewsaggSourceStale for {STOPPED}",
        interval=1,
    )
    assert [s["metric"]["source"] for s in stale] == [STOPPED]
    # no earlier than twice the interval after its last answer
    assert time.monotonic() - started > INTERVAL
    assert float(stale[0]["value"][1]) > 2 * INTERVAL
    # the crawler counts the refused connections as failed fetches of that source (after
    # Scrapy's retries, which may end after the alert's condition already holds)
    failed = f'sum(newsagg_crawler_fetches_total{{source="{STOPPED}", outcome="error"}})'
    wait_until(lambda: prometheus.values(failed), 60, f"failed fetches of {STOPPED}", interval=1)


def test_every_dashboard_query_returns_data(monitored: Monitored, manifest: dict):
    """Last: by now there are searches, 4xx answers, crawl errors, extraction failures and a
    dead letter, so every panel has something to show. Retries appear only when a store or
    bus fails (tests/monitoring/test_monitoring_store.py), and 5xx only when the API
    fails: those two panels are checked with a query that must hold on an empty result."""
    prometheus = monitored.prometheus
    search_traffic(monitored.pipeline)
    time.sleep(3)  # two scrapes after the traffic
    assert get_json(f"{monitored.pipeline.url}/healthz")[0] == 200
    names = {*manifest["outlets"], "bad-pages"}
    sources = f"({'|'.join(sorted(names))})"
    # route templates, never raw paths: the page, its files, the API's routes
    routes = {s["metric"]["route"] for s in prometheus.query("newsagg_api_requests_total")}
    assert {"/", "static", "/v1/search", "/v1/articles/{article_id}"} <= routes, routes
    # the $source variable's query: label_values(newsagg_crawler_poll_interval_seconds, source)
    offered = {
        s["metric"]["source"] for s in prometheus.query("newsagg_crawler_poll_interval_seconds")
    }
    assert offered == names
    empty_when_healthy = {
        "Indexer retries per second",
        "Alerts worker retries per second",
    }
    # the saved search's matches reached the webhook, signed: the latency panel has data
    delivered = monitored.receiver.accepted()
    assert delivered, "no delivery of the saved search"
    assert all(r.signed and r.json["event"] == "matches" for r in delivered)
    no_data = []
    for title, expr in dashboard_queries():
        values = prometheus.values(substitute(expr, sources, WINDOW))
        if title in empty_when_healthy:
            assert values == [] or set(values) == {0.0}, (title, values)
        elif not finite(values):
            no_data.append((title, expr, values))
    assert no_data == []


SHOWN_FIRING = {
    "NewsaggSourceStale": "test_a_stopped_source_makes_the_stale_source_alert_true",
    "NewsaggDeadLetters": "test_a_dead_letter_makes_its_alert_true",
    "NewsaggStoreUnavailable": "test_monitoring_store.py (Elasticsearch stopped)",
    "NewsaggApiErrors": "test_monitoring_store.py (searches answer 503)",
    "NewsaggBusUnavailable": "promtool only: no bus fault is driven here",
}
"""Alerts whose condition a real fault makes true; the others are checked below."""
THRESHOLD = re.compile(r"(?:>|==)\s*\d+(?:\.\d+)?\b(?!\s*\*)")


def relaxed(expr: str) -> str:
    """The expression with every comparison against a number made `> -Inf`: what it
    compares, without the threshold that keeps it quiet on a healthy pipeline."""
    return THRESHOLD.sub("> -Inf", expr)


def test_quiet_alert_conditions_compare_real_series(monitored: Monitored):
    """An alert that is quiet because it names a metric that does not exist would pass the
    quiet test: below its threshold, each condition no fault drives here has data."""
    prometheus = monitored.prometheus
    for name, rule in alert_rules().items():
        if name in SHOWN_FIRING:
            continue
        expr = relaxed(rule["expr"])
        assert expr != rule["expr"], name
        assert firing(prometheus, name) == [], name
        assert finite(prometheus.values(expr)), (name, expr)
