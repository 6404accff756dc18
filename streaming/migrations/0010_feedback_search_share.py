import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def create_search_index(apps, schema_editor):
    """The search index table (raw SQL: FTS5 or a tsvector), filled from finished turns."""
    from streaming.search import backend

    module = backend()
    with schema_editor.connection.cursor() as cursor:
        for statement in module.CREATE:
            cursor.execute(statement)
    Turn = apps.get_model("streaming", "Turn")
    finished = Turn.objects.exclude(status__in=["queued", "streaming"]).values_list("pk", flat=True)
    from streaming.services.search import search_index_turn

    for turn_id in finished.iterator():
        search_index_turn(turn_id=turn_id)


def drop_search_index(apps, schema_editor):
    from streaming.search import backend

    with schema_editor.connection.cursor() as cursor:
        for statement in backend().DROP:
            cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("streaming", "0007_tools"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Feedback",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("rating", models.CharField(choices=[("up", "Up"), ("down", "Down")], db_index=True, max_length=4)),
                ("comment", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("turn", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="feedback", to="streaming.turn")),
            ],
        ),
        migrations.CreateModel(
            name="TurnReview",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("note", models.TextField(blank=True)),
                ("reviewed_at", models.DateTimeField(auto_now=True)),
                ("reviewer", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("turn", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="review", to="streaming.turn")),
            ],
        ),
        migrations.CreateModel(
            name="Share",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=43, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("conversation", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="share", to="streaming.conversation")),
            ],
        ),
        migrations.CreateModel(
            name="ReviewQueueTurn",
            fields=[],
            options={"verbose_name": "turn to review", "verbose_name_plural": "review queue", "proxy": True, "indexes": [], "constraints": []},
            bases=("streaming.turn",),
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
