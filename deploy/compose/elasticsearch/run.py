"""Entrypoint of the local Elasticsearch image (deploy/compose/elasticsearch/Dockerfile).

    elasticsearch-run          start Elasticsearch (exec), settings from the environment
    elasticsearch-run health   exit 0 when the cluster is at least yellow

Like the official image, every environment variable named like a setting (lowercase words
joined by dots: `discovery.type=single-node`) is passed as `-E<name>=<value>`; ES_JAVA_OPTS
sets the heap. Stdlib only.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request

ES_HOME = "/usr/share/elasticsearch"
SETTING = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$")


def settings(env: dict[str, str]) -> list[str]:
    return [f"-E{key}={value}" for key, value in sorted(env.items()) if SETTING.match(key)]


def health(env: dict[str, str]) -> int:
    host = env.get("network.host", "127.0.0.1")
    host = "127.0.0.1" if host in {"0.0.0.0", "_site_", "_local_"} else host
    url = f"http://{host}:{env.get('http.port', '9200')}/_cluster/health?timeout=5s"
    try:
        with urllib.request.urlopen(url, timeout=9) as response:
            status = json.load(response)["status"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"elasticsearch {url}: {exc}", file=sys.stderr)
        return 1
    print(f"elasticsearch {url}: {status}")
    return 0 if status in {"green", "yellow"} else 1


if __name__ == "__main__":
    environment = dict(os.environ)
    if sys.argv[1:] == ["health"]:
        sys.exit(health(environment))
    command = [f"{ES_HOME}/bin/elasticsearch", *settings(environment)]
    os.execv(command[0], command)
