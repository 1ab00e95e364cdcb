import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tandem.audit import trail
from tandem.audit.actor import Actor
from tandem.audit.models import AppendOnlyError, AuditEvent


def test_viewing_a_patient_writes_an_event_with_who_role_and_address(world):
    client = world.client("practitioner")
    client.get(f"/patients/{world.p1.pk}/?purpose=care", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.filter(patient=world.p1).latest("seq")
    assert event.actor == world.users["practitioner"]
    assert (event.role, event.action, event.object_type) == ("practitioner", "read", "summary")
    assert event.client_address == "10.1.2.3"
    assert event.purpose == "care"


def test_changes_and_api_reads_are_audited(world):
    client = world.client("team_lead")
    before = AuditEvent.objects.filter(patient=world.p1).count()
    client.post(f"/patients/{world.p1.pk}/care-team/new/",
                {"role": "gp", "name": "Dr Who", "start_date": "2026-01-01"})
    client.get(f"/api/v1/patients/{world.p1.pk}/episodes")
    actions = list(AuditEvent.objects.filter(patient=world.p1).order_by("seq")
                   .values_list("action", "object_type", "role")[before:])
    assert ("create", "careteammember", "team_lead") in actions
    assert ("read", "episodes", "team_lead") in actions


def test_refused_access_is_recorded_as_refused_never_as_a_view(world):
    world.client("practitioner_b").get(f"/patients/{world.p1.pk}/")
    events = AuditEvent.objects.filter(actor=world.users["practitioner_b"], patient=world.p1)
    assert list(events.values_list("action", flat=True)) == ["refused"]


def test_events_cannot_be_changed_or_deleted_through_the_app(world):
    event = trail.record(organisation=world.org, action="read")
    event.action = "update"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="update")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_chain_links_each_event_to_the_one_before(world):
    first = trail.record(organisation=world.org, action="read", patient=world.p1)
    second = trail.record(organisation=world.org, action="read", patient=world.p1)
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert trail.verify() == []


