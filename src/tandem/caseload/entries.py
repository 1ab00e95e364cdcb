"""The staff caseload, "who needs me today": one SQL statement gives a page of patients, their
open flags and the counts, whatever the caseload's size.

It reads each patient's caseload entry (models.CaseloadEntry: one row per patient, rewritten
by `refresh` below whenever what it summarises changes), never the tables behind it.

Each patient gets a *need* from their data, and the default order is by need:

    0-3  an open flag (urgent, high, medium, low: its most severe one)
    4    a care-plan review or a check-up overdue
    5    the current plan version waiting for a signature
    6    everyone else

The statements are written by hand: built with the ORM, compiling them cost more than running
them (bench/caseload_load.py). Every value reaches the database as a parameter; the tables,
statuses, roles and the severity order come from the models and the flag rules, and who may
see whom from the permission layer (`patients.access.visibility`), so none is stated twice.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import Team as TeamModel
from tandem.accounts.models import User
from tandem.assessment.models import CheckupSchedule
from tandem.core.flags import RULES, SEVERITY_ORDER
from tandem.medication.models import DispensingDay, Taken
from tandem.monitoring.models import Flag, FlagStatus
from tandem.patients.access import visibility
from tandem.patients.models import (
    OPEN_STATUSES,
    CareRole,
    CareTeam,
    CareTeamMember,
    CaseloadEntry,
    Episode,
    Patient,
)
from tandem.planning.care_plan import IN_FORCE
from tandem.planning.models import CarePlan, PlanVersion

SORT_LABELS = {
    "need": "Who needs me most",
    "name": "Name (A–Z)",
    "-name": "Name (Z–A)",
    "service_id": "Service ID",
    "status": "Episode status",
    "start": "Most recent episode",
}
SORTS = {
    "need": "need, flag_count DESC, checkup_due IS NULL, checkup_due, family_name, given_name",
    "name": "family_name, given_name, service_id",
    "-name": "family_name DESC, given_name DESC, service_id DESC",
    "service_id": "service_id",
    "status": "episode_status IS NULL, episode_status, family_name, given_name",
    "start": "episode_start IS NULL, episode_start DESC, family_name",
}
NEED_LABELS = {0: "Urgent", 1: "High", 2: "Medium", 3: "Low", 4: "Overdue",
               5: "Awaiting signature", 6: ""}
COUNTS = ("total", "urgent", "flagged", "overdue", "unsigned", "missed_doses",
          "medication_reviews_overdue")
# The flags behind the medication counts (patients with an open one of each), and the days of
# pharmacy reports each row shows its missed days from.
MISSED_DOSES, MEDICATION_REVIEW = "missed-doses", "medication-review-overdue"
MISSED_WEEK_DAYS = 7
MAX_ROWS = 2**31 - 1  # a limit or offset beyond any caseload, within every database's integer


@dataclass(frozen=True)
class Filters:
    search: str = ""
    team: int | None = None
    status: str = ""  # episode status
    rule: str = ""  # flag rule


@dataclass
class Team:
    id: int
    name: str


@dataclass
class OpenFlag:
    """What the caseload shows of an open flag."""

    id: object
    severity: str
    rule: str
    evidence: str
    url: str = ""

    @property
    def rule_title(self) -> str:
        spec = RULES.get(self.rule)
        return spec.title if spec else self.rule


@dataclass
class Row:
    """One patient of the caseload, with why they are there."""

    id: object
    service_id: str
    given_name: str
    family_name: str
    preferred_name: str
    team: Team
    episode_status: str | None
    episode_start: datetime.date | None
    my_care_role: str | None
    flag_rank: int | None
    flag_count: int
    checkup_due: datetime.date | None
    review_due: datetime.date | None
    awaiting_signature: bool
    need: int
    review_overdue: bool = False
    checkup_overdue: bool = False
    missed_days: int = 0  # days the pharmacy reported missed in the last 7
    open_flags: list = field(default_factory=list)
    due: list = field(default_factory=list)  # what is overdue or waiting, in words
    reasons: list = field(default_factory=list)

    @property
    def pk(self):
        return self.id

    @property
    def name(self) -> str:
        return f"{self.preferred_name or self.given_name} {self.family_name}"

    @property
    def urgent(self) -> bool:
        return self.flag_rank == 0

    @property
    def need_label(self) -> str:
        return NEED_LABELS.get(self.need, "")

    # Dates as the page shows them (formatted here: a template filter per cell is slow).
    @property
    def episode_start_text(self) -> str:
        return _short(self.episode_start)


def _short(day) -> str:
    return f"{day.day} {day:%b %Y}" if day else ""


def _quoted(values) -> str:
    """Constants of the code (statuses, roles), as SQL string literals."""
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


# The tables and constants the statements name, from the models and the rules.
NAMES = {
    "patient": Patient._meta.db_table, "episode": Episode._meta.db_table,
    "care_team": CareTeam._meta.db_table, "member": CareTeamMember._meta.db_table,
    "entry": CaseloadEntry._meta.db_table, "flag": Flag._meta.db_table,
    "schedule": CheckupSchedule._meta.db_table, "plan": CarePlan._meta.db_table,
    "version": PlanVersion._meta.db_table, "team": TeamModel._meta.db_table,
    "user": User._meta.db_table, "dispensing": DispensingDay._meta.db_table,
    "missed": _quoted([Taken.MISSED]), "missed_rule": _quoted([MISSED_DOSES]),
    "review_rule": _quoted([MEDICATION_REVIEW]),
    "open_flag": _quoted([FlagStatus.ACTIVE]), "keyworker": _quoted([CareRole.KEYWORKER]),
    "open_episode": _quoted(OPEN_STATUSES), "plan_in_force": _quoted(IN_FORCE),
    # The most severe open flag: 0 (the first of core.flags.SEVERITIES) first.
    "severity_rank": "CASE f.severity " + " ".join(
        f"WHEN {_quoted([s])} THEN {n}" for s, n in SEVERITY_ORDER.items()) + " END",
}

# Each patient's entry, from the tables it summarises (see models.CaseloadEntry).
ENTRY_COLUMNS = ("patient_id", "organisation_id", "team_id", "service_id", "given_name",
                 "family_name", "preferred_name", "episode_status", "episode_start", "flag_rank",
                 "flag_count", "checkup_due", "review_due", "awaiting_signature", "keyworker_id")
ENTRIES = """
SELECT p.id, p.organisation_id, p.team_id, p.service_id, p.given_name, p.family_name,
  p.preferred_name, e.status, e.start_date,
  (SELECT MIN({severity_rank}) FROM {flag} f
   WHERE f.patient_id = p.id AND f.status = {open_flag}),
  (SELECT COUNT(*) FROM {flag} f WHERE f.patient_id = p.id AND f.status = {open_flag}),
  s.next_due, cp.review_date,
  CASE WHEN v.id IS NOT NULL
        AND (v.patient_signed_at IS NULL OR v.practitioner_signed_at IS NULL)
       THEN TRUE ELSE FALSE END,
  (SELECT m.user_id FROM {care_team} ct
   JOIN {member} m ON m.care_team_id = ct.id
   WHERE ct.patient_id = p.id AND m.role = {keyworker} AND m.user_id IS NOT NULL
     AND m.start_date <= %s AND (m.end_date IS NULL OR m.end_date >= %s)
   ORDER BY m.start_date, m.user_id LIMIT 1)
