"""Two people change the same record at once: the second save never silently reverts the first.

On the pages the second person sees what changed (the field and the value saved now), keeps
everything they typed, and nothing is overwritten; in the API a stale `version` is answered
with 409 and what changed. Each test runs in both orders (who saves first)."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.test import Client

from tandem.accounts.models import ApiToken
from tandem.patients.models import CareTeamMember, Patient

TODAY = datetime.date.today()
BOTH_ORDERS = pytest.mark.parametrize("first, second", [("practitioner", "team_lead"),
                                                        ("team_lead", "practitioner")])


def form_fields(page: str) -> dict[str, str]:
    """The values of a rendered form's inputs and selected options, by name."""
    values = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            values[name.group(1)] = html.unescape(value.group(1)) if value else ""
        elif name and "checked" in tag:
            values[name.group(1)] = "on"
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        values[name] = html.unescape(chosen.group(1)) if chosen else ""
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        values[name] = html.unescape(body.strip())
    values.pop("csrfmiddlewaretoken", None)
    return values


def opened(client: Client, url: str) -> dict[str, str]:
    page = client.get(url)
    assert page.status_code == 200
    return form_fields(page.content.decode())


def conflict_shown(page, *texts):
    """The page says someone else changed the record and shows each of `texts`."""
    assert page.status_code == 200, page.status_code
    body = html.unescape(page.content.decode())
    assert "changed this record" in body, body[:2000]
    for text in texts:
        assert text in body, text
    return body


# --- pages -------------------------------------------------------------------------------------


@BOTH_ORDERS
def test_patient_details_second_save_is_stopped_and_keeps_what_was_typed(world, first, second):
    url = f"/patients/{world.p1.pk}/edit/"
    one, two = world.client(first), world.client(second)
    mine, theirs = opened(one, url), opened(two, url)
    assert mine["version"] == theirs["version"] == "1"

    saved = one.post(url, mine | {"phone": "07700 900111"})
    assert saved.status_code == 302
    page = two.post(url, theirs | {"email": "new.address@example.org"})

    body = conflict_shown(page, "Phone", "07700 900111")
    patient = Patient.objects.get(pk=world.p1.pk)
    assert patient.phone == "07700 900111"  # the first save stands
    assert patient.email == ""  # the second is not saved
    assert patient.version == 2
    # Nothing typed is lost: the form still holds the second person's input, now carrying
    # the current version, so saving again is a deliberate choice.
    again = form_fields(body)
    assert again["email"] == "new.address@example.org"
    assert again["version"] == "2"
    assert two.post(url, again | {"phone": "07700 900111"}).status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.email, patient.version) == (
        "07700 900111", "new.address@example.org", 3)


@BOTH_ORDERS
def test_episode_second_save_is_stopped(world, first, second):
    episode = world.p1.episodes.get()
    url = f"/patients/{world.p1.pk}/episodes/{episode.pk}/"
    one, two = world.client(first), world.client(second)
    mine, theirs = opened(one, url), opened(two, url)
    exit_date = (TODAY - datetime.timedelta(days=2)).isoformat()
    saved = one.post(url, mine | {"status": "post-exit-monitoring", "exit_date": exit_date,
                                  "exit_reason": "completed_free"})
    assert saved.status_code == 302
    page = two.post(url, theirs | {"setting": "residential"})

    body = conflict_shown(page, "Status", "Post-exit monitoring")
    episode.refresh_from_db()
    assert (episode.status, episode.setting, str(episode.exit_date)) == (
        "post-exit-monitoring", "community", exit_date)
    assert form_fields(body)["setting"] == "residential"


@BOTH_ORDERS
def test_ending_a_membership_twice_keeps_the_first_end(world, first, second):
    member = CareTeamMember.objects.get(care_team__patient=world.p1, role="prescriber")
    url = f"/patients/{world.p1.pk}/care-team/{member.pk}/end/"
    one, two = world.client(first), world.client(second)
    mine, theirs = opened(one, url), opened(two, url)
    first_end = TODAY - datetime.timedelta(days=3)
    assert one.post(url, mine | {"end_date": first_end.isoformat()}).status_code == 302
    page = two.post(url, theirs | {"end_date": TODAY.isoformat()})

    body = conflict_shown(page, "End date", first_end.strftime("%-d %B %Y"))
    member.refresh_from_db()
    assert member.end_date == first_end
    assert form_fields(body)["end_date"] == TODAY.isoformat()


def test_a_form_without_a_version_saves_nothing(world):
    """A save that does not say which version it started from cannot be checked."""
    client = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/edit/"
    data = opened(client, url)
    del data["version"]
    page = client.post(url, data | {"phone": "01234 567890"})
    assert page.status_code == 200
    assert Patient.objects.get(pk=world.p1.pk).phone == ""


