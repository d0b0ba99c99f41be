"""The images' HEALTHCHECK: is this container's service answering on its own port?

    newsagg-healthcheck api       GET /healthz on NEWSAGG_API_PORT
    newsagg-healthcheck crawler   GET /metrics on NEWSAGG_CRAWLER_METRICS_PORT
    newsagg-healthcheck indexer   GET /metrics on NEWSAGG_INDEXER_METRICS_PORT
    newsagg-healthcheck alerts    GET /metrics on NEWSAGG_ALERTS_METRICS_PORT

Stdlib only (the slim images have no curl). The address is the one the service listens on,
or loopback when it listens on every address. Exit 0 when it answers 200, else 1 with
the reason, which `docker inspect` shows in the container's health log.
"""

from __future__ import annotations

import os
import sys
import urllib.request

CHECKS = {
    "api": ("NEWSAGG_API_HOST", "NEWSAGG_API_PORT", "8000", "/healthz"),
    "crawler": ("NEWSAGG_METRICS_HOST", "NEWSAGG_CRAWLER_METRICS_PORT", "9101", "/metrics"),
    "indexer": ("NEWSAGG_METRICS_HOST", "NEWSAGG_INDEXER_METRICS_PORT", "9102", "/metrics"),
    "alerts": ("NEWSAGG_METRICS_HOST", "NEWSAGG_ALERTS_METRICS_PORT", "9105", "/metrics"),
}
EVERY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}


def url_of(service: str, env: dict[str, str]) -> str | None:
    """The address to probe, or None when the service's endpoint is turned off (port 0)."""
    host_var, port_var, default_port, path = CHECKS[service]
    port = env.get(port_var) or default_port
    if port == "0":
        return None
    host = env.get(host_var, "127.0.0.1")
    host = "127.0.0.1" if host in EVERY_ADDRESS else host
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{port}{path}"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: newsagg-healthcheck {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    url = url_of(argv[0], dict(os.environ))
    if url is None:
        print(f"{argv[0]}: its endpoint is off (port 0); nothing to probe")
        return 0
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            status = response.status
    except OSError as exc:
        print(f"{argv[0]}: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: {url}: {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
