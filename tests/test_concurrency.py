"""Twenty people at once: page views that audit, saves that change rows and audit, portal and
API reads, all against one organisation's audit chain. No request may fail (no 5xx: a
deadlock or a serialisation failure is retried) and every save must land.

The twenty run on PostgreSQL only (CI runs the suite there too): the SQLite test database is
one in-memory database shared between threads, whose table locks are refused at once instead
of waited for, and SQLite's IMMEDIATE transactions take turns, so it cannot deadlock anyway.
The retry of a request is tested on both."""

from __future__ import annotations

import datetime
import json
import logging
import random
import threading
import time
from collections import Counter
from html.parser import HTMLParser

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.test import Client
from django.utils import timezone

from tandem.accounts.models import Organisation, Role, Team
from tandem.assessment.models import UploadedInstrument
from tandem.audit import trail
from tandem.audit.actor import Actor
from tandem.audit.models import AuditEvent
from tandem.monitoring.models import Contact
from tandem.patients import services
from tandem.patients.models import CareTeamMember, Episode, Patient
from tandem.planning.models import CarePlan
from tests.conftest import make_patient, make_user
from tests.test_checkup_settings import GOOD

THREADS = 20
ROUNDS = 3

POSTGRESQL_ONLY = pytest.mark.skipif(connection.vendor != "postgresql", reason=(
    "needs PostgreSQL: the SQLite test database is in memory and shared between threads, "
    "where table locks fail at once rather than wait, and SQLite cannot deadlock (its "
    "writers take turns)"))


