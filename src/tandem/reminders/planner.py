"""The day's reminders: which patients get which message today, in one pass over the
database, written to the outbox once each (its `dedupe_key`), for the worker to send.

What is planned (Tandem's defaults, core.reminders.ReminderDays):
- check-ups: 3 days before the date one is due, on the day, and 7 days after it if it is still
  not done (the caseload's `checkup_due` is the date of the earliest check-up not done). After
  treatment has ended, the first two are an invitation to the quarterly check-up
  ("after-treatment");
- the care plan's review, 7 days before its date; the medication review, 7 days before; a
  version of the plan waiting for their signature, once;
- an appointment, the day before.

Each patient's choices (`Preferences`) decide whether, how and when: no choices, opted out,
or the kind not wanted: nothing; nor for "do not contact" (on their details, `Patient`). The
channel is the first one they agreed to that can reach them (a text needs a phone and their
agreement to texts, an email an address and their agreement to email, a letter a postal
address). After two invitations in a row
unanswered by one channel (no check-up done since), the next goes by their next channel and the
keyworker gets a low flag (core.reminders.next_channel). A message waits for the patient's
window of the day and is not sent after the day it is about has passed.
"""

from __future__ import annotations

import datetime
import functools
import gc
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, When
from django.urls import reverse
from django.utils import timezone

from tandem.assessment.models import Response, ResponseStatus
from tandem.bulk import insert_sql
from tandem.core import reminders as rules
from tandem.core.flags import RULES
from tandem.medication.models import MedicationPlan, PlanStatus
from tandem.monitoring import services as flags
from tandem.monitoring.models import RuleSetting
from tandem.outbox.models import Message, Status
from tandem.patients.models import OPEN_STATUSES, CaseloadEntry, EpisodeStatus, Patient
from tandem.planning.models import Goal, PlanVersion
from tandem.reminders import wording
from tandem.reminders.models import GROUP_OF, INVITATIONS, Appointment, AppointmentStatus

log = logging.getLogger(__name__)

COLUMNS = ("id", "organisation_id", "patient_id", "channel", "recipient", "kind", "subject",
           "body", "status", "attempts", "last_error", "provider_reference", "created_at",
           "dedupe_key", "send_after", "expires_at", "claim", "window_opens", "window_closes")
INSERT = insert_sql(Message, COLUMNS) + " ON CONFLICT DO NOTHING"
DAYS = rules.ReminderDays()
REVIEW_DAYS_BEFORE = 7
BATCH = 2000
UNREACHABLE = "unreachable"
ANSWERED = (ResponseStatus.COMPLETED, ResponseStatus.AMENDED)  # a check-up done


@dataclass
class Due:
    """One reminder due today for one patient, before its channel and words are chosen."""

    patient_id: object
    organisation_id: int
    kind: str
    about: datetime.date  # the day it is about
    key: str  # what makes it this reminder (the outbox's dedupe key)
    expires: datetime.datetime
    time: str = ""
    place: str = ""
    keyworker: str = ""
    link: str = ""


@functools.lru_cache(maxsize=256)
def _end_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1),
                                                          datetime.time()))


PREFS = "patient__reminder_preferences__"
PERSON = wording.person_columns(PREFS, "patient__")  # in wording.person_from's order


@dataclass
class Day:
    """What is due today (`due`), the choices of the patients of the caseload's rows read in
    the same query (`people`), and a query of who may be invited to a check-up (`invited`)."""

    due: list[Due]
    people: dict
    invited: QuerySet | None = None


def due_today(today: datetime.date, organisation_id=None) -> list[Due]:
    """Every reminder due today, from set-based queries."""
    return gather(today, organisation_id).due


