from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("streaming", "0011_usage_and_budgets")]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="provider_files",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
