"""The recovery care plan: created with a review date no later than 3 months ahead, goals and
actions, sign-off by both, a new version after any change to a signed plan, readable
differences, the patient's proposals, the printable plan and its PDF, concurrent edits."""

import datetime

from django.test import Client

from tandem.core.schedule import add_months
from tandem.planning.models import CarePlan, PlanProposal, PlanVersion
from tests.test_goals import goal_data

TODAY = datetime.date.today()


def make_plan(world, review=None):
    client = world.client("practitioner")
    client.post(f"/patients/{world.p1.pk}/goals/new/", goal_data())
    reply = client.post(f"/patients/{world.p1.pk}/plan/edit/", {
        "review_date": (review or TODAY + datetime.timedelta(days=60)).isoformat(),
        "status": "active"})
    assert reply.status_code == 302, reply.content[:400]
    return client, CarePlan.objects.get()


def action_data(**extra):
    return {"intervention": "housing-support", "description": "Referral to City Housing Options",
            "frequency": "weekly", "start_date": TODAY.isoformat(), "status": "in-progress",
            **extra}


def test_review_date_defaults_to_three_months_and_no_later(world):
    client = world.client("practitioner")
    page = client.get(f"/patients/{world.p1.pk}/plan/edit/")
    assert page.context["form"].initial["review_date"] == add_months(TODAY, 3)
    late = client.post(f"/patients/{world.p1.pk}/plan/edit/", {
        "review_date": (add_months(TODAY, 3) + datetime.timedelta(days=1)).isoformat(),
        "status": "active"}).content.decode()
    assert "Review the plan no later than 3 months ahead" in late
    past = client.post(f"/patients/{world.p1.pk}/plan/edit/", {
        "review_date": "2020-01-01", "status": "active"}).content.decode()
    assert "The review date cannot be in the past." in past
    assert not CarePlan.objects.exists()


def test_sign_off_and_a_new_version_after_any_change(world):
    client, plan = make_plan(world)
    assert client.post(f"/patients/{world.p1.pk}/plan/actions/new/",
                       action_data()).status_code == 302
    assert plan.versions.count() == 1  # unsigned: the version is brought up to date
    patient = world.client("patient")
    assert "I agree: sign my plan" in patient.get("/portal/plan/").content.decode()
    patient.post("/portal/plan/sign/")
    client.post(f"/patients/{world.p1.pk}/plan/sign/")
    first = PlanVersion.objects.get()
    assert first.fully_signed and first.patient_signed_by == world.users["patient"]
    # A change after sign-off makes version 2, which asks for both signatures again.
    client.post(f"/patients/{world.p1.pk}/plan/actions/new/",
                action_data(intervention="mutual-aid", description="SMART Recovery meeting"))
    second = plan.versions.get(number=2)
    assert not second.signed_by_anyone
    assert "Version 2: waiting for signatures" in client.get(
        f"/patients/{world.p1.pk}/plan/").content.decode()
    diff = client.get(f"/patients/{world.p1.pk}/plan/difference/?from=1&to=2")
    lines = diff.context["lines"]
    assert ("added", next(t for k, t in lines if "SMART Recovery" in t)) in lines
    assert all(kind != "removed" for kind, _ in lines)
    assert "Added: " in diff.content.decode()


def test_goal_changes_are_plan_changes(world):
    client, plan = make_plan(world)
    client.post(f"/patients/{world.p1.pk}/plan/sign/")
    goal = plan.patient.goals.get()
    client.post(f"/patients/{world.p1.pk}/goals/{goal.pk}/",
                goal_data(version="1", statement="One pint on Saturdays"))
    assert plan.versions.count() == 2
    diff = client.get(f"/patients/{world.p1.pk}/plan/difference/?from=1&to=2").context["lines"]
    assert any(k == "removed" and "couple of pints" in t for k, t in diff)
    assert any(k == "added" and "One pint on Saturdays" in t for k, t in diff)


def test_patient_proposes_and_the_practitioner_answers(world):
    client, plan = make_plan(world)
    patient = world.client("patient")
    empty = patient.post("/portal/plan/propose/", {"text": ""}).content.decode()
    assert "This field is required." in empty
    patient.post("/portal/plan/propose/", {"text": "Can we meet in the evenings?"})
    proposal = PlanProposal.objects.get()
    assert proposal.created_by == world.users["patient"]
    assert "Can we meet in the evenings?" in client.get(
        f"/patients/{world.p1.pk}/plan/").content.decode()
    client.post(f"/patients/{world.p1.pk}/plan/proposals/{proposal.pk}/",
                {"status": "accepted", "response": "Yes: Tuesdays at 6pm from next week."})
    page = patient.get("/portal/plan/").content.decode()
    assert "Accepted: Yes: Tuesdays at 6pm from next week." in page


