"""One typed configuration for every service, read from `NEWSAGG_*` variables."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of newsagg; README's configuration table lists them."""

    model_config = SettingsConfigDict(env_prefix="NEWSAGG_", extra="ignore", env_ignore_empty=True)
    """An empty variable (`NEWSAGG_STORE_CA_CERTS=` in a .env or compose file) means unset,
    not the value "": an empty path would be the current directory."""

    data_dir: Path = Field(Path("data"), description="Where embedded state lives.")
    bus_url: str = Field(
        "", description="sqlite:///data/bus.sqlite (default, embedded) or kafka://host:9092"
    )
    store_url: str = Field(
        "", description="tantivy:///data/index (default, embedded) or http(s)://host:9200"
    )
    store_index: str = Field(
        "articles",
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="Elasticsearch: read alias name; indices are <name>-vN, writes <name>-write.",
    )
    store_username: str = Field("", description="Elasticsearch basic-auth user.")
    store_password: SecretStr = Field(SecretStr(""), description="Elasticsearch password.")
    store_api_key: SecretStr = Field(SecretStr(""), description="Elasticsearch API key (encoded).")
    store_ca_certs: Path | None = Field(None, description="CA bundle for https:// store URLs.")
    store_timeout: float = Field(30.0, gt=0, description="Seconds per Elasticsearch request.")
    store_shards: int = Field(
        1, ge=1, le=1024, description="Elasticsearch: primary shards of each new index version."
    )
    store_replicas: int = Field(
        1, ge=0, le=10, description="Elasticsearch: copies of each shard besides the primary."
    )
    sources: Path = Field(Path("sources.yaml"), description="The sources file the crawler reads.")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    api_keys: str = Field(
        "",
        description="sha256 hex hashes of the accepted API keys, comma-separated, or @/path to a "
        "file with one a line; empty = no keys needed.",
    )
    api_rate_limit: float = Field(
        0.0,
        ge=0,
        description="Requests per second per API key (per client IP without keys); 0 = off.",
    )
    api_rate_burst: int = Field(
        20, ge=1, le=100_000, description="Requests a key or IP may make at once before the limit."
    )
    api_cors_origins: str = Field(
        "", description="Browser origins allowed to call the API, comma-separated; empty = none."
    )
    api_trusted_proxies: str = Field(
        "",
        description="Proxies whose X-Forwarded-For names the client: IPs or CIDR networks, "
        "comma-separated; empty = none, the client is the peer of the connection.",
    )
    api_public_url: str = Field(
        "",
        description="The API's address as its users reach it (https://news.example.com), for "
        "links the API writes; empty = http://api_host:api_port. Never the request's Host.",
    )
    api_url: str = Field(
        "",
        description="`newsagg search` asks this API (http://host:port) instead of opening the "
        "store itself; empty = the store.",
    )
    api_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="API worker processes answering on one port; 0 = one per core, or 1 when "
        "api_rate_limit is on (its token buckets live in each process).",
    )
    crawler_metrics_port: int = Field(9101, ge=0, le=65535, description="0 turns it off.")
    indexer_metrics_port: int = Field(9102, ge=0, le=65535, description="0 turns it off.")
    metrics_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the crawler and indexer serve /metrics on; 0.0.0.0 in containers "
        "so Prometheus on another host can scrape them.",
    )
    user_agent: str = "newsagg/0.1 (+https://github.com/newsagg/newsagg)"
    crawl_concurrency: int = Field(8, ge=1, le=256)
    crawl_host_concurrency: int = Field(2, ge=1, le=64, description="Parallel requests per host.")
    crawl_delay: float = Field(0.0, ge=0, description="Seconds between requests to one host.")
    crawl_retry_backoff: float = Field(2.0, ge=0, description="First retry wait; doubles after.")
    crawl_max_age_days: int = Field(
        0, ge=0, description="Skip listed articles older than this (0 = no limit)."
    )
    crawler_shards: int = Field(
        1, ge=1, le=1000, description="Crawler processes the sources are shared out between."
    )
    crawler_shard: int = Field(
        0,
        ge=0,
        description="Which of them this crawler is (0..shards-1): it crawls the sources whose "
        "name hashes to it (sources.shard_of).",
    )
    websub_callback_url: str = Field(
        "",
        description="WebSub: the base URL hubs reach the crawler's callback listener at "
        "(https://crawler.example.com/websub); empty = WebSub off, every source is polled.",
    )
    websub_host: str = Field(
        "127.0.0.1", min_length=1, description="WebSub: address the callback listener binds."
    )
    websub_port: int = Field(
        9110,
        ge=1,
        le=65535,
        description="WebSub: the listener's port (9103 is a second indexer's metrics port in "
        "deploy/compose/local.yml).",
    )
    websub_lease_seconds: int = Field(
        86_400,
        ge=2,
        le=864_000,
        description="WebSub: lease asked of a hub; renewed when three quarters of it passed.",
    )
    download_timeout: float = Field(30.0, gt=0)
    extraction_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds one page's extraction may take (a page takes tens of ms); past "
        "it the extraction workers are replaced and the page tried once more.",
    )
    max_page_bytes: int = Field(10_000_000, gt=0)
    indexer_group: str = "indexer"
    indexer_batch_size: int = Field(200, ge=1, le=10_000)
    indexer_batch_wait: float = Field(
        0.1,
        ge=0,
        le=10,
        description="Seconds a batch waits for more messages after its first one before it is "
        "written and committed (or until it is indexer_batch_size long).",
    )
    indexer_max_retry_delay: float = Field(30.0, gt=0)
    enrich: bool = Field(
        True,
        description="The indexer's enrichment stage: near-duplicate groups, stories and people "
        "(docs/choices.md, Enrichment); off writes articles without them.",
    )
    story_window_hours: float = Field(
        72.0,
        gt=0,
        le=24 * 365,
        description="Hours either side of an article's date (published, else crawled) in which "
        "it may join a story.",
    )
    alerts_url: str = Field(
        "",
        description="Saved searches and their matches: sqlite:///data/alerts.sqlite (default on "
        "the embedded store) or http(s)://host:9200 (default when the store is Elasticsearch: "
        "the store's own cluster).",
    )
    alerts_index: str = Field(
        "newsagg-alerts",
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="Elasticsearch: prefix of the saved-search indices (<name>-searches, "
        "<name>-matches).",
    )
    alerts_group: str = Field("alerts", description="The alerts worker's consumer group.")
    alerts_batch_size: int = Field(200, ge=1, le=10_000)
    alerts_batch_wait: float = Field(
        0.2, ge=0, le=10, description="Seconds a matching batch waits for more articles."
    )
    alerts_metrics_port: int = Field(9105, ge=0, le=65535, description="0 turns it off.")
    alerts_shards: int = Field(
        1, ge=1, le=1024, description="Alerts workers that share the deliveries."
    )
    alerts_shard: int = Field(
        0,
        ge=0,
        description="Which of them this worker is (0..shards-1): it delivers the saved searches "
        "whose id hashes to it (matching is shared through the consumer group).",
    )
    alerts_max_attempts: int = Field(
        8,
        ge=1,
        le=100,
        description="Failed attempts of one delivery before its saved search is marked "
        "failing (its matches are kept and sent once it is resumed).",
    )
    alerts_retry_delay: float = Field(
        2.0, gt=0, description="Seconds before the first retry of a failed delivery; doubles."
    )
    alerts_max_retry_delay: float = Field(300.0, gt=0)
    alerts_webhook_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds one delivery attempt may take in all (a webhook POST up to its "
        "answer's headers, or an SMTP session), however slowly the receiver answers.",
    )
    alerts_allow_private_webhooks: bool = Field(
        False,
        description="Allow webhooks to loopback and private addresses (off: a saved search "
        "cannot make the server call its own network).",
    )
    alerts_digest_hour: int = Field(
        7, ge=0, le=23, description="UTC hour at which daily digests go out."
    )
    alerts_match_retention_days: int = Field(
        90,
        ge=0,
        description="Days a match is kept once delivered (and a feed-only search's match at "
        "all): older ones are pruned hourly; undelivered matches of a search with a webhook or "
        "emails are kept until delivered. 0 keeps every match.",
    )
    alerts_max_per_owner: int = Field(
        1000, ge=1, description="Saved searches one API key (or the open API) may hold."
    )
    smtp_host: str = Field("", description="SMTP server for email alerts; empty: no email.")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = Field(SecretStr(""))
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_from: str = Field("newsagg@localhost", description="From address of email alerts.")
    kafka_partitions: int = Field(
        6,
        ge=1,
        le=1000,
        description="Partitions of topics created on start (the indexers' parallelism).",
    )
    kafka_replication: int = Field(
        1,
        ge=1,
        le=10,
        description="Replication factor of created topics: 1 locally, 3 in production.",
    )
    kafka_client_id: str = Field("newsagg", description="Client id the broker logs and quotas see.")
    kafka_max_message_bytes: int = Field(
        1_048_576,
        ge=10_000,
        description="Largest message published; a larger one goes to the dead-letter topic.",
    )
    kafka_compression: str = Field(
        "gzip", pattern="^(none|gzip|snappy|lz4|zstd)$", description="Producer compression."
    )
    kafka_linger_ms: int = Field(5, ge=0, le=10_000, description="Producer batching delay.")
    kafka_delivery_timeout: float = Field(
        120.0, gt=0, description="Seconds publish/flush wait for an unreachable broker, then fail."
    )
    kafka_session_timeout: float = Field(
        10.0, ge=6, le=300, description="Seconds before a dead consumer's partitions move on."
    )
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("user_agent")
    @classmethod
    def _has_contact(cls, value: str) -> str:
        if "http://" not in value and "https://" not in value:
            raise ValueError("user_agent must name a contact URL, e.g. 'mybot/1.0 (+https://...)'")
        return value

    @field_validator("api_keys")
    @classmethod
    def _hashes_not_keys(cls, value: str) -> str:
        """Inline keys must be hashes, so a leaked environment never leaks a usable key.
        A key file is read (and checked alike) by the API when it starts."""
        value = value.strip()
        if not value.startswith("@"):
            key_hashes(value.split(","), "api_keys (sha256 hex hashes of keys, or @/path/to/file)")
        return value

    @field_validator("api_cors_origins")
    @classmethod
    def _origins_are_urls(cls, value: str) -> str:
        for origin in filter(None, (part.strip() for part in value.split(","))):
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(
                    f"api_cors_origins: {origin!r} is not an origin like https://example.com"
                )
        return value

    @field_validator("api_trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for item in _items(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"api_trusted_proxies: {item!r} is not an IP address or network like "
                    "10.0.0.5 or 10.0.0.0/24"
                ) from exc
        return value

    @field_validator("websub_callback_url")
    @classmethod
    def _callback_is_a_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError(
                f"websub_callback_url: {value!r} is not an http(s) URL like "
                "https://crawler.example.com/websub"
            )
        return value

    @field_validator("api_public_url")
    @classmethod
    def _public_url_is_a_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError(
                f"api_public_url: {value!r} is not an http(s) URL like https://news.example.com"
            )
        return value

    @property
    def trusted_proxies(self) -> list[str]:
        return _items(self.api_trusted_proxies)

    @property
    def public_url(self) -> str:
        """Where users reach the API: the setting, or the listen address."""
        if self.api_public_url:
            return self.api_public_url
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def cors_origins(self) -> list[str]:
        return [part.strip() for part in self.api_cors_origins.split(",") if part.strip()]

    @property
    def resolved_bus_url(self) -> str:
        return self.bus_url or f"sqlite:///{self.data_dir / 'bus.sqlite'}"

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"tantivy:///{self.data_dir / 'index'}"

    @property
    def resolved_alerts_url(self) -> str:
        """The setting; else the store's Elasticsearch cluster; else SQLite beside the bus."""
        if self.alerts_url:
            return self.alerts_url
        if self.resolved_store_url.startswith(("http://", "https://")):
            return self.resolved_store_url
        return f"sqlite:///{self.data_dir / 'alerts.sqlite'}"

    @property
    def crawl_state_path(self) -> Path:
        return self.data_dir / "crawler-state.sqlite"


def key_hashes(items: Iterable[str], where: str) -> tuple[str, ...]:
    """The non-empty items as lowercase sha256 hex hashes, or a ValueError naming `where` and
    the entry: the one check of API key hashes, for the environment and for a key file."""
    hashes = tuple(item.strip().lower() for item in items if item.strip())
    for number, item in enumerate(hashes, 1):
        if not re.fullmatch(r"[0-9a-f]{64}", item):
            raise ValueError(
                f"{where}: entry {number} is not a sha256 hex hash "
                "(`newsagg api-key` prints a key and its hash)"
            )
    return hashes


def _items(value: str) -> list[str]:
    """The non-empty items of a comma-separated setting."""
    return [part.strip() for part in value.split(",") if part.strip()]
