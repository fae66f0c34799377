"""A real Prometheus scrapes the live server with the bearer token and answers queries about it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from releases import services
from tests.releases.helpers import candidate, environment

TOKEN = "prometheus-scrape-token-0123456789"


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_product_metrics_with_the_token(
    live_server: Any,
    settings: Any,
    prometheus: Any,
    application: Any,
    churn_model: Any,
    scientist: Any,
    manager: Any,
) -> None:
    settings.METRICS_TOKEN = TOKEN
    staging = environment(application, "staging", actor=manager)
    image = candidate(application, churn_model.versions.get(), "img-scraped")
    services.request_release(staging, image=image, actor=scientist)
    services.request_release(staging, image=image, actor=scientist)
    target = urlsplit(live_server.url).netloc

    server = prometheus(
        [
            {
                "job_name": "dashboard",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "metrics_path": "/metrics",
                "bearer_token": TOKEN,
                "static_configs": [{"targets": [target]}],
            },
            {  # the same target without the token: refused
                "job_name": "no-token",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
            },
        ]
    )

    query = f'dashboard_releases{{application="{application.name}",environment="staging",state="requested"}}'
    [sample] = server.wait_for(query)
    assert sample["metric"]["job"] == "dashboard"
    assert float(sample["value"][1]) == 2
    assert server.wait_for('up{job="dashboard"} == 1')
    assert server.wait_for('up{job="no-token"} == 0')  # 401 without the token
    scrapes = server.wait_for('dashboard_http_requests_total{view="metrics",status="200"}')
    assert float(scrapes[0]["value"][1]) >= 1
