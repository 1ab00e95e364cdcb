"""Whose figures: an organisation, a period, and the filters a reader chose (team, keyworker,
setting, substance), as database querysets every figure starts from.

The unit is the patient: `in_treatment()` holds one episode per patient, the latest of theirs
that was open on any day of the period (started on or before its last day, and not ended before
its first). Figures about episodes that ended earlier (completions, re-presentations, post-exit
check-ups) start from `episodes()`, the same filters without the dates.

- **team**: the patient's team (Patient.team);
- **keyworker**: the staff member on the patient's care team as keyworker on the period's last
  day (the longest-serving, if two), as the caseload names them;
- **setting**: the episode's setting (community, inpatient, residential, prison);
- **substance**: the groups of the national statistics (opiate; non-opiate only; non-opiate and
  alcohol; alcohol only), worked out from the substances the patient used in the 28 days before
  the episode's first Treatment Outcomes Profile, and "opiate" too for anyone with a substitute
  medication plan in the episode. Source: Office for Health Improvement and Disparities, Adult
  substance misuse treatment statistics (NDTMS), substance groups.

Nothing here loops over patients: every filter is a condition in the one SQL query.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models import Value as V
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from tandem.assessment.models import Response, ResponseStatus
from tandem.core.report import Period
from tandem.medication import registry
from tandem.medication.models import MedicationPlan, PlanStatus
from tandem.patients.models import CareRole, CareTeamMember, Episode, Setting, active_membership

TOP = "top"
DAY = datetime.timedelta(days=1)
COMPLETED = (ResponseStatus.COMPLETED, ResponseStatus.AMENDED)

# The substance groups of the national statistics (OHID, Adult substance misuse treatment
# statistics), with "not recorded" for an episode without a profile.
SUBSTANCES = {
    "opiate": "Opiate",
    "non-opiate": "Non-opiate only",
    "non-opiate-alcohol": "Non-opiate and alcohol",
    "alcohol": "Alcohol only",
    "not-recorded": "Not recorded yet",
}
# TOP scales (days used in the past 28) that count as non-opiate drugs. Tobacco does not count.
NON_OPIATE_SCALES = ("crack_days", "cocaine_days", "amphetamines_days", "cannabis_days",
                     "other_days")


def substitute_codes() -> list[str]:
    """Medicines that are substitute medication (opioid substitution treatment)."""
    return sorted(code for code, m in registry.medicines().items() if m.substitute)


def completed(instrument: str) -> QuerySet:
    """Completed (or amended) responses to one questionnaire."""
    return Response.objects.filter(instrument_code=instrument, status__in=COMPLETED)


class JsonNumber(Func):
    """The number under `key` in a JSON object column, as a float (None when missing or null),
    with one JSON lookup a row: SQLite's JSON_EXTRACT (Django's key transform takes two or
    three a row there, the report's largest cost before), PostgreSQL's `->>`. For numbers only,
    as a response's scores are (assessment/responses.py); `key` is a code from Tandem's own
    source, passed as a parameter."""

    output_field = FloatField()

    def __init__(self, column: str, key: str):
        if not re.fullmatch(r"[a-z0-9_]+", key):
            raise ValueError(f"not a scale code: {key!r}")
        super().__init__(F(column))
        self.key = key

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL (jsonb)
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql} ->> %s)::double precision)", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(JSON_EXTRACT({sql}, %s) AS REAL)", [*params, f'$."{self.key}"']


class JsonTrue(JsonNumber):
    """1 when `key` in a JSON object column is `true`, else 0 (missing, null, anything else)."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL (jsonb)
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN ({sql} -> %s) = 'true'::jsonb THEN 1 ELSE 0 END)",
                [*params, self.key])

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN JSON_TYPE({sql}, %s) = 'true' THEN 1 ELSE 0 END)",
                [*params, f'$."{self.key}"'])


def score(scale: str) -> JsonNumber:
    """One scale's value from a response's scores, as a number (None when not scored)."""
    return JsonNumber("scores", scale)


