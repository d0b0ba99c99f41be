"""sources.yaml: the new discovery fields, and errors that say where and what."""

from __future__ import annotations

from pathlib import Path

import pytest
from newsagg.core.sources import SourcesError, load_sources

from newsagg.cli.main import main


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_homepage_sections_and_allow_private_are_read(tmp_path: Path):
    (source,) = load_sources(
        write(
            tmp_path,
            """sources:
  - name: no-feeds
    homepage: https://news.example/
    sections:
      start_urls: [https://news.example/world/]
      depth: 2
      allow: ['/\\d{4}/\\d{2}/', '/tag/']
      deny: ['/tag/']
    allow_private: true
""",
        )
    )
    assert str(source.homepage) == "https://news.example/"
    assert source.allow_private
    assert source.sections is not None
    assert source.sections.depth == 2
    assert source.sections.follows("https://news.example/2026/09/story")
    assert not source.sections.follows("https://news.example/tag/cycling")  # deny wins
    assert not source.sections.follows("https://news.example/about")  # not allowed


def test_private_addresses_are_refused_by_default(tmp_path: Path):
    (source,) = load_sources(
        write(tmp_path, "sources:\n  - name: a\n    feeds: [https://a.example/rss]\n")
    )
    assert source.allow_private is False
    assert source.sections is None
    assert source.homepage is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("    interval: 60\n", "sources[0] (bad): a source needs at least one of feeds, sitemaps"),
        ("    homepage: not-a-url\n", "sources[0] (bad).homepage: Input should be a valid URL"),
        (
            "    sections: {start_urls: [https://b.example/], deny: ['(']}\n",
            "sources[0] (bad).sections.deny: pattern 0 ('(') is not a valid regular expression",
        ),
        (
            "    sections: {start_urls: [https://b.example/], depth: 9}\n",
            "sources[0] (bad).sections.depth: Input should be less than or equal to 5",
        ),
        ("    sections: {start_urls: []}\n", "sources[0] (bad).sections.start_urls"),
        ("    sections: {start: [https://b.example/]}\n", "sources[0] (bad).sections.start"),
        ("    feeds: [https://b.example/rss]\n    allow_private: maybe\n", "allow_private"),
    ],
)
def test_errors_name_the_source_and_the_field(tmp_path: Path, entry: str, message: str):
    with pytest.raises(SourcesError) as error:
        load_sources(write(tmp_path, "sources:\n  - name: bad\n" + entry))
    assert message in str(error.value)
    assert "Value error," not in str(error.value)


def test_crawl_exits_2_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    path = write(tmp_path, "sources:\n  - name: bad\n    sections: {start_urls: [x]}\n")
    monkeypatch.setenv("NEWSAGG_SOURCES", str(path))
    monkeypatch.setenv("NEWSAGG_DATA_DIR", str(tmp_path / "data"))
    assert main(["crawl", "--once"]) == 2
    assert "sources[0] (bad).sections.start_urls.0" in capsys.readouterr().err
