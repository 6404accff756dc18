from django.db import migrations


def rebuild_search_index(apps, schema_editor):
    """The index now knows each turn's creation time (the newest matches are ranked first)
    and, on SQLite, its owner as a token: made again from the finished turns."""
    from streaming.search import TABLE, backend
    from streaming.services.search import search_index_turn

    module = backend()
    with schema_editor.connection.cursor() as cursor:
        for statement in [*module.DROP, *module.CREATE]:
            cursor.execute(statement)
    Turn = apps.get_model("streaming", "Turn")
    finished = Turn.objects.exclude(status__in=["queued", "streaming"]).values_list("pk", flat=True)
    for turn_id in finished.iterator():
        search_index_turn(turn_id=turn_id)
    if schema_editor.connection.vendor == "postgresql":
        # The planner picks between the two ways to the newest matches by how common the
        # words are, which it knows only from the table's statistics.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("streaming", "0015_turn_error_detail")]

    operations = [migrations.RunPython(rebuild_search_index, migrations.RunPython.noop)]
