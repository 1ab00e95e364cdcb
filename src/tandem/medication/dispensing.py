"""What the pharmacy reports, day by day: taken supervised, taken home, or missed.

Three ways in, one store (`DispensingDay`, one row per plan and day):

- `record`: one plan's days, as staff enter them on the patient's dispensing page, or as the
  pharmacy system sends them through the API;
- `import_csv`: the pharmacy's file for many patients at once (the import page, the benchmark),
  all or nothing, every bad line named by its number and column;
- a later report for a day replaces the earlier one; the audit trail keeps what it was.

Both write with one set-based upsert (`INSERT ... ON CONFLICT (plan_id, day) DO UPDATE`, the
same on SQLite and PostgreSQL), audit, and then announce the patients once
(`events.dispensing_recorded`): monitoring evaluates their missed-dose flags. Nothing here
writes a flag.
"""

from __future__ import annotations

import csv
import datetime
import heapq
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.bulk import adapter, insert_sql
from tandem.core import flags as flag_rules
from tandem.core.dosing import day_text
from tandem.medication import events
from tandem.medication.doses import Refused
from tandem.medication.models import (
    ChangeKind,
    DispensingDay,
    DispensingSource,
    DoseChange,
    MedicationPlan,
    PlanStatus,
    Taken,
    settings_for,
)

COLUMNS = ("organisation_id", "patient_id", "plan_id", "day", "status", "source",
           "recorded_by_id", "recorded_at")
# The most lines of days one import takes (the import page also limits the file's size).
MAX_ROWS = 1_000_000
# The most problems an import lists (all are counted).
MAX_PROBLEMS = 100
# Patients looked up, and rows written, this many at a time.
CHUNK = 5000
WRITE_CHUNK = 20_000

STATUS_WORDS = {
    Taken.SUPERVISED: "taken, supervised",
    Taken.HOME: "taken home",
    Taken.MISSED: "missed",
}
SOURCE_WORDS = {s.value: s.label.lower() for s in DispensingSource}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_status(text: str) -> str | None:
    """A status as the pharmacy may write it, or None. Accepted, in any case: supervised,
    home, missed, and the same with "taken" before them ("taken supervised", "Taken, home",
    "taken-home"), and "taken home"'s other spellings: "take home", "takehome"."""
    words = re.sub(r"[\s,_-]+", " ", text.strip().lower()).strip()
    if words.startswith("taken "):
        words = words[len("taken "):]
    words = {"take home": "home", "takehome": "home", "takenhome": "home"}.get(words, words)
    return words if words in Taken.values else None


