"""The newsagg Grafana dashboard as code (grafana-foundation-sdk).

Writes deploy/grafana/dashboards/newsagg.json, which Grafana loads through the provider in
deploy/grafana/provisioning/. Edit this file, not the JSON, then run

    .venv/bin/python deploy/grafana/dashboard.py

(tests/monitoring checks that the committed JSON is what this writes, and runs every query
against a real Prometheus scraping a running pipeline). Metric names: docs/monitoring.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import common, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUTPUT = Path(__file__).parent / "dashboards" / "newsagg.json"
UID = "newsagg-overview"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
JOBS = 'job=~"newsagg-crawler|newsagg-indexer|newsagg-api|newsagg-alerts"'
SOURCE = 'source=~"$source"'
RATE = "$__rate_interval"
ERRORS = 'outcome!~"ok|not_modified"'
"""Fetch outcomes that are not a success (spec: ok, not_modified, http_4xx, ..., error)."""


def query(expr: str, legend: str = "", ref: str = "A") -> prom.Dataquery:
    return prom.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref)


def table_query(expr: str, ref: str) -> prom.Dataquery:
    """An instant query whose result is one column of a per-source table."""
    return prom.Dataquery().expr(expr).instant().format(PromQueryFormat.TABLE).ref_id(ref)


def series(
    title: str, description: str, unit: str, *queries: prom.Dataquery, width: int = 8
) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).description(description).unit(unit)
    panel = panel.datasource(DATASOURCE).span(width).height(8)
    panel = panel.legend(
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
    ).tooltip(
        common.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
    )
    for q in queries:
        panel = panel.with_target(q)
    return panel


def single(title: str, description: str, unit: str, q: prom.Dataquery) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .span(4)
        .height(4)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(q)
    )


def quantiles(
    metric: str, by: str = "", qs: tuple[float, ...] = (0.5, 0.95), select: str = ""
) -> list[str]:
    """`histogram_quantile` of a histogram's buckets over the rate interval, one per q."""
    labels = f"le, {by}" if by else "le"
    buckets = f"{metric}_bucket{{{select}}}" if select else f"{metric}_bucket"
    return [f"histogram_quantile({q}, sum by ({labels}) (rate({buckets}[{RATE}])))" for q in qs]


def overview() -> list[Builder]:
    published_p50, published_p95 = quantiles("newsagg_freshness_published_to_searchable_seconds")
    fetched_p50, fetched_p95 = quantiles("newsagg_freshness_fetched_to_searchable_seconds")
    return [
        gd.Row("Pipeline overview"),
        single(
            "Targets up",
            "1 when Prometheus scrapes the service, 0 when it cannot (alert NewsaggTargetDown).",
            "none",
            query(f"up{{{JOBS}}}", "{{job}}"),
        ),
        single(
            "Sources configured",
            "Sources in the crawler's sources.yaml.",
            "none",
            query("sum(newsagg_crawler_sources)", "sources"),
        ),
        single(
            "Pages waiting for extraction",
            "Article pages queued for the crawler's extraction pool.",
            "none",
            query("sum(newsagg_crawler_extraction_queue_pages)", "queued"),
        ),
        single(
            "Dead letters since start",
            "Messages the indexer sent to a dead-letter topic since it started "
            "(alert NewsaggDeadLetters).",
            "none",
            query("sum(newsagg_bus_dead_letters_total) or vector(0)", "dead letters"),
        ),
        series(
            "Articles per second, in and out",
            "Extracted by the crawler, published to and consumed from the bus, written to "
            "the store by the indexer.",
            "ops",
            query(
                f"sum(rate(newsagg_crawler_articles_extracted_total{{{SOURCE}}}[{RATE}]))",
                "extracted",
                "A",
            ),
            query(
                f'sum(rate(newsagg_bus_published_total{{job="newsagg-crawler"}}[{RATE}]))',
                "published",
                "B",
            ),
            query(
                f'sum(rate(newsagg_bus_consumed_total{{job="newsagg-indexer"}}[{RATE}]))',
                "consumed",
                "C",
            ),
            query(
                f"sum(rate(newsagg_indexer_documents_indexed_total[{RATE}]))",
                "indexed",
                "D",
            ),
        ),
        series(
            "Consumer lag",
            "Messages not yet committed, per consumer group and topic "
            "(alert NewsaggConsumerLagGrowing).",
            "none",
            query(
                "sum by (group, topic) (newsagg_bus_consumer_lag_messages)", "{{group}} {{topic}}"
            ),
        ),
        series(
            "Dead letters",
            "Dead-lettered messages since the indexer started, by topic and reason.",
            "none",
            query(
                "sum by (topic, reason) (newsagg_bus_dead_letters_total)", "{{topic}} {{reason}}"
            ),
        ),
        series(
            "Freshness",
            "From the article's publication time, and from its fetch, to searchable: p50 and "
            "p95 of the articles indexed in the interval (alert NewsaggFreshnessSlow: "
            "fetched, p95).",
            "s",
            query(published_p50, "published → searchable p50", "A"),
            query(published_p95, "published → searchable p95", "B"),
            query(fetched_p50, "fetched → searchable p50", "C"),
            query(fetched_p95, "fetched → searchable p95", "D"),
            width=12,
        ),
        series(
            "Indexer batches",
            "Batches written per second and the p95 time to validate and write one.",
            "s",
            query(f"sum(rate(newsagg_indexer_batches_total[{RATE}]))", "batches/s", "A"),
            query(quantiles("newsagg_indexer_batch_duration_seconds")[1], "batch p95", "B"),
            width=12,
        ),
    ]


