"""One timeline of everything that happened with one patient: check-ups with their headline
scores, priority sorts, goals, care plan versions and sign-offs, reviews, flags raised and
resolved, episode changes and recorded contacts, substitute medication (plan versions,
doses in force, dose requests and their answers, medication reviews, runs of missed days,
reductions), and the messages sent to them (reminders, invitations), newest first.

`events` runs a fixed number of queries whatever the size of the history: one per source
(select_related for the people named), none for a source whose kinds were not asked for.
Names that live elsewhere (an uploaded instrument's title, a life-domain card's label) are
read in the same query as subqueries, so they never add one.

With a `limit`, each source's query is cut to `limit` rows, ordered newest first by the
newest event the row gives (e.g. a flag by when it was resolved, else raised): the merged list
then holds exactly the newest `limit` events.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Greatest, Lag, NullIf, TruncDate
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from tandem.assessment import registry
from tandem.assessment.models import LifeDomain, Response, ResponseStatus, UploadedInstrument
from tandem.core.dosing import mg
from tandem.medication import registry as medicines
from tandem.medication.forms import per
from tandem.medication.models import (
    ChangeKind,
    ChangeSource,
    DispensingDay,
    DoseChange,
    DoseRequest,
    MedicationReview,
    ReductionEvent,
    ReductionEventKind,
    RequestStatus,
    Taken,
)
from tandem.medication.models import PlanVersion as MedicationPlanVersion
from tandem.monitoring.models import Contact, Flag, FlagStatus
from tandem.outbox.models import Message
from tandem.outbox.models import Status as MessageStatus
from tandem.patients.models import Episode, EpisodeStatus
from tandem.planning.models import (
    Goal,
    GoalType,
    GoalTypeChange,
    PlanProposal,
    PlanVersion,
    PrioritySort,
    Review,
    SortSession,
    Voice,
)

KINDS = ("checkup", "sort", "goal", "plan", "signature", "review", "flag-raised",
         "flag-resolved", "episode", "contact",
         # substitute medication
         "medication-plan", "dose", "dose-request", "medication-review", "missed-doses",
         "reduction",
         # messages sent to the patient (reminders, invitations)
         "message")


@dataclass(frozen=True)
class Event:
    at: datetime.datetime  # aware
    kind: str  # one of KINDS
    title: str  # plain words, e.g. "PHQ-9 check-up: 12 (Moderate)"
    detail: str = ""
    url: str | None = None
    # Only the day is known (e.g. an episode's start): show the date without a time.
    date_only: bool = False


def events(patient, *, kinds: set[str] | None = None, limit: int | None = None) -> list[Event]:
    """The patient's events, newest first: all kinds, or only `kinds`; at most `limit`."""
    wanted = set(KINDS) if kinds is None else set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds of event: {', '.join(sorted(unknown))}")
    if limit is not None and limit <= 0:
        return []
    found: list[Event] = []
    for source in SOURCES:
        asked = wanted & source.kinds
        if asked:
            found.extend(source.read(patient, asked, limit))
    # Stable: events at the same moment keep each source's order (newest first within it).
    found.sort(key=lambda e: e.at, reverse=True)
    return found[:limit] if limit is not None else found


# --- words ---------------------------------------------------------------------------------


def _day(d: datetime.date) -> str:
    return f"{d.day} {d:%B %Y}"


def _number(value: float) -> str:
    """12.0 → "12"; 43.8 → "43.8"."""
    return f"{value:g}"


def _name(user) -> str:
    return user.display_name if user is not None else ""


def _by(user) -> str:
    return f"by {_name(user)}" if user is not None else ""


def _join(*parts: str) -> str:
    """The parts that are there, as one line starting with a capital: "By Sam Smith"."""
    text = " — ".join(p for p in parts if p)
    return text[:1].upper() + text[1:]


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # a page not (yet) in this version
        return None


def _midnight(d: datetime.date) -> datetime.datetime:
    """Local midnight of day `d`. Before standard time zones (about 1880) a zone's offset was
    local mean time, in seconds (London: -00:01:15), which no RFC 3339 date-time can write:
    such a day's midnight is taken in UTC."""
    at = timezone.make_aware(datetime.datetime.combine(d, datetime.time.min))
    if at.utcoffset() % datetime.timedelta(minutes=1):
        return datetime.datetime.combine(d, datetime.time.min, tzinfo=datetime.UTC)
    return at


