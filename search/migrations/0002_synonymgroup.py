from django.db import migrations, models

from search.synonym_seeds import SEED


def seed(apps, schema_editor):
    SynonymGroup = apps.get_model("search", "SynonymGroup")
    SynonymGroup.objects.bulk_create(SynonymGroup(terms=terms) for terms in SEED)


class Migration(migrations.Migration):

    dependencies = [
        ("search", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SynonymGroup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("terms", models.TextField(help_text="Comma-separated words or phrases that mean the same thing to a "
                                                     "shopper, e.g. “sweatpants, joggers, track pants”.")),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["terms"]},
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
