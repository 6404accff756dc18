from django.urls import path

from streaming.web import api as views
from streaming.web import pages

urlpatterns = [
    path("", pages.chat_page, name="chat"),
    path("c/<uuid:conversation_id>/", pages.chat_page, name="conversation"),
    path("api/conversations", views.conversations),
    path("api/conversations/<uuid:conversation_id>", views.conversation),
    path("api/conversations/<uuid:conversation_id>/turns", views.turns),
    path("api/turns/<uuid:turn_id>", views.turn),
    path("api/turns/<uuid:turn_id>/cancel", views.turn_cancel),
    path("api/models", views.models),
]

# Health and metrics (streaming/web/health.py): for load balancers and Prometheus.
from streaming.web import health  # noqa: E402

urlpatterns += [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
]
