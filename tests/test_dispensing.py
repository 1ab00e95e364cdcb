"""What the pharmacy reports (tandem.medication.dispensing): staff entry and the API's `record`,
the CSV import (all or nothing, every problem by line and column, set-based upsert), the
missed runs the pages and the import name, and the staff pages."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent
from tandem.medication import dispensing, doses, events
from tandem.medication.models import DispensingDay, MedicationSettings, PlanStatus
from tandem.patients.access import visible_patients
from tests.conftest import make_patient

TODAY = timezone.localdate()
D = datetime.timedelta


def ago(n: int) -> datetime.date:
    return TODAY - D(days=n)


def start(world, patient, started=30):
    """A methadone plan for the patient, started `started` days ago."""
    prescriber = Actor(user=world.users["prescriber"], role="prescriber")
    plan = doses.start_plan(prescriber, patient.episodes.first(), "methadone", doses.Terms(
        low=Decimal(20), high=Decimal(90), step_up_max=Decimal(10), step_down_max=Decimal(10),
        min_days_between=3, max_rise_7_days=Decimal(20),
        review_date=TODAY + D(days=60)), Decimal(30), ago(started), "Start")
    # Set on the day it started, as if entered then (missed days after it are not acted on).
    then = timezone.now() - D(days=started)
    plan.versions.update(changed_at=then)
    plan.doses.update(made_at=then)
    return plan


def actor(world, role="practitioner"):
    return Actor(user=world.users[role], role=role)


@pytest.fixture
def signals():
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    events.dispensing_recorded.connect(receiver, dispatch_uid="test-dispensing")
    yield sent
    events.dispensing_recorded.disconnect(dispatch_uid="test-dispensing")


# --- record --------------------------------------------------------------------------------


def test_record_stores_audits_and_announces_once(world, signals):
    plan = start(world, world.p1)
    n = dispensing.record(actor(world), plan, [(ago(2), "supervised"), (ago(1), "taken home")],
                          "staff")
    assert n == 2
    assert dict(plan.dispensing_days.values_list("day", "status")) == {
        ago(2): "supervised", ago(1): "home"}
    assert set(plan.dispensing_days.values_list("source", "recorded_by__username")) == {
        ("staff", "practitioner")}
    events_ = AuditEvent.objects.filter(object_type="dispensingday").order_by("seq")
    assert [(e.action, e.patient_id) for e in events_] == [("create", world.p1.pk)] * 2
    assert "taken home (entered by staff)" in events_[1].detail
    assert signals == [{"signal": events.dispensing_recorded,
                        "organisation_id": world.org.pk, "patient_ids": [world.p1.pk]}]


def test_a_later_report_replaces_the_earlier_and_the_audit_keeps_it(world):
    plan = start(world, world.p1)
    dispensing.record(actor(world), plan, [(ago(1), "missed")], "staff")
    assert dispensing.record(actor(world, "prescriber"), plan, [(ago(1), "supervised")],
                             "api") == 1
    row = plan.dispensing_days.get()
    assert (row.status, row.source, row.recorded_by) == (
        "supervised", "api", world.users["prescriber"])
    last = AuditEvent.objects.filter(object_type="dispensingday").latest("seq")
    assert last.action == "update"
    assert last.detail == (f"{ago(1).isoformat()}: missed → taken, supervised (sent by the "
                           "pharmacy system; was entered by staff)")
    # The same report again changes nothing and writes no event.
    count = AuditEvent.objects.count()
    assert dispensing.record(actor(world), plan, [(ago(1), "supervised")], "api") == 0
    assert AuditEvent.objects.filter(object_type="dispensingday").count() == 2
    assert AuditEvent.objects.count() == count


@pytest.mark.parametrize(("days", "field", "words"), [
    ([(TODAY + D(days=1), "missed")], "day", "is in the future"),
    ([(ago(31), "missed")], "day", "is before this medication plan started"),
    ([(ago(1), "gone")], "status", "choose taken supervised, taken home or missed"),
    ([(ago(1), "missed"), (ago(1), "home")], "day", "is given twice"),
    ([], "", "Give at least one day."),
])
def test_record_refuses_with_the_field_and_writes_nothing(world, signals, days, field, words):
    plan = start(world, world.p1)
    with pytest.raises(doses.Refused) as refused:
        dispensing.record(actor(world), plan, days, "staff")
    assert words in " ".join(refused.value.reasons[field])
    assert not DispensingDay.objects.exists() and signals == []


def test_a_stopped_plan_takes_days_up_to_its_stop_only(world):
    plan = start(world, world.p1)
    plan = doses.stop_plan(actor(world, "prescriber"), plan, plan.version, "Finished")
    assert plan.status == PlanStatus.STOPPED
    dispensing.record(actor(world), plan, [(TODAY, "supervised")], "staff")
    plan.updated_at = timezone.now() - D(days=5)
    plan.save(update_fields=["updated_at"])
    with pytest.raises(doses.Refused) as refused:
        dispensing.record(actor(world), plan, [(ago(2), "missed")], "staff")
    assert "is after this medication plan stopped" in refused.value.reasons["day"][0]
    assert dispensing.record(actor(world), plan, [(ago(6), "missed")], "staff") == 1


@pytest.mark.parametrize(("text", "status"), [
    ("supervised", "supervised"), ("Taken supervised", "supervised"),
    ("taken, supervised", "supervised"), ("HOME", "home"), ("taken home", "home"),
    ("Taken-home", "home"), ("take home", "home"), (" missed ", "missed"), ("taken", None),
    ("skipped", None), ("", None),
])
def test_statuses_the_pharmacy_may_write(text, status):
    assert dispensing.parse_status(text) == status


@pytest.mark.parametrize(("text", "day"), [
    ("2026-03-01", datetime.date(2026, 3, 1)), (" 2024-02-29 ", datetime.date(2024, 2, 29)),
    ("2026-02-30", None), ("2026-13-01", None), ("01/03/2026", None), ("20260301", None),
    ("2026-3-1", None), ("", None),
])
def test_days_are_strictly_year_month_day(text, day):
    assert dispensing.parse_day(text) == day


# --- the CSV import ------------------------------------------------------------------------


def lines(*rows, header="patient,date,status"):
    return "\n".join([header, *rows]) + "\n"


def import_(world, text, role="practitioner"):
    user = world.users[role]
    return dispensing.import_csv(actor(world, role), world.org.pk, text, visible_patients(user))


@pytest.fixture
def two(world):
    """p1 (practitioner and prescriber on the care team) and a second patient of theirs."""
    p4 = make_patient(world.org, world.team_a, "T-004", members=[
        (world.users["practitioner"], "keyworker")])
    return start(world, world.p1), start(world, p4)


def test_an_import_stores_every_day_audits_and_announces_once(world, two, signals):
    plan1, plan4 = two
    result = import_(world, lines(
        f"T-001,{ago(3)},supervised", f"T-001,{ago(2)},Taken home", f"T-004,{ago(3)},missed",
        f"T-004,{ago(2)},missed", f"T-004,{ago(1)},missed"))
    assert result.ok and result.problems == []
    assert (result.days, result.patients, result.replaced) == (5, 2, 0)
    assert dict(plan1.dispensing_days.values_list("day", "status")) == {
        ago(3): "supervised", ago(2): "home"}
    assert set(plan4.dispensing_days.values_list("status", "source")) == {("missed", "csv")}
    assert [(r.service_id, r.days, r.first, r.last) for r in result.missed] == [
        ("T-004", 3, ago(3), ago(1))]
    # The early-warning rules, told once, flag the same patient.
    from tandem.monitoring.models import Flag

    assert set(Flag.objects.filter(rule="missed-doses").values_list("patient_id", flat=True)) \
        == {plan4.patient_id}
    assert len(signals) == 1
    assert set(signals[0]["patient_ids"]) == {plan1.patient_id, plan4.patient_id}
    event = AuditEvent.objects.get(object_type="dispensing-import")
    assert (event.action, event.patient, event.object_id) == ("create", None, result.reference)
    assert event.detail == ("Imported 5 days for 2 patients from the pharmacy's file (T-001, "
                            "T-004); 0 earlier reports replaced.")


def test_a_reimport_replaces_the_days_and_names_what_changed(world, two, signals):
    plan1, _ = two
    import_(world, lines(f"T-001,{ago(2)},missed", f"T-001,{ago(1)},missed"))
    first = plan1.dispensing_days.get(day=ago(2)).recorded_at
    result = import_(world, lines(f"T-001,{ago(2)},missed", f"t-001,{ago(1)},supervised",
                                  header="Status,Patient,Date,Pharmacy")
                     .replace(f"T-001,{ago(2)},missed", f"missed,T-001,{ago(2)},Boots")
                     .replace(f"t-001,{ago(1)},supervised", f"supervised,T-001,{ago(1)},Boots"))
    assert result.ok, result.problems
    assert result.ignored_columns == ["Pharmacy"]
    assert (result.days, result.replaced) == (2, 1)
    assert dict(plan1.dispensing_days.values_list("day", "status")) == {
        ago(2): "missed", ago(1): "supervised"}
    assert plan1.dispensing_days.count() == 2
    # The day reported the same again keeps its first recording.
    assert plan1.dispensing_days.get(day=ago(2)).recorded_at == first
    summary = AuditEvent.objects.filter(object_type="dispensing-import").latest("seq")
    assert f"T-001 {ago(1).isoformat()}: missed → taken, supervised" in summary.detail
    assert result.missed == []


def test_an_import_replaces_what_staff_entered_where_it_differs(world, two):
    plan1, plan4 = two
    dispensing.record(actor(world), plan1, [(ago(3), "missed"), (ago(2), "home")], "staff")
    result = import_(world, lines(f"T-001,{ago(3)},supervised", f"T-001,{ago(2)},home",
                                  f"T-004,{ago(2)},home"), role="team_lead")
    assert (result.days, result.replaced) == (3, 1)
    assert set(plan1.dispensing_days.values_list("day", "status", "source",
                                                 "recorded_by__username")) == {
        (ago(3), "supervised", "csv", "team_lead"), (ago(2), "home", "staff", "practitioner")}
    assert plan4.dispensing_days.get().source == "csv"


def test_one_bad_line_stores_nothing_and_every_problem_is_named(world, two, signals):
    text = lines(
        f"T-001,{ago(3)},supervised",  # 2: fine
        "T-001,2026-02-30,missed",  # 3: no such day
        f"T-001,{ago(2)},skipped",  # 4: unknown status
        f"T-999,{ago(2)},missed",  # 5: nobody
        f"T-003,{ago(2)},missed",  # 6: a patient the practitioner cannot see
        f"O-001,{ago(2)},missed",  # 7: another organisation's
        f"T-004,{ago(2)},missed",  # 8: fine
        f"T-004,{ago(2)},home",  # 9: the same patient and day again
        f"T-001,{ago(1)},missed,extra",  # 10: too many columns
        f"T-001,{TODAY + D(days=1)},missed",  # 11: the future
        f"T-001,{ago(60)},missed",  # 12: before the plan
        f"T-002,{ago(1)},missed",  # 13: p2, seen by nobody here
    )
    result = import_(world, text)
    assert not result.ok and result.days == 0
    got = {(p.line, p.column): p.message for p in result.problems}
    assert set(got) == {(3, "date"), (4, "status"), (5, "patient"), (6, "patient"),
                        (7, "patient"), (9, ""), (10, ""), (11, "date"), (12, "date"),
                        (13, "patient")}
    assert got[(3, "date")] == ('"2026-02-30" is not a day: write it as year-month-day, '
                                "e.g. 2026-03-01.")
    assert got[(4, "status")] == '"skipped" is not a status: write supervised, home or missed.'
    # One who exists but is not yours reads exactly as one who does not exist.
    assert got[(5, "patient")] == got[(6, "patient")] == got[(7, "patient")] == \
        got[(13, "patient")] == "No patient with this service ID that you can see."
    assert got[(9, "")] == f"T-004 on {ago(2).isoformat()} is also on line 8: give each " \
                           "patient's day once."
    assert "4 values but the first line names 3 columns" in got[(10, "")]
    assert "is in the future" in got[(11, "date")]
    assert "is before T-001's medication plan started" in got[(12, "date")]
    assert [p.line for p in result.problems] == sorted(p.line for p in result.problems)
    assert result.problem_count == 10
    assert not DispensingDay.objects.exists() and signals == []
    assert not AuditEvent.objects.filter(object_type="dispensing-import").exists()


def test_the_team_lead_sees_the_team_and_p2_is_theirs(world, two):
    start(world, world.p2)
    result = import_(world, lines(f"T-002,{ago(1)},missed", f"T-001,{ago(1)},home"),
                     role="team_lead")
    assert result.ok and result.patients == 2


@pytest.mark.parametrize(("text", "line", "words"), [
    ("", 1, "The file is empty"),
    ("\n \n", 1, "The file is empty"),
    (f"T-001,{ago(1)},missed\n", 1, "this one looks like a line of days: add the header"),
    ("patient,day,status\nT-001,2026-01-01,missed\n", 1, "(missing: date)"),
    ("patient,date,status\n", 1, "no days in it, only the header"),
    ('patient,date,status\nT-001,"2026-01-01,missed\n', 2, "cannot be read as CSV"),
    ("patient,date,status,patient\n", 1, "The column patient is named twice"),
])
def test_a_file_that_is_not_a_list_of_days(world, two, text, line, words):
    result = import_(world, text)
    assert not result.ok
    assert result.problems[0].line == line and words in result.problems[0].message, \
        result.problems


def test_bytes_are_read_as_utf8_with_or_without_a_bom_and_refused_otherwise(world, two):
    good = lines(f"T-001,{ago(1)},missed").encode()
    assert import_(world, "\ufeff".encode() + good).ok
    result = import_(world, good + f"T-001,{ago(2)},miss\xe9d\n".encode("latin-1"))
    assert [(p.line, p.column) for p in result.problems] == [(3, "")]
    assert "not UTF-8 text (byte 0xE9 on line 3" in result.problems[0].message
    assert not DispensingDay.objects.filter(day=ago(2)).exists()


def test_a_patient_without_a_current_plan_is_named(world, two):
    plan1, _ = two
    doses.stop_plan(actor(world, "prescriber"), plan1, plan1.version, "Finished")
    result = import_(world, lines(f"T-001,{ago(1)},missed"))
    assert [p.message for p in result.problems] == [
        "T-001 has no current medication plan in Tandem."]


def test_problems_listed_are_capped_and_all_counted(world, two):
    text = lines(*[f"T-001,2026-02-3{n % 2},missed" for n in range(150)])
    result = import_(world, text)
    assert len(result.problems) == dispensing.MAX_PROBLEMS and result.problem_count == 150


def test_the_import_takes_a_bounded_number_of_queries(world, two):
    """Patients, plans, existing days, the write, the audit and the missed runs: the same
    number of queries for 2 patients or 40."""
    def queries(n):
        rows = []
        for i in range(n):
            p = make_patient(world.org, world.team_a, f"Q{n}-{i}", members=[
                (world.users["practitioner"], "keyworker")])
            start(world, p)
            rows += [f"Q{n}-{i},{ago(d)},{'missed' if d < 4 else 'home'}" for d in range(1, 6)]
        with CaptureQueriesContext(connection) as captured:
            assert import_(world, lines(*rows)).ok
        return len(captured)
    queries(1)  # the audit chain's head is made by the first
    assert queries(2) == queries(40)


def test_runs_in_finds_every_run_of_k(world):
    days = [(ago(9), "missed"), (ago(8), "missed"), (ago(7), "missed"), (ago(6), "home"),
            (ago(5), "missed"), (ago(4), "missed"), (ago(2), "missed")]
    assert dispensing.runs_in(days, 3) == [[ago(9), ago(8), ago(7)]]
    assert dispensing.runs_in(days, 2) == [[ago(9), ago(8), ago(7)], [ago(5), ago(4)]]


def test_a_restart_since_the_run_began_ends_it(world, two):
    plan1, _ = two
    import_(world, lines(*[f"T-001,{ago(d)},missed" for d in (3, 2, 1)]))
    reported = {plan1.pk: {ago(1)}}
    assert [r.service_id for r in dispensing.missed_runs(world.org.pk, reported, 3)] == [
        "T-001"]
    doses.change_plan(actor(world, "prescriber"), plan1, plan1.version, doses.Terms.of(plan1),
                      "Restart after missed days", dose=Decimal(20), from_day=TODAY,
                      restart=True)
    assert dispensing.missed_runs(world.org.pk, reported, 3) == []


def test_the_service_setting_decides_the_run_length(world, two):
    MedicationSettings.objects.create(organisation=world.org, missed_days_for_flag=2)
    result = import_(world, lines(f"T-001,{ago(2)},missed", f"T-001,{ago(1)},missed"))
    assert result.missed_days_for_flag == 2
    assert [(r.service_id, r.days) for r in result.missed] == [("T-001", 2)]


# --- the pages -----------------------------------------------------------------------------


def page_url(patient):
    return f"/patients/{patient.pk}/medication/dispensing/"


IMPORT_URL = "/patients/dispensing/import/"


def days_post(*rows, total=None):
    """The entry form's POST: (day, status) for each row."""
    data = {"days-TOTAL_FORMS": str(total or len(rows)), "days-INITIAL_FORMS": "0",
            "days-MIN_NUM_FORMS": "0", "days-MAX_NUM_FORMS": "31"}
    for n, (day, status) in enumerate(rows):
        data[f"days-{n}-day"] = str(day)
        data[f"days-{n}-status"] = status
    return data


