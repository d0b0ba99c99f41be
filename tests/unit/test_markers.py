"""`pytest -m "not jvm and not browser and not slow"` is the quick loop: it must never start
a JVM or a browser, however a new test reaches Kafka or Elasticsearch, nor run the slow
pipeline suites. Checked on tests/conftest.py itself, in a scratch suite whose fixtures
record being started instead of starting."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).parents[1] / "conftest.py").read_text()
SCRATCH_SUITE = {
    "test_kafka_direct": "def test_kafka(kafka_url):\n    pass\n",
    "test_through_fixture": (
        "import pytest\n"
        "@pytest.fixture\n"
        "def store_url(elasticsearch_url):\n    return elasticsearch_url\n"
        "def test_store(store_url):\n    pass\n"
    ),
    "test_private_broker": "def test_restart(private_kafka):\n    pass\n",
    "test_fetched_and_marked": (
        "import pytest\n"
        "@pytest.fixture(params=['sqlite', pytest.param('kafka', marks=pytest.mark.jvm)])\n"
        "def bus(request):\n"
        "    return request.getfixturevalue('kafka_url') if request.param == 'kafka' else 'db'\n"
        "def test_bus(bus):\n    pass\n"
    ),
    "test_embedded": "def test_embedded(tmp_path):\n    pass\n",
    "browser/test_page": "def test_page():\n    pass\n",
    "e2e/test_flow": "def test_flow():\n    pass\n",
    "test_services": "import pytest\npytestmark = pytest.mark.e2e\ndef test_up():\n    pass\n",
}
# Stand-ins for support/kafka_broker.py and support/elasticsearch_node.py, same names.
STAND_INS = "".join(
    f"@pytest.fixture(scope={scope!r})\ndef {name}():\n    print('STARTED {name}')\n    return 1\n"
    for name, scope in [
        ("kafka_url", "session"),
        ("elasticsearch_url", "session"),
        ("private_kafka", "function"),
    ]
)
MARKERS = (
    "[pytest]\naddopts = --strict-markers\nmarkers =\n    jvm: x\n    browser: x\n    slow: x\n"
    "    e2e: x\n"
)


@pytest.fixture
def scratch(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(MARKERS)
    conftest = CONFTEST.replace("pytest_plugins = ", "_real_plugins = ")
    pytester.makeconftest(f"{conftest}\n\n{STAND_INS}")
    for directory in ("browser", "e2e"):
        (pytester.path / directory).mkdir()
    pytester.makepyfile(**SCRATCH_SUITE)
    return pytester


def test_the_quick_loop_leaves_out_every_test_that_reaches_a_jvm_a_browser_or_is_slow(
    scratch: pytest.Pytester,
):
    result = scratch.runpytest("-m", "not jvm and not browser and not slow", "-s")
    result.assert_outcomes(passed=2, deselected=7)
    assert "STARTED" not in result.stdout.str()
    result = scratch.runpytest("-m", "slow", "-q", "--co")
    assert sorted(line for line in result.outlines if "::" in line) == [
        "e2e/test_flow.py::test_flow",
        "test_services.py::test_up",
    ]
    result = scratch.runpytest("-m", "jvm", "-q", "--co")
    assert sorted(line for line in result.outlines if "::" in line) == [
        "test_fetched_and_marked.py::test_bus[kafka]",
        "test_kafka_direct.py::test_kafka",
        "test_private_broker.py::test_restart",
        "test_through_fixture.py::test_store",
    ]


def test_a_jvm_fetched_at_run_time_by_an_unmarked_test_is_refused_before_it_starts(
    scratch: pytest.Pytester,
):
    scratch.makepyfile(
        test_unmarked=(
            "def test_sneaky(request):\n    request.getfixturevalue('elasticsearch_url')\n"
        )
    )
    result = scratch.runpytest("-m", "not jvm", "-s", "test_unmarked.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_sneaky starts elasticsearch_url but is not marked jvm*"])
    assert "STARTED" not in result.stdout.str()
