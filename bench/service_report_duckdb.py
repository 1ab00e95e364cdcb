"""The service report's figures worked out again, independently, in DuckDB, for
bench/service_report.py.

Two parts:

- `export` (untimed): the rows the figures read, and only the columns they read, written from the
  service's database (SQLite or PostgreSQL) to one CSV file per table; `load` (untimed) reads
  them into DuckDB tables in memory. The only work done on the way is taking the scale values the
  figures read out of the JSON of each questionnaire's scores (`alcohol_days`, ..., `total`,
  `overall`) into plain number columns (DuckDB's JSON reader, in `load`), and the two sharing
  answers of the Treatment Outcomes Profile out of its answers JSON as JSON text (`true`) in the
  export's SQL. Dates and times are exported as stored (times in UTC); turning a time into its
  local (Europe/London) date is done in the timed queries, as the report does.
- `figures` (timed by the bench): every figure of the report for one period, written from the
  figure's definition and its module's docstring (reporting/figures/*.py, goals.py among them,
  reporting/scope.py), in plain SQL over those tables. Nothing here imports the figures or their
  querysets; the only things taken from Tandem are data a definition names: the substitute
  medicines (medication registry), the check-up settings, and each questionnaire's SD and
  reliability for reliable change (instrument files; the threshold is worked out here), or, for
  a questionnaire whose SD is the service's own (the K10), its reliability and the fewest first
  scores (reporting/figures/outcomes.py SERVICE_SD, FEWEST_FIRST_SCORES; the SD is worked out
  here).

Months are added and taken away with DuckDB's own interval arithmetic (which keeps to the month's
last day, as Tandem's rules do), so the report's month arithmetic is checked, not copied.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

from tandem.core.report import Period, Value

# (DuckDB table, Django model label, [(column, kind)]); kinds: id (uuid as 32 hex digits), int,
# text, date, ts (UTC), bool (0/1), float, scores (JSON text), answer:<key> (JSON text of one
# key of `answers`).
TABLES = [
    ("episode", "patients.Episode", [
        ("id", "id"), ("patient_id", "id"), ("organisation_id", "int"), ("start_date", "date"),
        ("exit_date", "date"), ("exit_reason", "text"), ("status", "text"),
        ("closed_date", "date")]),
    ("response", "assessment.Response", [
        ("id", "id"), ("patient_id", "id"), ("episode_id", "id"), ("instrument_code", "text"),
        ("status", "text"), ("completed_at", "ts"), ("completed_on", "date"),
        ("scores", "scores"), ("shared_needle", "answer:inject_shared_needle"),
        ("shared_equipment", "answer:inject_shared_equipment")]),
    ("checkupschedule", "assessment.CheckupSchedule", [
        ("patient_id", "id"), ("organisation_id", "int"), ("interval_weeks", "int")]),
    ("goal", "planning.Goal", [
        ("id", "id"), ("patient_id", "id"), ("episode_id", "id"), ("priority", "int"),
        ("lifecycle_status", "text"), ("goal_type", "text"), ("goal_type_chosen_by", "text"),
        ("created_at", "ts"), ("updated_at", "ts")]),
    ("goaltypechange", "planning.GoalTypeChange", [
        ("id", "int"), ("goal_id", "id"), ("changed_at", "ts"), ("from_type", "text"),
        ("to_type", "text"), ("chosen_by", "text")]),
    ("careplan", "planning.CarePlan", [
        ("id", "id"), ("patient_id", "id"), ("status", "text"), ("review_date", "date"),
        ("updated_at", "ts")]),
    ("review", "planning.Review", [
        ("id", "id"), ("plan_id", "id"), ("held_on", "date"), ("next_review", "date"),
        ("t_score_patient", "float")]),
    ("goalrating", "planning.GoalRating", [
        ("id", "int"), ("goal_id", "id"), ("review_id", "id"), ("patient_level", "int"),
        ("practitioner_level", "int")]),
    ("medicationplan", "medication.MedicationPlan", [
        ("id", "id"), ("patient_id", "id"), ("medicine", "text"), ("status", "text"),
        ("started_on", "date"), ("stopped_on", "date")]),
    ("medicationreview", "medication.MedicationReview", [
        ("id", "id"), ("plan_id", "id"), ("held_on", "date"), ("goal_discussed", "bool")]),
    ("reduction", "medication.Reduction", [
        ("id", "int"), ("plan_id", "id"), ("started_on", "date")]),
    ("reductionevent", "medication.ReductionEvent", [
        ("id", "int"), ("reduction_id", "int"), ("kind", "text"), ("on", "date")]),
    ("flag", "monitoring.Flag", [
        ("id", "id"), ("patient_id", "id"), ("rule", "text"), ("severity", "text"),
        ("status", "text"), ("raised_at", "ts"), ("acknowledged_at", "ts"),
        ("resolved_at", "ts"), ("resolved_by_id", "int")]),
]
# Questionnaires whose scores JSON the figures read.
SCORED = ("top", "phq9", "gad7", "k10", "life-domains")
# Scale values taken out of the scores JSON into columns (in `load`).
SCALES = ("alcohol_days", "opioids_days", "crack_days", "cocaine_days", "amphetamines_days",
          "cannabis_days", "other_days", "inject_days", "total", "overall")
DUCK_TYPES = {"id": "VARCHAR", "int": "BIGINT", "text": "VARCHAR", "date": "DATE",
              "ts": "TIMESTAMP", "bool": "INTEGER", "float": "DOUBLE", "scores": "VARCHAR"}


def _select(vendor: str, table: str, columns: list[tuple[str, str]]) -> str:
    from django.apps import apps

    model = apps.get_model(_label(table))
    parts = []
    for name, kind in columns:
        col = '"on"' if name == "on" else name
        field = {f.name: f for f in model._meta.concrete_fields}.get(
            name.removesuffix("_id") if name.endswith("_id") else name)
        source = col if field is None else f'"{field.column}"'
        if kind == "id" and vendor == "postgresql":
            parts.append(f"replace(CAST({source} AS text), '-', '')")
        elif kind == "ts" and vendor == "postgresql":
            parts.append(f"({source} AT TIME ZONE 'UTC')")
        elif kind == "bool":
            parts.append(f"CASE WHEN {source} THEN 1 ELSE 0 END")
        elif kind == "scores":
            codes = ", ".join(f"'{c}'" for c in SCORED)
            parts.append(f"CASE WHEN instrument_code IN ({codes}) THEN CAST(scores AS text) END")
        elif kind.startswith("answer:"):
            key = kind.split(":", 1)[1]
            if vendor == "postgresql":
                parts.append(f"CAST(answers -> '{key}' AS text)")
            else:  # SQLite's JSON1: 'true'/'false' for booleans, else the value
                parts.append(f"CASE json_type(answers, '$.{key}') WHEN 'true' THEN 'true' "
                             f"WHEN 'false' THEN 'false' ELSE json_extract(answers, '$.{key}') "
                             "END")
        else:
            parts.append(source)
    return f"SELECT {', '.join(parts)} FROM {model._meta.db_table}"


def _label(table: str) -> str:
    return next(label for name, label, _ in TABLES if name == table)


def export(connection, folder: str) -> dict[str, int]:
    """Write each table's columns to `folder`/<table>.csv (header, then rows; NULL as an empty
    field). Returns the rows written per table."""
    import sqlite3

    written = {}
    if connection.vendor == "sqlite":
        # A plain connection of its own, read-only, so values come back as stored (text).
        path = connection.settings_dict["NAME"]
        # (The tests' database is a URI already: one in memory that connections share.)
        uri = str(path) if str(path).startswith("file:") else f"file:{path}?mode=ro"
        raw = sqlite3.connect(uri, uri=True)
        try:
            for table, _, columns in TABLES:
                out = os.path.join(folder, f"{table}.csv")
                cursor = raw.execute(_select("sqlite", table, columns))
                with open(out, "w", newline="") as f:
                    writer = csv.writer(f)
                    writer.writerow([c for c, _ in columns])
                    n = 0
                    while rows := cursor.fetchmany(50_000):
                        writer.writerows(rows)
                        n += len(rows)
                written[table] = n
        finally:
            raw.close()
        return written
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        for table, _, columns in TABLES:
            out = os.path.join(folder, f"{table}.csv")
            sql = _select("postgresql", table, columns)
            with open(out, "wb") as f:
                f.write((",".join(c for c, _ in columns) + "\n").encode())
                with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                    for data in copy:
                        f.write(data)
            cursor.execute(f"SELECT count(*) FROM ({sql}) t")
            written[table] = cursor.fetchone()[0]
    connection.connection.commit()
    return written


def load(duck, folder: str) -> None:
    """Read the exported files into DuckDB tables (untimed). Text columns the models hold as
    not null come back as '' where CSV cannot tell '' from NULL. The scale values are taken out
    of the scores JSON here."""
    for table, _, columns in TABLES:
        types = ", ".join(f"'{c}': '{DUCK_TYPES.get(k, 'VARCHAR')}'" for c, k in columns)
        path = os.path.join(folder, f"{table}.csv").replace("'", "''")
        select = []
        for name, kind in columns:
            quoted = f'"{name}"'
            if kind == "text":
                select.append(f"coalesce({quoted}, '') AS {quoted}")
            elif kind == "scores":
                select += [f"TRY_CAST(json_extract_string(scores, '$.{s}') AS DOUBLE) AS {s}"
                           for s in SCALES]
            else:
                select.append(quoted)
        duck.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(select)} FROM "
                     f"read_csv('{path}', header=true, auto_detect=false, quote='\"', "
                     f"escape='\"', columns={{{types}}})")
    duck.execute("CREATE OR REPLACE MACRO local_date(ts) AS "
                 "CAST(timezone('Europe/London', timezone('UTC', ts)) AS DATE)")


# --- the figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What the figures take from Tandem's data and configuration (untimed)."""

    organisation_id: int
    substitutes: tuple[str, ...]  # substitute medicines (medication registry)
    interval_weeks: int  # the service's check-up interval (check-up settings, or defaults)
    post_exit_every_months: int
    post_exit_for_months: int
    checkup_codes: tuple[str, ...]
    thresholds: dict  # {"phq9": points or None, ...}
    service_sd: dict  # {"k10": reliability}: the SD is the service's own
    fewest_first_scores: int


