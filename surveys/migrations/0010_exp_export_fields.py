from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("surveys", "0009_scores_alerts_imports"),
    ]

    operations = [
        migrations.AddField(
            model_name="study",
            name="investigators_can_export",
            field=models.BooleanField(
                default=False,
                help_text="Data managers can always export the study's data, by pseudonym; tick to let investigators too.",
                verbose_name="investigators may export",
            ),
        ),
        migrations.AddField(
            model_name="historicalstudy",
            name="investigators_can_export",
            field=models.BooleanField(
                default=False,
                help_text="Data managers can always export the study's data, by pseudonym; tick to let investigators too.",
                verbose_name="investigators may export",
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="invitation_channel",
            field=models.CharField(blank=True, editable=False, max_length=8, verbose_name="invited by"),
        ),
        migrations.AddField(
            model_name="historicalassignment",
            name="invitation_channel",
            field=models.CharField(blank=True, editable=False, max_length=8, verbose_name="invited by"),
        ),
    ]
