"""One typed configuration for every service, read from `NEWSAGG_*` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of newsagg; README's configuration table lists them."""

    model_config = SettingsConfigDict(env_prefix="NEWSAGG_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where embedded state lives.")
    bus_url: str = Field(
        "", description="sqlite:///data/bus.sqlite (default, embedded) or kafka://host:9092"
    )
    store_url: str = Field(
        "", description="tantivy:///data/index (default, embedded) or http(s)://host:9200"
    )
    sources: Path = Field(Path("sources.yaml"), description="The sources file the crawler reads.")
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    crawler_metrics_port: int = Field(9101, ge=0, le=65535, description="0 turns it off.")
    indexer_metrics_port: int = Field(9102, ge=0, le=65535, description="0 turns it off.")
    user_agent: str = "newsagg/0.1 (+https://github.com/newsagg/newsagg)"
    crawl_concurrency: int = Field(8, ge=1, le=256)
    crawl_delay: float = Field(0.0, ge=0, description="Seconds between requests to one host.")
    download_timeout: float = Field(30.0, gt=0)
    max_page_bytes: int = Field(10_000_000, gt=0)
    indexer_group: str = "indexer"
    indexer_batch_size: int = Field(200, ge=1, le=10_000)
    indexer_max_retry_delay: float = Field(30.0, gt=0)
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def resolved_bus_url(self) -> str:
        return self.bus_url or f"sqlite:///{self.data_dir / 'bus.sqlite'}"

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"tantivy:///{self.data_dir / 'index'}"

    @property
    def crawl_state_path(self) -> Path:
        return self.data_dir / "crawler-state.sqlite"