# --- API ---------------------------------------------------------------------------------------


def api(world, role) -> Client:
    _token, plain = ApiToken.issue(world.users[role], "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def patch(client, url, body):
    return client.patch(url, body, content_type="application/json")


@BOTH_ORDERS
def test_api_patient_patch_with_a_stale_version_is_409_with_what_changed(world, first, second):
    url = f"/api/v1/patients/{world.p1.pk}"
    one, two = api(world, first), api(world, second)
    done = patch(one, url, {"version": 1, "phone": "07700 900222", "pronouns": "she/her"})
    assert done.status_code == 200, done.content
    assert done.json()["version"] == 2 and done.json()["phone"] == "07700 900222"

    stale = patch(two, url, {"version": 1, "phone": "01632 960000"})
    assert stale.status_code == 409, stale.content
    detail = stale.json()["detail"]
    assert detail["version"] == 2
    changed = {c["field"]: c for c in detail["changed"]}
    assert changed["phone"]["saved"] == "07700 900222"
    assert changed["phone"]["yours"] == "01632 960000"
    assert set(changed) == {"phone"}  # each field sent whose saved value differs
    assert detail["current"]["pronouns"] == "she/her"  # and the record as it is now
    assert detail["current"]["version"] == 2
    patient = Patient.objects.get(pk=world.p1.pk)
    assert (patient.phone, patient.pronouns, patient.version) == ("07700 900222", "she/her", 2)

    retried = patch(two, url, {"version": detail["version"], "phone": "01632 960000"})
    assert retried.status_code == 200
    assert retried.json()["version"] == 3 and retried.json()["pronouns"] == "she/her"


def test_api_patch_needs_a_version_and_valid_fields(world):
    client = api(world, "practitioner")
    url = f"/api/v1/patients/{world.p1.pk}"
    missing = patch(client, url, {"phone": "1"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "version"]
    bad = patch(client, url, {"version": 1, "date_of_birth": "2999-01-01"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "date_of_birth"]
    assert Patient.objects.get(pk=world.p1.pk).version == 1
    # A prescriber reads but does not change records.
    assert patch(api(world, "prescriber"), url, {"version": 1, "phone": "1"}).status_code == 403


@BOTH_ORDERS
def test_api_episode_patch_with_a_stale_version_is_409(world, first, second):
    episode = world.p1.episodes.get()
    url = f"/api/v1/patients/{world.p1.pk}/episodes/{episode.pk}"
    one, two = api(world, first), api(world, second)
    exit_date = (TODAY - datetime.timedelta(days=1)).isoformat()
    done = patch(one, url, {"version": 1, "status": "post-exit-monitoring",
                            "exit_date": exit_date, "exit_reason": "completed_free"})
    assert done.status_code == 200, done.content
    assert done.json()["version"] == 2 and done.json()["status"] == "post-exit-monitoring"
    stale = patch(two, url, {"version": 1, "setting": "inpatient"})
    assert stale.status_code == 409
    detail = stale.json()["detail"]
    assert detail["changed"] == [{"field": "setting", "label": "Setting", "saved": "community",
                                  "yours": "inpatient"}]
    assert (detail["current"]["status"], detail["current"]["exit_date"]) == (
        "post-exit-monitoring", exit_date)
    episode.refresh_from_db()
    assert (episode.status, episode.setting, episode.version) == (
        "post-exit-monitoring", "community", 2)


def test_page_and_api_see_each_others_saves(world):
    """A save through the API makes an open page stale, and the other way round."""
    page_url = f"/patients/{world.p1.pk}/edit/"
    api_url = f"/api/v1/patients/{world.p1.pk}"
    staff, client = world.client("team_lead"), api(world, "practitioner")
    form = opened(staff, page_url)
    read = client.get(api_url).json()["version"]  # a client reads the version it sends back
    assert patch(client, api_url, {"version": read, "preferred_name": "Patty"}).status_code == 200
    conflict_shown(staff.post(page_url, form | {"phone": "1"}), "Preferred name", "Patty")
    form = opened(staff, page_url)
    assert staff.post(page_url, form | {"phone": "01632 960001"}).status_code == 302
    stale = patch(client, api_url, {"version": 2, "phone": "2"})
    assert stale.status_code == 409
    assert Patient.objects.get(pk=world.p1.pk).phone == "01632 960001"


def test_episode_closed_by_a_re_entry_makes_an_open_episode_form_stale(world):
    """Writes other than the edit form (a re-entry closes the monitoring episode) count too."""
    episode = world.p1.episodes.get()
    episode.status, episode.exit_reason = "post-exit-monitoring", "completed_free"
    episode.exit_date = TODAY - datetime.timedelta(days=10)
    episode.save()
    staff = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/episodes/{episode.pk}/"
    form = opened(staff, url)
    started = staff.post(f"/patients/{world.p1.pk}/episodes/new/",
                         {"start_date": TODAY.isoformat(), "setting": "community"})
    assert started.status_code == 302
    conflict_shown(staff.post(url, form | {"setting": "residential"}), "Closed")
    episode.refresh_from_db()
    assert (episode.status, episode.setting) == ("finished", "community")


@pytest.mark.django_db(transaction=True)
def test_many_saves_from_one_version_at_once_exactly_one_wins(world):
    """Six people save the same version at the same moment (PostgreSQL, several connections):
    one save wins, every other is told 409, and the record holds the winner's change."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL deployment concern")
    url = f"/api/v1/patients/{world.p1.pk}"
    clients = [api(world, "practitioner" if n % 2 else "team_lead") for n in range(6)]
    barrier, replies, crashed = threading.Barrier(len(clients)), {}, []

    def save(n, client):
        try:
            barrier.wait()
            replies[n] = patch(client, url, {"version": 1, "phone": f"0770090000{n}"})
        except Exception as error:  # noqa: BLE001 - reported below
            crashed.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert crashed == []
    statuses = sorted(r.status_code for r in replies.values())
    assert statuses == [200, 409, 409, 409, 409, 409]
    winner = next(n for n, r in replies.items() if r.status_code == 200)
    patient = Patient.objects.get(pk=world.p1.pk)
    assert (patient.phone, patient.version) == (f"0770090000{winner}", 2)


# --- a patient's check-up schedule (its one editable field is its version) --------------------


@BOTH_ORDERS
def test_checkup_schedule_second_save_is_stopped_and_the_change_is_audited(world, first, second):
    from tandem.assessment.models import CheckupSchedule
    from tandem.audit.models import AuditEvent

    url = f"/patients/{world.p1.pk}/checkups/schedule/"
    one, two = world.client(first), world.client(second)
    mine, theirs = opened(one, url), opened(two, url)
    assert one.post(url, mine | {"interval_weeks": "4"}).status_code == 302
    page = two.post(url, theirs | {"interval_weeks": "8"})
    body = conflict_shown(page, "Weeks between check-ups for this patient", "4")
    schedule = CheckupSchedule.objects.get(patient=world.p1)
    assert schedule.interval_weeks == 4  # the first save stands
    again = form_fields(body)
    assert again["interval_weeks"] == "8"  # what was typed is kept
    assert two.post(url, again).status_code == 302  # saving again replaces it, knowingly
    schedule.refresh_from_db()
    assert schedule.interval_weeks == 8
    events = AuditEvent.objects.filter(object_type="checkupschedule", patient=world.p1)
    assert [e.detail for e in events.order_by("seq")] == [
        "changed: weeks between check-ups for this patient (service's setting)→4",
        "changed: weeks between check-ups for this patient 4→8"]


def test_checkup_schedule_form_without_its_version_saves_nothing(world):
    from tandem.assessment.models import CheckupSchedule

    client = world.client("practitioner")
    url = f"/patients/{world.p1.pk}/checkups/schedule/"
    data = opened(client, url)
    del data["version"]
    page = client.post(url, data | {"interval_weeks": "3"})
    assert page.status_code == 200
    assert CheckupSchedule.objects.get(patient=world.p1).interval_weeks is None


@pytest.mark.parametrize("kind", ["patient", "episode"])
def test_api_patch_fills_unsent_fields_from_the_record_saved_now(world, monkeypatch, kind):
    """Someone saves between the API reading the record (for the access check) and the PATCH
    being applied; a client that already read that newer version sends it. The fields it did
    not send keep the newer values: nothing is put back from the older read."""
    from django.db.models import F

    from tandem.api import records
    from tandem.patients.models import Episode

    episode = world.p1.episodes.get()
    model, pk, field, value = {
        "patient": (Patient, world.p1.pk, "phone", "07700 900333"),
        "episode": (Episode, episode.pk, "setting", "residential")}[kind]
    original = records._patch

    def someone_saves_meanwhile(request, body, instance, *args, **kwargs):
        model.objects.filter(pk=pk).update(**{field: value}, version=F("version") + 1)
        return original(request, body, instance, *args, **kwargs)

    monkeypatch.setattr(records, "_patch", someone_saves_meanwhile)
    url = {"patient": f"/api/v1/patients/{world.p1.pk}",
           "episode": f"/api/v1/patients/{world.p1.pk}/episodes/{episode.pk}"}[kind]
    sent = {"patient": {"email": "pat@example.org"}, "episode": {"status": episode.status}}[kind]
    reply = patch(api(world, "practitioner"), url, {"version": 2, **sent})
    assert reply.status_code == 200, reply.content
    row = model.objects.get(pk=pk)
    assert getattr(row, field) == value and row.version == 3
