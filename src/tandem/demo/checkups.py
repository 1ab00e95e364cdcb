"""Synthetic check-up histories for demo patients: rows for responses, schedules and the urgent
flags their safety answers raise. Scored by the real pure core, scheduled by the real schedule
rules, so every chart, band and reliable-change label in the demo comes from Tandem itself.

Each patient follows one course over their current episode, expressed as "how hard things
are" from 0 (well) to 1 (very hard) at each check-up:
- improving; relapsing (better, then worse again); stalled (little change);
- dropped out (check-ups stop after the first one or two);
- re-engaged (check-ups stop for a while, then resume).
"""

from __future__ import annotations

import datetime
import json
import uuid

from tandem.assessment import registry
from tandem.assessment.models import RESPONSE_COLUMNS  # noqa: F401 - the order of its rows
from tandem.core import flags as flag_rules
from tandem.core import schedule as sched
from tandem.core.rci import threshold
from tandem.core.scoring import answer_text, score
from tandem.monitoring.services import SAFETY_STEPS


def key(rid: str) -> str:
    """A response id as the app writes it in flag keys (str(uuid.UUID)), from the demo's
    32-hex-digit row value."""
    return str(uuid.UUID(rid))


CONTACT_COLUMNS = ("id", "organisation_id", "patient_id", "on", "method", "note",
                   "recorded_by_id", "recorded_at")
SCHEDULE_COLUMNS = ("id", "organisation_id", "patient_id", "interval_weeks", "next_due",
                    "next_kind", "updated_at")
FLAG_COLUMNS = ("id", "organisation_id", "patient_id", "rule", "evidence_key", "severity",
                "status", "evidence", "suggested_action", "raised_at", "updated_at",
                "response_id", "acknowledged_at", "acknowledged_by_id", "resolved_at",
                "resolved_by_id", "action_taken", "answer_value")
# The demo's safety flags are written beside their responses below (resolved ones with what
# the keyworker did); the other rules run through the real core (`tandem.core.flags`) on each
# generated history, and `tandem.demo.load` ends with a sweep, so the demo's flags are what
# the rules produce.
WRITTEN_HERE = ("safety-answer",)
# What the keyworker did, for the demo's resolved flags.
DONE = {
    "return-to-use": "Talked it through at the next appointment; naloxone re-supplied and an "
                     "earlier review booked.",
    "reliable-deterioration": "Met the same week; referred to the psychologist on the team.",
    "life-domain-drop": "Discussed at the next appointment; a new action added to the plan.",
    "checkup-overdue": "Check-up done by phone.",
    "housing": "Referred to City Housing Options; tenancy support arranged.",
    "no-contact": "Reached them by phone; appointment booked.",
}

CHECKUP = ("top", "life-domains", "phq9", "gad7")
COURSES = ("improving", "improving", "improving", "relapsing", "stalled", "dropped out",
           "re-engaged")
SUBSTANCES = ("alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis")
# Problem substances in roughly the mix of English treatment services (opiates most common,
# then alcohol, then non-opiates), for demo variety only.
PROBLEM_MIX = (("opioids", "crack"), ("opioids",), ("opioids", "crack"), ("alcohol",),
               ("alcohol",), ("alcohol", "cocaine"), ("cannabis",), ("cocaine",),
               ("amphetamines",), ("crack",))


def hardness(course: str, step: int, steps: int, start: float) -> float:
    """How hard things are at check-up `step` of `steps` (0 = well, 1 = very hard)."""
    f = step / max(1, steps - 1)
    if course in ("improving", "re-engaged"):
        value = start - 0.55 * f
    elif course == "relapsing":  # better for the first 60% of the way, then worse again
        value = start - f if f < 0.6 else start - 0.6 + (f - 0.6) * 1.9
    elif course == "stalled":
        value = start - 0.08 * f
    else:
        value = start
    return min(1.0, max(0.0, value))


