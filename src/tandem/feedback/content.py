"""What goes in a feedback report, built from the patient's own check-ups, goals and plan.

The report is built the way motivational-interviewing feedback is given — FRAMES (Bien, Miller
& Tonigan 1993; Miller & Rollnick 2013): Feedback on the person's own results; their
Responsibility and choice; Advice only if they want it; a Menu of options; Empathy; support
for Self-efficacy. It says what the person's answers show and how they changed, and never
compares them with other people or with norms (they did not ask for that), nor judges.

The content is plain data (strings, numbers, ISO dates), so a shared report can be frozen as it
was (FeedbackReport.snapshot) and shown later exactly as the patient shared it.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.safestring import mark_safe

from tandem.assessment import registry
from tandem.assessment.results import (
    IMPROVED,
    SAME,
    TOP,
    TOP_SUBSTANCES,
    WORSE,
    Movement,
    completed,
    results_for,
)
from tandem.core import charts
from tandem.planning import care_plan, services
from tandem.planning.models import ActionStatus

# The parts a patient may choose, in the order the report shows them.
RANGE_NAMES = "range-names"
PARTS = [
    ("answers", "What my answers say"),
    # The name a questionnaire gives the range of a score ("Zone III", "possible dependence")
    # labels the person: it goes in only if the patient ticks it (FRAMES: Empathy, no labels).
    (RANGE_NAMES, "What the questionnaire calls the range of my latest score (with “What my "
                  "answers say”)"),
    ("use", "My use, week by week"),
    ("goals", "My goals"),
    ("going-well", "What has gone well"),
    ("plan", "What we agreed to do"),
    ("options", "Things I could choose to do"),
]
PART_CODES = [code for code, _label in PARTS]
PART_LABELS = dict(PARTS)
# The parts a new report starts with: every part but those the patient must ask for.
OPT_IN = (RANGE_NAMES,)
DEFAULT_PARTS = [code for code in PART_CODES if code not in OPT_IN]

# Reliable change (Jacobson & Truax 1991; assessment.results.movement) in everyday words: the
# same words on the portal home and in the report.
CHANGE_WORDS = {
    IMPROVED: "a real improvement",
    SAME: "about the same",
    WORSE: "a real worsening",
}

# The Menu of options: the patient's own choices, advice only if asked for.
OPTIONS = [
    "Talk this report through with your keyworker, at your review or before it.",
    "Keep a goal, change it, or add a new one. The kind of goal you have for drugs or alcohol "
    "is yours to choose, and you can change it.",
    "Ask for a change to your plan, from “My recovery plan”.",
    "Ask about other support: mutual-aid groups, support for your family, help with housing, "
    "work, money or your health.",
    "Ask your keyworker for ideas or advice about anything in this report, if you would like "
    "them.",
]

WEEKS_SHOWN = 12  # three check-ups' four weeks each


def day_text(day: datetime.date) -> str:
    """'3 March 2026'."""
    return f"{day.day} {day:%B %Y}"


def _num(value) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def change_code(moved: Movement | None) -> str:
    """The movement's code where the questionnaire has reliable-change figures, else ""."""
    return moved.code if moved is not None and moved.reliable is not None else ""


def change_words(moved: Movement | None) -> str:
    return CHANGE_WORDS.get(change_code(moved), "")


def build(patient, today: datetime.date | None = None) -> dict:
    """Every part of the report, from the patient's data as it is now."""
    today = today or timezone.localdate()
    answers = _answers(patient)
    goals = _goals(patient)
    return {
        "built_on": today.isoformat(),
        "answers": answers,
        "use": _use(patient),
        "goals": goals,
        "going-well": _going_well(answers, goals),
        "plan": _plan(patient),
        "options": list(OPTIONS),
    }


def chosen(content: dict, parts: list[str]) -> dict:
    """Only the parts chosen (what a shared report keeps). The name of each score's range
    stays only if the patient chose it."""
    kept = {k: v for k, v in content.items() if k not in PART_CODES or k in parts}
    if RANGE_NAMES not in parts and kept.get("answers"):
        kept["answers"] = [item | {"band": ""} for item in kept["answers"]]
    return kept


def _answers(patient) -> list[dict]:
    found = []
    for result in results_for(patient):
        for track in result.tracks:
            if track.scale.unit == "days":
                continue  # days of work or college: more is not better for everyone
            changes = track.changes
            if changes is None:
                continue
            latest, first, previous = changes.latest, changes.first, changes.previous
            rows = [r for r in track.rows if r["value"] is not None]
            scale = track.scale
            low, high = scale.range
            item = {
                "key": f"{result.instrument.code}-{scale.code}",
                "title": scale.title if scale.title.startswith(result.instrument.name)
                else f"{result.instrument.name}: {scale.title}",
                "latest": latest["value"], "latest_date": latest["date"].isoformat(),
                # The questionnaire's own name for the range, unaltered; shown only if the
                # patient chose RANGE_NAMES (see `chosen`).
                "band": latest["band"], "low": low, "high": high,
                "higher_is": scale.higher_is,
                "points": [[r["date"].isoformat(), r["value"]] for r in rows],
                "since_start": "", "since_last": "",
                "since_start_code": "", "since_last_code": "",
            }
            sentences = [f"At your latest check-up ({day_text(latest['date'])}) your answers "
                         f"came to {_num(latest['value'])}, on a scale from {_num(low)} to "
                         f"{_num(high)} where {'lower' if scale.higher_is == 'worse' else 'higher'}"
                         f" means things are going better for you."]
            if previous is None:
                sentences.append("This was your first check-up of this kind, so there is "
                                 "nothing to compare it with yet.")
            else:
                since_last = change_words(changes.since_last)
                since_start = change_words(changes.since_first)
                item |= {"since_start": since_start, "since_last": since_last,
                         "since_start_code": change_code(changes.since_first),
                         "since_last_code": change_code(changes.since_last)}
                if changes.scored > 2:
                    sentences.append(_since("your first check-up", first, latest, since_start))
                sentences.append(_since("last time", previous, latest, since_last))
            item["sentences"] = sentences
            found.append(item)
    return found


