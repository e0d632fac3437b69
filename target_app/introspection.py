"""`GET /api/debug/runtime`: counts of the serving process for load tests; a 404 unless enabled."""

import asyncio
import gc
import threading

from django.conf import settings
from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET

from target_app.realtime.consumers import RealtimeConsumer


@require_GET
async def runtime(request) -> JsonResponse:
    """Live asyncio tasks, consumers, threads and Python objects (after a full collection).

    Served only with `TARGET_APP_INTROSPECTION=1` (settings.RUNTIME_INTROSPECTION), never in
    production: it says nothing about users, but a full collection on demand is work anyone could ask
    for. Async, so it runs on the server's event loop and counts that loop's tasks (its own included).
    """
    if not settings.RUNTIME_INTROSPECTION:
        raise Http404("no such page")  # the same answer as any URL that is not routed
    gc.collect()
    objects = gc.get_objects()
    return JsonResponse(
        {
            "tasks": len(asyncio.all_tasks()),
            # type(), not isinstance(): isinstance asks for __class__, which sets up Django's lazy objects.
            "consumers": sum(issubclass(type(item), RealtimeConsumer) for item in objects),
            "threads": threading.active_count(),
            "objects": len(objects),
        }
    )
