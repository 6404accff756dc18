from django.db import migrations


class Migration(migrations.Migration):
    """Once rewrote SQLite's index rows at rowids made from their turns' ids; 0015 rebuilds
    the whole index (its rows now need columns this one's code did not know), so nothing is
    left to do here."""

    dependencies = [("streaming", "0012_issue17_upload_provider_files")]

    operations = []
