"""Each role signs in through the real form in Chromium and lands on the right home page;
every page a role can reach passes axe-core (WCAG 2.2 A/AA rules) with zero violations."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

HOME_HEADINGS = {
    "practitioner": "Who needs me today",
    "prescriber": "Who needs me today",
    "team_lead": "Who needs me today",
    "patient": "My recovery",
    "service_admin": "Users",
    "auditor": "Audit trail",
}


def pages_for(role, world):
    p1 = world.p1
    episode = p1.episodes.first()
    member = p1.care_team.members.first()
    from tests.test_permissions import (
        checkup_for,
        draft_for,
        flag_for,
        goal_for,
        plan_for,
        session_for,
    )

    draft = draft_for(p1)
    checkup = checkup_for(p1, world)  # the patient's check-up, the draft carried into it
    session = session_for(p1, world)
    goal = goal_for(p1, world)
    plan = plan_for(p1, world)
    action = plan.actions.first()
    flag = flag_for(p1)
    clinical = [f"/patients/{p1.pk}/flags/", f"/patients/{p1.pk}/flags/{flag.pk}/",
                f"/patients/{p1.pk}/timeline/", "/patients/", f"/patients/{p1.pk}/",
                "/patients/?sort=status", "/api/v1/docs",
                f"/patients/{p1.pk}/checkups/", f"/patients/{p1.pk}/checkups/{draft.pk}/view/",
                f"/patients/{p1.pk}/priorities/", f"/patients/{p1.pk}/priorities/{session.pk}/",
                f"/patients/{p1.pk}/goals/", f"/patients/{p1.pk}/plan/",
                f"/patients/{p1.pk}/plan/print/",
                f"/patients/{p1.pk}/plan/reviews/{plan.reviews.first().pk}/"]
    change = [f"/patients/{p1.pk}/edit/", f"/patients/{p1.pk}/episodes/new/",
              f"/patients/{p1.pk}/episodes/{episode.pk}/", f"/patients/{p1.pk}/care-team/new/",
              f"/patients/{p1.pk}/care-team/{member.pk}/end/", "/patients/new/",
              f"/patients/{p1.pk}/checkups/new/", f"/patients/{p1.pk}/checkups/{draft.pk}/",
              f"/patients/{p1.pk}/checkups/schedule/",
              f"/patients/{p1.pk}/priorities/{session.pk}/patient/",
              f"/patients/{p1.pk}/goals/new/", f"/patients/{p1.pk}/goals/{goal.pk}/",
              f"/patients/{p1.pk}/plan/edit/", f"/patients/{p1.pk}/plan/actions/new/",
              f"/patients/{p1.pk}/plan/actions/{action.pk}/", f"/patients/{p1.pk}/plan/review/",
              f"/patients/{p1.pk}/contacts/new/", f"/patients/{p1.pk}/re-engage/"]
    return {
        "practitioner": clinical + change,
        "prescriber": clinical,
        "team_lead": clinical + change[:1],
        "patient": ["/portal/checkups/", "/portal/progress/", "/portal/priorities/",
                    "/portal/goals/", "/portal/plan/", "/portal/plan/print/",
                    f"/portal/priorities/{session.pk}/", f"/portal/checkup/{checkup.pk}/1/",
                    f"/portal/checkup/{checkup.pk}/answers/"],
        "service_admin": ["/manage/users/new/", f"/manage/users/{world.users['auditor'].pk}/",
                          "/manage/teams/", "/manage/teams/new/", "/manage/checkups/",
                          "/manage/checkups/questionnaires/", "/manage/checkups/crisis-contacts/",
                          "/manage/checkups/life-domains/", "/manage/checkups/urgent-answers/",
                          "/manage/checkups/early-warning/"],
        "auditor": ["/audit/?action=read", "/not-a-page/", "/patients/"],
    }[role]


@pytest.mark.parametrize("role", sorted(HOME_HEADINGS))
def test_sign_in_lands_on_home_and_every_page_is_accessible(live_world, visit, role):
    tab = visit()
    tab.go("/")
    assert "/accounts/login/" in tab.page.url
    tab.axe()
    tab.sign_in(role, PASSWORD)
    assert tab.page.locator("h1").first.inner_text() == HOME_HEADINGS[role]
    tab.axe()
    for path in pages_for(role, live_world):
        tab.go(path)
        tab.axe()


def test_patient_portal_on_a_phone(live_world, visit):
    live_world.client("practitioner").get(f"/patients/{live_world.p1.pk}/")
    tab = visit(viewport=(390, 844))
    tab.sign_in("patient", PASSWORD)
    assert tab.page.get_by_text("Who has looked at my record").is_visible()
    assert tab.page.get_by_text("Practitioner Tester").first.is_visible()
    tab.axe()
    tab.screenshot("portal-phone")


def test_bad_input_shows_field_errors_accessibly_and_keeps_what_was_typed(live_world, visit):
    tab = visit()
    tab.sign_in("practitioner", PASSWORD)
    tab.go("/patients/new/")
    tab.page.fill("#id_given_name", "Robin")
    tab.page.fill("#id_date_of_birth", "2999-01-01")
    tab.page.click("main button[type=submit]")
    summary = tab.page.locator(".error-summary").first.inner_text()
    assert "Date of birth: Date of birth cannot be in the future." in summary
    assert "Service ID: This field is required." in summary
    assert tab.page.input_value("#id_given_name") == "Robin"
    tab.axe()


def test_register_a_patient_without_javascript(live_world, visit):
    tab = visit(javascript=False)
    tab.sign_in("practitioner", PASSWORD)
    tab.go("/patients/new/")
    tab.page.fill("#id_service_id", "NEW-1")
    tab.page.fill("#id_given_name", "Robin")
    tab.page.fill("#id_family_name", "Ash")
    tab.page.fill("#id_date_of_birth", "1990-02-03")
    tab.page.fill("#id_episode-start_date", "2026-01-05")
    tab.page.click("main button[type=submit]")
    assert tab.page.locator("h1").inner_text() == "Robin Ash"
    assert tab.page.get_by_text("Registered Robin Ash.").is_visible()


def test_content_security_policy_is_respected(live_world, browser, live_server):
    context = browser.new_context()  # CSP enforced: no bypass here
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "practitioner")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(live_server.url + f"/patients/{live_world.p1.pk}/")
    assert page.locator("h1").inner_text() == "Pat Patient T-001"
    assert page.evaluate("getComputedStyle(document.querySelector('.top')).display") == "block"
    assert [e for e in errors if "Content Security Policy" in e] == []
    context.close()


def test_practitioner_home_screenshot_for_readme(live_world, visit):
    tab = visit(viewport=(1200, 700))
    tab.sign_in("practitioner", PASSWORD)
    assert tab.screenshot("my-patients").stat().st_size > 10_000


def test_both_forms_errors_on_one_page_and_sign_in_failures_are_accessible(live_world, visit):
    tab = visit()
    tab.go("/accounts/login/")
    tab.page.fill("#id_username", "practitioner")
    tab.page.fill("#id_password", "wrong")
    tab.page.click("main button[type=submit]")
    assert tab.page.get_by_text("did not match").is_visible()
    tab.axe()
    tab.sign_in("practitioner", PASSWORD)
    tab.go("/patients/new/")
    tab.page.fill("#id_episode-start_date", "")
    tab.page.click("main button[type=submit]")
    assert tab.page.locator(".error-summary").count() == 2
    tab.axe()
