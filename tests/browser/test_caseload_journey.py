"""Who needs me today, in Chromium: a return to use after a check-up puts the patient at the top
of the keyworker's caseload with the reason; the keyworker acknowledges and resolves the flag;
a patient in post-exit monitoring is re-engaged into a new episode. Zero axe violations."""

import datetime

import pytest
from django.utils import timezone

from tandem.monitoring import evaluate
from tandem.monitoring.models import Flag
from tandem.patients.models import Episode
from tests.conftest import PASSWORD
from tests.test_checkups import complete

pytestmark = pytest.mark.browser


def test_flag_at_the_top_acknowledged_resolved_and_a_re_engagement(live_world, visit):
    from tandem.assessment.schedules import refresh_schedule
    from tandem.patients.models import CareTeam, CareTeamMember

    p1, p2 = live_world.p1, live_world.p2
    # A second patient for the keyworker, first by name: need, not the alphabet, puts p1 first.
    p2.family_name = "Aaronson"
    p2.save()
    CareTeamMember.objects.create(organisation=live_world.org,
                                  care_team=CareTeam.objects.get(patient=p2),
                                  user=live_world.users["practitioner"], role="keyworker")
    crack = {f"crack_w{n}": d for n, d in zip(range(1, 5), (3, 2, 2, 2), strict=True)}
    complete(p1, "top", {f"crack_w{n}": 1 for n in range(1, 5)}, 150)
    complete(p1, "top", {f"crack_w{n}": 0 for n in range(1, 5)}, 70)
    complete(p1, "top", crack, 1)
    evaluate.evaluate_patient(p1)  # as the worker does after a check-up

    tab = visit()
    tab.sign_in("practitioner", PASSWORD)
    assert tab.page.locator("h1").inner_text() == "Who needs me today"
    first_row = tab.page.locator("table.caseload tbody tr").first
    assert "Patient T-001" in first_row.inner_text()
    assert "Days using crack rose from 0 to 9" in first_row.inner_text()
    tab.axe()
    tab.screenshot("caseload-flag-at-the-top")

    first_row.get_by_role("link", name="Return to use").click()
    tab.page.get_by_role("button", name="Acknowledge: I am dealing with this").click()
    assert tab.page.get_by_text("Flag acknowledged").is_visible()
    tab.page.get_by_role("button", name="Resolve the flag").click()  # nothing written yet
    assert tab.page.get_by_text("Write what was done before resolving the flag.").first.is_visible()
    tab.axe()
    tab.page.fill("#id_resolve-action_taken", "Saw him today; naloxone re-supplied, review "
                                              "brought forward.")
    tab.page.get_by_role("button", name="Resolve the flag").click()
    assert tab.page.get_by_text("Flag resolved.").is_visible()
    flag = Flag.objects.get(patient=p1, rule="return-to-use")
    assert flag.status == "inactive" and flag.acknowledged_at is not None
    tab.go("/patients/")
    assert "Days using crack" not in tab.page.locator("table.caseload tbody tr").first.inner_text()

    # Post-exit monitoring: p1's episode ends; a flag suggests re-engagement.
    episode = Episode.objects.get(patient=p1)
    episode.status = "post-exit-monitoring"
    episode.exit_date = timezone.localdate() - datetime.timedelta(days=40)
    episode.exit_reason = "completed_free"
    episode.save()
    refresh_schedule(p1)
    evaluate.evaluate_patient(p1, timezone.localdate() + datetime.timedelta(days=100))
    tab.go(f"/patients/{p1.pk}/")
    assert tab.page.get_by_text("offer to re-engage them").first.is_visible()
    tab.axe()
    tab.page.get_by_role("link", name="Re-engage in treatment").click()
    tab.axe()
    tab.page.get_by_role("button", name="Start the new episode").click()
    assert tab.page.get_by_text("New episode started.").first.is_visible()
    statuses = list(p1.episodes.order_by("start_date").values_list("status", flat=True))
    assert statuses == ["finished", "active"]
    tab.go(f"/patients/{p1.pk}/")
    assert tab.page.get_by_text("Episode started: Community").first.is_visible()
    # The overdue check-up of the old episode was dealt with by re-engaging.
    assert not tab.page.get_by_text("offer to re-engage them").count()
    tab.screenshot("re-engaged-timeline")
    tab.axe()
