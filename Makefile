# newsagg: every target bootstraps what it needs on a fresh clone (Python 3.11 and make).
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .cache/uv/bin/uv)
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3
CHROMIUM ?= /usr/bin/chromium

.PHONY: install demo test lint format up clean kafka elasticsearch browser nginx reliability reliability-tools cluster cluster-test prometheus compose-tools compose-up compose-test bench bench-quick

install: .venv/.installed

.venv/.installed: pyproject.toml uv.lock libs/core/pyproject.toml services/*/pyproject.toml
	@if [ ! -x "$(UV)" ]; then \
		echo "installing uv $(UV_VERSION) from PyPI into .cache/uv"; \
		$(PYTHON) -m venv .cache/uv && .cache/uv/bin/pip install -q "uv==$(UV_VERSION)"; \
	fi
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: install  ## serve the bundled demo site, crawl it, index it, serve the search API
	.venv/bin/newsagg demo

up: install  ## crawler + indexer + API on the sources in NEWSAGG_SOURCES (default sources.yaml)
	.venv/bin/newsagg up

test: install lint browser nginx prometheus bench-quick  ## the whole suite (CI runs this)
	NEWSAGG_TEST_CHROMIUM=$(CHROMIUM) .venv/bin/pytest

# issue 16: every benchmark, in this order; each writes <results>/<name>.json through
# bench/_report.py, then bench/summary.py prints one table and exits 1 if one of BENCH_EXPECT
# has no results from this run. A failing (or missing) script fails the target at the end.
BENCHES := extraction dates stories crawl freshness index search api bus alert_latency alerts
BENCH_EXPECT := extraction,dates,stories,crawl,freshness,index,search,api,alerts
define run_benches
	@$(2) since=$$(date +%s); failed=; \
	for b in $(BENCHES); do \
		echo "== bench/$$b.py $(1)"; start=$$SECONDS; \
		.venv/bin/python bench/$$b.py $(1) || failed="$$failed $$b"; \
		echo "== bench/$$b.py: $$((SECONDS - start)) s"; \
	done; \
	.venv/bin/python bench/summary.py --expect $(BENCH_EXPECT) --since $$since || failed="$$failed summary"; \
	if [ -n "$$failed" ]; then echo "failed:$$failed" >&2; exit 1; fi
endef

bench: install nginx reliability-tools  ## every benchmark in full (bench/results/*.json, py-spy profiles beside), then one table
	$(call run_benches,)

bench-quick: install nginx reliability-tools  ## every benchmark with --quick (same code paths, small sizes) into a temp dir; make test runs it
	$(call run_benches,--quick,export NEWSAGG_BENCH_RESULTS=$${NEWSAGG_BENCH_RESULTS:-$$(mktemp -d -t newsagg-bench-quick.XXXXXX)}; echo "results in $$NEWSAGG_BENCH_RESULTS";)

browser:  ## Debian's Chromium for the search page tests (apt-get, as root or with sudo)
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "no Chromium at $(CHROMIUM): install Debian's chromium, or set CHROMIUM=/path/to/chromium" >&2; exit 1; fi; \
		echo "installing Debian's chromium for the browser tests"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-dejavu-core fonts-liberation >/dev/null; \
	fi

reliability: install reliability-tools  ## every fault on embedded and on Kafka + Elasticsearch, then a wrk load test
	.venv/bin/python -m reliability $(RELIABILITY_ARGS)

reliability-tools:  ## Debian's wrk (load test) and faketime (clock skew) for `make reliability`
	@if ! command -v wrk >/dev/null || ! command -v faketime >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "install Debian's wrk and faketime for make reliability" >&2; exit 1; fi; \
		echo "installing Debian's wrk and faketime for make reliability"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			wrk faketime >/dev/null; \
	fi

nginx:  ## Debian's nginx for the test of deploy/nginx/newsagg.conf (apt-get, as root or with sudo)
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
		echo "installing Debian's nginx for the proxy tests"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; \
	fi

prometheus:  ## Debian's prometheus (with promtool) for the tests of deploy/prometheus (apt-get, as root or with sudo)
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "install Debian's prometheus (prometheus and promtool on PATH) for the monitoring tests" >&2; exit 1; fi; \
		echo "installing Debian's prometheus for the monitoring tests"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check libs services src tests bench

format: install
	.venv/bin/ruff format libs services src tests bench
	.venv/bin/ruff check --fix .

clean:
	rm -rf .venv .cache/uv data .pytest_cache .ruff_cache test-artifacts

kafka:  ## a real single-node Apache Kafka broker (KRaft) from Maven Central, in the foreground
	$(PYTHON) deploy/local/launch.py kafka $(if $(PORT),--port $(PORT))

elasticsearch:  ## a real single-node Elasticsearch from Maven Central (security off: local use only)
	$(PYTHON) deploy/local/launch.py elasticsearch $(if $(PORT),--port $(PORT))

cluster:  ## 3 Kafka brokers + 2 Elasticsearch nodes on 127.0.0.1, in the foreground; prints the NEWSAGG_* to use them
	$(PYTHON) deploy/local/launch.py cluster

cluster-test: install  ## 2 crawlers, 3 indexers, 3 brokers, 2 ES nodes; kill -9 a broker, a node, an indexer (test-artifacts/cluster.json)
	.venv/bin/python -m reliability.cluster $(CLUSTER_ARGS)

compose-tools:  ## Debian's docker.io, docker-compose and debootstrap for compose-up / compose-test (apt-get)
	@if [ ! -x /usr/sbin/dockerd ] || [ ! -x /usr/bin/docker-compose ] || [ ! -x /usr/sbin/debootstrap ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
		echo "installing Debian's docker.io, docker-compose and debootstrap for the compose stack"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			docker.io docker-compose debootstrap >/dev/null; \
	fi

compose-up: install compose-tools  ## docker-compose.yml + deploy/compose/local.yml on the demo sites (private dockerd), until Ctrl-C
	.venv/bin/python deploy/compose/test.py up

compose-test: install compose-tools  ## build every image, run the compose stack on the demo sites, search via the API container, tear down
	.venv/bin/python deploy/compose/test.py test
