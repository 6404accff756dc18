"""Health for load balancers and monitoring: `/healthz`, `/readyz`, `/metrics`.

`/healthz` answers as long as the process serves requests. `/readyz` checks what a turn
needs (the database, a channel-layer round trip, the upstream) concurrently, each with a
short timeout, and answers 503 when one fails. `/metrics` is for staff or a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from streaming.eventlog.store import db
from streaming.upstream.client import UpstreamConfig, make_client
from streaming.web import metrics

CHECK_TIMEOUT = 2.0  # seconds, per check
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PING_CHANNEL = f"readyz.{uuid.uuid4().hex}"  # this process's, for the layer round trip


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    names = ("database", "channel_layer", "upstream")
    checks = (check_database, check_channel_layer, check_upstream)
    results = await asyncio.gather(*(timed(check) for check in checks))
    report = dict(zip(names, results, strict=True))
    ok = all(result["status"] == "ok" for result in results)
    body = {"status": "ok" if ok else "failing", "checks": report}
    return JsonResponse(body, status=200 if ok else 503)


async def timed(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run one check under the timeout: its status, its milliseconds, and what it found."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            found = await check()
        result = {"status": "ok", **found}
    except TimeoutError:
        result = {"status": "failing", "error": f"no answer within {CHECK_TIMEOUT:g} s"}
    except Exception as exc:  # any failure is the check's answer
        result = {"status": "failing", "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def check_database() -> dict[str, Any]:
    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    await db(select_one)
    return {"vendor": connection.vendor}


async def check_channel_layer() -> dict[str, Any]:
    """Send a ping through the layer to this process and receive it back.

    One channel per process, not a new one per check: the pub-sub layer never unsubscribes
    a channel that received. Pings repeat until one arrives, so a ping sent before the
    subscription took effect is not waited for; stale pings of earlier checks are skipped.
    """
    layer = get_channel_layer()
    nonce = uuid.uuid4().hex
    receiver = asyncio.ensure_future(_receive_ping(layer, nonce))
    try:
        while not receiver.done():
            await layer.send(PING_CHANNEL, {"type": "readyz.ping", "nonce": nonce})
            await asyncio.wait({receiver}, timeout=0.2)
        await receiver
    finally:
        receiver.cancel()
    return {"backend": type(layer).__name__}


async def _receive_ping(layer: Any, nonce: str) -> None:
    while (await layer.receive(PING_CHANNEL)).get("nonce") != nonce:
        pass


async def check_upstream() -> dict[str, Any]:
    """Any HTTP answer from the upstream's base URL counts as reachable, except a 5xx."""
    config = UpstreamConfig.from_settings()
    async with make_client(config) as client:  # the worker's kind: the same proxy
        response = await client.get(config.base_url + "/", timeout=CHECK_TIMEOUT)
    if response.status_code >= 500:
        raise RuntimeError(f"HTTP {response.status_code} from the upstream")
    return {"http_status": response.status_code}


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _may_read_metrics(request):
        return HttpResponse("staff login or METRICS_TOKEN needed\n", status=403)
    return HttpResponse(metrics.render(), content_type=PROMETHEUS_TYPE)


def _may_read_metrics(request: HttpRequest) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())
