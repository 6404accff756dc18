"""ASGI entry point: HTTP (Django, and the built-in simulator) and WebSockets (Channels)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from streaming.live.auth import socket_auth  # noqa: E402
from streaming.live.origin import SameOriginOnly  # noqa: E402
from streaming.live.routing import websocket_urlpatterns  # noqa: E402
from streaming.simulator import app as simulator  # noqa: E402
from streaming.worker.consumer import worker_application  # noqa: E402

# Background responses of the mounted simulator outlive a restart of the app, as OpenAI's do.
simulator.application.keep_background_in(settings.DATA_DIR / "simulator")


def to_simulator(scope) -> bool:
    """Whether the mounted simulator answers this request: only where settings serve it, and
    never its request history, which Django serves to staff (streaming/web/simulator_history.py).
    Every other request, and so every /simulator/ path when it is off, goes to Django (a 404)."""
    return (
        settings.SIMULATOR_ENABLED
        and scope["path"].startswith(simulator.PREFIX + "/")
        and simulator.local_path(scope) != simulator.HISTORY_PATH
    )


async def http(scope, receive, send):
    """The simulator is plain ASGI, mounted beside Django under /simulator/."""
    if to_simulator(scope):
        await simulator.application(scope, receive, send)
    else:
        await django_asgi(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": SameOriginOnly(socket_auth(URLRouter(websocket_urlpatterns))),
        # `manage.py runworker streaming.worker` runs this application (with REDIS_URL).
        "channel": worker_application(),
    }
)