def test_the_page_shows_each_day_and_a_missed_run_with_the_restart_rule(world):
    plan = start(world, world.p1, started=40)
    MedicationSettings.objects.create(organisation=world.org,
                                      restart_rule="Ring Dr Shah before any dose.")
    dispensing.record(actor(world), plan, [(ago(5), "supervised"), (ago(4), "home")] +
                      [(ago(n), "missed") for n in (3, 2, 1)], "staff")
    response = world.client("practitioner").get(page_url(world.p1))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Missed 3 days in a row" in html and "Ring Dr Shah before any dose." in html
    assert html.count('class="row-urgent"') == 3
    assert "(3 missed in a row)" in html
    assert "Taken, supervised" in html and "Taken home" in html and "Not reported" in html
    assert "Tandem is not a prescribing system" in html
    # 28 days a page; the plan's 41 days take two.
    assert html.count('<th scope="row">', html.index("Day by day")) == 28
    older = world.client("practitioner").get(page_url(world.p1) + "?page=2").content.decode()
    assert "Page 2 of 2" in older and "Missed 3 days in a row" in older


def test_an_earlier_run_is_marked_and_the_rule_shown(world):
    plan = start(world, world.p1)
    dispensing.record(actor(world), plan, [(ago(n), "missed") for n in (9, 8, 7)] +
                      [(ago(6), "supervised")], "staff")
    # The prescriber has seen the patient since (a new version of the plan).
    doses.change_plan(actor(world, "prescriber"), plan, plan.version, doses.Terms.of(plan),
                      "Seen after the missed days")
    html = world.client("prescriber").get(page_url(world.p1)).content.decode()
    assert "Missed 3 or more days in a row earlier" in html
    assert html.count('class="row-urgent"') == 3
    assert "Missed 3 days in a row<" not in html


