"""`newsagg extract` as a user runs it, on saved pages under tests/data/extraction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "extraction"
FERRY = DATA / "harbour-ferry.html"
FESTA = DATA / "festa-da-colheita.html.gz"  # windows-1252 bytes, gzip, no canonical link


def newsagg_extract(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsagg.cli.main", "extract", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prints_one_article_per_file_in_input_order(tmp_path: Path):
    url = "https://folha.example.pt/noticias/2023/09/02/festa-da-colheita.html"
    run = newsagg_extract(FESTA, FERRY, "--url", url, "--source", "folha")
    assert run.returncode == 0, run.stderr
    festa, ferry = (json.loads(line) for line in run.stdout.splitlines())
    assert festa["title"] == "Festa da colheita enche a praça de São João"
    assert "três mil pessoas" in festa["text"]
    assert festa["language"] == "pt"
    assert festa["authors"] == ["Joana Conceição"]
    assert festa["published_at"] == "2023-09-02T00:00:00Z"  # from the URL
    assert festa["source"] == "folha"
    assert ferry["title"] == "Harbour ferry returns after storm repairs"
    # as in the crawler: a canonical on another site than the page's address is not trusted
    assert ferry["canonical_url"] == url


def test_without_url_the_page_address_and_its_host_are_used():
    run = newsagg_extract(FERRY)
    assert run.returncode == 0, run.stderr
    article = json.loads(run.stdout)
    assert article["url"] == "https://ledger.example.com/2024/03/15/harbour-ferry-returns.html"
    assert article["source"] == "ledger.example.com"
    assert article["authors"] == ["Mira Patel"]
    assert article["published_at"] == "2024-03-15T04:00:00Z"
    assert article["section"] == "Local"
    assert "Related stories" not in article["text"]
    assert "Share this article" not in article["text"]


def test_a_file_without_an_article_fails_alone(tmp_path: Path):
    empty = tmp_path / "menu.html"
    empty.write_text("<html><head><title>Menu</title></head><body><p>Home</p></body></html>")
    missing = tmp_path / "missing.html"
    run = newsagg_extract(empty, FERRY, missing, "--url", "https://ledger.example.com/x")
    assert run.returncode == 1
    assert [json.loads(line)["title"] for line in run.stdout.splitlines()] == [
        "Harbour ferry returns after storm repairs"
    ]
    errors = run.stderr.splitlines()
    assert len(errors) == 2
    assert "menu.html" in errors[0]
    assert "no article body" in errors[0]
    assert "missing.html" in errors[1]


def test_a_page_that_names_no_address_is_extracted_with_an_unknown_one():
    """`newsagg extract *.html` works on any saved page: the address is then unknown (a
    never-resolving .invalid URL named by the page's hash), not an error."""
    run = newsagg_extract(FESTA, FESTA)
    assert run.returncode == 0, run.stderr
    first, second = (json.loads(line) for line in run.stdout.splitlines())
    assert first["url"].startswith("https://unknown.invalid/page/")
    assert first["source"] == "unknown"
    assert first["title"] == "Festa da colheita enche a praça de São João"
    assert second["id"] == first["id"]  # the same page, the same unknown address


def test_extract_help_says_what_an_unknown_address_becomes():
    run = subprocess.run(
        [sys.executable, "-m", "newsagg.cli.main", "extract", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "unknown.invalid" in run.stdout