def gather(today: datetime.date, organisation_id=None) -> Day:
    """Every reminder due today, from set-based queries, with what the planning reads next."""
    people: dict = {}
    found: list[Due] = []
    prefs = "patient__reminder_preferences__"
    pref_ok = Q(patient__do_not_contact=False, **{f"{prefs}opted_out_at__isnull": True}) \
        & ~Q(**{f"{prefs}channels": ""}) & Q(**{f"{prefs}isnull": False})
    entries = CaseloadEntry.objects.filter(pref_ok, episode_status__in=OPEN_STATUSES)
    if organisation_id is not None:
        entries = entries.filter(organisation_id=organisation_id)
    soon, late = today + datetime.timedelta(days=DAYS.before), \
        today - datetime.timedelta(days=DAYS.after)
    review = today + datetime.timedelta(days=REVIEW_DAYS_BEFORE)
    # Each patient's choices and contact details in the same query (wording.person_from).
    # The goal to quote, for those who said yes, in the same query.
    goal = Goal.objects.filter(
        patient_id=OuterRef("patient_id"), lifecycle_status__in=wording.QUOTED_GOALS).order_by(
        "priority", "created_at").values("statement")[:1]
    names = ("patient_id", "organisation_id", "checkup_due", "review_due", "episode_status",
             "keyworker__first_name", "awaiting_signature", *PERSON, "quoted_goal")
    rows = _plain_rows(entries.filter(Q(checkup_due__in=[soon, today, late])
                                      | Q(review_due=review) | Q(awaiting_signature=True))
                       .annotate(quoted_goal=Case(When(**{f"{PREFS}quote_goal": True},
                                                       then=Subquery(goal)))), names)
    # Who may be invited to a check-up today: the same rows, as a query.
    invited = entries.filter(checkup_due__in=[soon, today, late]).values("patient_id")
    to_sign = _versions_to_sign([r[0] for r in rows if r[6]])
    portal = reverse("portal:checkups")  # a page (a GET), whose button begins the check-up
    for values in rows:
        patient_id, organisation_id, due, review_due, status, keyworker, _sign = values[:7]
        person = wording.person_from(values[7:-1], patient_id, organisation_id)
        person.goal = values[-1] or ""
        people[patient_id] = person
        base = {"patient_id": patient_id, "organisation_id": organisation_id,
                "keyworker": keyworker or ""}
        after = status == EpisodeStatus.MONITORING
        if due in (soon, today, late):
            rule = rules.checkup_reminder(due, today, False, DAYS)
            kind = "after-treatment" if after and rule != "checkup-late" else rule
            last = due if rule != "checkup-late" else today + datetime.timedelta(days=2)
            # Keyed by the rule, so the invitation before the day and the one on it differ.
            found.append(Due(kind=kind, about=due, key=f"{rule}:{patient_id}:{due}",
                             expires=_end_of(last), link=portal, **base))
        if review_due == review:
            found.append(Due(kind="plan-review-soon", about=review,
                             key=f"plan-review-soon:{patient_id}:{review}",
                             expires=_end_of(review), **base))
        if patient_id in to_sign:  # once for each version of the plan
            found.append(Due(kind="plan-to-sign", about=today,
                             key=f"plan-to-sign:{to_sign[patient_id]}",
                             expires=_end_of(today + datetime.timedelta(days=6)),
                             link=reverse("portal:plan"), **base))
    plans = MedicationPlan.objects.filter(
        status=PlanStatus.ACTIVE, review_date=review, patient__do_not_contact=False,
        patient__reminder_preferences__opted_out_at__isnull=True,
        patient__reminder_preferences__isnull=False)
    if organisation_id is not None:
        plans = plans.filter(organisation_id=organisation_id)
    for row in plans.values("patient_id", "organisation_id", "pk"):
        found.append(Due(patient_id=row["patient_id"], organisation_id=row["organisation_id"],
                         kind="medication-review-soon", about=review,
                         key=f"medication-review-soon:{row['pk']}:{review}",
                         expires=_end_of(review)))
    tomorrow = today + datetime.timedelta(days=1)
    appointments = Appointment.objects.filter(
        status=AppointmentStatus.BOOKED, starts_at__gte=_end_of(today),
        starts_at__lt=_end_of(tomorrow), patient__reminder_preferences__isnull=False)
    if organisation_id is not None:
        appointments = appointments.filter(organisation_id=organisation_id)
    for a in appointments.values("pk", "patient_id", "organisation_id", "starts_at", "how",
                                 "place", "token", "with_user__first_name"):
        local = timezone.localtime(a["starts_at"])
        where = a["place"] if a["how"] == "in_person" else {"phone": "by phone",
                                                            "video": "by video"}[a["how"]]
        found.append(Due(
            patient_id=a["patient_id"], organisation_id=a["organisation_id"],
            kind="appointment-tomorrow", about=tomorrow,
            key=f"appointment-tomorrow:{a['pk']}:{local:%Y-%m-%dT%H:%M}",
            expires=min(a["starts_at"], _end_of(today)), time=f"{local:%H:%M}", place=where,
            keyworker=a["with_user__first_name"] or "",
            link=reverse("appointment", kwargs={"token": a["token"]})))
    return Day(found, people, invited)


