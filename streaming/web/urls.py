from django.urls import path, re_path

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
    path("api/tools", views.tools),
    path("api/turns/<uuid:turn_id>/approvals", views.turn_approvals),
]

# Attachments and presets (streaming/web/files.py).
from streaming.web import files  # noqa: E402

urlpatterns += [
    path("api/files", files.files),
    path("api/files/<uuid:upload_id>", files.file_content),
    path("api/presets", files.presets),
]

# Files hosted tools made, fetched with the key (streaming/web/containers.py).
from streaming.web import containers  # noqa: E402

urlpatterns += [
    path(
        "api/turns/<uuid:turn_id>/files/<str:container_id>/<str:file_id>",
        containers.container_file,
    ),
]

# Health and metrics (streaming/web/health.py): for load balancers and Prometheus.
from streaming.web import health  # noqa: E402

urlpatterns += [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
]

# The simulator is mounted beside Django (webapp/asgi.py); its request history is for staff.
from streaming.web import simulator_history  # noqa: E402

urlpatterns += [
    re_path(r"^simulator/v1/_requests/?$", simulator_history.simulator_requests),
]

# Working with answers (streaming/web/api_answers.py): search, feedback.
from streaming.web import api_answers  # noqa: E402

urlpatterns += [
    path("api/search", api_answers.search, name="search"),
    path("api/turns/<uuid:turn_id>/feedback", api_answers.feedback),
]

# Export and read-only shares (streaming/web/export_share.py).
from streaming.web import export_share  # noqa: E402

urlpatterns += [
    path("api/conversations/<uuid:conversation_id>/export", export_share.export),
    path("api/conversations/<uuid:conversation_id>/share", export_share.share),
    path("shared/<str:token>/", export_share.shared_page, name="shared"),
]

# Usage, cost and budgets (streaming/web/usage.py); the staff pages (streaming/review/usage.py).
from streaming.web import usage  # noqa: E402

urlpatterns += [
    path("api/usage", usage.usage, name="api-usage"),
]

from streaming.review import usage as staff_usage  # noqa: E402

urlpatterns += [
    path("staff/usage/", staff_usage.usage_page, name="staff-usage"),
    path("staff/audit/", staff_usage.audit_page, name="staff-audit"),
]

# Branches (streaming/web/api_branches.py): regenerate, edit, switch the active path.
from streaming.web import api_branches  # noqa: E402

urlpatterns += [
    path("api/turns/<uuid:turn_id>/regenerate", api_branches.turn_regenerate),
    path("api/turns/<uuid:turn_id>/edit", api_branches.turn_edit),
    path("api/conversations/<uuid:conversation_id>/active", api_branches.conversation_active),
]
