"""The service admin's page of early-warning rules (/manage/checkups/early-warning/)."""

import copy

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render

from tandem.accounts.changes import shown
from tandem.assessment.forms import CHANGED, UNCHECKED, posted
from tandem.audit.actor import Actor
from tandem.core.flags import RULES
from tandem.monitoring import services
from tandem.monitoring.forms import RuleSettingForm, rule_values
from tandem.monitoring.models import RuleSetting


@transaction.atomic
def rule_settings(request):
    """Service admins: switch each early-warning rule on or off and set its thresholds.

    Each rule's form carries the version of its saved row; the rows are locked and checked
    before saving, so an admin whose page is older than another's save is told what changed
    (their typed values stay in the form) instead of silently reverting it. Each rule changed
    is an audit event saying what changed."""
    org = request.user.organisation
    rows = RuleSetting.objects.of(org)
    if request.method == "POST":
        rows = rows.select_for_update()
    saved = {s.rule: s for s in rows}
    before = {code: rule_values(saved.get(code), spec) for code, spec in RULES.items()}
    versions = {code: saved[code].version if code in saved else 0 for code in RULES}

    def rule_forms(data):
        return [RuleSettingForm(data, prefix=code, spec=spec,
                                instance=(copy.copy(saved[code]) if code in saved else
                                          RuleSetting(organisation=org, rule=code)))
                for code, spec in RULES.items()]

    forms = rule_forms(posted(request))
    conflict = []
    if request.method == "POST" and all(f.is_valid() for f in forms):
        for f in forms:
            code = f.spec.code
            posted_version = f.cleaned_data.get("version")
            if posted_version != versions[code]:  # none posted: cannot be checked, not saved
                typed = rule_values(f.save(commit=False), f.spec)
                what = UNCHECKED if posted_version is None else CHANGED
                conflict.append((f.spec.title, what, [
                    (label, shown(before[code][label]), shown(typed[label]))
                    for label in typed if shown(before[code][label]) != shown(typed[label])]))
        if conflict:
            data = request.POST.copy()
            for code, version in versions.items():
                data[f"{code}-version"] = str(version)
            forms = rule_forms(data)
        else:
            services.save_rule_settings(Actor.of(request), forms, before, versions)
            messages.success(request, "Early-warning rules saved. They apply from the next "
                                      "check.")
            return redirect("manage:flag-rules")
    return render(request, "monitoring/rule_settings.html",
                  {"forms": forms, "conflict": conflict})
