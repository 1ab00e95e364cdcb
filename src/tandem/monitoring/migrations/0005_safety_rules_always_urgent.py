"""Safety rules keep their own severity and stay on (core.flags.RuleSpec.fixed): settings saved
before that are put back, and any open safety flag raised below "urgent" is raised to it.
(Caseload entries follow at the next sweep, which rewrites every entry.)"""

from django.db import migrations

SAFETY_RULES = ("safety-answer", "safety-unanswered")


def forwards(apps, schema_editor):
    Flag = apps.get_model("monitoring", "Flag")
    RuleSetting = apps.get_model("monitoring", "RuleSetting")
    RuleSetting.objects.filter(rule__in=SAFETY_RULES).update(severity="", enabled=True)
    Flag.objects.filter(rule="safety-answer", status="active").exclude(
        severity="urgent").update(severity="urgent")


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0004_flag_answer_value")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
