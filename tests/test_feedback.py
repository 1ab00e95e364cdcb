"""The personalised feedback report: what it says (in plain words, without judgement or
comparison), how the patient shapes it (parts, own words), sharing and stopping sharing (the
care team sees only what is shared, in the review beside the patient's words), two tabs, the
PDF."""

from __future__ import annotations

import datetime
import re
import sys
import zoneinfo

import pytest
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.feedback import content
from tandem.feedback.models import FeedbackReport
from tandem.planning.models import Goal
from tests.conftest import gad7, phq9
from tests.test_care_plan import action_data, make_plan
from tests.test_checkups import complete
from tests.test_plain_words import NOT_FOR_PATIENTS

TODAY = datetime.date.today()
URL = "/portal/feedback/"
SUBSTANCES = ("alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis", "other",
              "tobacco", "inject")
# Judging the person, or comparing them with other people or norms they did not ask about.
JUDGING_OR_COMPARING = re.compile(
    r"\b(normal|average|most people|other people|than others|compared (with|to) others|"
    r"percent\w*|national|norms?|typical|should|must|fail\w*|bad|poor(ly)?|good job|well done|"
    r"clean|dirty|addicts?|abusers?|non-?compliant|denial|relapsed?|disappoint\w*|"
    r"unfortunately|sadly|only managed)\b", re.IGNORECASE)


def top(**days):
    answers = {f"{s}_w{w}": 0 for s in SUBSTANCES for w in (1, 2, 3, 4)}
    answers |= {"psych_health": 10, "phys_health": 10, "quality_of_life": 10, "work_days": 0,
                "education_days": 0, "housing_acute": False, "housing_eviction_risk": False}
    return answers | days


def history(world):
    """PHQ-9 18 → 17 → 9, GAD-7 5 → 6, two outcomes-profile check-ups, a plan with a goal
    rated at a review, and an action."""
    patient = world.p1
    complete(patient, "phq9", phq9(18), 80)
    complete(patient, "phq9", phq9(17), 50)
    complete(patient, "phq9", phq9(9), 10)
    complete(patient, "gad7", gad7(5), 40)
    complete(patient, "gad7", gad7(6), 10)
    complete(patient, "top", top(crack_w1=3, crack_w2=1, alcohol_w4=2), 40)
    complete(patient, "top", top(crack_w1=1, crack_w2=0, crack_w3=2), 10)
    client, plan = make_plan(world)
    client.post(f"/patients/{patient.pk}/plan/actions/new/", action_data())
    goal = Goal.objects.get(patient=patient)
    reply = client.post(f"/patients/{patient.pk}/plan/review/", {
        "held_on": (TODAY - datetime.timedelta(days=20)).isoformat(),
        "next_review": (TODAY + datetime.timedelta(days=40)).isoformat(),
        f"patient_{goal.pk}": "1", f"practitioner_{goal.pk}": "0",
        f"comment_{goal.pk}": "Two weekends under the limit"})
    assert reply.status_code == 302, reply.content[:500]
    return client, plan, goal


def item(built, code):
    return next(a for a in built["answers"] if a["key"].startswith(code + "-"))