def _on_day(d: datetime.date, recorded: datetime.datetime | None) -> tuple[datetime.datetime, bool]:
    """(at, date_only) for something that happened on day `d` and was recorded at `recorded`:
    the recorded time if it was recorded that same (local) day, else local midnight."""
    if recorded is not None and timezone.localdate(recorded) == d:
        return recorded, False
    return _midnight(d), True


def _day_order(day: str, recorded: str) -> list:
    """Newest first in the same order `_on_day` gives: by day, then the ones recorded that
    day (at their time) above the ones recorded another day (at midnight)."""
    same_day = Case(When(**{day: TruncDate(recorded)}, then=Value(1)), default=Value(0),
                    output_field=IntegerField())
    return [F(day).desc(), same_day.desc(), F(recorded).desc()]


def _latest(first: str, *later: str):
    """The newest of a row's timestamps (`later` ones may be empty): for ordering."""
    return Greatest(F(first), *(Coalesce(F(name), F(first)) for name in later))


def _cut(qs, limit: int | None):
    return qs[:limit] if limit is not None else qs


# --- sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    kinds: frozenset[str]
    read: Callable[[object, set[str], int | None], Iterable[Event]]


def _checkups(patient, kinds, limit):
    uploaded = (UploadedInstrument.objects
                .filter(organisation_id=OuterRef("organisation_id"),
                        code=OuterRef("instrument_code"))
                .order_by("-active", "-uploaded_at")
                .annotate(name=Coalesce(NullIf(KT("definition__short_title"), Value("")),
                                        F("title"), output_field=CharField()))
                .values("name")[:1])
    rows = (Response.objects
            .filter(patient=patient, status=ResponseStatus.COMPLETED, completed_at__isnull=False)
            .select_related("entered_by")
            .defer("answers", "scores")
            .annotate(uploaded_name=Subquery(uploaded))
            .order_by("-completed_at"))
    shipped = registry.shipped()
    for r in _cut(rows, limit):
        instrument = shipped.get(r.instrument_code)
        name = instrument.name if instrument else (r.uploaded_name or r.instrument_code)
        score = _number(r.headline) if r.headline is not None else ""
        band = f"({r.band})" if r.band else ""
        result = " ".join(p for p in (score, band) if p)
        title = f"{name} check-up" + (f": {result}" if result else "")
        how = r.get_mode_display()
        if r.mode != "self" and r.entered_by is not None:
            how = f"{how}, entered {_by(r.entered_by)}"
        yield Event(r.completed_at, "checkup", title, how,
                    _url("patients:checkup-detail", patient.pk, r.pk))


def _sorts(patient, kinds, limit):
    def submitted(voice):
        return Subquery(PrioritySort.objects.filter(session=OuterRef("pk"), voice=voice)
                        .values("submitted_at")[:1])

    rows = (SortSession.objects.filter(patient=patient)
            .select_related("started_by", "discussion_by")
            .annotate(patient_at=submitted(Voice.PATIENT),
                      practitioner_at=submitted(Voice.PRACTITIONER))
            .order_by(_latest("started_at", "patient_at", "practitioner_at",
                              "discussion_at").desc(), "-pk"))
    for s in _cut(rows, limit):
        url = _url("patients:sort-session", patient.pk, s.pk)
        found = [Event(s.started_at, "sort", "Priority sort started", _join(_by(s.started_by)),
                       url)]
        if s.patient_at:
            found.append(Event(s.patient_at, "sort", "The patient sorted their priorities",
                               url=url))
        if s.practitioner_at:
            found.append(Event(s.practitioner_at, "sort",
                               "The practitioner sorted the patient's priorities", url=url))
        if s.discussion_at:
            found.append(Event(s.discussion_at, "sort", "Priority sorts compared and discussed",
                               _join(s.discussion, _by(s.discussion_by)), url))
        yield from sorted(found, key=lambda e: e.at, reverse=True)