def test_printable_plan_and_pdf(world):
    client, plan = make_plan(world)
    client.post(f"/patients/{world.p1.pk}/plan/actions/new/", action_data())
    page = world.client("patient").get("/portal/plan/print/").content.decode()
    assert "My recovery plan" in page and "Cut down to a couple of pints" in page
    assert "Referral to City Housing Options" in page
    pdf = world.client("patient").get("/portal/plan/print.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    staff = client.get(f"/patients/{world.p1.pk}/plan/print.pdf")
    assert staff.content.startswith(b"%PDF") and len(staff.content) > 2000


def test_concurrent_plan_edits_show_what_changed(world):
    client, plan = make_plan(world)
    other = Client()
    other.force_login(world.users["team_lead"])
    url = f"/patients/{world.p1.pk}/plan/edit/"
    soon = TODAY + datetime.timedelta(days=30)
    assert other.post(url, {"review_date": soon.isoformat(), "status": "active",
                            "version": "1"}).status_code == 302
    page = client.post(url, {"review_date": (TODAY + datetime.timedelta(days=45)).isoformat(),
                             "status": "on-hold", "version": "1"})
    text = page.content.decode()
    assert "Team_Lead Tester changed this" in text
    assert 'value="2"' in text and "On hold" in text
    plan.refresh_from_db()
    assert plan.review_date == soon and plan.status == "active"


def test_action_messages_name_the_field(world):
    client, _plan = make_plan(world)
    page = client.post(f"/patients/{world.p1.pk}/plan/actions/new/",
                       action_data(description="", end_date="2020-01-01")).content.decode()
    assert "This field is required." in page
    assert "The end date is before the start date." in page


def test_a_review_rates_goals_both_ways_and_sets_the_next_review(world):
    from tandem.planning.models import Goal, Review

    client, plan = make_plan(world)
    client.post(f"/patients/{world.p1.pk}/goals/new/", goal_data(
        card="housing", statement="Get my own flat", goal_type="", goal_type_chosen_by="",
        priority="2"))
    client.post(f"/patients/{world.p1.pk}/plan/sign/")
    drinking, housing = Goal.objects.order_by("priority")
    url = f"/patients/{world.p1.pk}/plan/review/"
    form = client.get(url).content.decode()
    assert "+1: Under 10 units a week" in form  # each goal's own levels
    nxt = TODAY + datetime.timedelta(days=70)
    reply = client.post(url, {
        "held_on": TODAY.isoformat(), "next_review": nxt.isoformat(), "notes": "Going well",
        f"patient_{drinking.pk}": "1", f"practitioner_{drinking.pk}": "0",
        f"patient_{housing.pk}": "-1", f"practitioner_{housing.pk}": "-1",
        f"comment_{housing.pk}": "On the waiting list"})
    assert reply.status_code == 302
    review = Review.objects.get()
    # Worked from Kiresuk & Sherman with equal weights and rho 0.3 (core/gas.py):
    # two goals, levels +1 and -1 → 50; levels 0 and -1 → 50 - 10/sqrt(0.7*2 + 0.3*4) = 43.8.
    assert review.t_score_patient == 50.0
    assert review.t_score_practitioner == 43.8
    plan.refresh_from_db()
    assert plan.review_date == nxt
    assert plan.versions.count() == 2  # the plan was signed; the new review date is version 2
    page = client.get(f"/patients/{world.p1.pk}/plan/reviews/{review.pk}/").content.decode()
    assert "+1: Under 10 units a week" in page and "On the waiting list" in page


def test_review_messages_name_the_field(world):
    client, plan = make_plan(world)
    url = f"/patients/{world.p1.pk}/plan/review/"
    page = client.post(url, {"held_on": (TODAY + datetime.timedelta(days=1)).isoformat(),
                             "next_review": (TODAY + datetime.timedelta(days=200)).isoformat()
                             }).content.decode()
    assert "The review cannot be in the future." in page
    assert "Set the next review no later than 3 months after this one." in page
    assert "Rate at least one goal." in page


def test_an_overdue_review_shows_the_day_after_its_date(world):
    client, plan = make_plan(world)
    plan.review_date = TODAY
    plan.save(update_fields=["review_date"])
    assert "the review is overdue" not in client.get(
        f"/patients/{world.p1.pk}/plan/").content.decode()
    plan.review_date = TODAY - datetime.timedelta(days=1)
    plan.save(update_fields=["review_date"])
    assert "the review is overdue" in client.get(
        f"/patients/{world.p1.pk}/plan/").content.decode()


def test_api_goals_plan_versions_and_reviews(world):
    from tests.test_api import bearer

    api, _ = bearer(world.users["practitioner"])
    base = f"/api/v1/patients/{world.p1.pk}"
    body = {k: v for k, v in goal_data().items()}
    body["priority"] = 1
    bad = api.post(f"{base}/goals", {**body, "goal_type": ""}, content_type="application/json")
    assert bad.status_code == 422
    assert {"loc": ["body", "goal_type"],
            "msg": "Choose the kind of goal the patient wants."} in bad.json()["detail"]
    created = api.post(f"{base}/goals", body, content_type="application/json")
    assert created.status_code == 201
    goal = created.json()
    assert goal["goal_type"] == "controlled" and goal["lifecycle_status"] == "active"
    assert goal["gas_levels"]["+1"] == "Under 10 units a week"
    assert api.get(f"{base}/plan").status_code == 404
    client, plan = make_plan(world)
    api.post(f"{base}/plan/sign")
    read = api.get(f"{base}/plan").json()
    assert read["versions"][0]["practitioner_signed_at"] is not None
    assert read["versions"][0]["snapshot"]["goals"][0]["kind"] == "Controlled or moderate use"
    # A stale version is refused with what changed; nothing is saved.
    client.post(f"/patients/{world.p1.pk}/goals/{goal['id']}/",
                goal_data(version="1", statement="Only at weekends"))
    stale = api.put(f"{base}/goals/{goal['id']}", {**body, "version": 1},
                    content_type="application/json")
    assert stale.status_code == 409
    detail = stale.json()["detail"]  # the same 409 as for patients and episodes
    assert {"field": "statement", "label": "The goal, in the patient's words",
            "saved": "Only at weekends",
            "yours": body["statement"]} in detail["changed"]
    assert detail["version"] == 2 and detail["current"]["statement"] == "Only at weekends"
    nxt = (TODAY + datetime.timedelta(days=60)).isoformat()
    review = api.post(f"{base}/plan/reviews", {
        "held_on": TODAY.isoformat(), "next_review": nxt,
        "ratings": [{"goal_id": goal["id"], "patient_level": 2, "practitioner_level": 1}]},
        content_type="application/json")
    assert review.status_code == 201
    assert review.json()["t_score_patient"] == 70.0  # one goal: 50 + 10 × 2
    assert review.json()["t_score_practitioner"] == 60.0
    assert api.get(f"{base}/plan").json()["review_date"] == nxt
    wrong = api.post(f"{base}/plan/reviews", {
        "held_on": TODAY.isoformat(), "next_review": nxt,
        "ratings": [{"goal_id": str(world.p2.pk), "patient_level": 1}]},
        content_type="application/json")
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][-1] == "goal_id"