def day_starts(day: datetime.date) -> datetime.datetime:
    """The time a local day (the service's time zone, TANDEM_TIME_ZONE) starts, to compare
    times with (`raised_at < day_starts(d + 1 day)` is "raised on or before d"): the same answer
    as the `__date` lookups, without turning every row's time into a date first (a function
    call a row on SQLite)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def on_or_before(field: str, day: datetime.date) -> Q:
    """`field` (a time) falls on the local date `day` or earlier."""
    return Q(**{f"{field}__lt": day_starts(day + DAY)})


def after(field: str, day: datetime.date) -> Q:
    """`field` (a time) falls on a local date after `day`."""
    return Q(**{f"{field}__gte": day_starts(day + DAY)})


def on_days(field: str, first: datetime.date, last: datetime.date) -> Q:
    """`field` (a time) falls on a local date from `first` to `last`."""
    return Q(**{f"{field}__gte": day_starts(first), f"{field}__lt": day_starts(last + DAY)})


def offsets(first: datetime.date, last: datetime.date) -> list[tuple[datetime.datetime, int]]:
    """The service's time zone's UTC offsets from the start of `first` to the end of `last`:
    (from when, in UTC; minutes ahead of UTC), one for each span, the first from `first`'s
    start. Found by stepping a quarter of an hour at a time through the days whose offset
    changes (every zone changes on a quarter hour)."""
    zone = timezone.get_current_timezone()
    start = day_starts(first).astimezone(datetime.UTC)
    end = day_starts(last + DAY).astimezone(datetime.UTC)

    def minutes(at: datetime.datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds() // 60)

    found = [(start, minutes(start))]
    day = start
    while day < end:
        following = min(day + datetime.timedelta(days=1), end)
        if minutes(following) != found[-1][1]:
            at = day
            while minutes(at) == found[-1][1]:
                at += datetime.timedelta(minutes=15)
            found.append((at, minutes(at)))
        day = following
    return found


class LocalDate(TruncDate):
    """The local date (the service's time zone) of a time, as Django's TruncDate, which on
    SQLite calls Python for each row (slow, and holding the interpreter lock the report's
    other connections need; report.py). There, for times from `first` to `last` (local days),
    SQLite's own DATE() with the zone's offset at that time (`offsets`, a CASE over the few
    changes of those days); any other time still goes to Django's function."""

    def __init__(self, expression, first: datetime.date, last: datetime.date):
        super().__init__(expression)
        self.first, self.last = first, last

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.lhs)
        python_sql, python_params = super().as_sql(compiler, connection)
        spans = offsets(self.first, self.last)
        stored = "%Y-%m-%d %H:%M:%S"  # how Django keeps an aware time on SQLite (UTC)
        bounds = [at.strftime(stored) for at, _ in spans[1:]]
        shift = ("CASE " + " ".join(f"WHEN {sql} < %s THEN %s" for _ in bounds) + " ELSE %s END"
                 if bounds else "%s")
        shift_params = []
        for (_, ahead), bound in zip(spans, bounds, strict=False):
            shift_params += [*params, bound, f"{ahead:+d} minutes"]
        shift_params.append(f"{spans[-1][1]:+d} minutes")
        low = spans[0][0].strftime(stored)
        high = day_starts(self.last + DAY).astimezone(datetime.UTC).strftime(stored)
        # DATE() of the whole second: SQLite's date arithmetic rounds to milliseconds, which
        # would carry 23:59:59.9999 into the next day.
        return (f"(CASE WHEN {sql} IS NULL THEN NULL "
                f"WHEN {sql} >= %s AND {sql} < %s THEN DATE(SUBSTR({sql}, 1, 19), {shift}) "
                f"ELSE {python_sql} END)",
                [*params, *params, low, *params, high, *params, *shift_params, *python_params])


def on_medication(day: datetime.date, prefix: str = "") -> Q:
    """Medication plans current on `day`: a substitute medicine, started on or before it and not
    stopped by then (stopped on a later day)."""
    p = prefix
    return (Q(**{f"{p}medicine__in": substitute_codes(), f"{p}started_on__lte": day})
            & (Q(**{f"{p}status": PlanStatus.ACTIVE})
               | Q(**{f"{p}status": PlanStatus.STOPPED, f"{p}stopped_on__gt": day})))


def _substance_group() -> Subquery:
    first_top = completed(TOP).filter(episode=OuterRef("pk")).order_by("completed_at", "pk")
    non_opiate = Q()
    for scale in NON_OPIATE_SCALES:
        non_opiate |= Q(**{f"_{scale}__gt": 0})
    groups = first_top.annotate(
        _opioids=score("opioids_days"), _alcohol=score("alcohol_days"),
        **{f"_{s}": score(s) for s in NON_OPIATE_SCALES},
    ).annotate(group=Case(
        When(_opioids__gt=0, then=V("opiate")),
        When(non_opiate & Q(_alcohol__gt=0), then=V("non-opiate-alcohol")),
        When(non_opiate, then=V("non-opiate")),
        When(_alcohol__gt=0, then=V("alcohol")),
        default=V("not-recorded"), output_field=CharField(),
    )).values("group")[:1]
    on_substitute = MedicationPlan.objects.filter(episode=OuterRef("pk"),
                                                  medicine__in=substitute_codes())
    return Case(When(Exists(on_substitute), then=V("opiate")),
                default=Coalesce(Subquery(groups), V("not-recorded")), output_field=CharField())


