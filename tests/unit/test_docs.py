"""The README's configuration table must list every setting, so users can find them."""

from pathlib import Path

from newsagg.core.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [
        f"NEWSAGG_{name.upper()}"
        for name in Settings.model_fields
        if f"`NEWSAGG_{name.upper()}`" not in README
    ]
    assert missing == []


def test_readme_names_the_two_main_commands():
    assert "make demo" in README
    assert "make test" in README
