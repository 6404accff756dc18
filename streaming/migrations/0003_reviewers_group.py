"""The Reviewers group: staff who may read transcripts in the admin and change nothing."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Reviewers"
VIEW = ["view_conversation", "view_turn", "view_turnevent"]


def create_reviewers(apps, schema_editor):
    # Permissions are normally created after all migrations ran; make them exist now.
    app_config = apps.get_app_config("streaming")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="streaming", codename__in=VIEW)
    )


def remove_reviewers(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("streaming", "0002_moderation_and_audit"),
    ]

    operations = [migrations.RunPython(create_reviewers, remove_reviewers)]