def _goals(patient, kinds, limit):
    defaults = {code: label for code, label, _q in registry.default_cards()}
    label = (LifeDomain.objects
             .filter(organisation_id=OuterRef("organisation_id"), code=OuterRef("card"))
             .order_by("-active", "position").values("label")[:1])
    # The kind chosen when the goal was set (it may have changed since).
    first_kind = (GoalTypeChange.objects.filter(goal=OuterRef("pk"), from_type="")
                  .order_by("changed_at").values("to_type")[:1])
    rows = (Goal.objects.filter(patient=patient)
            .select_related("created_by", "updated_by")
            .annotate(area=Subquery(label), first_kind=Subquery(first_kind))
            .order_by(_latest("created_at", "updated_at").desc(), "-pk"))
    url = _url("patients:goals", patient.pk)
    names = dict(GoalType.choices)
    for g in _cut(rows, limit):
        area = g.area or defaults.get(g.card, g.card)
        if g.version > 1:
            status = (f"{g.get_lifecycle_status_display()}, "
                      f"{g.get_achievement_status_display().lower()}")
            yield Event(g.updated_at, "goal", f"Goal updated: {area}",
                        _join(g.statement, status, _by(g.updated_by)), url)
        kind = names.get(g.first_kind, g.first_kind or "")
        yield Event(g.created_at, "goal", f"Goal set: {area}",
                    _join(g.statement, kind, _by(g.created_by)), url)


def _goal_type_changes(patient, kinds, limit):
    rows = (GoalTypeChange.objects.filter(goal__patient=patient)
            .exclude(from_type="")  # the first choice is part of setting the goal
            .select_related("goal", "recorded_by")
            .order_by("-changed_at", "-pk"))
    url = _url("patients:goals", patient.pk)
    names = dict(GoalType.choices)
    for c in _cut(rows, limit):
        title = (f"Kind of goal changed: {names.get(c.from_type, c.from_type)} to "
                 f"{names.get(c.to_type, c.to_type).lower()}")
        whose = f"{c.get_chosen_by_display()}'s choice" if c.chosen_by else ""
        yield Event(c.changed_at, "goal", title, _join(c.goal.statement, c.reason, whose), url)


def _plan_versions(patient, kinds, limit):
    rows = (PlanVersion.objects.filter(plan__patient=patient)
            .select_related("created_by", "patient_signed_by", "practitioner_signed_by")
            .defer("snapshot"))
    if kinds == {"plan"}:
        order = F("created_at")
    elif "plan" in kinds:
        order = _latest("created_at", "patient_signed_at", "practitioner_signed_at")
    else:  # signatures only
        rows = rows.filter(Q(patient_signed_at__isnull=False)
                           | Q(practitioner_signed_at__isnull=False))
        order = Coalesce(Greatest("patient_signed_at", "practitioner_signed_at"),
                         "patient_signed_at", "practitioner_signed_at")
    rows = rows.order_by(order.desc(), "-number")
    url = _url("patients:plan", patient.pk)
    for v in _cut(rows, limit):
        found = []
        if "plan" in kinds:
            found.append(Event(v.created_at, "plan", f"Care plan version {v.number}",
                               _join(_by(v.created_by)), url))
        if "signature" in kinds and v.patient_signed_at:
            found.append(Event(v.patient_signed_at, "signature",
                               f"Signed by the patient (version {v.number})", url=url))
        if "signature" in kinds and v.practitioner_signed_at:
            found.append(Event(v.practitioner_signed_at, "signature",
                               f"Signed by the practitioner (version {v.number})",
                               _name(v.practitioner_signed_by), url))
        yield from sorted(found, key=lambda e: e.at, reverse=True)


def _proposals(patient, kinds, limit):
    rows = (PlanProposal.objects.filter(plan__patient=patient)
            .select_related("responded_by")
            .order_by(_latest("created_at", "responded_at").desc(), "-pk"))
    url = _url("patients:plan", patient.pk)
    for p in _cut(rows, limit):
        if p.responded_at:
            yield Event(p.responded_at, "plan",
                        f"Proposed change answered: {p.get_status_display()}",
                        _join(p.response, _by(p.responded_by)), url)
        yield Event(p.created_at, "plan", "The patient proposed a change to the plan", p.text, url)


