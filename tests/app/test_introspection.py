"""`GET /api/debug/runtime`: off (a plain 404) unless TARGET_APP_INTROSPECTION=1, then counts only."""

import pytest
from django.test import AsyncClient


async def test_it_is_not_served_by_default(settings):
    assert settings.RUNTIME_INTROSPECTION is False  # the setting's default: off in production
    off = await AsyncClient().get("/api/debug/runtime")
    unrouted = await AsyncClient().get("/api/debug/nothing-here")
    assert off.status_code == unrouted.status_code == 404
    assert off.content == unrouted.content


async def test_when_enabled_it_counts_tasks_consumers_threads_and_objects(settings):
    settings.RUNTIME_INTROSPECTION = True
    # Objects the collector tracks: frozen ones (gc.freeze(), which a test session may have called) are not.
    held = [[n] for n in range(5000)]  # lists: always tracked (a dict of atomic values is not)
    response = await AsyncClient().get("/api/debug/runtime")
    assert response.status_code == 200
    counts = response.json()
    assert set(counts) == {"tasks", "consumers", "threads", "objects"}
    assert counts["tasks"] >= 1 and counts["threads"] >= 1 and counts["objects"] >= len(held)
    assert counts["consumers"] == 0


@pytest.mark.parametrize("method", ["post", "delete"])
async def test_it_only_answers_get(settings, method):
    settings.RUNTIME_INTROSPECTION = True
    assert (await getattr(AsyncClient(), method)("/api/debug/runtime")).status_code == 405