def sources() -> list[Builder]:
    columns = {
        "A": (
            f"time() - max by (source) (newsagg_crawler_last_success_timestamp_seconds{{{SOURCE}}})"
        ),
        "B": f"max by (source) (newsagg_crawler_poll_interval_seconds{{{SOURCE}}})",
        "C": (
            f"(sum by (source) (increase(newsagg_crawler_fetches_total{{{SOURCE}, {ERRORS}}}"
            f"[$__range])) or sum by (source) (newsagg_crawler_fetches_total{{{SOURCE}}}) * 0)"
            f" / sum by (source) (increase(newsagg_crawler_fetches_total{{{SOURCE}}}[$__range]))"
        ),
        "D": (
            f"sum by (source) (increase(newsagg_crawler_articles_extracted_total{{{SOURCE}}}[1d]))"
        ),
        "E": (
            f"sum by (source) (increase(newsagg_crawler_extraction_failures_total{{{SOURCE}}}"
            f"[$__range]))"
        ),
    }
    names = {
        "Value #A": ("Since last success", "s"),
        "Value #B": ("Poll interval", "s"),
        "Value #C": ("Fetch error ratio", "percentunit"),
        "Value #D": ("Articles/day", "none"),
        "Value #E": ("Extraction failures", "none"),
    }
    health = (
        table.Panel()
        .title("Per-source health")
        .description(
            "Per source: seconds since a listing last answered (alert NewsaggSourceStale at "
            "twice the interval), its poll interval, the share of fetches that failed and "
            "the extraction failures over the dashboard's range, articles extracted in the "
            "last 24 hours."
        )
        .datasource(DATASOURCE)
        .span(24)
        .height(8)
        .show_header(True)
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {k: v[0] for k, v in names.items()},
                },
            )
        )
    )
    for ref, expr in columns.items():
        health = health.with_target(table_query(expr, ref))
    for title, unit in names.values():  # overrides match the names after `organize`
        health = health.override_by_name(title, [dm.DynamicConfigValue(id_val="unit", value=unit)])
    return [
        gd.Row("Sources"),
        health,
        series(
            "Fetches by outcome",
            "HTTP fetches (listings and article pages) per second, by outcome.",
            "ops",
            query(
                f"sum by (outcome) (rate(newsagg_crawler_fetches_total{{{SOURCE}}}[{RATE}]))",
                "{{outcome}}",
            ),
        ),
        series(
            "Listings by kind and outcome",
            "Feeds, sitemaps and section pages read per second.",
            "ops",
            query(
                "sum by (kind, outcome) "
                f"(rate(newsagg_crawler_listings_total{{{SOURCE}}}[{RATE}]))",
                "{{kind}} {{outcome}}",
            ),
        ),
        series(
            "Fetch latency p95 by source",
            "95th percentile of the crawler's HTTP fetch time.",
            "s",
            query(
                quantiles("newsagg_crawler_fetch_duration_seconds", "source", select=SOURCE)[1],
                "{{source}}",
            ),
        ),
    ]


def api() -> list[Builder]:
    p95, p99 = quantiles("newsagg_api_request_duration_seconds", qs=(0.95, 0.99))
    return [
        gd.Row("API"),
        series(
            "Requests per second by route",
            "Route templates; static files are `static`, anything else `unmatched`.",
            "reqps",
            query(
                f"sum by (route) (rate(newsagg_api_requests_total[{RATE}]))",
                "{{route}}",
            ),
        ),
        series(
            "Request latency p95 and p99",
            "All routes.",
            "s",
            query(p95, "p95", "A"),
            query(p99, "p99", "B"),
        ),
        series(
            "4xx and 5xx per second",
            "Error answers by status (alert NewsaggApiErrors: 5xx above 1 % for 5 minutes).",
            "reqps",
            query(
                f'sum by (status) (rate(newsagg_api_requests_total{{status=~"4..|5.."}}[{RATE}]))',
                "{{status}}",
            ),
        ),
        series(
            "5xx ratio",
            "Share of requests answered 5xx.",
            "percentunit",
            query(
                f'(sum(rate(newsagg_api_requests_total{{status=~"5.."}}[{RATE}])) or vector(0))'
                f" / sum(rate(newsagg_api_requests_total[{RATE}]))",
                "5xx",
            ),
        ),
        series(
            "Search latency p95 by sort and facets",
            "Alert NewsaggSearchSlow: p95 above 1 s for 10 minutes.",
            "s",
            query(
                quantiles("newsagg_api_search_duration_seconds", "sort, facets")[1],
                "{{sort}} facets={{facets}}",
            ),
        ),
        series(
            "Rate-limited and refused",
            "Requests refused by the rate limit, and requests with a missing or wrong API key.",
            "reqps",
            query(f"sum(rate(newsagg_api_rate_limited_total[{RATE}]))", "rate-limited", "A"),
            query(f"sum(rate(newsagg_api_auth_failures_total[{RATE}]))", "auth failures", "B"),
        ),
    ]