def _plain_rows(queryset, names) -> list[tuple]:
    """The queryset's rows as tuples of `names`, read with the query Django builds but without
    its per-value conversions (thousands of rows at once): keys as UUIDs, dates as dates;
    the rest as the database gives them (a boolean may be 0 or 1, a time SQLite's text)."""
    sql, params = queryset.values_list(*names).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    convert = [(i, c) for i, c in enumerate(_converter(queryset.model, n) for n in names) if c]
    rows = []
    for row in found:
        row = list(row)
        for i, c in convert:
            if row[i] is not None:
                row[i] = c(row[i])
        rows.append(row)
    return rows


def _converter(model, name: str):
    """How to read one column's raw value: None when it is fine as it comes (an annotation
    too)."""
    try:
        field = model._meta.get_field(name.split("__")[0])
    except FieldDoesNotExist:
        return None
    for part in name.split("__")[1:]:
        field = field.related_model._meta.get_field(part)
    if field.is_relation:
        field = field.target_field
    if isinstance(field, models.UUIDField):
        return _uuid
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        return _date
    return None


@functools.lru_cache(maxsize=4096)
def _date(value):
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


def _uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _versions_to_sign(patient_ids) -> dict:
    """{patient id: the id of the latest version of their plan, when it waits for their
    signature} (never an older version, replaced since)."""
    found = {}
    for start in range(0, len(patient_ids), BATCH):
        latest = PlanVersion.objects.filter(plan=OuterRef("plan")).order_by("-number").values(
            "number")[:1]
        rows = PlanVersion.objects.filter(
            plan__patient_id__in=patient_ids[start:start + BATCH], number=Subquery(latest),
            patient_signed_at__isnull=True).order_by("plan__patient_id", "-created_at",
                                                     "-number").values_list("plan__patient_id",
                                                                            "pk")
        for patient_id, version_id in rows:
            found.setdefault(patient_id, version_id)
    return found


def plan_day(today: datetime.date | None = None, now: datetime.datetime | None = None,
             organisation_id=None, site: str = "") -> dict:
    """Write today's reminders to the outbox (each once). Returns counts: planned (written),
    already (written before), skipped (not wanted, or no way to reach them), flagged."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    # Tens of thousands of small objects at once: the cycle collector would scan them again
    # and again while they are made, and none of them is a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        day = gather(today, organisation_id)
        return write(day.due, now, site, day.people, invited=day.invited)
    finally:
        if collecting:
            gc.enable()


def send_now(patient, kind: str, key: str, link: str = "", now=None) -> dict:
    """A message about something that just happened (an answer to a request), written in the
    caller's transaction for the worker to send in the patient's window, once (its `key`)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    return write([Due(patient_id=patient.pk, organisation_id=patient.organisation_id,
                      kind=kind, about=today, key=key, link=link,
                      expires=_end_of(today + datetime.timedelta(days=6)))], now)