def parse_day(text: str) -> datetime.date | None:
    """A day written YYYY-MM-DD that exists (2026-02-30 does not), or None."""
    text = text.strip()
    if not _DATE.fullmatch(text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def stopped_on(plan: MedicationPlan) -> datetime.date | None:
    """The day a stopped plan stopped (its last change was the stop), or None."""
    if plan.status != PlanStatus.STOPPED:
        return None
    return timezone.localdate(plan.updated_at)


def day_problems(plan: MedicationPlan, day: datetime.date, status: str | None,
                 today: datetime.date) -> list[tuple[str, str]]:
    """[(field, why)] for one day's report that cannot be stored against this plan: field
    "day" or "status", each message naming the day."""
    found = []
    if status is None or status not in Taken.values:
        found.append(("status", f"{day_text(day)}: choose taken supervised, taken home or "
                                "missed."))
    if day > today:
        found.append(("day", f"{day_text(day)} is in the future: a day is reported once it "
                             "has come."))
    elif day < plan.started_on:
        found.append(("day", f"{day_text(day)} is before this medication plan started "
                             f"({day_text(plan.started_on)})."))
    else:
        ended = stopped_on(plan)
        if ended is not None and day > ended:
            found.append(("day", f"{day_text(day)} is after this medication plan stopped "
                                 f"({day_text(ended)})."))
    return found


# --- writing -------------------------------------------------------------------------------


def _insert_sql(on_conflict: str) -> str:
    """INSERT of `COLUMNS`; on a day of the plan already stored, `on_conflict` ("update":
    replace its report; "nothing": leave it)."""
    q = connection.ops.quote_name
    sql = insert_sql(DispensingDay, COLUMNS) + f" ON CONFLICT ({q('plan_id')}, {q('day')}) "
    if on_conflict == "nothing":
        return sql + "DO NOTHING"
    updated = ("status", "source", "recorded_by_id", "recorded_at")
    return sql + "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in updated)


def _update_sql() -> str:
    q = connection.ops.quote_name
    return (f"UPDATE {DispensingDay._meta.db_table} SET {q('status')} = %s, {q('source')} = %s,"
            f" {q('recorded_by_id')} = %s, {q('recorded_at')} = %s"
            f" WHERE {q('plan_id')} = %s AND {q('day')} = %s")


def _write(sql: str, rows: Iterable[tuple]) -> int:
    """Run `sql` for each row (already in database form), a chunk at a time, with the
    driver's own executemany (Django's SQLite cursor copies the rows through an iterator,
    which halves the rate; the statement and the transaction are the same). Returns the
    rows changed."""
    if connection.vendor == "sqlite":
        sql = sql.replace("%s", "?")
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    changed = 0
    try:
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= WRITE_CHUNK:
                cursor.executemany(sql, chunk)
                changed += max(cursor.rowcount, 0)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
            changed += max(cursor.rowcount, 0)
    finally:
        cursor.close()
    return changed


def _announce(organisation_id, patient_ids) -> None:
    events.dispensing_recorded.send(DispensingDay, organisation_id=organisation_id,
                                    patient_ids=list(patient_ids))


@transaction.atomic
def record(actor: Actor, plan: MedicationPlan, days: Sequence[tuple[datetime.date, str]],
           source: str) -> int:
    """Store what the pharmacy reported for these days of one plan: [(day, status)], status
    as `parse_status` reads it. Refused (nothing written) for a day in the future, before
    the plan started or after it stopped, an unknown status, or a day given twice. A day
    reported before is replaced (the audit event says what it was); the same report again
    changes nothing. Returns how many days were new or changed. Each is audited; then
    `dispensing_recorded` is sent once."""
    if source not in DispensingSource.values:
        raise ValueError(f"unknown source {source!r}")
    plan = MedicationPlan.objects.select_for_update().get(pk=plan.pk)
    today = timezone.localdate()
    problems: dict[str, list[str]] = {}
    given: dict[datetime.date, str] = {}
    if not days:
        problems[""] = ["Give at least one day."]
    for day, raw in days:
        status = parse_status(raw or "")
        for name, message in day_problems(plan, day, status, today):
            problems.setdefault(name, []).append(message)
        if day in given:
            problems.setdefault("day", []).append(f"{day_text(day)} is given twice: give "
                                                  "each day once.")
        given[day] = status
    if problems:
        raise Refused(problems)
    before, before_source = {}, {}
    for day, status, source_was in (plan.dispensing_days.filter(day__in=list(given))
                                    .values_list("day", "status", "source")):
        before[day], before_source[day] = status, source_was
    changed = {day: status for day, status in given.items() if before.get(day) != status}
    now = timezone.now()
    adapt = adapter(DispensingDay, COLUMNS)
    _write(_insert_sql("update"), (
        adapt((plan.organisation_id, plan.patient_id, plan.pk, day, status, source,
               actor.user.pk, now)) for day, status in sorted(changed.items())))
    rows = dict(plan.dispensing_days.filter(day__in=list(changed)).values_list("day", "pk"))
    patient = plan.patient
    for day, status in sorted(changed.items()):
        words = f"{day.isoformat()}: {STATUS_WORDS[status]} ({SOURCE_WORDS[source]})"
        if day in before:
            words = (f"{day.isoformat()}: {STATUS_WORDS[before[day]]} → {STATUS_WORDS[status]} "
                     f"({SOURCE_WORDS[source]}; was {SOURCE_WORDS[before_source[day]]})")
        record_by(actor, "update" if day in before else "create", patient=patient,
                  object_type="dispensingday", object_id=str(rows[day]), detail=words)
    _announce(plan.organisation_id, [plan.patient_id])
    return len(changed)


# --- importing the pharmacy's file --------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: its line (1 is the header), the column ("" for the
    whole line) and why, in plain words."""

    line: int
    column: str
    message: str


@dataclass(frozen=True)
class MissedRun:
    """A patient whose latest reports are missed days in a row, at least the service's
    number for the urgent flag."""

    patient_id: uuid.UUID
    service_id: str
    days: int
    first: datetime.date
    last: datetime.date


@dataclass
class ImportResult:
    """What an import did. With `problems`, nothing was stored."""

    days: int = 0  # days stored (new or replaced)
    patient_ids: list = field(default_factory=list)
    replaced: int = 0  # days reported before with another status, now replaced
    # Patients with a run of at least `missed_days_for_flag` missed days in a row that this
    # file reported (a day of) (`missed_runs`).
    missed: list[MissedRun] = field(default_factory=list)
    missed_days_for_flag: int = 3
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS
    problem_count: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    reference: str = ""  # the import's id, on its audit events

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def patients(self) -> int:
        return len(self.patient_ids)


REQUIRED = ("patient", "date", "status")
NOT_VISIBLE = "No patient with this service ID that you can see."


class _Problems:
    """Every problem counted; the `MAX_PROBLEMS` of the earliest lines kept (whichever check
    found them first), in line order."""

    def __init__(self):
        self._kept: list[tuple[int, int, Problem]] = []  # a heap of the latest kept first
        self.count = 0

    def add(self, line: int, column: str, message: str) -> None:
        self.count += 1
        entry = (-line, -self.count, Problem(line, column, message))
        if len(self._kept) < MAX_PROBLEMS:
            heapq.heappush(self._kept, entry)
        elif entry > self._kept[0]:
            heapq.heapreplace(self._kept, entry)

    @property
    def shown(self) -> list[Problem]:
        return [p for _line, _n, p in sorted(self._kept, reverse=True)]


def decode(data: bytes) -> tuple[str | None, Problem | None]:
    """The file's text (UTF-8, with or without a byte-order mark), or the problem."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, Problem(line, "", f"This file is not UTF-8 text (byte "
                                       f"0x{data[error.start]:02X} on line {line} is not). In a "
                                       "spreadsheet, save it as \"CSV UTF-8\" and try again.")


