"""Sources shared out between crawler processes (NEWSAGG_CRAWLER_SHARD / _SHARDS): every
source in exactly one shard, the same shard in every process and run, few moves on growth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from newsagg.core.settings import Settings
from newsagg.core.sources import Source, SourcesError, select_shard, shard_of

NAMES = [f"outlet-{i:03d}" for i in range(400)] + ["marquee-daily", "reel-news", "bbc-world"]


def sources(names: list[str]) -> list[Source]:
    return [Source(name=name, feeds=[f"https://{name}.example/rss.xml"]) for name in names]


@pytest.mark.parametrize("shards", [1, 2, 3, 5, 8])
def test_every_source_is_in_exactly_one_shard(shards: int) -> None:
    every = sources(NAMES)
    split = [select_shard(every, shard, shards) for shard in range(shards)]
    names = [source.name for part in split for source in part]
    assert sorted(names) == sorted(NAMES)
    assert len(names) == len(set(names))
    # and the split is not lopsided: each shard gets a fair part of 403 names
    assert min(len(part) for part in split) > len(NAMES) / shards * 0.7


def test_the_split_is_the_same_in_another_process_with_another_hash_seed() -> None:
    """Python's hash() of a str changes per process; the split must not."""
    here = [shard_of(name, 3) for name in NAMES]
    script = (
        "import json, sys\n"
        "from newsagg.core.sources import shard_of\n"
        "names = json.loads(sys.stdin.read())\n"
        "print(json.dumps([shard_of(n, 3) for n in names]))\n"
    )
    for seed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(NAMES),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        assert json.loads(out) == here


def test_the_split_is_pinned() -> None:
    """The documented split of the cluster run's sources; a change of algorithm would move
    every deployment's sources to other crawlers (and their crawl state with them)."""
    assert {name: shard_of(name, 2) for name in ("marquee-daily", "reel-news", "bbc-world")} == {
        "marquee-daily": 1,
        "reel-news": 1,
        "bbc-world": 1,
    }
    assert [shard_of(f"cluster-news-{i}", 2) for i in (1, 2, 3)] == [0, 0, 1]
    assert shard_of("reuters", 4) == 0


def test_a_new_shard_takes_sources_only_for_itself() -> None:
    """From n to n+1 crawlers, a source either stays or moves to the new crawler."""
    for shards in (1, 2, 3, 4):
        moved = [n for n in NAMES if shard_of(n, shards) != shard_of(n, shards + 1)]
        assert all(shard_of(n, shards + 1) == shards for n in moved)
        assert len(moved) < len(NAMES) / (shards + 1) * 1.4


def test_a_shard_outside_the_count_is_an_error_naming_the_setting() -> None:
    with pytest.raises(SourcesError, match=r"NEWSAGG_CRAWLER_SHARD must be 0\.\.1"):
        select_shard(sources(NAMES[:3]), 2, 2)
    with pytest.raises(ValueError, match="shards must be 1 or more"):
        shard_of("x", 0)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSAGG_CRAWLER_SHARDS", "3")
    monkeypatch.setenv("NEWSAGG_CRAWLER_SHARD", "2")
    settings = Settings()
    assert (settings.crawler_shard, settings.crawler_shards) == (2, 3)
    assert Settings.model_fields["crawler_shards"].default == 1


def test_the_crawler_crawls_only_its_shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """runner.crawl loads the file and keeps only its shard's sources (checked where it opens
    the crawl state, the next step, with the sources it chose)."""
    from newsagg.crawler import runner

    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        + "".join(f"  - name: {n}\n    feeds: [https://{n}.example/rss.xml]\n" for n in NAMES[:20])
    )
    chosen: list[list[str]] = []
    original = runner.select_shard

    def spy(every: list[Source], shard: int, shards: int) -> list[Source]:
        part = original(every, shard, shards)
        chosen.append([source.name for source in part])
        return part

    class Stop(Exception):
        pass

    def no_state(path: Path) -> None:
        raise Stop

    monkeypatch.setattr(runner, "select_shard", spy)
    monkeypatch.setattr(runner, "CrawlState", no_state)
    for shard in (0, 1):
        settings = Settings(sources=path, crawler_shard=shard, crawler_shards=2, data_dir=tmp_path)
        with pytest.raises(Stop):
            runner.crawl(settings, once=True)
    assert sorted(chosen[0] + chosen[1]) == sorted(NAMES[:20])
    assert chosen[0] == [n for n in NAMES[:20] if shard_of(n, 2) == 0]
    assert chosen[0]
    assert chosen[1]
