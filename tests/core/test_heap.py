"""The collector's settings while the app serves, and as they were once it stops."""

from __future__ import annotations

import gc
import weakref

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database
from app.core.heap import YOUNG_GENERATION_THRESHOLD, settled_heap
from app.main import create_app


def test_while_serving_startup_objects_are_frozen_and_young_passes_are_rarer(
    settings: Settings, database: Database
) -> None:
    before = gc.get_threshold()
    with TestClient(create_app(settings, database=database)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def serve_then_fail(held: list[Node], alive: weakref.ref[Node]) -> None:
    """Serve with the heap settled; what was built before is dropped; then fail."""
    with settled_heap():
        held.clear()
        gc.collect()
        assert alive() is not None  # frozen: no pass looks at it
        raise RuntimeError("serving stopped")


def test_what_startup_built_is_skipped_while_serving_and_collected_after_even_on_failure() -> None:
    before = gc.get_threshold()
    held = [Node()]
    alive = weakref.ref(held[0])
    with pytest.raises(RuntimeError, match="serving stopped"):
        serve_then_fail(held, alive)
    assert gc.get_threshold() == before
    gc.collect()
    assert alive() is None


def test_apps_that_stop_out_of_order_give_the_settings_back_once_the_last_stops() -> None:
    before = gc.get_threshold()
    first, second = settled_heap(), settled_heap()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:])  # one still serves
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
