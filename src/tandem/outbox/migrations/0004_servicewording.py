"""The service's wording (its everyday name and clinical names) moves from the reminders app
to the outbox, so that every message can read it (portal invitations and resets too). The
table and its rows are kept: only renamed (reminders_servicewording → outbox_servicewording)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_service_manager_role"),
        ("outbox", "0003_planned_messages"),
        ("reminders", "0002_do_not_contact_on_patient"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ServiceWording",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("version", models.PositiveIntegerField(db_default=1, default=1)),
                        ("everyday_name", models.CharField(
                            help_text='The name messages use, e.g. "Riverside". It must not '
                                      "say what the service does.", max_length=60)),
                        ("other_names", models.TextField(
                            blank=True, help_text="The service's clinical names, one a line: "
                                                  "no message carries them unless the patient "
                                                  "chose that.", max_length=1000)),
                        ("organisation", models.OneToOneField(
                            on_delete=django.db.models.deletion.CASCADE, related_name="+",
                            to="accounts.organisation")),
                    ],
                    options={"abstract": False, "db_table": "reminders_servicewording"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="servicewording", table=None),
    ]
