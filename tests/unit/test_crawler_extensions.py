"""The crawler's Scrapy extensions: the ones it keeps load, the two it turns off are never
imported (the remote control's module imports aiohttp, most of a second of each start)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from newsagg.core.settings import Settings
from newsagg.crawler.runner import scrapy_settings
from scrapy.crawler import Crawler
from scrapy.spiders import Spider

crawler = Crawler(Spider, scrapy_settings(Settings()), init_reactor=True)
crawler._apply_settings()
loaded = {type(ext).__name__ for ext in crawler.extensions.middlewares}
print(sorted(loaded))
assert "AutoThrottle" in loaded and "CoreStats" in loaded, loaded
assert "RemoteControl" not in loaded and "TelnetConsole" not in loaded, loaded
assert "aiohttp" not in sys.modules
assert "scrapy.extensions.remote_control" not in sys.modules
"""


def test_the_remote_control_and_telnet_are_never_imported_and_the_rest_load():
    run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