def _header(fields: list[str], line: int, problems: _Problems) -> dict[str, int] | None:
    names = [f.strip().lower() for f in fields]
    where: dict[str, int] = {}
    for n, name in enumerate(names):
        if name in REQUIRED:
            if name in where:
                problems.add(line, name, f"The column {name} is named twice in the first line.")
            where.setdefault(name, n)
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        looks_like_data = any(parse_day(f) for f in fields)
        problems.add(line, "", (
            "The first line must name the columns: patient,date,status"
            + (" (this one looks like a line of days: add the header line above it)."
               if looks_like_data else f" (missing: {', '.join(missing)}).")))
        return None
    return where


def _parse(text: str, problems: _Problems):
    """The file's lines of days as (line, service id, day, status), checked one by one, and
    the header's other columns. Stops at the row limit or a line csv cannot read."""
    rows: list[tuple[int, str, datetime.date, str]] = []
    ignored: list[str] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        problems.add(1, "", "The file is empty: it needs a header line (patient,date,status) "
                            "and a line for each day.")
        return rows, ignored
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    read_to = 0  # the last line of the last record read
    where = None
    width = 0
    days: dict[str, datetime.date | None] = {}
    statuses: dict[str, str | None] = {}
    today = timezone.localdate()
    try:
        for fields in reader:
            line = read_to = reader.line_num
            if not fields or not "".join(fields).strip():
                continue  # a blank line
            if where is None:
                where = _header(fields, line, problems)
                if where is None:
                    return rows, ignored
                width = len(fields)
                ignored = [f.strip() for n, f in enumerate(fields)
                           if n not in where.values() and f.strip()]
                ip, idate, istatus = where["patient"], where["date"], where["status"]
                continue
            if len(rows) >= MAX_ROWS:
                problems.add(line, "", f"The file has more than {MAX_ROWS:,} lines of days: "
                                       "split it into smaller files.")
                return rows, ignored
            if len(fields) != width:
                more = len(fields) > width
                problems.add(line, "", (
                    f"This line has {len(fields)} values but the first line names {width} "
                    "columns" + (": is there a comma inside a value? Put such a value in "
                                 "double quotes." if more else ".")))
                continue
            bad = False
            service_id = fields[ip].strip()
            if not service_id:
                problems.add(line, "patient", "The patient's service ID is missing.")
                bad = True
            raw_day = fields[idate]
            day = days.get(raw_day, False)
            if day is False:
                day = days[raw_day] = parse_day(raw_day)
            if day is None:
                shown = raw_day.strip()
                problems.add(line, "date", (
                    f"\"{shown}\" is not a day: write it as year-month-day, e.g. 2026-03-01."
                    if shown else "The date is missing."))
                bad = True
            elif day > today:
                problems.add(line, "date", f"{day.isoformat()} is in the future: a day is "
                                           "reported once it has come.")
                bad = True
            raw_status = fields[istatus]
            status = statuses.get(raw_status, False)
            if status is False:
                status = statuses[raw_status] = parse_status(raw_status)
            if status is None:
                shown = raw_status.strip()
                problems.add(line, "status", (
                    f"\"{shown}\" is not a status: write supervised, home or missed."
                    if shown else "The status is missing: write supervised, home or missed."))
                bad = True
            if service_id:  # its patient is checked too, whatever else is wrong
                rows.append((line, service_id, None if bad else day, status))
    except csv.Error as error:
        problems.add(read_to + 1, "", f"From this line the file cannot be read as CSV "
                                      f"({error}): check its double quotes (a value in quotes "
                                      "must end with one).")
    if where is None and problems.count == 0:
        problems.add(1, "", "The file has no header line: patient,date,status.")
    elif where is not None and not rows and problems.count == 0:
        problems.add(reader.line_num, "", "The file has no days in it, only the header.")
    return rows, ignored


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Up to this many patients named, they are looked up by service ID; beyond, every patient
# the user may see is read at once (cheaper than long lists of parameters).
NAMED_LOOKUP = 2000