def visible(html: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def post(client, parts=tuple(content.DEFAULT_PARTS), words="", action="save", version=None):
    page = client.get(URL)
    version = page.context["form"]["version"].value() if version is None else version
    return client.post(URL, {"parts": list(parts), "own_words": words, "action": action,
                             "version": version})


# What the report says.

def test_a_real_improvement_about_the_same_and_a_real_worsening_in_plain_words(world):
    history(world)
    built = content.build(world.p1)
    depression = item(built, "phq9")
    assert depression["since_start"] == depression["since_last"] == "a real improvement"
    text = " ".join(depression["sentences"])
    assert "Since your first check-up: a real improvement (18 on " in text
    assert "Since last time: a real improvement (17 on" in text and "now 9)" in text
    assert item(built, "gad7")["since_last"] == "about the same"  # 5 → 6
    complete(world.p3, "phq9", phq9(5), 40)
    complete(world.p3, "phq9", phq9(15), 5)
    assert item(content.build(world.p3), "phq9")["since_last"] == "a real worsening"
    assert "RCI" not in str(built) and "reliabl" not in str(built).lower()


def test_the_report_page_takes_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    history(world)
    for n in range(6):  # more check-ups do not mean more queries
        complete(world.p1, "phq9", phq9(10 + n), 30 - n)
    client = world.client("patient")
    with django_assert_max_num_queries(40):
        assert client.get(URL).status_code == 200


def test_a_first_check_up_has_nothing_to_compare_with(world):
    complete(world.p1, "phq9", phq9(12), 3)
    only = item(content.build(world.p1), "phq9")
    assert only["since_last"] == "" and "nothing to compare it with yet" in only["sentences"][1]


def test_substance_use_week_by_week_newest_first_without_counting_a_week_twice(world):
    history(world)
    use = content.build(world.p1)["use"]
    assert use["substances"] == ["Alcohol", "Crack"]
    crack = [row["cells"][1] for row in use["rows"]]
    assert crack == [1, 0, 2, 0, 3, 1, 0, 0]  # the latest check-up's weeks, then the earlier's
    latest = timezone.localdate(timezone.now() - datetime.timedelta(days=10))
    assert [row["ending_text"] for row in use["rows"][:2]] == [
        content.day_text(latest), content.day_text(latest - datetime.timedelta(days=7))]
    assert any(s.startswith("Crack: 3 of the 28 days before your latest check-up")
               for s in use["sentences"])
    # A check-up a week later than the last covers three of the same weeks: they are not shown
    # again from the older one.
    complete(world.p1, "top", top(crack_w1=5), 3)
    again = content.build(world.p1)["use"]
    endings = [row["ending_text"] for row in again["rows"]]
    assert len(endings) == len(set(endings))


def test_goals_show_the_patients_own_rating_first_then_the_practitioners(world):
    _client, _plan, goal = history(world)
    goals = content.build(world.p1)["goals"]
    assert goals["items"][0]["statement"] == goal.statement
    assert goals["items"][0]["mine"] == goal.gas_plus1 and goals["items"][0]["theirs"] == goal.gas_0
    page = world.client("patient").get(URL).content.decode()
    mine, theirs = page.index("You said"), page.index("Your keyworker said")
    assert mine < theirs and page.index(goal.gas_plus1) < theirs
    well = content.build(world.p1)["going-well"]
    assert any("a real improvement since your first check-up" in s for s in well)
    assert any(goal.statement in s for s in well)


def audit(total):
    """AUDIT answers adding up to `total` (questions 1-8 score up to 4; 9 and 10 left at 0)."""
    answers, left = {str(i): 0 for i in range(1, 11)}, total
    for i in range(1, 9):
        answers[str(i)] = min(4, left)
        left -= answers[str(i)]
    return answers


def test_the_name_of_a_scores_range_is_left_out_unless_the_patient_ticks_it(world):
    complete(world.p1, "audit", audit(12), 40)
    complete(world.p1, "audit", audit(17), 5)  # Zone III
    band = "Higher risk – harmful drinking (Zone III)"
    client = world.client("patient")
    # Off by default: a new report does not name the range, on the page or in what it keeps.
    page = client.get(URL)
    assert content.RANGE_NAMES not in page.context["report"].parts
    assert content.RANGE_NAMES not in page.context["form"]["parts"].value()
    text = visible(page.content.decode())
    assert "Zone III" not in text and "zone iii" not in text.lower()
    assert "range called" not in text and "harmful drinking" not in text
    assert "What the questionnaire calls the range of my latest score" in text  # offered
    post(client, content.DEFAULT_PARTS, action="share")
    snapshot = FeedbackReport.objects.get().snapshot
    assert band not in str(snapshot) and "Zone" not in str(snapshot)
    # Ticked: named exactly as the questionnaire names it, capitals and all.
    post(client, [*content.DEFAULT_PARTS, content.RANGE_NAMES])
    text = visible(client.get(URL).content.decode())
    assert f"The questionnaire's name for the range this score is in: “{band}”." in text
    assert band.lower() not in text
    assert band in str(FeedbackReport.objects.get().snapshot)  # shared as the patient chose
    # Unticked again: gone from the page and from what the care team sees.
    post(client, content.DEFAULT_PARTS)
    assert band not in visible(client.get(URL).content.decode())
    assert band not in str(FeedbackReport.objects.get().snapshot)


def test_what_has_gone_well_follows_the_change_code_not_its_words(world, monkeypatch):
    history(world)
    monkeypatch.setitem(content.CHANGE_WORDS, "improved", "really better")
    built = content.build(world.p1)
    assert item(built, "phq9")["since_start"] == "really better"
    assert any("PHQ-9" in s and "since your first check-up" in s for s in built["going-well"])
    assert not any("GAD-7" in s for s in built["going-well"])  # 5 → 6: about the same


# The patient shapes it.

def test_the_patient_leaves_a_part_out_and_it_is_left_out_on_screen_and_in_the_pdf(
        world, monkeypatch):
    history(world)
    client = world.client("patient")
    page = client.get(URL).content.decode()
    assert 'id="fb-use"' in page and 'id="fb-answers"' in page  # every part to begin with
    chosen = [p for p in content.DEFAULT_PARTS if p != "use"]
    reply = post(client, chosen, "I have been going to the Tuesday group.")
    assert reply.status_code == 302
    page = client.get(reply["Location"]).content.decode()
    assert "Saved. Your report is not shared with your care team." in page
    assert 'id="fb-use"' not in page and 'id="fb-answers"' in page
    assert "I have been going to the Tuesday group." in page
    assert FeedbackReport.objects.get().parts == chosen

    rendered = []

    class FakeHTML:
        def __init__(self, string, base_url=None):
            rendered.append(string)

        def write_pdf(self, stylesheets=()):
            return b"%PDF-1.7 test"

    import weasyprint
    monkeypatch.setattr(weasyprint, "HTML", FakeHTML)
    pdf = client.get("/portal/feedback/report.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    text = visible(rendered[0])
    assert "My use, week by week" not in text and "What my answers say" in text
    assert "I have been going to the Tuesday group." in text


def test_the_pdf_is_a_pdf(world):
    history(world)
    pdf = world.client("patient").get("/portal/feedback/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert 'filename="my-feedback-report.pdf"' in pdf["Content-Disposition"]


def test_without_pango_the_pdf_says_so_and_the_report_still_opens(world, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    client = world.client("patient")
    reply = client.get("/portal/feedback/report.pdf")
    assert reply.status_code == 503
    assert "print it or save it as a PDF from your browser" in reply.content.decode()
    assert client.get(URL).status_code == 200


def test_own_words_over_the_limit_are_refused_by_name_and_kept(world):
    client = world.client("patient")
    words = ("I want to talk about my housing. " * 40).strip()  # 1,319 characters
    reply = post(client, words=words)
    page = reply.content.decode()
    assert reply.status_code == 200
    assert ("What I want my keyworker to know: Please keep this to 1,000 characters or fewer: "
            "it has 1,319 now.") in page
    assert words in page  # nothing typed is lost
    assert "1319 of 1000 characters used" in page
    assert not FeedbackReport.objects.exists()
    assert 'maxlength' not in page.split('id="id_own_words"')[0].rsplit("<textarea", 1)[-1]
    assert post(client, words="x" * 1000).status_code == 302


def test_two_tabs_never_silently_overwrite_each_other(world):
    client = world.client("patient")
    # Both tabs open a new report; the first saves it; the second is told, and keeps its words.
    assert post(client, words="From tab one", version=0).status_code == 302
    second = post(client, words="From tab two", version=0)
    page = second.content.decode()
    assert second.status_code == 200 and "changed in another tab or window" in page
    assert "From tab two" in page and FeedbackReport.objects.get().own_words == "From tab one"
    # The same with a saved report: a tab opened at version 1 after another saved version 2.
    report = FeedbackReport.objects.get()
    assert post(client, words="Tab one again", version=report.version).status_code == 302
    late = post(client, words="Tab two again", version=report.version)
    assert "changed in another tab or window" in late.content.decode()
    assert FeedbackReport.objects.get().own_words == "Tab one again"
    # Saving again from the conflict page (it now carries the saved version) is a knowing save.
    version = late.context["form"]["version"].value()
    assert post(client, words="Tab two again", version=version).status_code == 302
    assert FeedbackReport.objects.get().own_words == "Tab two again"


def test_two_first_saves_of_the_same_new_report_make_one_report(world):
    """A double submit: both requests found no report and make a new one; the database keeps
    the first and the second is refused as stale, nothing written, its words kept."""
    from tandem.audit.actor import Actor
    from tandem.feedback import services
    from tandem.feedback.forms import ReportForm
    from tandem.records import versioning

    complete(world.p1, "phq9", phq9(12), 3)
    actor = Actor(world.users["patient"], "patient", path=URL)
    forms = []
    for words in ("First click", "Second click"):
        found = services.current(world.p1)
        assert found._state.adding
        form = ReportForm({"parts": content.DEFAULT_PARTS, "own_words": words,
                           "version": "0"}, instance=found)
        assert form.is_valid(), form.errors
        forms.append(form)
    first = services.save(actor, forms[0], services.SAVE)
    with pytest.raises(versioning.Stale) as refused:
        services.save(actor, forms[1], services.SAVE)
    assert refused.value.current.pk == first.pk
    assert [c.yours for c in refused.value.changes] == ["Second click"]
    assert list(FeedbackReport.objects.values_list("own_words", flat=True)) == ["First click"]
    # After a new check-up the next report is a new one, as before.
    complete(world.p1, "phq9", phq9(9), 0)
    later = ReportForm({"parts": content.DEFAULT_PARTS, "own_words": "After it",
                        "version": "0"}, instance=services.current(world.p1))
    assert later.is_valid()
    services.save(actor, later, services.SAVE)
    assert FeedbackReport.objects.count() == 2


def test_a_double_submit_of_a_new_report_through_the_page_keeps_one(world):
    client = world.client("patient")
    page = client.get(URL)
    version = page.context["form"]["version"].value()
    data = {"parts": list(content.DEFAULT_PARTS), "own_words": "Only once", "action": "share",
            "version": version}
    assert client.post(URL, data).status_code == 302
    again = client.post(URL, data)
    assert again.status_code == 200
    assert "changed in another tab or window" in again.content.decode()
    assert FeedbackReport.objects.count() == 1


def test_a_new_check_up_starts_a_new_report(world):
    client = world.client("patient")
    post(client, words="Before the check-up")
    complete(world.p1, "phq9", phq9(9), 0)
    page = client.get(URL)
    assert page.context["report"]._state.adding
    assert page.context["form"]["own_words"].value() in (None, "")
    post(client, words="After it")
    assert FeedbackReport.objects.count() == 2


# Sharing with the care team.

def test_shared_the_care_team_sees_it_in_the_review_beside_the_patients_words(world):
    staff, _plan, _goal = history(world)
    patient = world.client("patient")
    reply = post(patient, [p for p in content.DEFAULT_PARTS if p != "use"],
                 "Please ask me about my sleep.", action="share")
    assert reply.status_code == 302
    assert "Shared: your care team can see this report" in patient.get(URL).content.decode()
    report = FeedbackReport.objects.get()
    assert report.shared_at and report.snapshot["own_words"] == "Please ask me about my sleep."

    review_form = staff.get(f"/patients/{world.p1.pk}/plan/review/").content.decode()
    assert "Please ask me about my sleep." in review_form
    assert "In Pat Patient T-001's own words" in review_form
    assert 'id="review-fb-answers"' in review_form and 'id="review-fb-use"' not in review_form
    assert "Pat Patient T-001 said" in review_form  # the patient's own rating of each goal
    listing = staff.get(f"/patients/{world.p1.pk}/feedback/").content.decode()
    assert "Please ask me about my sleep." in listing

    # A review held after sharing shows it; the practitioner sees what was shared, as shared.
    goal = Goal.objects.get(patient=world.p1)
    held = staff.post(f"/patients/{world.p1.pk}/plan/review/", {
        "held_on": TODAY.isoformat(), "next_review": (TODAY + datetime.timedelta(days=60))
        .isoformat(), f"patient_{goal.pk}": "2", f"practitioner_{goal.pk}": "1"})
    review_page = staff.get(held["Location"]).content.decode()
    assert "Please ask me about my sleep." in review_page

    events = AuditEvent.objects.filter(patient=world.p1, object_type="feedbackreport")
    assert any("shared the feedback report" in e.detail for e in events)

    # The review started a new report; the one shared stays shared until the patient stops
    # sharing it, from the portal, which takes it away from every staff page at once.
    page = patient.get(URL).content.decode()
    assert "Earlier reports I am sharing" in page
    stop = re.search(r'action="(/portal/feedback/[0-9a-f-]+/stop-sharing/)"', page).group(1)
    assert patient.post(stop).status_code == 302
    for url in (f"/patients/{world.p1.pk}/plan/review/", held["Location"],
                f"/patients/{world.p1.pk}/feedback/"):
        assert "Please ask me about my sleep." not in staff.get(url).content.decode(), url
    assert FeedbackReport.objects.get(pk=report.pk).snapshot is None
    assert any("stopped sharing" in e.detail for e in AuditEvent.objects.filter(
        patient=world.p1, object_type="feedbackreport"))


def test_stop_sharing_the_current_report_from_its_form(world):
    staff, _plan, _goal = history(world)
    patient = world.client("patient")
    post(patient, words="Ask me about work.", action="share")
    assert "Ask me about work." in staff.get(f"/patients/{world.p1.pk}/feedback/").content.decode()
    page = patient.get(URL).content.decode()
    assert 'value="unshare"' in page and 'value="share"' not in page
    reply = post(patient, words="Ask me about work.", action="unshare")
    assert reply.status_code == 302
    assert "You have stopped sharing this report" in patient.get(URL).content.decode()
    assert "Ask me about work." not in staff.get(
        f"/patients/{world.p1.pk}/feedback/").content.decode()
    assert "Ask me about work." not in staff.get(
        f"/patients/{world.p1.pk}/plan/review/").content.decode()


def test_stopping_sharing_names_the_local_day_of_a_report_made_just_after_midnight(world):
    # 00:30 on 15 July in London is 23:30 on 14 July in UTC (British Summer Time).
    made = datetime.datetime(2026, 7, 15, 0, 30, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert made.astimezone(datetime.UTC).date() == datetime.date(2026, 7, 14)
    report = FeedbackReport.objects.create(
        organisation=world.org, patient=world.p1, updated_by=world.users["patient"],
        parts=["answers"], created_at=made, updated_at=made, shared_at=made,
        snapshot={"parts": ["answers"], "own_words": ""})
    client = world.client("patient")
    reply = client.post(f"/portal/feedback/{report.pk}/stop-sharing/", follow=True)
    text = visible(reply.content.decode())
    assert "You have stopped sharing your report of 15 July 2026." in text
    assert "14 July" not in text


def test_a_patient_cannot_stop_sharing_someone_elses_report(world):
    from tandem.feedback.models import FeedbackReport as Report

    other = Report.objects.create(organisation=world.org, patient=world.p2,
                                  updated_by=world.users["practitioner"])
    reply = world.client("patient").post(f"/portal/feedback/{other.pk}/stop-sharing/")
    assert reply.status_code == 404


def test_a_report_never_shared_is_never_seen_by_staff(world):
    staff, _plan, _goal = history(world)
    post(world.client("patient"), words="Only for me for now.")
    held = staff.get(f"/patients/{world.p1.pk}/plan/").content.decode()
    review_id = re.search(r"/plan/reviews/([0-9a-f-]+)/", held).group(1)
    for url in (f"/patients/{world.p1.pk}/plan/review/",
                f"/patients/{world.p1.pk}/plan/reviews/{review_id}/",
                f"/patients/{world.p1.pk}/feedback/"):
        page = staff.get(url).content.decode()
        assert "Only for me for now." not in page, url
        assert "Reports are shared only if the patient chooses to" in page or (
            "is not sharing a feedback report" in page)


def test_a_report_shared_after_a_review_was_held_is_not_shown_as_part_of_that_review(world):
    staff, _plan, _goal = history(world)
    post(world.client("patient"), words="For the next review", action="share")
    held = staff.get(f"/patients/{world.p1.pk}/plan/").content.decode()
    review_id = re.search(r"/plan/reviews/([0-9a-f-]+)/", held).group(1)
    page = staff.get(f"/patients/{world.p1.pk}/plan/reviews/{review_id}/").content.decode()
    assert "For the next review" not in page
    assert "For the next review" in staff.get(
        f"/patients/{world.p1.pk}/plan/review/").content.decode()


# Words.

@pytest.mark.parametrize("shared", [False, True])
def test_no_judging_comparing_or_research_words_on_any_page_of_the_report(world, shared,
                                                                           monkeypatch):
    staff, _plan, _goal = history(world)
    complete(world.p1, "life-domains", {c: 5 for c in (
        "drug_use", "alcohol_use", "physical_health", "mental_health", "distress", "housing",
        "eating", "relationships", "social_life", "daytime", "money", "offending", "family")},
        5)
    patient = world.client("patient")
    post(patient, words="", action="share" if shared else "save")
    rendered = []

    class FakeHTML:
        def __init__(self, string, base_url=None):
            rendered.append(string)

        def write_pdf(self, stylesheets=()):
            return b"%PDF"

    import weasyprint
    monkeypatch.setattr(weasyprint, "HTML", FakeHTML)
    patient.get("/portal/feedback/report.pdf")
    pages = {URL: patient.get(URL).content.decode(), "pdf": rendered[0]}
    if shared:
        pages["review"] = staff.get(f"/patients/{world.p1.pk}/plan/review/").content.decode()
        pages["staff"] = staff.get(f"/patients/{world.p1.pk}/feedback/").content.decode()
    for where, html in pages.items():
        text = visible(html)
        if where == "review":  # the review form's own words are the planning app's
            text = text.split("'s feedback report", 1)[1].split("Date of the review", 1)[0]
        for pattern in (JUDGING_OR_COMPARING, NOT_FOR_PATIENTS):
            found = pattern.search(text)
            assert found is None, f"{where}: “{found.group(0)}” in " \
                                  f"{text[max(0, found.start() - 80):found.end() + 80]!r}"
    assert "a real improvement" in pages[URL] and "Miller &amp; Rollnick" in pages[URL]


def test_the_word_list_finds_what_it_is_for():
    for text in ("Most people drink less than you", "You should cut down",
                 "Your score is above average", "You relapsed", "Compared with others"):
        assert JUDGING_OR_COMPARING.search(text), text


# The second review.

def test_a_report_shared_before_range_names_were_a_choice_is_shown_without_them(world):
    from tandem.feedback import services

    complete(world.p1, "audit", audit(12), 40)
    complete(world.p1, "audit", audit(17), 5)
    client = world.client("patient")
    post(client, content.DEFAULT_PARTS, action="share")
    report = FeedbackReport.objects.get()
    old = report.snapshot  # as a report shared before the tick box kept it
    old["parts"] = [p for p in old["parts"] if p != content.RANGE_NAMES]
    for item in old["answers"]:
        item["band"] = "higher risk – harmful drinking (zone iii)"
        item["sentences"][0] += (" That is in the range called “higher risk – harmful "
                                 "drinking (zone iii)”.")
    FeedbackReport.objects.filter(pk=report.pk).update(snapshot=old)
    text = visible(client.get(URL).content.decode())
    assert "range called" not in text and "harmful drinking" not in text
    assert "At your latest check-up" in text  # the rest of the sentence is kept
    staff, _plan = make_plan(world)
    for url in (f"/patients/{world.p1.pk}/feedback/", f"/patients/{world.p1.pk}/plan/review/"):
        seen = visible(staff.get(url).content.decode())
        assert "At your latest check-up" in seen, url  # the care team sees the report...
        assert "range called" not in seen and "harmful drinking" not in seen, url  # ...so
    chose = services.without_unchosen_range_names(
        old | {"parts": [*old["parts"], content.RANGE_NAMES]})
    assert "range called" in str(chose)  # chosen: kept as shared


def test_only_a_clash_of_the_same_new_report_is_taken_for_a_double_submit(world, monkeypatch):
    from django.db import IntegrityError

    from tandem.audit.actor import Actor
    from tandem.feedback import services
    from tandem.feedback.forms import ReportForm
    from tandem.records import versioning

    complete(world.p1, "phq9", phq9(12), 3)
    form = ReportForm({"parts": content.DEFAULT_PARTS, "own_words": "Hello", "version": "0"},
                      instance=services.current(world.p1))
    assert form.is_valid(), form.errors

    def refused(*args, **kwargs):
        raise IntegrityError("NOT NULL constraint failed: feedback_feedbackreport.occasion")

    monkeypatch.setattr(versioning, "save", refused)
    with pytest.raises(IntegrityError, match="NOT NULL"):
        services.save(Actor(world.users["patient"], "patient", path=URL), form, services.SAVE)
