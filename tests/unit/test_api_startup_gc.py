"""An API worker freezes what it holds from its start out of the garbage collector's full
passes, which walked all of it in whichever request crossed the threshold (bench/search.py:
the faceted search's CPU p99 was three times its p50 until the bench froze them too)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient
from newsagg.api.app import create_app
from newsagg.core.settings import Settings
from support.fakes import MemoryStore


def test_the_objects_held_at_startup_are_frozen_out_of_collection():
    gc.unfreeze()
    held_at_start = [[] for _ in range(1_000)]  # tracked containers the worker keeps
    try:
        with TestClient(create_app(Settings(), store=MemoryStore())):
            assert gc.get_freeze_count() >= len(held_at_start)
    finally:
        gc.unfreeze()
