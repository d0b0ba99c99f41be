"""The load test's reading of wrk's summary (output of Debian's wrk 4.1.0, measured here)."""

from __future__ import annotations

from reliability.load import parse_wrk

CLEAN = """Running 10s test @ http://127.0.0.1:51231/v1/search?q=Milind+Soman+cycling
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   177.81ms   28.38ms 342.89ms   76.20%
    Req/Sec    89.43     32.12   160.00     73.50%
  Latency Distribution
     50%  173.63ms
     75%  189.89ms
     90%  212.52ms
     99%  273.26ms
  1786 requests in 10.02s, 4.09MB read
Requests/sec:    178.33
Transfer/sec:    417.96KB
"""
FAILING = CLEAN.replace(
    "  1786 requests in 10.02s, 4.09MB read\n",
    "  1786 requests in 10.02s, 4.09MB read\n"
    "  Socket errors: connect 0, read 3, write 0, timeout 2\n"
    "  Non-2xx or 3xx responses: 7\n",
).replace("     99%  273.26ms", "     99%    1.20s")


def test_a_clean_run_is_green():
    result = parse_wrk(CLEAN, "http://x")
    assert (result.requests, result.errors, result.non_2xx) == (1786, 0, 0)
    assert result.requests_per_second == 178.33
    assert result.latency_p99_ms == 273.26
    assert result.green


def test_socket_errors_and_bad_statuses_make_it_red():
    result = parse_wrk(FAILING, "http://x")
    assert (result.errors, result.non_2xx) == (5, 7)
    assert result.latency_p99_ms == 1200.0
    assert not result.green
