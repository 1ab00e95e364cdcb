"""'My patients' runs a fixed number of queries whatever the caseload size."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.caseload import entries as caseload
from tandem.patients.models import CareTeam, CareTeamMember, CaseloadEntry, Episode, Patient


def add_caseload(world, count, start):
    org, user = world.org, world.users["practitioner"]
    patients = [Patient(organisation=org, team=world.team_a, service_id=f"C-{start + i:05d}",
                        given_name="Case", family_name=f"Load {start + i:05d}",
                        date_of_birth=datetime.date(1980, 1, 1)) for i in range(count)]
    Patient.objects.bulk_create(patients)
    teams = CareTeam.objects.bulk_create(
        [CareTeam(organisation=org, patient=p) for p in patients])
    Episode.objects.bulk_create([
        Episode(organisation=org, patient=p, start_date=datetime.date(2026, 1, 1),
                setting="community", status=["active", "post-exit-monitoring", "finished"][i % 3])
        for i, p in enumerate(patients)])
    CareTeamMember.objects.bulk_create([
        CareTeamMember(organisation=org, care_team=t, user=user, role="keyworker",
                       start_date=datetime.date(2026, 1, 1)) for t in teams])
    caseload.refresh(p.pk for p in patients)  # bulk_create sends no signals


def queries_for_page(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def flag_some(world, every=3):
    from tandem.monitoring.models import Flag

    Flag.objects.bulk_create([
        Flag(organisation=world.org, patient=p, rule="no-contact", evidence_key=str(p.pk),
             severity="medium", evidence="No contact has been recorded since 1 March 2026.")
        for p in Patient.objects.filter(service_id__startswith="C-")[::every]],
        ignore_conflicts=True)
    caseload.refresh(Patient.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("role", ["practitioner", "team_lead"])
@pytest.mark.parametrize("sort", ["need", "status"])
def test_caseload_query_count_is_constant_at_10_and_1000_patients(world, role, sort):
    client = world.client(role)
    client.get("/")  # the session's once-a-minute write, out of the way
    add_caseload(world, 9, 0)  # with p1: 10 patients
    flag_some(world)
    small, response = queries_for_page(client, f"/patients/?sort={sort}")
    assert response.context["page"].paginator.count == (10 if role == "practitioner" else 11)
    add_caseload(world, 990, 100)  # 1,000 patients
    flag_some(world, every=7)
    large, response = queries_for_page(client, f"/patients/?sort={sort}")
    assert response.context["page"].paginator.count >= 1000
    assert small == large
    # session, user, roles, audit append (4 and its transaction), teams, the page with its
    # counts and flags, and the keyworkers' loads for a lead; on PostgreSQL the request's own
    # transaction (a savepoint and its release under a test's transaction) and the audit seal
    # (deferred checks run first, then deferred again) add their statements
    assert large <= (11 if connection.vendor == "sqlite" else 13)


def test_my_patients_is_sorted_paginated_and_searchable(world):
    add_caseload(world, 30, 0)
    client = world.client("practitioner")
    page1 = client.get("/patients/?sort=name").context["page"]
    assert page1.paginator.num_pages == 2
    names = [p.family_name for p in page1]
    assert names == sorted(names)
    found = client.get("/patients/?q=Load 00007").context["page"]
    assert [p.service_id for p in found] == ["C-00007"]
    row = client.get("/patients/?q=T-001").content.decode()
    assert "In treatment" in row and "Keyworker" in row


def test_team_lead_list_covers_team_and_shows_role(world):
    page = world.client("team_lead").get("/patients/").context["page"]
    assert sorted(p.service_id for p in page) == ["T-001", "T-002"]
    assert {p.role_label for p in page} == {"Team lead"}


def test_patients_with_an_urgent_alert_come_first(world):
    from tandem.monitoring.models import Flag

    add_caseload(world, 3, 0)  # "Load 00000".. sort before "Patient T-001" by name
    client = world.client("practitioner")
    first = client.get("/patients/?sort=name").context["page"].object_list[0]
    assert first.service_id == "C-00000" and not first.urgent
    Flag.objects.create(organisation=world.org, patient=world.p1, rule="safety-answer",
                        evidence_key="x", severity="urgent", evidence="PHQ-9 question 9")
    page = client.get("/patients/?sort=name")
    first = page.context["page"].object_list[0]
    assert first.pk == world.p1.pk and first.urgent
    assert "Urgent alert" in page.content.decode()


def test_who_needs_me_today_sorts_by_need_and_says_why(world):
    from tandem.assessment.models import CheckupSchedule
    from tandem.monitoring.models import Flag
    from tandem.planning.models import CarePlan, PlanVersion

    add_caseload(world, 5, 0)
    patients = {p.service_id: p for p in Patient.objects.all()}
    today = datetime.date.today()
    user = world.users["practitioner"]
    Flag.objects.create(organisation=world.org, patient=patients["C-00003"], rule="housing",
                        evidence_key="h", severity="high",
                        evidence="At the check-up on 3 March 2026 they reported a risk of "
                                 "eviction.")
    Flag.objects.create(organisation=world.org, patient=patients["C-00004"], rule="no-contact",
                        evidence_key="n", severity="low", evidence="No contact since May.")
    CheckupSchedule.objects.create(organisation=world.org, patient=patients["C-00001"],
                                   next_due=today - datetime.timedelta(days=20))
    plan = CarePlan.objects.create(organisation=world.org, patient=patients["C-00002"],
                                   status="active", review_date=today + datetime.timedelta(30),
                                   updated_by=user)
    PlanVersion.objects.create(plan=plan, number=1, snapshot={}, created_by=user)
    client = world.client("practitioner")
    reply = client.get("/patients/")
    order = [p.service_id for p in reply.context["page"]]
    assert order[:4] == ["C-00003", "C-00004", "C-00001", "C-00002"]
    text = reply.content.decode()
    assert "they reported a risk of eviction" in text
    assert "Check-up overdue since" in text
    assert "Care-plan version waiting for a signature" in text
    counts = reply.context["counts"]
    assert counts == {"total": 6, "urgent": 0, "flagged": 2, "overdue": 1, "unsigned": 1,
                      "missed_doses": 0, "medication_reviews_overdue": 0}
    only_housing = client.get("/patients/?flag=housing").context["page"]
    assert [p.service_id for p in only_housing] == ["C-00003"]
    post_exit = client.get("/patients/?status=post-exit-monitoring").context["page"]
    assert {p.episode_status for p in post_exit} == {"post-exit-monitoring"}
    assert client.get("/patients/?team=999999").status_code == 200  # not one of mine: ignored


def test_team_lead_sees_each_keyworkers_load(world):
    from tandem.assessment.models import CheckupSchedule
    from tandem.monitoring.models import Flag

    add_caseload(world, 4, 0)
    first, second, third = Patient.objects.filter(service_id__startswith="C-").order_by(
        "service_id")[:3]
    for patient, severity in ((first, "urgent"), (second, "medium")):
        Flag.objects.create(organisation=world.org, patient=patient, rule="housing",
                            evidence_key="k", severity=severity, evidence="Eviction risk.")
    CheckupSchedule.objects.create(organisation=world.org, patient=third, next_kind="review",
                                   next_due=datetime.date.today() - datetime.timedelta(days=2))
    reply = world.client("team_lead").get("/patients/")
    loads = reply.context["loads"]
    mine = next(row for row in loads if row["user_id"] == world.users["practitioner"].pk)
    # C-00000 (active), C-00001 (post-exit), C-00002 (closed), C-00003, and p1.
    assert (mine["patients"], mine["flagged"], mine["urgent"], mine["overdue"]) == (5, 2, 1, 0)
    CheckupSchedule.objects.filter(patient=third).delete()
    CheckupSchedule.objects.create(organisation=world.org, patient=second, next_kind="review",
                                   next_due=datetime.date.today() - datetime.timedelta(days=2))
    loads = world.client("team_lead").get("/patients/").context["loads"]
    mine = next(row for row in loads if row["user_id"] == world.users["practitioner"].pk)
    assert mine["overdue"] == 1  # a check-up overdue in post-exit monitoring counts
    assert "Keyworkers' caseloads in your team" in reply.content.decode()
    assert world.client("practitioner").get("/patients/").context["loads"] is None


def test_each_change_reaches_the_caseload_entry_and_the_sweep_heals_a_stray_write(world):
    from tandem.monitoring import evaluate
    from tandem.monitoring.models import Flag
    from tandem.patients.models import CaseloadEntry

    entry = CaseloadEntry.objects.get(patient=world.p1)
    assert (entry.flag_rank, entry.flag_count, entry.episode_status) == (None, 0, "active")
    flag = Flag.objects.create(organisation=world.org, patient=world.p1, rule="housing",
                               evidence_key="k", severity="high", evidence="Eviction risk.")
    entry.refresh_from_db()
    assert (entry.flag_rank, entry.flag_count) == (1, 1)
    world.p1.family_name = "Renamed"
    world.p1.save()
    entry.refresh_from_db()
    assert entry.family_name == "Renamed"
    # A write that sends no signal leaves the entry behind; the check names the patient, and
    # the nightly sweep puts it right.
    Flag.objects.filter(pk=flag.pk).update(status="inactive")
    assert caseload.stale_entries() == [world.p1.pk.hex if connection.vendor == "sqlite"
                                        else str(world.p1.pk)]
    evaluate.sweep()
    assert caseload.stale_entries() == []
    entry.refresh_from_db()
    assert entry.flag_count == Flag.objects.filter(patient=world.p1, status="active").count()
    assert not Flag.objects.filter(patient=world.p1, status="active", rule="housing").exists()


@pytest.mark.django_db(transaction=True)
def test_two_transactions_changing_one_patient_both_reach_the_entry(world):
    """On PostgreSQL a worker can raise a flag while a practitioner changes the same patient's
    check-up date: the entry must end up with both."""
    import threading

    from django.db import connections, transaction

    from tandem.assessment.models import CheckupSchedule
    from tandem.monitoring.models import Flag

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL deployment concern")
    flag_written, release, failures = threading.Event(), threading.Event(), []

    def worker_raises_a_flag():
        try:
            with transaction.atomic():
                Flag.objects.create(organisation=world.org, patient=world.p1, rule="housing",
                                    evidence_key="k", severity="urgent", evidence="Evicted.")
                flag_written.set()
                release.wait(10)  # still uncommitted while the other change is made
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connections.close_all()

    def practitioner_changes_the_schedule():
        try:
            with transaction.atomic():
                CheckupSchedule.objects.create(organisation=world.org, patient=world.p1,
                                               next_kind="review",
                                               next_due=datetime.date(2026, 1, 1))
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=worker_raises_a_flag)
    first.start()
    assert flag_written.wait(10)
    second = threading.Thread(target=practitioner_changes_the_schedule)
    second.start()
    second.join(0.5)  # it waits for the first to commit
    release.set()
    first.join()
    second.join()
    assert failures == []
    assert caseload.stale_entries() == []
    entry = CaseloadEntry.objects.get(patient=world.p1)
    assert (entry.flag_rank, entry.checkup_due) == (0, datetime.date(2026, 1, 1))


def test_the_filters_keep_what_was_chosen(world):
    text = world.client("team_lead").get(
        "/patients/?q=%3Cb%3E&flag=housing&status=active&team=" + str(world.team_a.pk)
    ).content.decode()
    assert 'name="q" value="&lt;b&gt;"' in text  # escaped, never markup
    assert '<option value="housing" selected>Housing problem</option>' in text
    assert '<option value="active" selected>In treatment</option>' in text
    assert f'<option value="{world.team_a.pk}" selected>{world.team_a.name}</option>' in text
    assert '<label for="id_flag">Flag:</label>' in text


def test_names_and_evidence_are_escaped_in_the_caseload_rows(world):
    from tandem.monitoring.models import Flag

    world.p1.family_name = '<script>alert("x")</script>'
    world.p1.save()
    Flag.objects.create(organisation=world.org, patient=world.p1, rule="housing",
                        evidence_key="k", severity="high", evidence="Rent <b>arrears</b> & more")
    text = world.client("practitioner").get("/patients/").content.decode()
    assert "<script>alert" not in text and "<b>arrears" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "Rent &lt;b&gt;arrears&lt;/b&gt; &amp; more" in text


def _lead_of_both_teams_also_on_a_care_team(world):
    """A person with several roles: keyworker on one care team, lead of team B."""
    from tandem.accounts.models import Role, RoleGrant

    user = world.users["practitioner"]
    RoleGrant.objects.create(organisation=world.org, user=user, role=Role.TEAM_LEAD,
                             team=world.team_b)
    return user


ENDED_MEMBERSHIP = "an ended care-team membership"


@pytest.mark.parametrize("who", [
    "practitioner", "practitioner_b", "prescriber", "team_lead", "service_admin", "auditor",
    "patient", "other_org", "several roles", ENDED_MEMBERSHIP])
def test_the_caseload_shows_exactly_the_patients_the_permission_layer_lets_them_see(world, who):
    """The caseload's own SQL takes its visibility from the permission layer
    (patients.access.visibility): for every role, its patients are visible_patients'."""
    from tandem.patients.access import visible_patients

    if who == "several roles":
        user = _lead_of_both_teams_also_on_a_care_team(world)
    elif who == ENDED_MEMBERSHIP:
        user = world.users["practitioner_b"]
        for member in CareTeamMember.objects.filter(user=user):
            member.end_date = datetime.date.today() - datetime.timedelta(days=1)
            member.save()
    else:
        user = world.users[who]
    rows, counts = caseload.caseload(user, limit=1000)
    expected = set(visible_patients(user).values_list("pk", flat=True))
    assert {row.id for row in rows} == expected
    assert counts["total"] == len(expected)
    if who in ("practitioner", "team_lead", "several roles"):
        assert expected  # the comparison is not between two empty sets