def store() -> list[Builder]:
    return [
        gd.Row("Store"),
        single(
            "Documents",
            "Documents in the search store.",
            "none",
            query("max(newsagg_store_documents)", "documents"),
        ),
        single(
            "Size",
            "The index directory (tantivy) or the primaries' store (Elasticsearch).",
            "bytes",
            query("max(newsagg_store_size_bytes)", "size"),
        ),
        series(
            "Documents over time",
            "Documents in the search store.",
            "none",
            query("max(newsagg_store_documents)", "documents"),
        ),
        series(
            "Indexer retries per second",
            "Store writes retried while the store is unavailable (alert "
            "NewsaggStoreUnavailable), and bus operations retried (NewsaggBusUnavailable).",
            "ops",
            query(
                f"sum by (dependency) (rate(newsagg_indexer_retries_total[{RATE}]))",
                "{{dependency}}",
            ),
        ),
    ]


def alerts() -> list[Builder]:
    match_p50, match_p95 = quantiles("newsagg_alerts_match_duration_seconds")
    latency_p50, latency_p95 = quantiles("newsagg_alerts_delivery_latency_seconds")
    return [
        gd.Row("Alerts"),
        single(
            "Failing saved searches",
            "Saved searches whose delivery gave up after NEWSAGG_ALERTS_MAX_ATTEMPTS "
            "(alert NewsaggSavedSearchFailing); resuming one sends what it missed.",
            "none",
            query("sum(newsagg_alerts_failing_searches)", "failing"),
        ),
        single(
            "Matches waiting",
            "Matches not yet delivered (digests waiting for their hour, backoff, paused and "
            "failing searches).",
            "none",
            query("sum(newsagg_alerts_pending_matches)", "waiting"),
        ),
        single(
            "Articles skipped since start",
            "Articles the store never held within the alerts worker's wait (dead-lettered or "
            "refused by the indexer): matched against no saved search.",
            "none",
            query("sum(newsagg_alerts_skipped_total)", "skipped"),
        ),
        series(
            "Matching",
            "Articles run against the saved searches and new matches recorded, per second.",
            "ops",
            query(f"sum(rate(newsagg_alerts_articles_matched_total[{RATE}]))", "articles", "A"),
            query(f"sum(rate(newsagg_alerts_matches_total[{RATE}]))", "new matches", "B"),
        ),
        series(
            "Match time per batch",
            "p50 and p95 of the time to match one batch against every active saved search.",
            "s",
            query(match_p50, "p50", "A"),
            query(match_p95, "p95", "B"),
        ),
        series(
            "Deliveries by channel and outcome",
            "Webhook and email deliveries per second, by event (matches, test, spike) and "
            "outcome (alert NewsaggAlertDeliveriesFailing: only failures for 10 minutes).",
            "ops",
            query(
                f"sum by (channel, event, outcome) (rate(newsagg_alerts_deliveries_total[{RATE}]))",
                "{{channel}} {{event}} {{outcome}}",
            ),
        ),
        series(
            "Delivery latency",
            "From an article being searchable to the delivery that carried it reaching its "
            "receivers: p50 and p95 (target for instant searches: p95 under 5 s; digests "
            "wait for their hour).",
            "s",
            query(latency_p50, "p50", "A"),
            query(latency_p95, "p95", "B"),
        ),
        series(
            "Alerts consumer lag",
            "Messages of the articles topic not yet committed by the alerts group, per "
            "partition (alert NewsaggAlertsLagGrowing).",
            "none",
            query("max by (partition) (newsagg_alerts_consumer_lag)", "partition {{partition}}"),
        ),
        series(
            "Alerts worker retries per second",
            "Store and bus operations retried while unavailable (alert "
            "NewsaggAlertsDependencyUnavailable).",
            "ops",
            query(
                f"sum by (dependency) (rate(newsagg_alerts_retries_total[{RATE}]))",
                "{{dependency}}",
            ),
        ),
    ]


def build() -> dm.Dashboard:
    source = (
        gd.QueryVariable("source")
        .label("Source")
        .datasource(DATASOURCE)
        .query("label_values(newsagg_crawler_poll_interval_seconds, source)")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    board = (
        gd.Dashboard("newsagg")
        .uid(UID)
        .description(
            "Crawler, bus, indexer, store, API and alerts worker of newsagg (docs/monitoring.md)."
        )
        .tags(["newsagg"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .with_variable(gd.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(source)
    )
    items = [*overview(), *sources(), *api(), *store(), *alerts()]
    for number, item in enumerate(items, start=1):
        item = item.id(number)
        board = board.with_row(item) if isinstance(item, gd.Row) else board.with_panel(item)
    return board.build()


def render() -> str:
    """The dashboard's JSON, as committed."""
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