def _reviews(patient, kinds, limit):
    rows = (Review.objects.filter(plan__patient=patient)
            .select_related("created_by")
            .order_by(*_day_order("held_on", "created_at")))
    for r in _cut(rows, limit):
        scores = [f"{who} {_number(t)}" for who, t in (("patient", r.t_score_patient),
                                                       ("practitioner", r.t_score_practitioner))
                  if t is not None]
        detail = f"Goal attainment T-scores: {', '.join(scores)}" if scores else ""
        at, date_only = _on_day(r.held_on, r.created_at)
        yield Event(at, "review", "Care plan review",
                    _join(detail, f"Next review {_day(r.next_review)}", _by(r.created_by)),
                    _url("patients:review", patient.pk, r.pk), date_only)


def _flags(patient, kinds, limit):
    rows = Flag.objects.filter(patient=patient).select_related("resolved_by")
    if kinds == {"flag-raised"}:
        order = F("raised_at")
    elif kinds == {"flag-resolved"}:
        rows = rows.filter(resolved_at__isnull=False)
        order = F("resolved_at")
    else:
        order = _latest("raised_at", "resolved_at")
    found = []
    for f in _cut(rows.order_by(order.desc(), "-pk"), limit):
        url = _url("patients:flag", patient.pk, f.pk)
        if "flag-resolved" in kinds and f.resolved_at:
            if f.status == FlagStatus.ENTERED_IN_ERROR:
                title = f"Flag withdrawn, raised in error: {f.rule_title}"
            else:
                title = f"Flag resolved: {f.rule_title}"
            found.append((f.pk, Event(f.resolved_at, "flag-resolved", title,
                                      _join(f.action_taken, _by(f.resolved_by)), url)))
        if "flag-raised" in kinds:
            found.append((f.pk, Event(
                f.raised_at, "flag-raised",
                f"Flag raised: {f.rule_title} ({f.get_severity_display()})", f.evidence, url)))
    # Flags raised together (one evaluation) share a moment: newest id first, whichever
    # kinds were asked for, so a filtered timeline reads in the same order as the whole.
    found.sort(key=lambda pe: (pe[1].at, str(pe[0])), reverse=True)
    for _pk, event in found:
        yield event


def _episodes(patient, kinds, limit):
    rows = (Episode.objects.filter(patient=patient)
            .order_by(_latest("start_date", "exit_date", "closed_date").desc(), "-pk"))
    for e in _cut(rows, limit):
        # Newest first within the episode, so that same-day changes read in order.
        if e.closed_date:
            ended = e.exit_date is not None and e.closed_date > e.exit_date
            yield Event(_midnight(e.closed_date), "episode", "Episode closed",
                        "Post-exit monitoring ended" if ended else "", date_only=True)
        if e.exit_date:
            # Closed the day it ended: straight out; otherwise into post-exit monitoring.
            monitored = e.status == EpisodeStatus.MONITORING or (
                e.closed_date is not None and e.closed_date > e.exit_date)
            title = "Left treatment: into post-exit monitoring" if monitored else "Left treatment"
            yield Event(_midnight(e.exit_date), "episode", title, e.get_exit_reason_display(),
                        date_only=True)
        yield Event(_midnight(e.start_date), "episode",
                    f"Episode started: {e.get_setting_display()}", date_only=True)


def _contacts(patient, kinds, limit):
    rows = (Contact.objects.filter(patient=patient).select_related("recorded_by")
            .order_by(*_day_order("on", "recorded_at")))
    for c in _cut(rows, limit):
        at, date_only = _on_day(c.on, c.recorded_at)
        yield Event(at, "contact", c.get_method_display(), _join(c.note, _by(c.recorded_by)),
                    date_only=date_only)


# --- medication ----------------------------------------------------------------------------

def _medicine_name(code: str) -> str:
    medicine = medicines.get(code)
    return medicine.name if medicine else code


def _dose(code: str, dose) -> str:
    """"60 mg a day"; "128 mg every 28 days" for a monthly injection (medication.forms.per)."""
    medicine = medicines.get(code)
    return f"{mg(dose)} {per(medicine) if medicine else 'a day'}"


def _medication_url(patient) -> str | None:
    return _url("patients:medication", patient.pk)


