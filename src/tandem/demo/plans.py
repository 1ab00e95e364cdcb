"""Synthetic goals, recovery plans and reviews for demo patients, from their first priority
sort: up to three goals in the patient's words (substance goals of every kind, some changed
along the way), a plan with actions, versions signed by both (a few behind: a missed review, a
version the patient has not signed yet), and reviews every three months
rating each goal, both views, with their GAS T-scores from the pure core."""

from __future__ import annotations

import datetime
import json

from tandem.core import gas
from tandem.core.schedule import add_months
from tandem.planning.models import GoalType, Intervention

GOAL_COLUMNS = ("id", "organisation_id", "patient_id", "episode_id", "sort_session_id", "card",
                "statement", "proposed_by", "priority", "start_date", "target_date",
                "lifecycle_status", "achievement_status", "gas_minus2", "gas_minus1", "gas_0",
                "gas_plus1", "gas_plus2", "goal_type", "goal_type_chosen_by", "created_by_id",
                "created_at", "updated_by_id", "updated_at", "version")
TYPE_CHANGE_COLUMNS = ("goal_id", "changed_at", "from_type", "to_type", "chosen_by", "reason",
                       "recorded_by_id")
PLAN_COLUMNS = ("id", "organisation_id", "patient_id", "episode_id", "status", "review_date",
                "created_at", "updated_by_id", "updated_at", "version")
ACTION_COLUMNS = ("id", "organisation_id", "plan_id", "goal_id", "intervention", "description",
                  "provider_id", "frequency", "start_date", "end_date", "status",
                  "updated_by_id", "updated_at", "version")
VERSION_COLUMNS = ("plan_id", "number", "snapshot", "created_at", "created_by_id",
                   "patient_signed_at", "patient_signed_by_id", "practitioner_signed_at",
                   "practitioner_signed_by_id")
REVIEW_COLUMNS = ("id", "organisation_id", "plan_id", "held_on", "next_review", "notes",
                  "t_score_patient", "t_score_practitioner", "created_by_id", "created_at")
RATING_COLUMNS = ("review_id", "goal_id", "patient_level", "practitioner_level", "comment")

# (statement, levels −2 … +2, actions) per card; substance goals depend on the kind chosen.
GOALS = {
    "housing": ("Get a place of my own", (
        "Still sofa-surfing, no application in", "Application in, nothing offered",
        "On the housing list with a support worker", "Viewed a flat", "Moved into my own flat"),
        [("housing-support", "Housing options appointment and application", "fortnightly")]),
    "mental_health": ("Feel less anxious day to day", (
        "Anxious most of the day, every day", "Anxious most days", "Some calmer days each week",
        "More calm days than anxious ones", "Anxiety rarely gets in the way"),
        [("cbt", "CBT for anxiety with the psychologist", "weekly")]),
    "family": ("See my kids every weekend", (
        "No contact", "A phone call now and then", "A visit every fortnight",
        "A visit every weekend", "Kids stay over at weekends"),
        [("family-support", "Family support sessions", "monthly")]),
    "money": ("Get on top of my debts", (
        "Bailiff letters unopened", "Opened the letters", "Seen money advice, a plan agreed",
        "Sticking to the repayment plan", "Debts cleared or written off"),
        [("employment-support", "Money advice with Citizens Advice", "as needed")]),
    "daytime": ("Something to do with my days", (
        "Nothing planned any day", "One thing a week", "Two activities a week",
        "Volunteering two days a week", "In training or work"),
        [("education-training", "Volunteering placement at the community garden", "weekly")]),
}
SUBSTANCE = {
    GoalType.ABSTINENCE_ALL: ("Stop using everything", (
        "Using every day", "Using most days", "Not using for a month", "Not using for 3 months",
        "Not using for 6 months")),
    GoalType.ABSTINENCE_PROBLEM: ("Stop using {what} completely", (
        "Using {what} every day", "Using {what} most days", "No {what} for a month",
        "No {what} for 3 months", "No {what} for 6 months")),
    GoalType.WORKING_TOWARDS: ("Work towards stopping {what}", (
        "Using more than before", "No change", "Using on fewer days", "Only occasional use",
        "Stopped")),
    GoalType.CONTROLLED: ("Keep {what} to the weekends, and not too much", (
        "Every day, heavily", "Most days", "Weekends only, within the limit I set",
        "Weekends only, under the limit", "Once a fortnight at most")),
    GoalType.HARM_REDUCTION: ("Use more safely", (
        "Sharing equipment", "Injecting alone", "Using clean equipment every time",
        "Clean equipment and naloxone with me", "Clean equipment, naloxone, and smoking instead "
        "of injecting")),
    GoalType.STABILISING: ("Get settled on my script", (
        "Missing doses, topping up on the street", "Topping up some weeks",
        "Taking my dose every day, no topping up", "Stable for 3 months",
        "Stable and ready to talk about reducing")),
}
SUBSTANCE_ACTIONS = {
    GoalType.STABILISING: [("opioid-substitution", "Methadone, daily supervised", "daily")],
    GoalType.HARM_REDUCTION: [("harm-reduction", "Needle exchange and naloxone training",
                               "weekly")],
}
SUBSTANCE_DEFAULT_ACTIONS = [("motivational-interviewing", "Keywork sessions", "weekly"),
                             ("mutual-aid", "SMART Recovery meetings", "weekly")]