def test_staff_record_days_and_bad_input_is_named_by_row_and_field(world, signals):
    plan = start(world, world.p1)
    client = world.client("practitioner")
    response = client.post(page_url(world.p1), days_post((ago(1), "missed"), (ago(2), "home"),
                                                         (ago(3), "")))
    assert response.status_code == 302
    assert dict(plan.dispensing_days.values_list("day", "status")) == {
        ago(1): "missed", ago(2): "home"}
    assert len(signals) == 1
    response = client.post(page_url(world.p1), days_post(
        (TODAY + D(days=2), "missed"), (ago(45), "home"), ("", "home"), ("2026-02-30", "home"),
        (ago(5), "home"), (ago(5), "missed")))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Row 1, day: " in html and "is in the future" in html
    assert "Row 2, day: " in html and "is before this medication plan started" in html
    assert "Row 3, day: Give the day this report is for." in html
    assert "Row 4, day: Write the day as a date" in html
    assert f"Row 6, day: {doses.dosing.day_text(ago(5))} is also in row 5" in html
    assert plan.dispensing_days.count() == 2 and len(signals) == 1
    response = client.post(page_url(world.p1), days_post((ago(4), "")))
    assert "Choose what the pharmacy reported for at least one day." in \
        response.content.decode()


def test_the_prescriber_and_team_lead_record_too(world):
    plan = start(world, world.p1)
    for n, role in enumerate(("prescriber", "team_lead"), start=1):
        response = world.client(role).post(page_url(world.p1), days_post((ago(n), "home")))
        assert response.status_code == 302, response.content[:500]
    assert set(plan.dispensing_days.values_list("recorded_by__username", flat=True)) == {
        "prescriber", "team_lead"}