def setup(organisation_id: int) -> Setup:
    from tandem.assessment import registry
    from tandem.assessment.models import CheckupSettings
    from tandem.medication import registry as medicines
    from tandem.reporting.figures.outcomes import FEWEST_FIRST_SCORES, SERVICE_SD

    found = (CheckupSettings.objects.filter(organisation_id=organisation_id).first()
             or CheckupSettings())
    thresholds = {}
    for code in ("phq9", "gad7", "k10"):
        rc = registry.shipped()[code].primary.reliable_change
        # Jacobson & Truax 1991: 1.96 × √2 × SE, SE = SD × √(1 − r).
        thresholds[code] = (None if rc is None else
                            1.96 * math.sqrt(2) * rc.sd * math.sqrt(1 - rc.reliability))
    return Setup(
        organisation_id,
        tuple(sorted(c for c, m in medicines.medicines().items() if m.substitute)),
        found.interval_weeks, found.post_exit_every_months, found.post_exit_for_months,
        tuple(found.instrument_codes()), thresholds,
        {code: reliability for code, (reliability, _) in SERVICE_SD.items()},
        FEWEST_FIRST_SCORES)


GOAL_KINDS = ("abstinence-all", "abstinence-problem", "working-towards", "controlled",
              "harm-reduction", "stabilising")
