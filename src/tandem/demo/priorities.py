"""Synthetic priority sorts for demo patients: a round at the start of treatment (sometimes a
second one later), the patient's and the keyworker's sorts both submitted, mostly agreeing on
the problem substance and differing elsewhere, so every comparison has something to discuss."""

from __future__ import annotations

import datetime
import json

from tandem.assessment import registry

SESSION_COLUMNS = ("id", "organisation_id", "patient_id", "episode_id", "started_by_id",
                   "started_at", "discussion", "discussion_by_id", "discussion_at")
SORT_COLUMNS = ("id", "organisation_id", "session_id", "voice", "entered_by_id", "handed_over",
                "started_at", "updated_at", "submitted_at", "cards")
SUBSTANCE_CARD = {"alcohol": "alcohol_use"}  # every other problem substance: drug_use
DISCUSSIONS = (
    "Agreed to start with {first}: realistic now, and it would make the rest easier.",
    "{first} first. We talked about what support would make it feasible.",
    "Different views on {first}; agreed to try for six weeks and look again.",
)
NOTES = {"housing": "Sofa-surfing at the moment", "money": "Behind on rent",
         "family": "Want to see my kids more", "daytime": "Bored most days",
         "mental_health": "Anxious a lot of the time"}


class PriorityHistory:
    def __init__(self, organisation_id: int, stamp, uid, rand):
        self.org = organisation_id
        self.stamp = stamp
        self.uid = uid
        self.rand = rand
        self.cards = registry.default_cards()
        self.codes = [code for code, _label, _q in self.cards]
        self.labels = dict((code, label) for code, label, _q in registry.default_cards())

    def _shuffled(self, items):
        items = list(items)
        for i in range(len(items) - 1, 0, -1):
            j = int(self.rand() * (i + 1))
            items[i], items[j] = items[j], items[i]
        return items

    def sort(self, first: list[str], voice: str) -> list[dict]:
        rest = self._shuffled(c for c in self.codes if c not in first)
        extra = 1 + int(self.rand() * 2)
        now = first + rest[:extra]
        later = rest[extra : extra + 6]
        cards = []
        for code in self.codes:
            pile = "now" if code in now else "later" if code in later else "not"
            cards.append({
                "code": code, "pile": pile, "rank": now.index(code) + 1 if pile == "now" else None,
                "help": voice == "patient" and pile == "now" and self.rand() < 0.5,
                "note": NOTES.get(code, "") if voice == "patient" and pile == "now" else "",
            })
        return cards

    def rows(self, patient_id: str, episode_id: str, start: datetime.date,
             keyworker: int | None, problem: tuple[str, ...], today: datetime.date):
        sessions, sorts, first_round = [], [], None
        card = SUBSTANCE_CARD.get(problem[0], "drug_use")
        rounds = [start] + ([start + datetime.timedelta(days=120)]
                            if (today - start).days > 150 and self.rand() < 0.5 else [])
        for day in rounds:
            sid = self.uid()
            when = self.stamp(day)
            patient_first = [card] if self.rand() < 0.7 else [self._pick_other(card), card]
            practitioner_first = [card]
            first = self.labels[patient_first[0]]
            sessions.append((sid, self.org, patient_id, episode_id, keyworker, when,
                             DISCUSSIONS[int(self.rand() * len(DISCUSSIONS))].format(first=first),
                             keyworker, when))
            for voice, lead in (("patient", patient_first), ("practitioner", practitioner_first)):
                cards = self.sort(lead, voice)
                if voice == "patient" and first_round is None:
                    now = sorted((c for c in cards if c["pile"] == "now"), key=lambda c: c["rank"])
                    first_round = (sid, day, [c["code"] for c in now])
                sorts.append((self.uid(), self.org, sid, voice,
                               keyworker if voice == "practitioner" or self.rand() < 0.4
                               else None, voice == "patient" and self.rand() < 0.4, when, when,
                               when, json.dumps(cards)))
        return sessions, sorts, first_round

    def _pick_other(self, card: str) -> str:
        options = [c for c in ("housing", "mental_health", "family", "money") if c != card]
        return options[int(self.rand() * len(options))]