FROM {patient} p
LEFT JOIN {episode} e ON e.id = (
    SELECT e2.id FROM {episode} e2 WHERE e2.patient_id = p.id
    ORDER BY e2.start_date DESC, e2.id DESC LIMIT 1)
LEFT JOIN {schedule} s ON s.patient_id = p.id
LEFT JOIN {plan} cp ON cp.id = (
    SELECT cp2.id FROM {plan} cp2
    WHERE cp2.patient_id = p.id AND cp2.status IN ({plan_in_force})
    ORDER BY cp2.created_at DESC LIMIT 1)
LEFT JOIN {version} v ON v.id = (
    SELECT v2.id FROM {version} v2 WHERE v2.plan_id = cp.id
    ORDER BY v2.number DESC LIMIT 1)
""".format(**NAMES)

SQL = """
WITH roles AS (
    SELECT ct.patient_id, MIN(m.role) AS my_care_role
    FROM {member} m JOIN {care_team} ct ON ct.id = m.care_team_id
    WHERE m.user_id = %(user)s AND m.start_date <= %(today)s
      AND (m.end_date IS NULL OR m.end_date >= %(today)s)
    GROUP BY ct.patient_id
),
needs AS NOT MATERIALIZED (
    SELECT c.patient_id AS id, c.service_id, c.given_name, c.family_name, c.preferred_name,
      c.team_id, c.episode_status, c.episode_start, c.flag_rank, c.flag_count, c.checkup_due,
      c.review_due, c.awaiting_signature,
      CASE WHEN c.review_due < %(today)s THEN 1 ELSE 0 END AS review_overdue,
      CASE WHEN c.checkup_due < %(today)s
                AND c.episode_status IN ({open_episode}) THEN 1 ELSE 0 END
        AS checkup_overdue
    FROM {entry} c
    WHERE c.organisation_id = %(org)s AND ({{visible}}) {{where}}
),
ranked AS NOT MATERIALIZED (
    SELECT needs.*,
      CASE WHEN flag_rank IS NOT NULL THEN flag_rank
           WHEN review_overdue = 1 OR checkup_overdue = 1 THEN 4
           WHEN awaiting_signature THEN 5 ELSE 6 END AS need
    FROM needs
),
counts AS (
    SELECT COUNT(*) AS total,
      SUM(CASE WHEN flag_rank = 0 THEN 1 ELSE 0 END) AS urgent,
      SUM(CASE WHEN flag_rank IS NOT NULL THEN 1 ELSE 0 END) AS flagged,
      SUM(CASE WHEN review_overdue = 1 OR checkup_overdue = 1 THEN 1 ELSE 0 END) AS overdue,
      SUM(CASE WHEN awaiting_signature THEN 1 ELSE 0 END) AS unsigned,
      SUM(CASE WHEN flag_rank IS NULL THEN 0
               WHEN EXISTS (SELECT 1 FROM {flag} f WHERE f.patient_id = needs.id
                            AND f.status = {open_flag} AND f.rule = {missed_rule})
               THEN 1 ELSE 0 END) AS missed_doses,
      SUM(CASE WHEN flag_rank IS NULL THEN 0
               WHEN EXISTS (SELECT 1 FROM {flag} f WHERE f.patient_id = needs.id
                            AND f.status = {open_flag} AND f.rule = {review_rule})
               THEN 1 ELSE 0 END) AS medication_reviews_overdue
    FROM needs
),
page AS (
    SELECT * FROM ranked ORDER BY {{order}} LIMIT %(limit)s OFFSET %(offset)s
)
SELECT page.*, roles.my_care_role, t.name AS team_name, counts.*, f.id AS flag_id,
  f.severity AS flag_severity, f.rule AS flag_rule, f.evidence AS flag_evidence,
  (SELECT COUNT(*) FROM {dispensing} d WHERE d.patient_id = page.id AND d.status = {missed}
     AND d.day > %(week_ago)s AND d.day <= %(today)s) AS missed_days
