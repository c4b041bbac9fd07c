from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0003_visitor"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="line_host",
            field=models.CharField(blank=True, editable=False, max_length=100, verbose_name="line written on host"),
        ),
    ]
