"""The service's wording now belongs to the outbox (outbox 0004 keeps the table and renames
it): here it only leaves the reminders app's state."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("reminders", "0002_do_not_contact_on_patient"),
        ("outbox", "0004_servicewording"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ServiceWording")],
            database_operations=[],
        ),
    ]