COMPLETED = "('completed', 'amended')"
SUCCESSFUL = "('completed_free', 'completed_occasional')"
USE = ("alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis")
ANY = (*USE, "other")


def _d(day) -> str:
    return f"DATE '{day.isoformat()}'"


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _one(duck, sql: str) -> tuple:
    return duck.execute(sql).fetchone()


def _share(row) -> Value:
    count, of = row
    return Value(count=int(count or 0), of=int(of or 0))


def _mean(row) -> Value:
    value, people = row
    return Value(value=None if value is None else float(value), people=int(people))


def _in_treatment(duck, name: str, org: int, start: str, end: str) -> None:
    """One row per patient: their latest episode open on a day of the period, among every
    episode of theirs (the latest start; on the same start, the later end, an open one latest;
    then the greater id), kept if it is the organisation's."""
    duck.execute(f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT * FROM (
            SELECT * FROM episode
            WHERE start_date <= {end} AND (exit_date IS NULL OR exit_date >= {start})
            QUALIFY row_number() OVER (
                PARTITION BY patient_id
                ORDER BY start_date DESC, coalesce(exit_date, DATE '9999-12-31') DESC,
                         id DESC) = 1)
        WHERE organisation_id = {org}""")


def _current_plan(alias: str, day: str, subst: str) -> str:
    return (f"({alias}.medicine IN {subst} AND {alias}.started_on <= {day} AND "
            f"({alias}.status = 'active' OR ({alias}.status = 'stopped' AND "
            f"{alias}.stopped_on > {day})))")


def figures(duck, s: Setup, period: Period) -> dict[str, Value]:
    """Every figure for one period, by key."""
    org = s.organisation_id
    S, E = _d(period.start), _d(period.end)
    subst = _in(s.substitutes)
    out: dict[str, Value] = {}
    _in_treatment(duck, "it", org, S, E)
    duck.execute("CREATE OR REPLACE TEMP TABLE itp AS SELECT DISTINCT patient_id FROM it")

    # --- the substance goal at the end (goals.py) ---
    duck.execute(f"""
        CREATE OR REPLACE TEMP TABLE goal_end AS
        WITH g AS (
            SELECT g.* FROM goal g JOIN it ON g.episode_id = it.id
            WHERE local_date(g.created_at) <= {E}
              AND g.lifecycle_status NOT IN ('entered-in-error', 'rejected')
              AND NOT (g.lifecycle_status = 'cancelled' AND local_date(g.updated_at) <= {E})),
        c AS (SELECT c.*, local_date(c.changed_at) <= {E} AS by_end
              FROM goaltypechange c JOIN g ON g.id = c.goal_id),
        before AS (SELECT goal_id, to_type, chosen_by FROM c WHERE by_end
                   QUALIFY row_number() OVER (PARTITION BY goal_id
                                              ORDER BY changed_at DESC, id DESC) = 1),
        after AS (SELECT goal_id, from_type FROM c WHERE NOT by_end
                  QUALIFY row_number() OVER (PARTITION BY goal_id ORDER BY changed_at, id) = 1),
        k AS (SELECT g.episode_id, g.priority, g.created_at, g.id,
                     coalesce(b.to_type, a.from_type, g.goal_type) AS kind,
                     coalesce(b.chosen_by, CASE WHEN a.goal_id IS NOT NULL THEN ''
                                                ELSE g.goal_type_chosen_by END) AS chooser
              FROM g LEFT JOIN before b ON b.goal_id = g.id LEFT JOIN after a ON a.goal_id = g.id)
        SELECT episode_id, kind, chooser FROM k WHERE kind <> ''
        QUALIFY row_number() OVER (PARTITION BY episode_id
                                   ORDER BY priority, created_at DESC, id DESC) = 1""")
    kinds = dict(duck.execute("""
        SELECT coalesce(ge.kind, ''), count(*) FROM it LEFT JOIN goal_end ge
          ON ge.episode_id = it.id GROUP BY 1""").fetchall())
    everyone = sum(kinds.values())
    for kind in (*GOAL_KINDS, "undecided"):
        out[f"goal-kind-{kind}"] = Value(count=kinds.get("" if kind == "undecided" else kind, 0),
                                         of=everyone)
    out["goal-chosen-by-patient"] = _share(_one(duck, """
        SELECT count(*) FILTER (WHERE chooser IN ('patient', 'both')), count(*)
        FROM it JOIN goal_end ge ON ge.episode_id = it.id"""))
    out["goal-kind-changed"] = Value(count=_one(duck, f"""
        SELECT count(DISTINCT g.patient_id) FROM goaltypechange c JOIN goal g ON g.id = c.goal_id
        WHERE g.patient_id IN (SELECT patient_id FROM itp)
          AND local_date(c.changed_at) BETWEEN {S} AND {E}
          AND c.from_type <> '' AND c.from_type <> c.to_type
          AND g.lifecycle_status NOT IN ('entered-in-error', 'rejected')""")[0])

    # --- substitute medication at the end ---
    m3 = f"CAST({E} - INTERVAL 3 MONTH AS DATE)"
    m12 = f"CAST({E} - INTERVAL 12 MONTH AS DATE)"
    duck.execute(f"""
        CREATE OR REPLACE TEMP TABLE onmed AS
        WITH plans AS (SELECT p.patient_id, max(p.started_on) AS started FROM medicationplan p
                       WHERE {_current_plan('p', E, subst)} GROUP BY p.patient_id)
        SELECT it.id, it.patient_id, plans.started FROM it JOIN plans USING (patient_id)""")
    out["on-medication"] = Value(count=_one(duck, "SELECT count(*) FROM onmed")[0])
    out["medication-days-on"] = _mean(_one(duck, f"""
        SELECT quantile_cont({E} - started, 0.5), count(*) FROM onmed"""))

    def reviewed(since: str, extra: str = "") -> Value:
        return _share(_one(duck, f"""
            SELECT count(*) FILTER (WHERE EXISTS (
                SELECT 1 FROM medicationreview r JOIN medicationplan p ON p.id = r.plan_id
                WHERE p.patient_id = o.patient_id AND r.held_on BETWEEN {since} AND {E}
                {extra})), count(*)
            FROM onmed o"""))

    out["medication-reviewed-3m"] = reviewed(m3)
    out["medication-goal-discussed-12m"] = reviewed(m12, "AND r.goal_discussed = 1")
    out["medication-reducing"] = _share(_one(duck, f"""
        SELECT count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM reduction r JOIN medicationplan p ON p.id = r.plan_id
            WHERE p.patient_id = o.patient_id AND {_current_plan('p', E, subst)}
              AND r.started_on <= {E}
              AND NOT EXISTS (SELECT 1 FROM reductionevent ev WHERE ev.reduction_id = r.id
                              AND ev.kind IN ('finished', 'stopped') AND ev."on" <= {E}))),
            count(*)
        FROM onmed o"""))
    out["reducing-paused-or-reversed"] = _share(_one(duck, f"""
        WITH rows AS (
            SELECT it.* FROM it WHERE EXISTS (
                SELECT 1 FROM reduction r JOIN medicationplan p ON p.id = r.plan_id
                WHERE p.patient_id = it.patient_id AND p.medicine IN {subst}
                  AND p.started_on <= {E}
                  AND (p.status = 'active' OR p.stopped_on >= {S})
                  AND r.started_on <= {E}
                  AND NOT EXISTS (SELECT 1 FROM reductionevent ev WHERE ev.reduction_id = r.id
                                  AND ev.kind IN ('finished', 'stopped') AND ev."on" < {S})))
        SELECT count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM reductionevent ev JOIN reduction r ON r.id = ev.reduction_id
              JOIN medicationplan p ON p.id = r.plan_id
            WHERE p.patient_id = rows.patient_id AND ev.kind IN ('paused', 'reversed')
              AND ev."on" BETWEEN {S} AND {E})), count(*)
        FROM rows"""))

    # --- harm: first and latest profile by the end ---
    duck.execute(f"""
        CREATE OR REPLACE TEMP TABLE tops AS
        SELECT r.*, row_number() OVER (PARTITION BY r.episode_id ORDER BY completed_at, r.id) AS up,
               row_number() OVER (PARTITION BY r.episode_id
                                  ORDER BY completed_at DESC, r.id DESC) AS down,
               count(*) OVER (PARTITION BY r.episode_id) AS n
        FROM response r JOIN it ON it.id = r.episode_id
        WHERE r.instrument_code = 'top' AND r.status IN {COMPLETED} AND r.completed_on <= {E}""")
    shared = ("(coalesce(shared_needle = 'true', false) "
              "OR coalesce(shared_equipment = 'true', false))")
    row = _one(duck, f"""
        WITH p AS (
            SELECT episode_id,
                   max(inject_days) FILTER (WHERE up = 1) AS first_inject,
                   max(inject_days) FILTER (WHERE down = 1) AS latest_inject,
                   bool_or({shared}) FILTER (WHERE up = 1) AS first_shared,
                   bool_or({shared}) FILTER (WHERE down = 1) AS latest_shared
            FROM tops WHERE n >= 2 GROUP BY episode_id)
        SELECT count(*) FILTER (WHERE first_inject > 0), count(*) FILTER (WHERE latest_inject > 0),
               count(*) FILTER (WHERE first_shared), count(*) FILTER (WHERE latest_shared),
               count(*)
        FROM p""")
    for key, count in zip(("injecting-at-start", "injecting-latest", "sharing-at-start",
                           "sharing-latest"), row[:4], strict=True):
        out[key] = Value(count=count, of=row[4])
    duck.execute("""
        CREATE OR REPLACE TEMP TABLE flags AS
        SELECT f.*, local_date(raised_at) AS raised_on, local_date(acknowledged_at) AS ack_on,
               local_date(resolved_at) AS resolved_on
        FROM flag f WHERE patient_id IN (SELECT patient_id FROM itp)
          AND status <> 'entered-in-error'""")
    out["overdose-risk-flags"] = Value(count=_one(duck, f"""
        SELECT count(DISTINCT patient_id) FROM flags WHERE raised_on BETWEEN {S} AND {E}
          AND rule IN ('return-to-use', 'missed-doses')""")[0])
    out["urgent-acknowledged-same-day"] = _share(_one(duck, f"""
        SELECT count(*) FILTER (WHERE ack_on = raised_on), count(*) FROM flags
        WHERE raised_on BETWEEN {S} AND {E} AND severity = 'urgent'
          AND NOT coalesce(acknowledged_at IS NULL AND resolved_at IS NOT NULL
                           AND resolved_by_id IS NULL AND resolved_on = raised_on, false)"""))

    # --- dependence ---
    zero = " AND ".join(f"{u}_days = 0" for u in ANY)
    out["abstinent-goal-abstinent"] = _share(_one(duck, f"""
        SELECT count(*) FILTER (WHERE coalesce({zero}, false)), count(*)
        FROM it JOIN goal_end ge ON ge.episode_id = it.id
          JOIN tops t ON t.episode_id = it.id AND t.down = 1
        WHERE ge.kind IN ('abstinence-all', 'abstinence-problem')"""))
    out["successful-completions"] = Value(count=_one(duck, f"""
        SELECT count(DISTINCT patient_id) FROM episode WHERE organisation_id = {org}
          AND exit_reason IN {SUCCESSFUL} AND exit_date BETWEEN {S} AND {E}""")[0])
    ws, we = (f"CAST({S} - INTERVAL 6 MONTH AS DATE)", f"CAST({E} - INTERVAL 6 MONTH AS DATE)")
    _in_treatment(duck, "itw", org, ws, we)
    out["completed-not-representing"] = _share(_one(duck, f"""
        WITH stayed AS (
            SELECT DISTINCT c.patient_id FROM episode c
            WHERE c.organisation_id = {org} AND c.exit_reason IN {SUCCESSFUL}
              AND c.exit_date BETWEEN {ws} AND {we}
              AND NOT EXISTS (SELECT 1 FROM episode e WHERE e.patient_id = c.patient_id
                              AND e.id <> c.id AND e.start_date >= c.exit_date
                              AND e.start_date <= CAST(c.exit_date + INTERVAL 6 MONTH AS DATE)))
        SELECT count(*) FILTER (WHERE s.patient_id IS NOT NULL), count(*)
        FROM itw LEFT JOIN stayed s ON s.patient_id = itw.patient_id"""))
    out["re-presentations"] = Value(count=_one(duck, f"""
        SELECT count(DISTINCT e.patient_id) FROM episode e
        WHERE e.organisation_id = {org} AND e.start_date BETWEEN {S} AND {E}
          AND EXISTS (SELECT 1 FROM episode c WHERE c.patient_id = e.patient_id
                      AND c.id <> e.id AND c.exit_reason IN {SUCCESSFUL}
                      AND c.exit_date <= e.start_date
                      AND e.start_date <= CAST(c.exit_date + INTERVAL 6 MONTH AS DATE))""")[0])

    # --- reviews ---
    in_force = "('draft', 'active', 'on-hold')"
    met, dates = _one(duck, f"""
        SELECT count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM review r2 WHERE r2.plan_id = r.plan_id
                   AND r2.held_on > r.held_on AND r2.held_on <= r.next_review)), count(*)
        FROM review r JOIN careplan p ON p.id = r.plan_id
        WHERE p.patient_id IN (SELECT patient_id FROM itp)
          AND r.next_review BETWEEN {S} AND {E}
          AND (p.status IN {in_force}
               OR (p.status = 'completed' AND local_date(p.updated_at) > r.next_review))""")
    never = _one(duck, f"""
        SELECT count(*) FROM careplan p WHERE p.patient_id IN (SELECT patient_id FROM itp)
          AND p.status IN {in_force} AND p.review_date BETWEEN {S} AND {E}
          AND NOT EXISTS (SELECT 1 FROM review r WHERE r.plan_id = p.id)""")[0]
    out["plans-reviewed-on-time"] = Value(count=met, of=dates + never)
    out["medication-review-overdue"] = Value(count=_one(duck, f"""
        SELECT count(DISTINCT p.patient_id) FROM medicationplan p
        WHERE {_current_plan('p', E, subst)} AND p.patient_id IN (SELECT patient_id FROM itp)
          AND coalesce((SELECT max(r.held_on) FROM medicationreview r
                        WHERE r.plan_id = p.id AND r.held_on <= {E}), p.started_on) < {m3}""")[0])
    codes = _in(s.checkup_codes)
    checkup = (f"SELECT 1 FROM response c WHERE c.patient_id = {{who}}.patient_id "
               f"AND c.status IN {COMPLETED} AND c.instrument_code IN {codes}")
    out["checkups-on-schedule"] = _share(_one(duck, f"""
        WITH x AS (
            SELECT it.*, CAST(coalesce(cs.interval_weeks, {s.interval_weeks}) AS INTEGER)
                         AS weeks FROM it
            LEFT JOIN checkupschedule cs ON cs.patient_id = it.patient_id)
        SELECT count(*) FILTER (WHERE EXISTS ({checkup.format(who='x')}
                   AND c.completed_on >= {E} - (x.weeks * 7 + 14) AND c.completed_on <= {E})),
               count(*)
        FROM x WHERE (exit_date IS NULL OR exit_date > {E}) AND start_date <= {E} - x.weeks * 7
        """))
    due = []
    for months in range(s.post_exit_every_months, s.post_exit_for_months + 1,
                        s.post_exit_every_months):
        on = f"CAST(e.exit_date + INTERVAL {months} MONTH AS DATE)"
        due.append(f"({on} BETWEEN {S} AND {E} AND (e.status = 'post-exit-monitoring' "
                   f"OR e.closed_date > {on}))")
    out["post-exit-checkups-completed"] = _share(_one(duck, f"""
        WITH rows AS (
            SELECT e.* FROM episode e WHERE e.organisation_id = {org}
              AND e.exit_date IS NOT NULL
              AND (e.status = 'post-exit-monitoring'
                   OR (e.status = 'finished' AND e.closed_date > e.exit_date))
              AND ({' OR '.join(due) or 'false'}))
        SELECT count(DISTINCT patient_id) FILTER (WHERE EXISTS (
                   {checkup.format(who='rows')} AND c.completed_on > rows.exit_date
                   AND c.completed_on BETWEEN {S} - 14 AND {E})),
               count(DISTINCT patient_id)
        FROM rows"""))
    out["flags-acknowledged-on-target"] = _share(_one(duck, f"""
        WITH x AS (
            SELECT f.*, CAST(CASE severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1
                        WHEN 'medium' THEN 7 WHEN 'low' THEN 28 END AS INTEGER) AS target
            FROM flags f)
        SELECT count(*) FILTER (WHERE ack_on - raised_on <= target), count(*) FROM x
        WHERE raised_on BETWEEN {S} - target AND {E} - target
          AND NOT coalesce(acknowledged_at IS NULL AND resolved_at IS NOT NULL
                           AND resolved_by_id IS NULL AND resolved_on - raised_on <= target,
                           false)"""))

    # --- outcomes: first and latest questionnaire of the episode ---
    def pairs(code: str, scales: list[str]) -> str:
        cols = ", ".join(f"f.{c} AS first_{c}, l.{c} AS latest_{c}" for c in scales)
        return f"""
            WITH sc AS (SELECT r.* FROM response r JOIN it ON it.id = r.episode_id
                        WHERE r.instrument_code = '{code}' AND r.status IN {COMPLETED}
                          AND r.{scales[0]} IS NOT NULL),
            f AS (SELECT * FROM sc QUALIFY row_number() OVER (
                      PARTITION BY episode_id ORDER BY completed_at, id) = 1),
            l AS (SELECT * FROM sc WHERE completed_on <= {E} QUALIFY row_number() OVER (
                      PARTITION BY episode_id ORDER BY completed_at DESC, id DESC) = 1)
            SELECT f.episode_id, {cols} FROM f JOIN l USING (episode_id) WHERE f.id <> l.id"""

    for u in USE:
        c = f"{u}_days"
        out[f"days-of-use-change-{u}"] = _mean(_one(duck, f"""
            SELECT avg(latest_{c} - first_{c}), count(latest_{c} - first_{c})
            FROM ({pairs('top', [c])}) p WHERE first_{c} > 0"""))
    scales = [f"{u}_days" for u in ANY]
    used = " OR ".join(f"first_{c} > 0" for c in scales)
    improved = " AND ".join(
        f"(latest_{c} = 0 OR (first_{c} > 0 AND latest_{c} <= first_{c} - 7))" for c in scales)
    out["abstinent-or-reliably-improved"] = _share(_one(duck, f"""
        SELECT count(*) FILTER (WHERE {improved}), count(*)
        FROM ({pairs('top', scales)}) p WHERE {used}"""))
    for code in ("phq9", "gad7", "k10"):
        points = s.thresholds[code]
        if points is None and code in s.service_sd:
            # The SD of the first scored one of every episode of the organisation, at any date;
            # no threshold with fewer than the fewest, or with an SD of 0.
            people, sd = _one(duck, f"""
                SELECT count(total), stddev_samp(total) FROM (
                    SELECT r.total FROM response r JOIN episode e ON e.id = r.episode_id
                    WHERE e.organisation_id = {org} AND r.instrument_code = '{code}'
                      AND r.status IN {COMPLETED} AND r.total IS NOT NULL
                    QUALIFY row_number() OVER (
                        PARTITION BY r.episode_id ORDER BY r.completed_at, r.id) = 1)""")
            if people < s.fewest_first_scores or not sd:  # not worked out
                out[f"{code}-reliable-improvement"] = Value()
                out[f"{code}-reliable-deterioration"] = Value()
                continue
            points = 1.96 * math.sqrt(2) * sd * math.sqrt(1 - s.service_sd[code])
        for way, test in (("improvement", f"< -{points!r}"), ("deterioration", f"> {points!r}")):
            key = f"{code}-reliable-{way}"
            if points is None:
                out[key] = Value()
                continue
            out[key] = _share(_one(duck, f"""
                SELECT count(*) FILTER (WHERE latest_total - first_total {test}), count(*)
                FROM ({pairs(code, ['total'])}) p"""))
    out["life-domain-change"] = _mean(_one(duck, f"""
        SELECT avg(latest_overall - first_overall), count(latest_overall - first_overall)
        FROM ({pairs('life-domains', ['overall'])}) p"""))

    # --- outcomes: goal ratings and GAS T-scores at reviews in the period ---
    def latest_ratings(rated: str) -> str:
        return f"""
            SELECT gr.* FROM goalrating gr JOIN review rv ON rv.id = gr.review_id
              JOIN goal g ON g.id = gr.goal_id
            WHERE rv.held_on BETWEEN {S} AND {E} AND {rated}
              AND g.patient_id IN (SELECT patient_id FROM itp)
              AND g.lifecycle_status <> 'entered-in-error'
            QUALIFY rank() OVER (PARTITION BY gr.goal_id
                                 ORDER BY rv.held_on DESC, gr.review_id DESC) = 1"""

    out["goals-at-expected-level"] = _share(_one(duck, f"""
        SELECT count(*) FILTER (WHERE patient_level >= 0), count(*)
        FROM ({latest_ratings('gr.patient_level IS NOT NULL')}) x"""))
    both = "gr.patient_level IS NOT NULL AND gr.practitioner_level IS NOT NULL"
    for key, within in (("ratings-agree", 0), ("ratings-within-one", 1)):
        out[key] = _share(_one(duck, f"""
            SELECT count(*) FILTER (WHERE abs(patient_level - practitioner_level) <= {within}),
                   count(*)
            FROM ({latest_ratings(both)}) x"""))
    duck.execute(f"""
        CREATE OR REPLACE TEMP TABLE gas AS
        SELECT rv.t_score_patient AS t FROM review rv JOIN careplan p ON p.id = rv.plan_id
        WHERE rv.held_on BETWEEN {S} AND {E} AND rv.t_score_patient IS NOT NULL
          AND p.patient_id IN (SELECT patient_id FROM itp)
        QUALIFY row_number() OVER (PARTITION BY p.patient_id
                                   ORDER BY rv.held_on DESC, rv.id DESC) = 1""")
    out["gas-t-patient-median"] = _mean(_one(duck, """
        SELECT quantile_cont(t, 0.5), count(*) FROM gas"""))
    bands = _one(duck, """
        SELECT count(*) FILTER (WHERE t < 40), count(*) FILTER (WHERE t >= 40 AND t < 50),
               count(*) FILTER (WHERE t >= 50 AND t < 60), count(*) FILTER (WHERE t >= 60)
        FROM gas""")
    for key, n in zip(("gas-t-below-40", "gas-t-40-49", "gas-t-50-59", "gas-t-60-plus"), bands,
                      strict=True):
        out[key] = Value(count=n)
    return out