def test_missed_doses_and_overdue_medication_reviews_are_counted_and_shown(world):
    from decimal import Decimal as D

    from tandem.audit.actor import Actor
    from tandem.medication import doses, events
    from tandem.medication.models import DispensingDay

    today = datetime.date.today()
    prescriber = Actor(user=world.users["prescriber"], role="prescriber")
    terms = doses.Terms(low=D(20), high=D(100), step_up_max=D(30), step_down_max=D(10),
                        min_days_between=1, max_rise_7_days=D(30),
                        review_date=today + datetime.timedelta(days=60))

    def start(patient, days_ago):
        return doses.start_plan(prescriber, patient.episodes.get(status="active"), "methadone",
                                terms, D(30), today - datetime.timedelta(days=days_ago), "Start")

    def report(plan, days):
        DispensingDay.objects.bulk_create([
            DispensingDay(organisation=world.org, patient_id=plan.patient_id, plan=plan,
                          day=today - datetime.timedelta(days=n), status="missed", source="csv")
            for n in days])
        events.dispensing_recorded.send(DispensingDay, organisation_id=world.org.pk,
                                        patient_ids=[plan.patient_id])

    report(start(world.p1, 20), (3, 2, 1))  # three in a row: the urgent flag
    report(start(world.p2, 100), (5, 2, 9))  # two in the last 7 days; review overdue
    reply = world.client("team_lead").get("/patients/")
    counts = reply.context["counts"]
    assert counts["missed_doses"] == 1 and counts["medication_reviews_overdue"] == 1
    html = reply.content.decode()
    assert '<a href="?flag=missed-doses"><strong>1</strong> with missed doses</a>' in html
    assert "<strong>1</strong> medication review overdue</a>" in html
    rows = {r.id: r for r in reply.context["page"]}
    assert rows[world.p2.pk].missed_days == 2 and rows[world.p1.pk].missed_days == 3
    assert "Doses missed on 2 of the last 7 days (pharmacy reports)" in html
    # p1's days are named by its urgent flag, so not said twice.
    assert html.count("of the last 7 days") == 1
    only = world.client("team_lead").get("/patients/?flag=missed-doses")
    assert [r.id for r in only.context["page"]] == [world.p1.pk]