def write(due: list[Due], now: datetime.datetime, site: str = "", known: dict | None = None,
          invited=None) -> dict:
    """Write these reminders to the outbox, each once, by the way and at the time each patient
    chose (or not at all); raise the "couldn't reach" flags. `known`: patients' choices
    already read; `invited`: a query of the patients who may be invited (else the patients
    of `due`). Returns the counts."""
    counts = {"planned": 0, "already": 0, "skipped": 0, "flagged": 0}
    if not due:
        return counts
    patient_ids = {d.patient_id for d in due}
    people = wording.people(patient_ids, known)
    site = site or wording.site_url()
    unanswered = _unanswered(patient_ids if invited is None else invited)
    flag_rules = _flag_rules({d.organisation_id for d in due})
    services = wording.services({d.organisation_id for d in due})
    messages, tell = [], []
    local_now = timezone.localtime(now).replace(tzinfo=None)
    opening = {}
    sqlite = connection.vendor == "sqlite"
    as_key = (lambda u: u.hex) if sqlite else (lambda u: u)
    as_time = functools.lru_cache(maxsize=None)(connection.ops.adapt_datetimefield_value)
    as_clock = functools.lru_cache(maxsize=None)(connection.ops.adapt_timefield_value)
    for d in due:
        person = people.get(d.patient_id)
        if person is None or person.stopped or GROUP_OF[d.kind] not in person.groups:
            counts["skipped"] += 1
            continue
        agreed = person.reachable
        if not agreed:
            counts["skipped"] += 1
            continue
        tell_keyworker, run = False, []
        if d.kind in INVITATIONS:
            run = unanswered.get(d.patient_id, [])
            channel, tell_keyworker = rules.next_channel(agreed, [c for c, _at in run])
        else:
            channel = agreed[0]
        service = services.get(d.organisation_id) or wording.Service.default()
        try:
            subject, body = wording.compose(d, person, service, channel, site)
        except rules.TemplateError:
            log.exception("the template for %s could not be filled", d.kind)
            counts["skipped"] += 1
            continue
        window = (person.window.opens, person.window.closes)
        send_after = opening.get(window)
        if send_after is None:  # the same for everyone with this window
            send_after = opening[window] = timezone.make_aware(
                rules.next_in_window(local_now, person.window))
        if send_after >= d.expires:
            counts["skipped"] += 1
            continue
        messages.append((
            as_key(uuid.uuid4()), d.organisation_id, as_key(d.patient_id), channel,
            person.recipient(channel), d.kind, subject, body, Status.QUEUED, 0, "", "",
            as_time(now), d.key, as_time(send_after), as_time(d.expires), "",
            as_clock(person.window.opens), as_clock(person.window.closes)))
        if tell_keyworker:  # only with the message it is about
            tell.append((d, person, run, channel))
    # Written once each: a reminder planned again (a second worker, a second run) is the
    # same row (the unique dedupe key), left as it was, and counted "already". One plain
    # INSERT for each batch, of values already as the database takes them (a model instance
    # a row, or adapting each value again, would cost more than the write).
    with connection.cursor() as cursor:
        for start in range(0, len(messages), BATCH):
            cursor.executemany(INSERT, messages[start:start + BATCH])
            counts["planned"] += cursor.rowcount  # rows written: a key already there is not
    counts["already"] = len(messages) - counts["planned"]
    for d, person, run, channel in tell:
        counts["flagged"] += _tell_keyworker(d, person, run, channel,
                                             flag_rules.get(d.organisation_id))
    return counts


WAYS = {"sms": "texts", "email": "emails", "letter": "letters"}


def _tell_keyworker(due, person, run, next_way, setting) -> int:
    """The low flag "couldn't reach": once for each run of unanswered invitations (its key:
    the channel and the day the run began)."""
    if setting is not None and not setting.enabled:
        return 0
    channel = run[-1][0]
    in_a_row = []
    for c, at in reversed(run):
        if c != channel:
            break
        in_a_row.append(at)
    began = timezone.localdate(in_a_row[-1])
    then = ("The next invitation goes by another way they agreed to." if next_way != channel
            else "They agreed to no other way: the next invitation goes the same way.")
    evidence = (f"Couldn't reach {person.name}: {len(in_a_row)} {WAYS[channel]} unanswered "
                f"since {began.day} {began:%B} (no check-up done since). {then}")
    patient = Patient.objects.get(pk=due.patient_id)
    _flag, created = flags.raise_flag(
        patient=patient, rule=UNREACHABLE, evidence_key=f"{channel}:{began}",
        severity=(setting.severity if setting is not None and setting.severity
                  else RULES[UNREACHABLE].severity),
        evidence=evidence, suggested_action=RULES[UNREACHABLE].suggested_action)
    return int(created)


def _unanswered(patient_ids) -> dict:
    """For each patient, (channel, when) of the invitations sent to them since they last did
    a check-up (or ever), oldest first."""
    answered = Response.objects.filter(patient_id=OuterRef("patient_id"),
                                       status__in=ANSWERED,
                                       completed_at__gte=OuterRef("created_at"))
    found = defaultdict(list)
    if isinstance(patient_ids, QuerySet):  # a query: one statement, no list of ids sent
        groups = [patient_ids]
    else:
        ids = list(patient_ids)
        groups = [ids[start:start + BATCH] for start in range(0, len(ids), BATCH)]
    for group in groups:
        rows = Message.objects.filter(
            kind__in=INVITATIONS, patient_id__in=group,
            status__in=[Status.SENT, Status.DELIVERED, Status.FAILED, Status.PRINTED]).exclude(
            Exists(answered)).order_by("created_at").values_list("patient_id", "channel",
                                                                 "created_at")
        for patient_id, channel, at in rows:
            found[patient_id].append((channel, at))
    # Only the run since the latest answer counts: older ones were answered (excluded).
    return dict(found)


def _flag_rules(organisation_ids) -> dict:
    return {s.organisation_id: s for s in RuleSetting.objects.filter(
        organisation_id__in=organisation_ids, rule=UNREACHABLE)}

