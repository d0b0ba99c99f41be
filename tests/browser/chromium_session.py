"""What the browser tests share: `newsagg demo` as a process, Chromium's settings, screenshots."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from playwright.sync_api import Page
from support.servers import Service, free_port, get_json

CHROMIUM = Path(os.environ.get("NEWSAGG_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# As the machine's notes advise: no sandbox as root, and no calls home from a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SCREENSHOTS: list[Path] = []


class Demo:
    """`newsagg demo` as a user starts it: demo sites, crawler, indexer and API."""

    def __init__(self, data_dir: Path) -> None:
        port = free_port()
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        env = {
            "NEWSAGG_DATA_DIR": str(data_dir),
            "NEWSAGG_API_PORT": str(port),
            "NEWSAGG_CRAWLER_METRICS_PORT": "0",
            "NEWSAGG_INDEXER_METRICS_PORT": "0",
        }
        self.service = Service(["demo"], env, data_dir.parent)

    def indexed(self) -> int:
        status, body = get_json(f"{self.url}/readyz")
        return (body.get("articles") or 0) if status == 200 else 0

    def api(self, path: str, **params: str) -> dict:
        status, body = get_json(f"{self.url}{path}?{urllib.parse.urlencode(params)}")
        assert status == 200, (path, body)
        return body


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.append(path)
    return path