def tamper(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_verify_reports_the_first_tampered_event(world, capsys):
    events = [trail.record(organisation=world.org, action="read", patient=world.p1)
              for _ in range(5)]
    call_command("audit", "verify")
    assert "OK" in capsys.readouterr().out
    tamper("UPDATE audit_auditevent SET actor_username = %s WHERE id = %s",
           ["mallory", events[2].pk])
    tamper("UPDATE audit_auditevent SET role = %s WHERE id = %s", ["x", events[3].pk])
    with pytest.raises(CommandError):
        call_command("audit", "verify")
    out = capsys.readouterr().out
    assert f"event #{events[2].seq} (id {events[2].pk})" in out
    assert "content does not match its hash" in out
    assert f"#{events[3].seq} " not in out


def test_verify_reports_a_deleted_event(world):
    events = [trail.record(organisation=world.org, action="read") for _ in range(4)]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    [(org, broken)] = trail.verify()
    assert org == world.org
    assert broken.seq == events[2].seq
    assert "sequence jumps" in broken.reason


def test_verify_reports_a_rehashed_event_whose_successor_no_longer_links(world):
    """An attacker who recomputes one event's own hash still breaks the next link."""
    from tandem.core.audit_chain import link_hash

    events = [trail.record(organisation=world.org, action="read") for _ in range(3)]
    victim = AuditEvent.objects.get(pk=events[1].pk)
    victim.action = "update"
    new_hash = link_hash(victim.prev_hash, victim.chained_fields(), trail.chain_key())
    tamper("UPDATE audit_auditevent SET action = %s, hash = %s WHERE id = %s",
           ["update", new_hash, victim.pk])
    [(_org, broken)] = trail.verify()
    assert broken.seq == events[2].seq
    assert "previous-hash" in broken.reason


def test_each_organisation_has_its_own_chain(world):
    a = trail.record(organisation=world.org, action="read")
    b = trail.record(organisation=world.other_org, action="read")
    assert a.seq == b.seq == 1 or (a.seq >= 1 and b.seq >= 1)
    assert AuditEvent.objects.filter(organisation=world.other_org, seq=b.seq).count() == 1


def test_portal_shows_the_patient_who_looked_at_their_record(world):
    world.client("practitioner").get(f"/patients/{world.p1.pk}/")
    world.client("team_lead").get(f"/patients/{world.p2.pk}/")  # someone else's record
    page = world.client("patient").get("/portal/who-looked/").content.decode()
    assert "Practitioner Tester (keyworker)" in page
    assert "Looked at the front page of your record." in page
    assert "Team_Lead Tester" not in page


def test_auditor_sees_events_but_no_patient_names(world):
    world.client("practitioner").get(f"/patients/{world.p1.pk}/")
    page = world.client("auditor").get("/audit/?patient=T-001").content.decode()
    assert "T-001" in page and "practitioner" in page
    assert world.p1.family_name not in page


def test_sign_in_and_failed_sign_in_are_audited(world):
    from django.test import Client

    Client().post("/accounts/login/", {"username": "auditor", "password": "wrong"})
    Client().post("/accounts/login/", {"username": "auditor",
                                       "password": "correct horse battery staple"})
    actions = list(AuditEvent.objects.filter(organisation=world.org)
                   .values_list("action", flat=True))
    assert "login-failed" in actions and "login" in actions


def test_client_address_behind_a_proxy_is_the_last_forwarded_hop(world, settings):
    settings.BEHIND_PROXY = True
    world.client("practitioner").get(f"/patients/{world.p1.pk}/", REMOTE_ADDR="10.0.0.1",
                                     HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    event = AuditEvent.objects.filter(patient=world.p1).latest("seq")
    assert event.client_address == "203.0.113.9"


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_linear_chain():
    """Several app servers appending at once: the chain stays linear and verifies."""
    import threading

    from django.db import connection as default_connection
    from django.db import connections

    from tandem.accounts.models import Organisation

    if default_connection.vendor != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL deployment concern")
    org = Organisation.objects.create(name="Busy Service")
    failures = []

    def writer():
        try:
            for _ in range(15):
                trail.record(organisation=org, action="read")
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    seqs = list(AuditEvent.objects.filter(organisation=org).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, 61))
    assert trail.verify(org) == []


# --- the detail of a change, and the purpose of use -----------------------------------------

# The fields an event's hash covered before events had a detail (audit migration 0004): an
# event without a detail is still linked over exactly these, so chains written before verify.
FIELDS_BEFORE_DETAIL = {"organisation", "seq", "occurred_at", "actor", "actor_username", "role",
                        "action", "patient", "object_type", "object_id", "path",
                        "client_address", "purpose"}


def admin_request(world, path="/manage/teams/"):
    from django.test import RequestFactory

    request = RequestFactory().post(path, HTTP_X_PURPOSE_OF_USE="governance")
    request.user = world.users["service_admin"]
    request.access_role = "service_admin"
    return request


def test_a_long_change_summary_is_kept_whole_in_the_chain(world):
    from tandem.accounts.changes import record_change

    changes = [f"name {'Team B' * 10}→{'Team Bee' * 40}", "members —→" + ",".join(
        f"user{n}" for n in range(80))]
    record_change(Actor.of(admin_request(world)), "update", world.team_b, changes)
    event = AuditEvent.objects.get(object_type="team", object_id=str(world.team_b.pk))
    assert event.detail == "changed: " + "; ".join(changes)
    assert len(event.detail) > 600
    assert event.purpose == "governance"  # the request's purpose of use, as for any event
    assert event.path == "/manage/teams/" and event.role == "service_admin"
    assert "detail" in event.chained_fields()
    assert trail.verify() == []


def test_editing_the_detail_of_an_event_breaks_the_chain(world):
    events = [trail.record(organisation=world.org, action="update", detail=f"changed: n {n}→x")
              for n in range(3)]
    tamper("UPDATE audit_auditevent SET detail = %s WHERE id = %s",
           ["changed: nothing", events[1].pk])
    [(_org, broken)] = trail.verify()
    assert broken.seq == events[1].seq and "content does not match" in broken.reason
    tamper("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ["", events[1].pk])
    [(_org, broken)] = trail.verify()  # nor may a detail be taken away
    assert broken.seq == events[1].seq


def test_an_event_without_a_detail_is_linked_as_events_were_before_details(world):
    from tandem.core.audit_chain import link_hash

    event = trail.record(organisation=world.org, action="read", patient=world.p1)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.detail == ""
    assert set(stored.chained_fields()) == FIELDS_BEFORE_DETAIL
    assert stored.hash == link_hash(stored.prev_hash, stored.chained_fields(), trail.chain_key())
    assert trail.verify() == []


def test_the_audit_trail_page_shows_the_detail_and_the_purpose(world):
    from tandem.accounts.changes import record_change

    record_change(Actor.of(admin_request(world)), "update", world.team_b,
                  ["name Team B→" + "Team Bee " * 30 + "end of the name"])
    page = world.client("auditor").get("/audit/").content.decode()
    assert "end of the name" in page and "governance" in page


def test_a_nul_in_the_purpose_of_use_header_is_dropped_not_a_500(world):
    client = world.client("practitioner")
    client.raise_request_exception = False
    response = client.get(f"/patients/{world.p1.pk}/", HTTP_X_PURPOSE_OF_USE="ca\x00re")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(patient=world.p1, action="read").latest("seq")
    assert event.purpose == "care"
    assert trail.verify() == []


# --- cutting events off the end of a chain, without an anchor ------------------------------


def test_verify_reports_events_cut_off_the_end_of_a_chain(world):
    """The chain head (the row writers lock) still names the last event sealed: a chain that
    now ends before it was cut short."""
    events = [trail.record(organisation=world.org, action="read") for _ in range(4)]
    tamper("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [events[2].pk, events[3].pk])
    [(org, broken)] = trail.verify()
    assert org == world.org and broken.seq == events[3].seq
    assert "removed from its end" in broken.reason


def test_verify_reports_a_chain_emptied_of_all_its_events(world):
    events = [trail.record(organisation=world.other_org, action="read") for _ in range(2)]
    tamper("DELETE FROM audit_auditevent WHERE organisation_id = %s", [world.other_org.pk])
    [(org, broken)] = trail.verify()
    assert org == world.other_org and broken.seq == events[1].seq


def test_verify_reports_a_deleted_chain_head(world):
    """Deleting the head as well leaves the last events' removal unseen but for the head's
    absence: a chain with events and no head was tampered with (every append makes the head
    first)."""
    events = [trail.record(organisation=world.org, action="read") for _ in range(3)]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    tamper("DELETE FROM audit_chainhead WHERE organisation_id = %s", [world.org.pk])
    [(org, broken)] = trail.verify()
    assert org == world.org and "chain head is missing" in broken.reason


def test_events_taken_out_of_the_chain_and_then_deleted_are_found(world):
    """Setting the last events' place to empty (outside the chain) and deleting them is a
    cut like any other."""
    events = [trail.record(organisation=world.org, action="read") for _ in range(3)]
    tamper("UPDATE audit_auditevent SET seq = NULL WHERE id = %s", [events[2].pk])
    [(_org, broken)] = trail.verify()
    assert broken.reason.startswith(("stored outside the chain", "events were removed"))
    tamper("DELETE FROM audit_auditevent WHERE seq IS NULL", [])
    [(_org, broken)] = trail.verify()
    assert broken.seq == events[2].seq and "removed from its end" in broken.reason


def test_a_chain_head_moved_back_with_its_events_is_found_only_by_an_anchor(world):
    """What the database alone cannot show: events cut off the end and the head set back to
    the new last event. An anchor kept elsewhere shows it (tests/test_audit_anchor.py)."""
    events = [trail.record(organisation=world.org, action="read") for _ in range(3)]
    anchors = trail.heads()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    tamper("UPDATE audit_chainhead SET seq = %s, hash = %s WHERE organisation_id = %s",
           [events[1].seq, events[1].hash, world.org.pk])
    assert trail.verify() == []
    assert trail.check_anchors(anchors)


# --- the audit key in a deployment ---------------------------------------------------------


def deployment_warnings():
    from django.core import checks

    return [m.id for m in checks.run_checks(include_deployment_checks=True,
                                            tags=[checks.Tags.security])]


def test_tandem_check_warns_when_the_audit_key_is_not_set(settings):
    settings.AUDIT_KEY = ""
    assert "audit.W001" in deployment_warnings()
    settings.AUDIT_KEY = "a-long-random-audit-key-" + "k" * 30
    assert "audit.W001" not in deployment_warnings()