def keyworker_on(day: datetime.date) -> Subquery:
    """The patient's keyworker on `day` (the longest-serving), as a user id; None if none."""
    return Subquery(CareTeamMember.objects.filter(
        active_membership(day), care_team__patient=OuterRef("patient"),
        role=CareRole.KEYWORKER, user__isnull=False,
    ).order_by("start_date", "pk").values("user")[:1])


@dataclass(frozen=True)
class Scope:
    """An organisation's figures for a period, narrowed by the reader's filters and by what the
    reader may see (`teams`: None for every team; `keyworker` set to a practitioner's own id
    for their own caseload)."""

    organisation_id: int
    period: Period
    teams: frozenset[int] | None = None
    keyworker: int | None = None
    setting: str = ""
    substance: str = ""
    # While a report is worked out (`treated_once`), the temporary table that holds
    # `in_treatment()`'s episode ids, so each figure reads it instead of working it out again.
    treated: str = ""

    def for_period(self, period: Period) -> Scope:
        return Scope(self.organisation_id, period, self.teams, self.keyworker, self.setting,
                     self.substance)

    @property
    def end(self) -> datetime.date:
        return self.period.end

    @property
    def start(self) -> datetime.date:
        return self.period.start

    def episodes(self) -> QuerySet:
        """Every episode of the organisation that the filters keep, at any date."""
        qs = Episode.objects.of(self.organisation_id)
        if self.teams is not None:
            qs = qs.filter(patient__team_id__in=self.teams)
        if self.setting:
            qs = qs.filter(setting=self.setting)
        if self.keyworker is not None:
            qs = qs.alias(_keyworker=keyworker_on(self.end)).filter(_keyworker=self.keyworker)
        if self.substance:
            qs = qs.alias(_substance=_substance_group()).filter(_substance=self.substance)
        return qs

    def in_treatment(self) -> QuerySet:
        """One episode per patient: the latest one open on any day of the period."""
        if self.treated:
            if not re.fullmatch(r"report_treated_[0-9a-f]{32}", self.treated):
                raise ValueError("not a table treated_once made")
            return Episode.objects.of(self.organisation_id).filter(
                pk__in=RawSQL(f"SELECT id FROM {self.treated}", ()))  # a name made here
        open_in_period = Q(start_date__lte=self.end) & (
            Q(exit_date__isnull=True) | Q(exit_date__gte=self.start))
        # Later: started after it; or started the same day (an episode may end the day it
        # starts, and a new one start that day) and ends later, or is still open; a full tie
        # is broken by id. So each patient counts once.
        never = V(datetime.date.max)
        ends, other_ends = Coalesce("exit_date", never), Coalesce(OuterRef("exit_date"), never)
        later = (Episode.objects.filter(open_in_period, patient=OuterRef("patient"))
                 .alias(_ends=ends, _other_ends=other_ends)
                 .filter(Q(start_date__gt=OuterRef("start_date"))
                         | Q(start_date=OuterRef("start_date"), _ends__gt=F("_other_ends"))
                         | Q(start_date=OuterRef("start_date"), _ends=F("_other_ends"),
                             pk__gt=OuterRef("pk"))))
        return self.episodes().filter(open_in_period).filter(~Exists(later))

    def patients(self) -> QuerySet:
        """The patient ids of `in_treatment()`, for `patient_id__in=`."""
        return self.in_treatment().values("patient_id")


@contextmanager
def reading() -> Iterator[None]:
    """Where the report's queries run. On PostgreSQL, one transaction (its temporary table
    gone with a rollback; each statement still reads its own snapshot, as PostgreSQL's default
    isolation does) with just-in-time compilation off (`SET LOCAL`, gone with the
    transaction): the report's queries are many index lookups that the planner costs high
    enough to compile, which costs more than it saves (the 100,000-patient benchmark: 34 s
    with it, 27 s without). On SQLite, no transaction: its transactions here are IMMEDIATE
    (settings.py), which would hold the write lock, and so keep every other writer waiting,
    for the whole report."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


@contextmanager
def treated_once(scope: Scope) -> Iterator[Scope]:
    """The scope, with who is in treatment worked out once into a temporary table (this
    connection's own, dropped at the end), for working out many figures in a row (`reading`)."""
    name = f"report_treated_{uuid.uuid4().hex}"
    sql, params = scope.in_treatment().order_by().values("id").query.sql_with_params()
    with reading():
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {name} AS {sql}", params)
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {name}")  # autovacuum never sees temporary tables
        done = False
        try:
            yield dataclasses.replace(scope, treated=name)
            done = True
        finally:
            # After a failure on PostgreSQL the transaction takes no more statements, and its
            # rollback takes the table with it; so does the rollback of a caller's transaction
            # that failed (which takes no more statements either).
            failed = connection.in_atomic_block and connection.needs_rollback
            if (done or connection.vendor != "postgresql") and not failed:
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")


SETTINGS = dict(Setting.choices)