def test_a_patient_without_a_plan_has_a_page_and_no_form(world):
    response = world.client("practitioner").get(page_url(world.p1))
    assert response.status_code == 200
    assert "has no medication plan" in response.content.decode()
    assert "Record these days" not in response.content.decode()


def test_the_page_takes_the_same_queries_for_a_long_history(world):
    plan = start(world, world.p1, started=200)
    client = world.client("practitioner")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(page_url(world.p1)).status_code == 200
        return len(captured)
    queries()  # the first sign-in's session is written once
    before = queries()
    dispensing.import_csv(actor(world), world.org.pk, lines(
        *[f"T-001,{ago(n)},{'missed' if n % 4 == 0 else 'home'}" for n in range(1, 200)]),
        visible_patients(world.users["practitioner"]))
    assert plan.dispensing_days.count() == 199
    assert queries() == before


def test_the_import_page_explains_imports_and_names_missed_runs(world, two):
    client = world.client("practitioner")
    page = client.get(IMPORT_URL).content.decode()
    assert "patient,date,status" in page and "year-month-day" in page
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("pharmacy.csv", lines(
        *[f"T-004,{ago(n)},missed" for n in (3, 2, 1)], f"T-001,{ago(1)},supervised").encode())
    html = client.post(IMPORT_URL, {"file": upload}).content.decode()
    assert "Imported 4 days for 2 patients" in html
    assert "1 patient has missed 3 or more days in a row" in html
    p4 = two[1].patient
    assert f'href="/patients/{p4.pk}/medication/dispensing/"' in html and "T-004" in html


