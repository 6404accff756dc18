from django.db import migrations


def reindex_sqlite(apps, schema_editor):
    """On SQLite, index rows now sit at a rowid made from their turn's id
    (`streaming.search.sqlite.row_key`); rows written before got any rowid, so write them
    again. PostgreSQL's index is keyed by `turn_id` already."""
    if schema_editor.connection.vendor == "postgresql":
        return
    from streaming.search import TABLE
    from streaming.services.search import search_index_turn

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
    Turn = apps.get_model("streaming", "Turn")
    finished = Turn.objects.exclude(status__in=["queued", "streaming"]).values_list("pk", flat=True)
    for turn_id in finished.iterator():
        search_index_turn(turn_id=turn_id)


class Migration(migrations.Migration):
    dependencies = [("streaming", "0012_issue17_upload_provider_files")]

    operations = [migrations.RunPython(reindex_sqlite, migrations.RunPython.noop)]