FROM counts LEFT JOIN page ON 1 = 1
LEFT JOIN roles ON roles.patient_id = page.id
LEFT JOIN {team} t ON t.id = page.team_id
LEFT JOIN (
    SELECT * FROM {flag}
    WHERE status = {open_flag} AND patient_id IN (SELECT id FROM page)
) f ON f.patient_id = page.id
ORDER BY {{order}}, f.raised_at
""".format(**NAMES)


def _date(value):
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def caseload(user, filters: Filters | None = None, *, sort: str = "need", limit: int = 25,
             offset: int = 0, today: datetime.date | None = None) -> tuple[list[Row], dict]:
    """One page of the patients this user may see as staff, and the counts of all of them."""
    filters = filters or Filters()
    today = today or timezone.localdate()
    ops = connection.ops
    # Past the end is an empty page (the page then shows the last one), never a number too
    # large for the database's integer (`?page=99999999999999999999`).
    limit, offset = min(max(limit, 0), MAX_ROWS), min(max(offset, 0), MAX_ROWS)
    params = {"user": user.pk, "org": user.organisation_id,
              "today": ops.adapt_datefield_value(today), "limit": limit, "offset": offset,
              "week_ago": ops.adapt_datefield_value(
                  today - datetime.timedelta(days=MISSED_WEEK_DAYS))}
    # Who this user may see: the permission layer's rule, as SQL over the entries.
    visible, visible_params = visibility(user).sql(
        patient="c.patient_id", team="c.team_id", on_my_care_teams="SELECT patient_id FROM roles")
    if not visible:
        return [], dict.fromkeys(COUNTS, 0)
    params.update(visible_params)
    where = []
    search = filters.search.strip()
    if search:
        params["q"] = _like(search)
        where.append("AND (" + " OR ".join(
            f"LOWER(c.{column}) LIKE %(q)s ESCAPE '\\'"
            for column in ("family_name", "given_name", "preferred_name", "service_id")) + ")")
    if filters.team:
        params["team"] = filters.team
        where.append("AND c.team_id = %(team)s")
    if filters.rule:
        params["rule"] = filters.rule
        where.append(f"AND EXISTS (SELECT 1 FROM {NAMES['flag']} f"
                     f" WHERE f.patient_id = c.patient_id AND f.status = {NAMES['open_flag']}"
                     " AND f.rule = %(rule)s)")
    if filters.status:
        params["status"] = filters.status
        where.append("AND c.episode_status = %(status)s")
    # Anyone with an open urgent alert comes first, whatever the sort.
    urgent_first = "" if sort == "need" else "CASE WHEN flag_rank = 0 THEN 0 ELSE 1 END, "
    sql = SQL.format(visible=visible, where=" ".join(where),
                     order=urgent_first + SORTS.get(sort, SORTS["need"]))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        found = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    # The counts come on every row, and on a row of their own past the last page; a patient
    # comes once per open flag.
    counts = {k: int(found[0][k] or 0) for k in COUNTS}
    rows: dict = {}
    for r in found:
        if r["id"] is None:
            continue
        row = rows.get(r["id"])
        if row is None:
            row = rows[r["id"]] = Row(
                id=_uuid(r["id"]), service_id=r["service_id"], given_name=r["given_name"],
                family_name=r["family_name"], preferred_name=r["preferred_name"],
                team=Team(r["team_id"], r["team_name"]), episode_status=r["episode_status"],
                episode_start=_date(r["episode_start"]), my_care_role=r["my_care_role"],
                flag_rank=r["flag_rank"], flag_count=int(r["flag_count"] or 0),
                checkup_due=_date(r["checkup_due"]), review_due=_date(r["review_due"]),
                awaiting_signature=bool(r["awaiting_signature"]), need=int(r["need"]),
                review_overdue=bool(r["review_overdue"]),
                checkup_overdue=bool(r["checkup_overdue"]),
                missed_days=int(r["missed_days"] or 0))
        if r["flag_id"] is not None:
            row.open_flags.append(OpenFlag(_uuid(r["flag_id"]), r["flag_severity"],
                                           r["flag_rule"], r["flag_evidence"]))
    return list(rows.values()), counts


# An entry is only written when something in it changed ({distinct}: IS DISTINCT FROM, or
# SQLite's IS NOT), so the nightly rewrite of every entry leaves unchanged rows alone.
UPSERT = (f"INSERT INTO {NAMES['entry']} ({', '.join(ENTRY_COLUMNS)}) {ENTRIES}"
          " WHERE {ids} ON CONFLICT (patient_id) DO UPDATE SET "
          + ", ".join(f"{c} = excluded.{c}" for c in ENTRY_COLUMNS[1:])
          + " WHERE " + " OR ".join(f"{NAMES['entry']}.{c} {{distinct}} excluded.{c}"
                                    for c in ENTRY_COLUMNS[1:]))
CHUNK = 500


def _today(today) -> list:
    """The parameters ENTRIES takes: today's date, for whose keyworking is current."""
    return [connection.ops.adapt_datefield_value(today or timezone.localdate())] * 2


