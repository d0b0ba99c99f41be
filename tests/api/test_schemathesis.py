"""Never a 500 for anything a client sends, and every answer as the OpenAPI schema says.

Schemathesis generates requests from our own schema (valid and invalid ones) and sends them
to the app in-process, over an index of the demo stories so searches find something.
Bounded in examples and time so it runs in every `make test`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from newsagg.api.app import create_app
from newsagg.api.security import hash_key
from newsagg.core.adapters.tantivy_store import TantivyStore
from newsagg.core.settings import Settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from support.demo_corpus import demo_store

MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


KEY = "nsg_schemathesis-key"
CONFIGURATIONS = {
    "open": {},
    # a tiny bucket, so most requests get the 429 and its documentation is checked too
    "guarded": {"api_keys": hash_key(KEY), "api_rate_limit": 1, "api_rate_burst": 5},
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TantivyStore]:
    store = demo_store(tmp_path_factory.mktemp("schemathesis") / "index")
    yield store
    store.close()


@pytest.fixture(params=CONFIGURATIONS)
def api_schema(
    request: pytest.FixtureRequest, index: TantivyStore, tmp_path: Path
) -> schemathesis.BaseSchema:
    # Saved searches go to an alert store under tmp_path; webhook URLs are not resolved
    # (private ones allowed), so generated host names never reach a DNS resolver.
    settings = Settings(
        **CONFIGURATIONS[request.param], data_dir=tmp_path, alerts_allow_private_webhooks=True
    )
    app = create_app(settings, store=index)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def run_operation(operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode) -> None:
    """Schemathesis' pytest plugin does not run on our pytest (9.x), so drive hypothesis here."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=2000,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"X-API-Key": KEY}, checks=CHECKS)

    run()


def test_no_request_gets_a_server_error_or_breaks_the_schema(
    api_schema: schemathesis.BaseSchema,
) -> None:
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert "/v1/search" in {operation.path for operation in operations}
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            try:
                run_operation(operation, mode)
            except Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE  # no invalid input exists
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"[:1500]
                )
    assert failures == [], "\n\n".join(failures)
