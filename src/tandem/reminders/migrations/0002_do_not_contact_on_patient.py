""""Do not contact" moves from a patient's reminder choices to their contact details
(`Patient.do_not_contact`), where every sender reads it: each patient it was recorded for
keeps it."""

from django.db import migrations
from django.db.models import F


def copy_to_patient(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    Preferences = apps.get_model("reminders", "Preferences")
    # A new version, so that a details form opened before (without the box) and saved after
    # is refused as stale rather than clearing it.
    Patient.objects.filter(pk__in=Preferences.objects.filter(do_not_contact=True)
                           .values("patient_id")).update(do_not_contact=True,
                                                         version=F("version") + 1)


def copy_back(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    Preferences = apps.get_model("reminders", "Preferences")
    Preferences.objects.filter(patient__in=Patient.objects.filter(do_not_contact=True)) \
        .update(do_not_contact=True)


class Migration(migrations.Migration):

    dependencies = [
        ("reminders", "0001_initial"),
        ("patients", "0008_patient_do_not_contact"),
    ]

    operations = [
        migrations.RunPython(copy_to_patient, copy_back),
        migrations.RemoveField(model_name="preferences", name="do_not_contact"),
    ]