def test_the_import_page_lists_problems_by_line_and_stores_nothing(world, two):
    client = world.client("practitioner")
    html = client.post(IMPORT_URL, {"text": lines(f"T-001,{ago(1)},missed",
                                                  "T-003,2026-02-30,missed")}).content.decode()
    assert "Nothing was imported: 2 problems in the file" in html
    assert '<th scope="row">3</th><td>patient</td><td>No patient with this service ID' in html
    assert "is not a day" in html
    assert not DispensingDay.objects.exists()
    html = client.post(IMPORT_URL, {}).content.decode()
    assert "Choose the pharmacy&#x27;s file, or paste its lines." in html
    from django.core.files.uploadedfile import SimpleUploadedFile

    latin = SimpleUploadedFile("pharmacy.csv", lines(f"T-001,{ago(1)},miss\xe9d").encode(
        "latin-1"))
    bad = client.post(IMPORT_URL, {"file": latin}).content.decode()
    assert "Nothing was imported: 1 problem in the file" in bad
    assert "This file is not UTF-8 text (byte 0xE9 on line 2 is not)" in bad


def test_a_large_file_is_refused_by_its_size(world, two, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tandem.medication import dispensing_forms

    monkeypatch.setattr(dispensing_forms, "MAX_UPLOAD", 10)
    upload = SimpleUploadedFile("big.csv", lines(f"T-001,{ago(1)},missed").encode())
    html = world.client("practitioner").post(IMPORT_URL, {"file": upload}).content.decode()
    assert "at most 20 MB is taken at once" in html
    assert not DispensingDay.objects.exists()


def test_the_problems_listed_are_those_of_the_earliest_lines(world, two):
    """A patient problem on line 2 (found after every line was read) is listed before the
    date problems of 150 later lines, of which the first 99 are listed."""
    text = lines(f"T-999,{ago(1)},missed", *[f"T-001,2026-02-3{n % 2},missed"
                                              for n in range(150)])
    result = import_(world, text)
    assert result.problem_count == 151
    assert [(p.line, p.column) for p in result.problems] == [(2, "patient")] + [
        (n, "date") for n in range(3, 102)]