def test_without_pango_the_pdf_link_explains_and_the_print_view_still_works(world, monkeypatch):
    import sys

    make_plan(world)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if the library cannot load
    reply = world.client("patient").get("/portal/plan/print.pdf")
    assert reply.status_code == 503
    assert "The PDF is not available on this server" in reply.content.decode()
    assert world.client("patient").get("/portal/plan/print/").status_code == 200


def test_changing_the_plan_is_audited_as_a_change_to_the_plan_and_its_version(world):
    """A change to the plan's review date or status is an audit event on the plan itself
    (the one versioned save audits every record it saves), as well as on its version."""
    from tandem.audit.models import AuditEvent

    client, plan = make_plan(world)
    reply = client.post(f"/patients/{world.p1.pk}/plan/edit/", {
        "review_date": (TODAY + datetime.timedelta(days=30)).isoformat(), "status": "active",
        "version": str(plan.version)})
    assert reply.status_code == 302
    events = list(AuditEvent.objects.filter(patient=world.p1, action__in=["create", "update"],
                                            object_type__in=["careplan", "planversion"])
                  .order_by("seq").values_list("action", "object_type", "actor__username"))
    assert events[-2:] == [("update", "careplan", "practitioner"),
                           ("update", "planversion", "practitioner")]
    assert ("create", "careplan", "practitioner") in events