def _since(when: str, before: dict, after: dict, words: str) -> str:
    figures = f"{_num(before['value'])} on {day_text(before['date'])}, now {_num(after['value'])}"
    if words:
        return f"Since {when}: {words} ({figures})."
    return f"Since {when}: {figures}."


def _use(patient) -> dict | None:
    """Days used each week, substance by substance, from the latest outcomes-profile check-ups
    (each asks about the four weeks before it). Weeks run newest first; an older check-up's
    weeks that a newer one also covers are left out, so no week is counted twice."""
    instrument = registry.available(patient.organisation).get(TOP)
    if instrument is None:
        return None
    responses = list(completed(patient, TOP).order_by("-completed_at")[:3])
    if not responses:
        return None
    weeks, covered_from = [], None
    for response in responses:  # newest first
        end = response.completed_on
        for w in (1, 2, 3, 4):
            ending = end - datetime.timedelta(days=7 * (w - 1))
            if covered_from is not None and ending > covered_from:
                continue
            days = {s: response.answers.get(f"{s}_w{w}") for s in TOP_SUBSTANCES}
            weeks.append({"ending": ending.isoformat(), "ending_text": day_text(ending),
                          "days": days})
        covered_from = end - datetime.timedelta(days=28)
    weeks = weeks[:WEEKS_SHOWN]
    labels = {}
    for s in TOP_SUBSTANCES:
        if f"{s}_w1" in instrument.items_by_id:
            labels[s] = instrument.item(f"{s}_w1").section or s
    other = next((r.answers.get("other_name") for r in responses if r.answers.get("other_name")),
                 "")
    if other and "other" in labels:
        labels["other"] = f"Other: {other}"
    used = [s for s in labels if any(w["days"].get(s) for w in weeks)]
    rows = [{"ending_text": w["ending_text"],
             "cells": [w["days"].get(s) for s in used]} for w in weeks]
    sentences = []
    latest, first = responses[0], responses[-1]
    for s in used:
        def total(r, s=s):
            return sum(r.answers.get(f"{s}_w{w}") or 0 for w in (1, 2, 3, 4))
        text = (f"{labels[s]}: {total(latest)} of the 28 days before your latest check-up "
                f"({day_text(latest.completed_on)})")
        if len(responses) > 1:
            text += f"; {total(first)} of 28 days before the check-up of " \
                    f"{day_text(first.completed_on)}"
        sentences.append(text + ".")
    return {"substances": [labels[s] for s in used], "rows": rows, "sentences": sentences,
            "none_used": not used}


def _goals(patient) -> dict:
    """The goals of the plan, with where the patient (first) and the practitioner said each
    stands at the latest review."""
    labels = {code: label for code, label, _q in services.cards_for(patient)}
    plan = care_plan.current_plan(patient)
    review = plan.reviews.first() if plan is not None else None
    ratings = {r.goal_id: r for r in review.ratings.all()} if review is not None else {}
    items = []
    for goal in care_plan.plan_goals(patient):
        levels = dict(goal.gas_levels())
        rating = ratings.get(goal.pk)
        mine = rating.patient_level if rating else None
        theirs = rating.practitioner_level if rating else None
        items.append({
            "area": labels.get(goal.card, goal.card), "statement": goal.statement,
            "mine_level": mine, "mine": levels.get(mine, "") if mine is not None else "",
            "theirs_level": theirs,
            "theirs": levels.get(theirs, "") if theirs is not None else "",
            "comment": rating.comment if rating else "",
        })
    return {"held_on": day_text(review.held_on) if review else "", "items": items}


def _going_well(answers: list[dict], goals: dict) -> list[str]:
    """Self-efficacy: what the patient's own figures and ratings show has gone well. Days of
    use are not counted here: what counts as going well with drugs or alcohol depends on the
    kind of goal the patient chose."""
    found = [f"{a['title']}: a real improvement since your first check-up."
             for a in answers if a.get("since_start_code") == IMPROVED]
    found += [f"“{g['statement']}”: at the last review you said this is where you expected it "
              "to be, or better." for g in goals["items"]
              if g["mine_level"] is not None and g["mine_level"] >= 0]
    return found


def _plan(patient) -> dict | None:
    plan = care_plan.current_plan(patient)
    if plan is None:
        return None
    open_actions = [a.description for a in plan.actions.exclude(
        status__in=[ActionStatus.COMPLETED, ActionStatus.CANCELLED, ActionStatus.STOPPED])]
    return {"review_date": day_text(plan.review_date), "actions": open_actions}


def charts_for(content: dict, prefix: str = "fb") -> dict:
    """{answer key: SVG} for each result with two or more check-ups (drawn by core.charts,
    every text escaped)."""
    drawn = {}
    for item in content.get("answers") or []:
        if len(item["points"]) < 2:
            continue
        points = [charts.Point(datetime.date.fromisoformat(day), value, _num(value))
                  for day, value in item["points"]]
        svg = charts.trajectory_svg(
            points, y_min=item["low"], y_max=item["high"], higher_is=item["higher_is"],
            title=item["title"], description=f"{len(points)} check-ups; the sentences beside "
            "the chart say the same.", id_prefix=f"{prefix}-{item['key']}", height=180)
        drawn[item["key"]] = mark_safe(svg)  # noqa: S308 - built by core.charts, all text escaped
    return drawn