def _plans(organisation_id, visible, service_ids: list[str]):
    """({service id: patient id}, {patient id: [current plans as (id, started_on)]}) for the
    patients of these service ids that `visible` holds (and maybe others it holds): one query
    for those with a current plan, and one for any named without one."""
    plans: dict[uuid.UUID, list] = {}
    patients: dict[str, uuid.UUID] = {}
    current = (MedicationPlan.objects.of(organisation_id)
               .filter(status=PlanStatus.ACTIVE, patient__in=visible.values("pk")))
    if len(service_ids) <= NAMED_LOOKUP:
        current = current.filter(patient__service_id__in=service_ids)
    # Read as the database holds them (a hundred thousand rows: no converter per value).
    sql, params = current.values_list("patient__service_id", "patient_id", "pk",
                                      "started_on").query.sql_with_params()
    ids: dict = {}
    days: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for service_id, patient_id, plan_id, started in cursor.fetchall():
            if patient_id not in ids:
                ids[patient_id] = _uuid(patient_id)
            if started not in days:
                days[started] = _date(started)
            patients[service_id] = ids[patient_id]
            plans.setdefault(ids[patient_id], []).append((_uuid(plan_id), days[started]))
    missing = [s for s in service_ids if s not in patients]
    for chunk in _chunks(missing):  # named, but no current plan (or not to be seen)
        patients.update(visible.filter(organisation_id=organisation_id, service_id__in=chunk)
                        .values_list("service_id", "pk"))
    return patients, plans


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _date(value) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


def _stored(plan_ids: list, first: datetime.date, last: datetime.date, but) -> dict:
    """{(plan id, day): status} stored for these plans between the days, except the rows
    `but` (plan id, day, status, source, recorded by, recorded at) picks."""
    found = {}
    for chunk in _chunks(plan_ids):
        for row in (DispensingDay.objects.filter(plan_id__in=chunk, day__gte=first,
                                                 day__lte=last)
                    .values_list("plan_id", "day", "status", "source", "recorded_by_id",
                                 "recorded_at")):
            if not but(row):
                found[row[0], row[1]] = row[2]
    return found