def _medication_plans(patient, kinds, limit):
    rows = (MedicationPlanVersion.objects.filter(plan__patient=patient)
            .select_related("changed_by", "plan").order_by("-changed_at", "-number"))
    url = _medication_url(patient)
    for v in _cut(rows, limit):
        name = _medicine_name(v.plan.medicine)
        if v.number == 1:
            title = f"Medication plan started: {name}"
        elif (v.terms or {}).get("status") == "stopped":
            title = f"Medication plan stopped: {name}"
        else:
            title = f"Medication plan changed (version {v.number}): {name}"
        yield Event(v.changed_at, "medication-plan", title, _join(v.reason, _by(v.changed_by)),
                    url)


def _doses(patient, kinds, limit):
    """The doses in force up to today (a scheduled reduction step shows once its day comes;
    a cancelled one never), each with the dose before it on the same plan."""
    before = Window(Lag("dose"), partition_by=[F("plan_id")],
                    order_by=[F("day").asc(), F("made_at").asc()])
    rows = (DoseChange.objects
            .filter(plan__patient=patient, cancelled_at__isnull=True,
                    day__lte=timezone.localdate())
            .select_related("made_by", "plan").annotate(before=before)
            .order_by(*_day_order("day", "made_at")))
    url = _medication_url(patient)
    for c in _cut(rows, limit):
        code = c.plan.medicine
        dose = _dose(code, c.dose)
        was = f" (was {mg(c.before)})" if c.before is not None and c.before != c.dose else ""
        if c.kind == ChangeKind.START:
            title = f"Medication started: {_medicine_name(code)}, {dose}"
        elif c.kind == ChangeKind.RESTART:
            title = f"Medication restarted: {_medicine_name(code)}, {dose}"
        elif c.source == ChangeSource.REDUCTION:
            title = f"Reduction step: {dose}{was}"
        elif c.source == ChangeSource.REVERSAL:
            title = f"Dose back up during the reduction: {dose}{was}"
        else:
            title = f"Dose changed: {dose}{was}"
        how = c.get_source_display() if c.kind == ChangeKind.CHANGE else ""
        at, date_only = _on_day(c.day, c.made_at)
        yield Event(at, "dose", title, _join(how, c.reason, _by(c.made_by)), url, date_only)


ANSWERED = {RequestStatus.APPLIED: "Dose request applied at once",
            RequestStatus.APPROVED: "Dose request agreed",
            RequestStatus.DECLINED: "Dose request not agreed",
            RequestStatus.WITHDRAWN: "Dose request withdrawn"}


def _dose_requests(patient, kinds, limit):
    rows = (DoseRequest.objects.filter(plan__patient=patient)
            .select_related("asked_by", "answered_by", "plan")
            .order_by(_latest("asked_at", "answered_at").desc(), "-pk"))
    url = _medication_url(patient)
    for r in _cut(rows, limit):
        dose = _dose(r.plan.medicine, r.dose)
        if r.answered_at and r.status in ANSWERED:
            yield Event(r.answered_at, "dose-request", f"{ANSWERED[r.status]}: {dose}",
                        _join(r.answer, _by(r.answered_by)), url)
        who = (f"asked for them {_by(r.asked_by)}" if r.on_behalf
               else "asked for by the patient")
        yield Event(r.asked_at, "dose-request",
                    f"New dose asked for: {dose} from {_day(r.from_day)}",
                    _join(who, r.note), url)


def _medication_reviews(patient, kinds, limit):
    rows = (MedicationReview.objects.filter(plan__patient=patient)
            .select_related("held_by").order_by(*_day_order("held_on", "created_at")))
    url = _medication_url(patient)
    for r in _cut(rows, limit):
        if r.goal_discussed:
            goal = (f"What they want next: {r.get_substance_goal_display().lower()} "
                    f"(chosen by {r.get_goal_chosen_by_display().lower()})")
        else:
            goal = "What they want next was not talked about"
        at, date_only = _on_day(r.held_on, r.created_at)
        yield Event(at, "medication-review", "Medication review",
                    _join(f"Dose {r.get_adequacy_display().lower()}", goal,
                          f"Next review {_day(r.next_review)}", _by(r.held_by)), url,
                    date_only)


# A run of missed days is one event; with a limit, this many reported days per event are read
# (a longer run at the end of what was read is left out rather than shown cut short).
LONGEST_RUN = 31