def refresh(patient_ids=None, today: datetime.date | None = None) -> None:
    """Rewrite the caseload entries of these patients (every patient's when None) from the
    tables they summarise, 500 patients at a time.

    Each batch first locks its patients' rows: on PostgreSQL two transactions changing one
    patient (a worker raising a flag while a practitioner signs the plan) would otherwise each
    write the entry from a snapshot without the other's change. The lock makes the second wait
    for the first to commit, and its statement then sees both. It is FOR NO KEY UPDATE, so rows
    that only refer to the patient are not held up; on SQLite writers take turns anyway.
    """
    pk = Patient._meta.pk
    if patient_ids is None:
        ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(dict.fromkeys(pk.to_python(i) for i in patient_ids))
    distinct = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        with transaction.atomic(), connection.cursor() as cursor:
            list(Patient.objects.select_for_update(no_key=True).filter(pk__in=chunk)
                 .order_by("pk").values_list("pk"))
            cursor.execute(UPSERT.format(ids=f"p.id IN ({marks})", distinct=distinct),
                           _today(today) + [pk.get_db_prep_value(i, connection) for i in chunk])


def stale_entries(today: datetime.date | None = None) -> list:
    """The patients whose caseload entry does not match their data: always none, unless a
    write went round `refresh` (the tests check this after every test)."""
    with connection.cursor() as cursor:
        cursor.execute(ENTRIES, _today(today))
        fresh = {r[0]: tuple(r) for r in cursor.fetchall()}
        cursor.execute(f"SELECT {', '.join(ENTRY_COLUMNS)} FROM {NAMES['entry']}")
        kept = {r[0]: tuple(r) for r in cursor.fetchall()}
    return sorted(str(p) for p in fresh.keys() | kept.keys() if fresh.get(p) != kept.get(p))