WHAT = {"alcohol": "drinking", "opioids": "heroin", "crack": "crack", "cocaine": "cocaine",
        "amphetamines": "speed", "cannabis": "cannabis"}


class PlanHistory:
    def __init__(self, organisation_id: int, today: datetime.date, stamp, uid, rand):
        self.org = organisation_id
        self.today = today
        self.stamp = stamp
        self.uid = uid
        self.rand = rand
        self.labels = {}

    def _pick(self, seq):
        return seq[int(self.rand() * len(seq))]

    def rows(self, patient_id, episode_id, first_round, keyworker, problem, labels):
        """Rows for each table, or empty lists when there is no sort to start from."""
        out = {name: [] for name in ("goals", "changes", "plans", "actions", "versions",
                                     "reviews", "ratings")}
        if first_round is None or keyworker is None:
            return out
        session_id, start, now_cards = first_round
        start_stamp = self.stamp(start)
        what = WHAT.get(problem[0], "drugs")
        goals = []
        for priority, card in enumerate(now_cards[:3], start=1):
            kind, chosen, history = "", "", []
            if card in ("drug_use", "alcohol_use"):
                kind = self._pick(list(GoalType) if card == "drug_use" else
                                  [GoalType.CONTROLLED, GoalType.ABSTINENCE_PROBLEM,
                                   GoalType.WORKING_TOWARDS, GoalType.CONTROLLED]).value
                chosen = "patient" if self.rand() < 0.8 else "both"
                statement, levels = SUBSTANCE[kind]
                statement, levels = statement.format(what=what), [lv.format(what=what)
                                                                  for lv in levels]
                actions = SUBSTANCE_ACTIONS.get(kind, SUBSTANCE_DEFAULT_ACTIONS)
                history.append(("", kind, chosen, ""))
            elif card in GOALS:
                statement, levels, actions = GOALS[card]
            else:
                statement = f"Things to get better with my {labels.get(card, card).lower()}"
                levels = ("Worse than now", "No change", "A bit better", "Better",
                          "Much better")
                actions = [("motivational-interviewing", "Keywork sessions", "weekly")]
            gid = self.uid()
            goals.append((gid, card, statement, levels, kind, actions))
            out["goals"].append((
                gid, self.org, patient_id, episode_id, session_id, card, statement,
                self._pick(("patient", "patient", "both", "practitioner")), priority,
                start.isoformat(), None, "active", "in-progress",
                *levels, kind, chosen, keyworker, start_stamp, keyworker, start_stamp, 1))
            for old, new, who, reason in history:
                out["changes"].append((gid, start_stamp, old, new, who, reason, keyworker))
        if not goals:
            return out
        plan_id = self.uid()
        reviews_due = []
        day = add_months(start, 3)
        while day <= self.today:
            reviews_due.append(day)
            day = add_months(day, 3)
        # Some services fall behind: about one plan in sixteen has missed its latest review,
        # and about one in twenty is still waiting for the patient to sign its latest version.
        review_date = add_months(reviews_due[-1], 3) if reviews_due else add_months(start, 3)
        if reviews_due and self.rand() < 0.06:
            review_date = reviews_due.pop()
        awaiting_patient = self.rand() < 0.05
        out["plans"].append((plan_id, self.org, patient_id, episode_id, "active",
                             review_date.isoformat(), start_stamp, keyworker, start_stamp,
                             1 + len(reviews_due)))
        action_rows = []
        for gid, _card, _s, _l, _k, actions in goals:
            for intervention, description, frequency in actions:
                action_rows.append((self.uid(), self.org, plan_id, gid, intervention,
                                    description, None, frequency, start.isoformat(), None,
                                    "in-progress", keyworker, start_stamp, 1))
        out["actions"] = action_rows
        # Version 1 at the start, one more after each review; signed by both unless recent.
        levels_now = {g[0]: -1 for g in goals}
        for number, when in enumerate([start, *reviews_due], start=1):
            review = add_months(when, 3)
            snap = self.snapshot(goals, action_rows, review, labels)
            stamp = self.stamp(when)
            recent = (self.today - when).days < 10
            unsigned = recent or (awaiting_patient and number == 1 + len(reviews_due))
            out["versions"].append((plan_id, number, json.dumps(snap), stamp, keyworker,
                                    None if unsigned else stamp, None,
                                    None if recent else stamp, None if recent else keyworker))
            if number == 1:
                continue
            rid = self.uid()
            patient_levels, practitioner_levels = [], []
            for gid, *_rest in goals:
                step = self._pick((-1, 0, 1, 1, 1))
                levels_now[gid] = max(-2, min(2, levels_now[gid] + step))
                patient_level = levels_now[gid]
                practitioner_level = max(-2, min(2, patient_level + self._pick((-1, 0, 0, 0))))
                patient_levels.append(patient_level)
                practitioner_levels.append(practitioner_level)
                out["ratings"].append((rid, gid, patient_level, practitioner_level, ""))
            out["reviews"].append((
                rid, self.org, plan_id, when.isoformat(), review.isoformat(),
                "Reviewed the plan together.",
                round(gas.t_score([gas.Rating(x) for x in patient_levels]), 1),
                round(gas.t_score([gas.Rating(x) for x in practitioner_levels]), 1),
                keyworker, stamp))
        return out

    @staticmethod
    def snapshot(goals, actions, review_date, labels) -> dict:
        """The same shape as planning.care_plan.snapshot (a test checks they agree)."""
        kinds = dict(GoalType.choices)
        interventions = dict(Intervention.choices)
        statements = {g[0]: g[2] for g in goals}
        return {
            "status": "Active",
            "review_date": review_date.isoformat(),
            "goals": [{"area": labels.get(card, card), "statement": statement, "priority": n,
                       "kind": kinds.get(kind, ""), "target": "", "levels": list(levels)}
                      for n, (_gid, card, statement, levels, kind, _a) in enumerate(goals, 1)],
            "actions": [{"intervention": interventions[a[4]], "description": a[5],
                         "provider": "", "frequency": a[7], "from": a[8], "to": "",
                         "status": "In progress", "goal": statements.get(a[3], "")}
                        for a in sorted(actions, key=lambda a: a[0])],  # the database's order
        }
