from django.urls import path

from streaming.live.consumer import TurnConsumer

websocket_urlpatterns = [
    path("ws/turns/<uuid:turn_id>/", TurnConsumer.as_asgi()),
]