class CheckupHistory:
    def __init__(self, organisation_id: int, today: datetime.date, stamp, uid, rand):
        self.org = organisation_id
        self.today = today
        self.stamp = stamp  # date → database datetime value (mid-morning)
        self.uid = uid
        self.rand = rand
        self.instruments = registry.shipped()
        self.rules = sched.Rules()
        self.scales = {
            (ins.code, s.code): flag_rules.Scale(
                ins.code, s.code, s.title, s.higher_is,
                threshold(s.reliable_change.sd, s.reliable_change.reliability)
                if s.reliable_change else None)
            for ins in self.instruments.values() for s in ins.scales}

    def _pick(self, seq):
        return seq[int(self.rand() * len(seq))]

    def pick_problem(self) -> tuple[str, ...]:
        return self._pick(PROBLEM_MIX)

    def rows(self, patient_id: str, episode_id: str, episode: sched.EpisodeDates,
             keyworker: int | None, portal: bool, problem: tuple[str, ...],
             last_contact: datetime.date | None = None):
        rand = self.rand
        course = "improving" if portal else self._pick(COURSES)
        start_hardness = 0.35 + 0.5 * rand()
        occasions = sched.planned(episode, self.rules, self.today)
        done_dates = [due + datetime.timedelta(days=int(rand() * 6) - 2) for _k, due in occasions]
        done_dates = [d for d in done_dates if d <= self.today]
        if portal:
            done_dates = done_dates[:-1] or done_dates  # the latest one is due: the demo shows it
        if course == "dropped out":
            done_dates = done_dates[: 1 + int(rand() * 2)]
        elif course == "re-engaged" and len(done_dates) > 3:
            gap = 1 + int(rand() * (len(done_dates) - 2))
            done_dates = done_dates[:gap] + done_dates[gap + 1 + int(rand() * 2):]
        responses, flags, seen = [], [], []
        window = self.today - datetime.timedelta(days=400)  # as monitoring.evaluate reads
        steps = len(done_dates)
        for step, day in enumerate(done_dates):
            h = hardness(course, step, steps, start_hardness)
            mode = "self" if rand() < 0.55 else ("with-practitioner" if rand() < 0.8 else "phone")
            entered_by = None if mode == "self" else keyworker
            when = self.stamp(day)
            for code in CHECKUP:
                answers = self.answers(code, h, problem)
                ins = self.instruments[code]
                result = score(ins, answers)
                head = result.headline
                rid = self.uid()
                if day >= window:
                    seen.append(flag_rules.Checkup(key(rid), code, ins.short_title or ins.title,
                                                   day, answers, result.values()))
                responses.append((
                    rid, self.org, patient_id, episode_id, code, ins.version, "completed", mode,
                    entered_by, when, when, when, day.isoformat(), json.dumps(answers), 0,
                    json.dumps(result.values()), head.value, head.band.label if head.band else "",
                    head.band.level if head.band else None,
                ))
                for rule in result.safety:
                    # Resolved unless it is from the latest check-up, so the demo has both.
                    latest = step == steps - 1
                    value = answers[rule.item]
                    text = answer_text(ins, rule.item, value)
                    flags.append((
                        self.uid(), self.org, patient_id, "safety-answer",
                        f"{key(rid)}:{rule.item}",
                        "urgent", "active" if latest else "inactive",
                        flag_rules.safety_evidence(ins.name, rule.item, rule.message, text),
                        SAFETY_STEPS,
                        when, when, rid, None if latest else when, None if latest else keyworker,
                        None if latest else when, None if latest else keyworker,
                        "" if latest else "Phoned the same day; safety plan reviewed with the "
                        "patient and the duty worker.", float(value),
                    ))
        found = {code: done_dates for code in CHECKUP}
        nxt = None
        if episode.status != "finished":
            candidates = [sched.next_occasion(sched.occasions(episode, found[c], self.today,
                                                              self.rules)) for c in CHECKUP]
            candidates = [c for c in candidates if c is not None]
            nxt = min(candidates, key=lambda o: o.due) if candidates else None
        schedule = (None, self.org, patient_id, None, nxt.due.isoformat() if nxt else None,
                    nxt.kind if nxt else "", self.stamp(self.today))
        if episode.status != "finished":
            flags += self.warnings(patient_id, episode, seen, nxt.due if nxt else None, keyworker,
                                   last_contact)
        return responses, schedule, flags

    def warnings(self, patient_id, episode, seen, due, keyworker, contact) -> list[tuple]:
        """Flag rows from the real rules over this history: the older ones resolved by the
        keyworker, recent ones open (some acknowledged), as a service's history would be."""
        facts = flag_rules.Facts(
            today=self.today, episode_status=episode.status, episode_start=episode.start,
            checkups=tuple(seen), scales=self.scales, next_checkup_due=due,
            last_contact=max([d for d in (contact, seen[-1].completed_on if seen else None)
                              if d], default=None))
        days = {c.id: c.completed_on for c in seen}
        rows = []
        for f in flag_rules.evaluate(facts):
            if f.rule in WRITTEN_HERE:
                continue
            day = days.get(f.response_id) or self.today - datetime.timedelta(days=3)
            when = self.stamp(day)
            resolved = (self.today - day).days > 21 and keyworker is not None
            acknowledged = resolved or (keyworker is not None and self.rand() < 0.5)
            rows.append((
                self.uid(), self.org, patient_id, f.rule, f.key, f.severity,
                "inactive" if resolved else "active", f.evidence, f.suggested_action, when,
                when, uuid.UUID(f.response_id).hex if f.response_id else None,
                when if acknowledged else None,
                keyworker if acknowledged else None, when if resolved else None,
                keyworker if resolved else None,
                DONE.get(f.rule, "Discussed with them and the plan updated.") if resolved else "",
                None,
            ))
        return rows

    def answers(self, code: str, h: float, problem: tuple[str, ...]) -> dict:
        rand = self.rand

        def level(top: int, spread: float = 0.25) -> int:
            return max(0, min(top, round(top * (h + (rand() - 0.5) * spread))))

        if code == "phq9" or code == "gad7":
            n = 9 if code == "phq9" else 7
            answers = {str(i): level(3, 0.5) for i in range(1, n + 1)}
            if code == "phq9":
                answers["9"] = 1 if h > 0.75 and rand() < 0.25 else 0
            return answers
        if code == "life-domains":
            ins = self.instruments[code]
            # ±1 of noise: a fall of 3 or more comes from a real change of course (a relapse).
            return {item.id: max(0, min(10, round(10 * (1 - h) + (rand() - 0.5) * 2)))
                    for item in ins.items}
        answers = {}
        for substance in (*SUBSTANCES, "other", "tobacco", "inject"):
            for week in (1, 2, 3, 4):
                if substance in problem:
                    days = level(7, 0.4)
                elif substance == "tobacco":
                    days = 7 if h > 0.2 else level(7)
                elif substance == "inject" and "opioids" in problem:
                    # Injecting days cannot exceed the days of use that week.
                    days = min(answers[f"opioids_w{week}"], max(0, level(7, 0.4) - 3))
                else:
                    days = 0
                answers[f"{substance}_w{week}"] = days
        for substance in problem:
            if any(answers[f"{substance}_w{w}"] for w in (1, 2, 3, 4)):
                answers[f"{substance}_amount"] = round(1 + 20 * h * rand(), 1)
        answers |= {
            "psych_health": max(0, min(20, round(20 * (1 - h) + (rand() - 0.5) * 4))),
            "phys_health": max(0, min(20, round(20 * (1 - h) + (rand() - 0.5) * 6))),
            "quality_of_life": max(0, min(20, round(20 * (1 - h) + (rand() - 0.5) * 4))),
            "work_days": 0 if h > 0.5 else int(rand() * 20),
            "education_days": 0 if rand() < 0.85 else int(rand() * 8),
            "housing_acute": h > 0.8 and rand() < 0.3,
            "housing_eviction_risk": h > 0.7 and rand() < 0.2,
        }
        return answers
