from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The review admin lives in its own package (streaming/review/); Django's
        # autodiscovery looks only for `streaming.admin`.
        from streaming.review import admin, presets, usage_admin  # noqa: F401
        from streaming.tools import admin as tools_admin  # noqa: F401
