"""The mounted simulator's request history (`GET /simulator/v1/_requests`), for staff only.

The simulator is plain ASGI without Django; served alone it answers this route itself (a test
tool on a port of its own). Mounted in the app, `webapp/asgi.py` sends this one route here,
where the session says who asks. The view is async so that it reads the history on the event
loop that serves the simulator's requests, never while one of them changes it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from streaming.simulator import app as simulator


@never_cache
@require_GET
async def simulator_requests(request: HttpRequest) -> HttpResponse:
    if not settings.SIMULATOR_ENABLED:
        raise Http404("the simulator is not served here")
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not user.is_staff:
        return JsonResponse({"error": "staff only"}, status=403)
    return JsonResponse(simulator.application.history(), safe=False)
