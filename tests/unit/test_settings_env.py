"""Settings read from the environment as compose and .env files write them."""

from __future__ import annotations

import pytest
from newsagg.core.settings import Settings


def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`NEWSAGG_STORE_CA_CERTS=` (an .env line left blank) must not become Path('.'), which
    made the Elasticsearch client refuse a plain http:// store."""
    monkeypatch.setenv("NEWSAGG_STORE_CA_CERTS", "")
    monkeypatch.setenv("NEWSAGG_CRAWLER_METRICS_PORT", "")
    settings = Settings()
    assert settings.store_ca_certs is None
    assert settings.crawler_metrics_port == Settings.model_fields["crawler_metrics_port"].default


def test_a_set_variable_still_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSAGG_STORE_CA_CERTS", "/etc/ssl/certs/ca.pem")
    assert str(Settings().store_ca_certs) == "/etc/ssl/certs/ca.pem"
