"""ASGI entry point: HTTP (Django, and the built-in simulator) and WebSockets (Channels)."""

import gc
import os
import sys
import threading
import time

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from streaming import simulator, tcp_writes  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402
from streaming.worker import worker_application  # noqa: E402
from webapp.request_threads import request_thread  # noqa: E402

tcp_writes.install()


async def http(scope, receive, send):
    """The simulator is plain ASGI, mounted beside Django under /simulator/."""
    if scope["path"].startswith("/simulator/"):
        await simulator.application(scope, receive, send)
    else:
        async with request_thread():
            await django_asgi(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # `manage.py runworker streaming.worker` runs this application (with REDIS_URL).
        "channel": worker_application(),
    }
)

# What is loaded by now (Django, the models, every pydantic schema: ~100,000 tracked objects)
# lives as long as the process: keep it out of the collector's full passes, which scanned it
# again and again while a turn's events came in (bench/relay.py: 1.25-1.37x the events/s).
# Everything made later is collected as before.
gc.collect()
gc.freeze()
# Under load most objects live for one round (a read's events, a batch, its frame), but with
# the default thresholds (700, 10, 10) the collector caught many of them alive and promoted
# them, and the old generation's quarter-rule then ran a full collection every ~2.5 s: 50-100
# ms with everything stopped (bench/load.py at 300 turns, gc.callbacks). Young collections
# every 50,000 allocations let those objects die first. Full collections would then come so
# rarely that cyclic garbage piled up (94 -> 730 MB in a 3-minute soak of 100 turns), so a
# thread of the process runs one every FULL_COLLECTION_EVERY seconds.
FULL_COLLECTION_EVERY = 30.0
gc.set_threshold(50_000, 20, 1000)


def _collect_forever() -> None:
    while True:
        time.sleep(FULL_COLLECTION_EVERY)
        gc.collect()


threading.Thread(target=_collect_forever, name="full-gc", daemon=True).start()

# The database threads (log rounds, views, socket auth) let go of the GIL around every SQLite
# or PostgreSQL call and must win it back from the event loop, which keeps it while it relays:
# with the loop busy, each call waited up to the switch interval (5 ms by default). At 300
# turns the start-up burst of posts, handshakes and claims queued behind those waits
# (bench/load.py: p50 367 -> 72-110 ms at N=300 with 1 ms).
sys.setswitchinterval(0.001)