def import_csv(actor: Actor, organisation_id, text: str | bytes, visible) -> ImportResult:
    """Check and store the pharmacy's file: a header naming the columns patient (the
    patient's service ID), date (YYYY-MM-DD) and status (supervised, home or missed; see
    `parse_status`), in any order and case, other columns ignored; then a line per patient
    and day. `visible`: the patients the user may record for
    (`patients.access.visible_patients(user)`); a line naming anyone else is reported exactly
    as one naming nobody.

    All or nothing: with any problem, nothing is stored and the result lists the first
    `MAX_PROBLEMS` by line and column, counting all. Otherwise the days are stored against
    each patient's current plan (one row per plan and day: a day reported before with
    another status is replaced), one audit event names the import's patients and what it
    replaced, then one `dispensing_recorded` is sent for every patient in it."""
    result = ImportResult(missed_days_for_flag=settings_for(organisation_id)
                          .missed_days_for_flag)
    problems = _Problems()
    if isinstance(text, bytes):
        text, problem = decode(text)
        if problem is not None:
            result.problems, result.problem_count = [problem], 1
            return result
    rows, result.ignored_columns = _parse(text, problems)
    if problems.count and not rows:
        result.problems, result.problem_count = problems.shown, problems.count
        return result

    patients, plans = _plans(organisation_id, visible, list({r[1] for r in rows}))
    # Each patient's plan, by a small number, so a (plan, day) key is one int.
    plan_of: dict[str, tuple] = {}  # service id -> (index, patient id, plan id, started_on)
    plan_list: list = []
    for service_id, patient_id in patients.items():
        current = plans.get(patient_id, [])
        if len(current) == 1:
            plan_of[service_id] = (len(plan_list), patient_id, *current[0])
            plan_list.append(current[0][0])

    seen: set[int] = set()
    repeated: dict[int, list[int]] = {}  # key -> later lines naming it
    good: list[tuple] = []  # (plan index, day, status)
    for line, service_id, day, status in rows:
        found = plan_of.get(service_id)
        if found is None:
            if service_id not in patients:
                problems.add(line, "patient", NOT_VISIBLE)
            elif not plans.get(patients[service_id]):
                problems.add(line, "patient", f"{service_id} has no current medication plan "
                                              "in Tandem.")
            else:
                problems.add(line, "patient", f"{service_id} has more than one current "
                                              "medication plan: enter their days on their "
                                              "dispensing page.")
            continue
        if day is None:  # its date or status is wrong (said already)
            continue
        index, _patient_id, _plan_id, started = found
        if day < started:
            problems.add(line, "date", f"{day.isoformat()} is before {service_id}'s medication "
                                       f"plan started ({started.isoformat()}).")
            continue
        key = (index << 20) | day.toordinal()
        if key in seen:
            repeated.setdefault(key, []).append(line)
            continue
        seen.add(key)
        good.append((index, day, status))
    if repeated:
        first_line = {}
        for line, service_id, day, _status in rows:
            found = plan_of.get(service_id)
            if found is not None and day is not None:
                key = (found[0] << 20) | day.toordinal()
                if key in repeated and key not in first_line:
                    first_line[key] = (line, service_id, day)
        for key, lines in repeated.items():
            first, service_id, day = first_line[key]
            for line in lines:
                problems.add(line, "", f"{service_id} on {day.isoformat()} is also on line "
                                       f"{first}: give each patient's day once.")
    if problems.count:
        result.problems = problems.shown
        result.problem_count = problems.count
        return result
    del rows, seen
    _store(actor, organisation_id, result, plan_of, plan_list, good)
    return result


@transaction.atomic
def _store(actor, organisation_id, result, plan_of, plan_list, good) -> None:
    """Write the checked days: every one INSERTed, a day stored before left as it was
    (ON CONFLICT DO NOTHING, as fast as a plain INSERT); then, only if some were, those
    found and replaced where the report differs (an UPDATE each). A report the same as the
    stored one changes nothing."""
    by_index = {v[0]: (service_id, v[1], v[2]) for service_id, v in plan_of.items()}
    used = sorted({g[0] for g in good})
    adapt = adapter(DispensingDay, COLUMNS)
    now = timezone.now()
    source = DispensingSource.CSV.value
    # Database forms, made once per plan and per day (shared by every row naming them).
    *_, user_db, now_db = adapt((None, None, None, None, None, None, actor.user.pk, now))
    ids_db = {}
    for i in used:
        _sid, patient_id, plan_id = by_index[i]
        ids_db[i] = adapt((organisation_id, patient_id, plan_id, *[None] * 5))[:3]
    day_db = {day: adapt((None, None, None, day, *[None] * 4))[3]
              for day in {g[1] for g in good}}
    inserted = _write(_insert_sql("nothing"), (
        (*ids_db[index], day_db[day], status, source, user_db, now_db)
        for index, day, status in good))
    replaced: list[str] = []
    if inserted < len(good):  # some days were reported before
        mine = (source, actor.user.pk, now)
        before = _stored([plan_list[i] for i in used], min(day_db), max(day_db),
                         but=lambda row: row[3:] == mine)
        updates = []
        for index, day, status in good:
            old = before.get((plan_list[index], day))
            if old is not None and old != status:
                replaced.append(f"{by_index[index][0]} {day.isoformat()}: "
                                f"{STATUS_WORDS[old]} → {STATUS_WORDS[status]}")
                updates.append((status, source, user_db, now_db, ids_db[index][2],
                                day_db[day]))
        _write(_update_sql(), updates)
    result.days = len(good)
    result.replaced = len(replaced)
    result.patient_ids = [by_index[i][1] for i in used]
    result.reference = uuid.uuid4().hex
    # One event for the import, naming every patient in it by service ID and every earlier
    # report it replaced.
    named = ", ".join(sorted(by_index[i][0] for i in used))
    detail = (f"Imported {result.days:,} days for {result.patients:,} patients from the "
              f"pharmacy's file ({named}); {result.replaced:,} earlier reports replaced")
    if replaced:
        detail += ": " + "; ".join(replaced)
    record_by(actor, "create", object_type="dispensing-import", object_id=result.reference,
              detail=detail + ".")
    # Runs of missed days this file reported (a day of); a run it does not touch was there
    # before it.
    reported: dict = {}
    for index, day, status in good:
        if status == Taken.MISSED:
            reported.setdefault(plan_list[index], set()).add(day)
    result.missed = missed_runs(organisation_id, reported, result.missed_days_for_flag)
    _announce(organisation_id, result.patient_ids)


