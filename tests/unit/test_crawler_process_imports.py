"""The crawler's own process never loads the extraction code: its workers do (their
forkserver preloads it), and the process that only fetches and submits pages would pay
its import and memory for nothing."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from newsagg.core.settings import Settings
from newsagg.crawler.runner import scrapy_settings
from scrapy.utils.misc import load_object
import newsagg.crawler.spider

settings = scrapy_settings(Settings())
for path in [*settings["ITEM_PIPELINES"], *settings["DOWNLOADER_MIDDLEWARES"]]:
    load_object(path)
from newsagg.crawler.extraction_error import ExtractionError
import pickle
pickle.loads(pickle.dumps(ExtractionError("no article body found")))  # as from a worker
loaded = [m for m in ("newsagg.crawler.extraction", "trafilatura", "py3langid") if m in sys.modules]
assert not loaded, loaded
"""


def test_the_crawlers_process_does_not_import_extraction():
    run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