class Forms(HTMLParser):
    """Every form of a page with what a browser would send for it unchanged: text inputs,
    hidden inputs (a version number among them), checked boxes, the selected or first
    option, textareas, and the first choice of each radio group."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self._select = self._textarea = None
        self._radios: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({})
            self._radios = set()
        if not self.forms:
            return
        form = self.forms[-1]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind == "checkbox":
                if "checked" in a:
                    form[name] = a.get("value", "on")
            elif kind == "radio":
                if name not in self._radios or "checked" in a:
                    form[name] = a.get("value", "")
                    self._radios.add(name)
            else:
                form[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._first = name, True
        elif tag == "option" and self._select:
            if self._first or "selected" in a:
                form[self._select] = a.get("value", "")
                self._first = False
        elif tag == "textarea" and name:
            self._textarea = name
            form[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1][self._textarea] += data

    def having(self, field: str) -> dict[str, str]:
        """The first form with this field (or, for "item_*", a field so named)."""
        for form in self.forms:
            if any(name == field or field.endswith("*") and name.startswith(field[:-1])
                   for name in form):
                return dict(form)
        raise AssertionError(f"no form with a field {field!r}")


class Person:
    """One thread. Each patient has two people at work on them at once: their keyworker, who
    changes their details, episode, plan and care team and records contacts (never the same
    record as someone else at once: that is refused as a conflict, not lost), and a colleague
    entering check-ups with them, who also sees the patient's portal pages as the patient
    does. Both look at other patients' pages too."""

    def __init__(self, n: int, keyworker: bool, patient: Patient, others: list[Patient],
                 staff, portal_user, seed: int):
        self.n, self.keyworker, self.patient, self.others = n, keyworker, patient, others
        self.staff = Client(raise_request_exception=False)
        self.home = Client(raise_request_exception=False)
        self.staff.force_login(staff)
        self.home.force_login(portal_user)
        self.random = random.Random(seed)
        self.statuses: Counter = Counter()
        self.failures: list[str] = []
        self.expected: dict = {"members": 0, "contacts": 0, "checkups": 0}

    def _go(self, client, method, url, data=None, saving=False):
        """One request: a 5xx is a failure, and a save must answer with a redirect."""
        response = getattr(client, method)(url, data) if data is not None else getattr(
            client, method)(url)
        self.statuses[response.status_code // 100 * 100] += 1
        if response.status_code >= 500:
            info = getattr(response, "exc_info", None)
            self.failures.append(f"{method.upper()} {url}: {response.status_code} "
                                 f"{info[1] if info else ''}")
        elif saving and response.status_code != 302:
            self.failures.append(f"{method.upper()} {url}: not saved "
                                 f"({response.status_code})")
        return response

    def _form(self, url, field):
        response = self._go(self.staff, "get", url)
        if response.status_code != 200:
            return None
        return Forms(response.content.decode()).having(field)

    def _save(self, url, field, changes):
        """Open the form, change some fields and send it, as a person would."""
        data = self._form(url, field)
        if data is None:
            return None
        data.update(changes)
        return self._go(self.staff, "post", url, data, saving=True)

    def work(self, round_: int):
        p = f"/patients/{self.patient.pk}"
        other = self.random.choice(self.others)
        steps = [
            lambda: self._go(self.staff, "get", f"{p}/"),
            lambda: self._go(self.staff, "get", f"/patients/{other.pk}/"),
            lambda: self._go(self.staff, "get", f"/api/v1/patients/{other.pk}/episodes"),
        ]
        if self.keyworker:
            tag = f"{self.n}-{round_}"
            steps += [
                lambda: self._go(self.staff, "get", "/patients/"),
                lambda: self._go(self.staff, "get", "/api/v1/patients"),
                self.save_details, self.save_episode, self.save_plan,
                lambda: self.add_member(tag), lambda: self.add_contact(tag),
            ]
        else:
            steps += [
                lambda: self._go(self.home, "get", "/portal/"),
                lambda: self._go(self.home, "get", "/portal/plan/"),
                lambda: self._go(self.home, "get", "/portal/checkups/"),
                self.enter_checkup, self.enter_checkup,
            ]
        self.random.shuffle(steps)
        for step in steps:
            step()

    def save_details(self):
        value = f"Name {self.random.randrange(10**6)}"
        if ok(self._save(f"/patients/{self.patient.pk}/edit/", "preferred_name",
                         {"preferred_name": value})):
            self.expected["preferred_name"] = value

    def save_episode(self):
        episode = self.patient.episodes.get()
        setting = self.random.choice(["community", "residential", "inpatient"])
        if ok(self._save(f"/patients/{self.patient.pk}/episodes/{episode.pk}/", "setting",
                         {"setting": setting})):
            self.expected["setting"] = setting

    def save_plan(self):
        day = timezone.localdate() + datetime.timedelta(days=self.random.randrange(7, 60))
        if ok(self._save(f"/patients/{self.patient.pk}/plan/edit/", "review_date",
                         {"review_date": day.isoformat()})):
            self.expected["review_date"] = day

    def add_member(self, tag):
        if ok(self._go(self.staff, "post", f"/patients/{self.patient.pk}/care-team/new/",
                       {"role": "gp", "name": f"Dr {tag}",
                        "start_date": timezone.localdate().isoformat()}, saving=True)):
            self.expected["members"] += 1

    def add_contact(self, tag):
        if ok(self._go(self.staff, "post", f"/patients/{self.patient.pk}/contacts/new/",
                       {"on": timezone.localdate().isoformat(), "method": "phone",
                        "note": f"Rang {tag}"}, saving=True)):
            self.expected["contacts"] += 1

    def enter_checkup(self):
        """A whole AUDIT-C entered and finished (the first answer to every question)."""
        response = self._save(f"/patients/{self.patient.pk}/checkups/new/", "instrument",
                              {"instrument": "audit-c"})
        if not ok(response):
            return
        entry = response["Location"]
        data = self._form(entry, "item_*")
        if data is not None:
            data["action"] = "finish"
            if ok(self._go(self.staff, "post", entry, data, saving=True)):
                self.expected["checkups"] += 1


def ok(response) -> bool:
    return response is not None and response.status_code == 302


@pytest.fixture
def people(transactional_db):
    org = Organisation.objects.create(name="Busy Service")
    team = Team.objects.create(organisation=org, name="Busy team")
    staff = [make_user(org, f"busy{n}", Role.PRACTITIONER, team) for n in range(4)]
    pairs = THREADS // 2
    patients, portal_users = [], []
    for n in range(pairs):
        user = make_user(org, f"home{n}", Role.PATIENT)
        patients.append(make_patient(org, team, f"B-{n:03}", portal_user=user, members=[
            (s, "keyworker" if s == staff[n % 4] else "other") for s in staff]))
        portal_users.append(user)
    return [Person(2 * n + k, k == 0, p, patients[:n] + patients[n + 1:], staff[(n + k) % 4],
                   portal_users[n], seed=2 * n + k)
            for n, p in enumerate(patients) for k in (0, 1)]


def run(people) -> tuple[int, list[str], float]:
    barrier = threading.Barrier(len(people))
    crashed: list[str] = []

    def go(person):
        try:
            barrier.wait()
            for round_ in range(ROUNDS):
                person.work(round_)
        except Exception as error:  # noqa: BLE001 - reported by the test
            crashed.append(f"{person.n}: {error!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go, args=(p,)) for p in people]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = crashed + [f for p in people for f in p.failures]
    return sum(sum(p.statuses.values()) for p in people), failures, time.monotonic() - started


@POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True)
def test_twenty_people_at_once_lose_nothing(people):
    requests, failures, seconds = run(people)
    statuses = sum((p.statuses for p in people), Counter())
    print(f"\n{requests} requests from {len(people)} threads in {seconds:.1f} s: "
          f"{dict(sorted(statuses.items()))}; {len(failures)} failed")
    assert failures == [], "\n".join(failures)
    assert requests > 300
    for person in people:
        patient = Patient.objects.get(pk=person.patient.pk)
        want = person.expected
        if person.keyworker:
            assert patient.preferred_name == want["preferred_name"]
            assert Episode.objects.get(patient=patient).setting == want["setting"]
            assert CarePlan.objects.get(patient=patient).review_date == want["review_date"]
            assert CareTeamMember.objects.filter(care_team__patient=patient, role="gp"
                                                 ).count() == want["members"] == ROUNDS
            assert Contact.objects.filter(patient=patient).count() == want["contacts"] == ROUNDS
        else:
            assert patient.responses.filter(status="completed").count() \
                == want["checkups"] == 2 * ROUNDS
    assert trail.verify() == []


class PsycopgError(Exception):
    """What psycopg raises, with its SQLSTATE (Django raises its own error from it)."""

    def __init__(self, sqlstate):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def deadlock(sqlstate="40P01") -> DatabaseError:
    error = (IntegrityError if sqlstate == "23505" else OperationalError)("deadlock detected")
    error.__cause__ = PsycopgError(sqlstate)
    return error


def failing(monkeypatch, error, times):
    """Make saving a patient's details fail with `error` after it has written everything,
    the first `times` times. Returns the list of calls."""
    calls = []
    real = services.save_changes

    def save_changes(actor, patient, form):
        calls.append(1)
        saved = real(actor, patient, form)
        if len(calls) <= times:
            raise error
        return saved

    monkeypatch.setattr(services, "save_changes", save_changes)
    return calls


def edit(world, name):
    client = world.client("practitioner")
    client.raise_request_exception = False
    url = f"/patients/{world.p1.pk}/edit/"
    data = Forms(client.get(url).content.decode()).having("preferred_name")
    data["preferred_name"] = name
    return client.post(url, data)


def updates(world):
    return AuditEvent.objects.filter(patient=world.p1, action="update").count()


@pytest.mark.parametrize("sqlstate", [
    "40P01",  # deadlock detected
    "40001",  # serialisation failure
    "23505",  # a unique row another request made at the same moment
])
def test_a_request_that_deadlocks_runs_again_and_saves_once(world, monkeypatch, sqlstate):
    calls = failing(monkeypatch, deadlock(sqlstate), times=2)
    response = edit(world, "Robin")
    assert response.status_code == 302
    assert len(calls) == 3
    world.p1.refresh_from_db()
    assert world.p1.preferred_name == "Robin"
    assert updates(world) == 1  # the failed attempts' writes and audit were rolled back
    assert trail.verify() == []


def test_a_request_that_keeps_deadlocking_fails_after_three_retries(world, monkeypatch):
    calls = failing(monkeypatch, deadlock(), times=99)
    response = edit(world, "Robin")
    assert response.status_code == 500
    assert len(calls) == 4
    world.p1.refresh_from_db()
    assert world.p1.preferred_name != "Robin"
    assert updates(world) == 0


def test_any_other_error_rolls_back_all_the_request_wrote_and_is_not_tried_again(
        world, monkeypatch):
    calls = failing(monkeypatch, ValueError("a bug"), times=99)
    response = edit(world, "Robin")
    assert response.status_code == 500
    assert len(calls) == 1
    world.p1.refresh_from_db()
    assert world.p1.preferred_name != "Robin"
    assert updates(world) == 0


def test_sqlite_locked_for_longer_than_its_timeout_is_tried_again(world, monkeypatch):
    calls = failing(monkeypatch, OperationalError("database is locked"), times=1)
    assert edit(world, "Robin").status_code == 302
    assert len(calls) == 2
    assert updates(world) == 1


def test_an_upload_retried_after_a_deadlock_is_read_again_from_its_start(world, monkeypatch):
    """The request's body is kept between attempts; its uploaded files are read again from
    their first byte, not from where the failed attempt left them (at the end: no data)."""
    real = UploadedInstrument.objects.create
    calls = []

    def create(**fields):
        calls.append(1)
        if len(calls) == 1:
            raise deadlock()
        return real(**fields)

    monkeypatch.setattr(UploadedInstrument.objects, "create", create)
    client = world.client("service_admin")
    client.raise_request_exception = False
    upload = SimpleUploadedFile("def.json", json.dumps(GOOD).encode(),
                                content_type="application/json")
    response = client.post("/manage/checkups/questionnaires/", {"file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert len(calls) == 2
    assert UploadedInstrument.objects.count() == 1


def test_an_event_recorded_in_a_savepoint_rolled_back_leaves_no_gap_in_the_chain(world):
    """Events are written as recorded and placed in the chain at the end of the request's
    transaction: one whose savepoint was rolled back in between is gone, and the chain runs
    on without it."""
    with transaction.atomic(), trail.sealed_at_end():
        first = trail.record(organisation=world.org, action="read", patient=world.p1)
        try:
            with transaction.atomic():
                trail.record(organisation=world.org, action="update", patient=world.p1)
                raise ValueError("changed my mind")
        except ValueError:
            pass
        last = trail.record_many(
            Actor(world.users["practitioner"], "practitioner", "10.0.0.1", "/patients/"),
            "search", [(world.p1.pk, "caseload", "")])
    assert last == 1
    assert not AuditEvent.objects.filter(action="update").exists()
    chain = list(AuditEvent.objects.filter(organisation=world.org).order_by("seq")
                 .values_list("seq", "action"))
    assert chain[-2:] == [(first.seq, "read"), (first.seq + 1, "search")]
    assert trail.verify() == []


def failing_session_save(monkeypatch, times):
    """Make the session middleware (inside the request's transaction, after the view) fail
    with a deadlock the first `times` times."""
    calls = []
    real = SessionMiddleware.process_response

    def process_response(self, request, response):
        calls.append(1)
        if len(calls) <= times:
            raise deadlock()
        return real(self, request, response)

    monkeypatch.setattr(SessionMiddleware, "process_response", process_response)
    return calls


def post_edit(world, monkeypatch, times):
    client = world.client("practitioner")
    client.raise_request_exception = False
    url = f"/patients/{world.p1.pk}/edit/"
    data = Forms(client.get(url).content.decode()).having("preferred_name")
    data["preferred_name"] = "Robin"
    calls = failing_session_save(monkeypatch, times)
    return client.post(url, data), calls


def test_a_deadlock_in_a_middleware_run_again_is_not_logged_as_a_server_error(
        world, monkeypatch, caplog):
    """Django logs an exception raised in a middleware as "Internal Server Error" before the
    request's transaction sees it; an attempt that is run again is no server error."""
    with caplog.at_level(logging.INFO):
        response, calls = post_edit(world, monkeypatch, times=1)
    assert response.status_code == 302 and len(calls) == 2
    assert updates(world) == 1
    assert "Internal Server Error" not in caplog.text
    assert "running it again" in caplog.text


def test_a_deadlock_in_a_middleware_on_the_last_attempt_is_logged_as_a_server_error(
        world, monkeypatch, caplog):
    with caplog.at_level(logging.INFO):
        response, calls = post_edit(world, monkeypatch, times=99)
    assert response.status_code == 500 and len(calls) == 4
    assert [r.getMessage().split(":")[0] for r in caplog.records
            if r.name == "django.request"] == ["Internal Server Error"]
    assert updates(world) == 0