# --- missed runs ---------------------------------------------------------------------------


def _missed_counts_sql(marks: str) -> str:
    table = DispensingDay._meta.db_table
    return (f"SELECT plan_id FROM {table} WHERE plan_id IN ({marks}) AND status = %s "
            f"AND day >= %s GROUP BY plan_id HAVING COUNT(*) >= %s")


def missed_runs(organisation_id, reported: dict, k: int,
                today: datetime.date | None = None) -> list[MissedRun]:
    """The patients whose reports of the last weeks (`core.flags.DISPENSING_DAYS`, after any
    restart) hold a run of at least `k` missed days in a row that includes a day of
    `reported` ({plan id: the missed days just reported}): the latest such run of each. Runs
    are read as the missed-dose flag reads them (`core.flags.missed_runs`). A few queries for
    any number of plans: first those with at least `k` missed days at all."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(days=flag_rules.DISPENSING_DAYS)
    adapt = adapter(DispensingDay, ["plan_id", "day"])
    since_db = adapt((None, since))[1]
    candidates: list[uuid.UUID] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(list(reported)):
            cursor.execute(_missed_counts_sql(", ".join(["%s"] * len(chunk))),
                           [adapt((p, None))[0] for p in chunk]
                           + [Taken.MISSED.value, since_db, k])
            candidates += [_uuid(row[0]) for row in cursor.fetchall()]
    runs = []
    for chunk in _chunks(candidates, 500):
        recent: dict = {}
        for plan_id, day, status in (DispensingDay.objects
                                     .filter(plan_id__in=chunk, day__gte=since, day__lte=today)
                                     .values_list("plan_id", "day", "status")):
            recent.setdefault(plan_id, []).append((day, status))
        restarted: dict = {}
        for plan_id, made_at in DoseChange.objects.filter(
                plan_id__in=chunk, cancelled_at__isnull=True,
                kind=ChangeKind.RESTART).values_list("plan_id", "made_at"):
            on = timezone.localdate(made_at)
            restarted[plan_id] = max(on, restarted.get(plan_id, on))
        patients = {plan_id: (patient_id, service_id) for plan_id, patient_id, service_id in
                    MedicationPlan.objects.of(organisation_id).filter(pk__in=chunk)
                    .values_list("pk", "patient_id", "patient__service_id")}
        for plan_id in chunk:
            new = reported[plan_id]
            found = [run for run in flag_rules.missed_runs(recent.get(plan_id, []),
                                                           restarted.get(plan_id))
                     if len(run) >= k and not new.isdisjoint(run)]
            if found and plan_id in patients:
                run = found[-1]
                patient_id, service_id = patients[plan_id]
                runs.append(MissedRun(patient_id, service_id, len(run), run[0], run[-1]))
    return sorted(runs, key=lambda r: r.service_id)


def runs_in(days: Sequence[tuple[datetime.date, str]], k: int) -> list[list[datetime.date]]:
    """Every run of at least `k` missed days in a row among these reports (any order), read
    as the missed-dose flag reads them."""
    return [run for run in flag_rules.missed_runs(days) if len(run) >= k]