def _uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


ZERO = "00000000-0000-0000-0000-000000000000"


def with_reasons(rows) -> None:
    """Say why each row is there (its open flags, most severe first, and what is overdue), and
    give each row and flag its link (URLs reversed once, not once per row)."""
    detail = reverse("patients:detail", args=[ZERO])
    flag_url = reverse("patients:flag", args=[ZERO, ZERO])
    for r in rows:
        r.url = detail.replace(ZERO, str(r.id))
        r.open_flags.sort(key=lambda f: SEVERITY_ORDER[f.severity])
        for f in r.open_flags:
            f.url = flag_url.replace(ZERO, str(r.id), 1).replace(ZERO, str(f.id), 1)
        # What is due besides the flags, in the words the page and the API both use.
        r.due = [text for shown, text in (
            (r.review_overdue, f"Care-plan review overdue since {_short(r.review_due)}"),
            (r.checkup_overdue, f"Check-up overdue since {_short(r.checkup_due)}"),
            (r.awaiting_signature, "Care-plan version waiting for a signature"),
            # Missed days short of the urgent flag (whose evidence names them already).
            (r.missed_days and not any(f.rule == MISSED_DOSES for f in r.open_flags),
             f"Doses missed on {r.missed_days} of the last {MISSED_WEEK_DAYS} days "
             "(pharmacy reports)"),
        ) if shown]
        r.reasons = [f"{f.rule_title}: {f.evidence}" for f in r.open_flags] + r.due


LOADS = """
SELECT loads.*, u.first_name, u.last_name
FROM (
    SELECT c.keyworker_id AS user_id, COUNT(*) AS patients,
      SUM(CASE WHEN c.flag_rank IS NOT NULL THEN 1 ELSE 0 END) AS flagged,
      SUM(CASE WHEN c.flag_rank = 0 THEN 1 ELSE 0 END) AS urgent,
      SUM(CASE WHEN c.checkup_due < %(today)s
          AND c.episode_status IN ({open_episode}) THEN 1 ELSE 0 END) AS overdue
    FROM {entry} c
    WHERE c.organisation_id = %(org)s AND c.team_id IN ({{teams}})
      AND c.keyworker_id IS NOT NULL
    GROUP BY c.keyworker_id
) loads JOIN {user} u ON u.id = loads.user_id
ORDER BY patients DESC, u.last_name, u.first_name
""".format(**NAMES)


def practitioner_loads(organisation_id, team_ids, today: datetime.date | None = None) -> list:
    """Each keyworker's load in these teams of the organisation (one query): their patients,
    those with open flags, with an urgent one, and with a check-up overdue."""
    params = {"org": organisation_id,
              "today": connection.ops.adapt_datefield_value(today or timezone.localdate())}
    names = [f"team_{n}" for n in range(len(team_ids))]
    params.update(zip(names, sorted(team_ids), strict=True))
    with connection.cursor() as cursor:
        cursor.execute(LOADS.format(teams=", ".join(f"%({n})s" for n in names)), params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