def _missed_doses(patient, kinds, limit):
    cap = limit * LONGEST_RUN if limit is not None else None
    rows = list(_cut(DispensingDay.objects.filter(patient=patient, status=Taken.MISSED)
                     .order_by("-day", "-recorded_at").values_list("day", "recorded_at"),
                     cap))
    runs: list[list] = []  # newest first; each run newest day first
    for day, recorded in rows:
        if runs and runs[-1][-1][0] == day:
            continue  # the same day reported for two plans
        if runs and (runs[-1][-1][0] - day).days == 1:
            runs[-1].append((day, recorded))
        else:
            runs.append([(day, recorded)])
    if cap is not None and len(rows) == cap and len(runs) > 1:
        runs.pop()  # it may go on beyond what was read
    url = _medication_url(patient)
    for run in runs:
        (last, recorded), first = run[0], run[-1][0]
        if len(run) == 1:
            title = f"Missed dose: {_day(last)}"
        else:
            title = f"Missed doses: {len(run)} days in a row, {_day(first)} to {_day(last)}"
        at, date_only = _on_day(last, recorded)
        yield Event(at, "missed-doses", title, "Reported by the pharmacy", url, date_only)


REDUCTION_WORDS = {ReductionEventKind.PAUSED: "Reduction paused",
                   ReductionEventKind.RESUMED: "Reduction resumed",
                   ReductionEventKind.FINISHED: "Reduction finished",
                   ReductionEventKind.STOPPED: "Reduction stopped"}


def _reductions(patient, kinds, limit):
    # Going back up is a dose event (see _doses), so it is not repeated here.
    rows = (ReductionEvent.objects.filter(reduction__plan__patient=patient)
            .exclude(kind=ReductionEventKind.REVERSED)
            .select_related("reduction", "reduction__plan", "by").order_by("-at", "-pk"))
    url = _medication_url(patient)
    for e in _cut(rows, limit):
        r = e.reduction
        if e.kind == ReductionEventKind.PLANNED:
            title = (f"Reduction planned: down {mg(r.step)} every {r.every_days} days to "
                     f"{_dose(r.plan.medicine, r.target)}, from {_day(r.started_on)}")
            detail = _join(f"Chosen by {r.get_chosen_by_display().lower()}", e.note, _by(e.by))
        else:
            title, detail = REDUCTION_WORDS[e.kind], _join(e.note, _by(e.by))
        yield Event(e.at, "reduction", title, detail, url)


MESSAGE_WAYS = {"sms": "Text message", "email": "Email", "letter": "Letter"}


def _messages(patient, kinds, limit):
    rows = (Message.objects.filter(patient=patient).exclude(status=MessageStatus.WITHDRAWN)
            .order_by(Coalesce("sent_at", "created_at").desc(), "-pk"))
    url = _url("patients:messages", patient.pk)
    for m in _cut(rows, limit):
        what = m.subject or m.kind.replace("-", " ")
        status = m.get_status_display()
        if m.status == MessageStatus.FAILED and m.last_error:
            status = f"{status}: {m.last_error}"
        yield Event(m.sent_at or m.created_at, "message",
                    f"{MESSAGE_WAYS.get(m.channel, m.channel)}: {what}", status, url)


SOURCES = (
    Source(frozenset({"checkup"}), _checkups),
    Source(frozenset({"sort"}), _sorts),
    Source(frozenset({"goal"}), _goals),
    Source(frozenset({"goal"}), _goal_type_changes),
    Source(frozenset({"plan", "signature"}), _plan_versions),
    Source(frozenset({"plan"}), _proposals),
    Source(frozenset({"review"}), _reviews),
    Source(frozenset({"flag-raised", "flag-resolved"}), _flags),
    Source(frozenset({"episode"}), _episodes),
    Source(frozenset({"contact"}), _contacts),
    Source(frozenset({"medication-plan"}), _medication_plans),
    Source(frozenset({"dose"}), _doses),
    Source(frozenset({"dose-request"}), _dose_requests),
    Source(frozenset({"medication-review"}), _medication_reviews),
    Source(frozenset({"missed-doses"}), _missed_doses),
    Source(frozenset({"reduction"}), _reductions),
    Source(frozenset({"message"}), _messages),
)
