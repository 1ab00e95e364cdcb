"""When check-ups are due: during treatment, at exit and after it. No Django imports.

"Keep the door open": per episode, a check-up at the start, then every N weeks while in
treatment (default 12), one at exit, and after exit every 3 months for a set period (default
12 months) while the episode is in post-exit monitoring. These are Tandem's service defaults
(the issue that defines them; services change them in their check-up settings). They echo
England's Treatment Outcomes Profile schedule: at start, at reviews every 6 months or less,
and at exit (Marsden et al., Addiction 2008;103:1450-60).

Each scheduled occasion has a due date and a window. A check-up completed inside the window
satisfies it. The window opens `due_soon_days` before the due date (28 days before for the start
check-up, which is often done at assessment) and closes when the next occasion's window opens.
An occasion nobody completed becomes "missed" once the next one's window opens, so only the
latest unanswered occasion is ever overdue.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, replace
from typing import Literal

Kind = Literal["start", "in-treatment", "exit", "post-exit"]
Status = Literal["done", "missed", "overdue", "due", "upcoming"]
EpisodeStatus = Literal["active", "post-exit-monitoring", "finished"]

KIND_LABELS = {
    "start": "Start of treatment",
    "in-treatment": "In-treatment check-up",
    "exit": "End of treatment",
    "post-exit": "After treatment",
}


@dataclass(frozen=True)
class Rules:
    interval_weeks: int = 12
    post_exit_every_months: int = 3
    post_exit_for_months: int = 12
    due_soon_days: int = 14
    start_window_days: int = 28


@dataclass(frozen=True)
class EpisodeDates:
    start: datetime.date
    status: EpisodeStatus
    exit: datetime.date | None = None


@dataclass(frozen=True)
class Occasion:
    kind: Kind
    due: datetime.date
    opens: datetime.date
    closes: datetime.date | None  # exclusive; None = open-ended
    status: Status = "upcoming"
    done_on: datetime.date | None = None

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    def days_overdue(self, today: datetime.date) -> int:
        return (today - self.due).days if self.status == "overdue" else 0


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day of the month `months` later, or the month's last day if it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def planned(
    episode: EpisodeDates, rules: Rules, today: datetime.date
) -> list[tuple[Kind, datetime.date]]:
    """The occasions an episode calls for, in date order (up to the first one after today)."""
    if rules.interval_weeks < 1:
        raise ValueError("interval_weeks must be at least 1")
    points: list[tuple[Kind, datetime.date]] = [("start", episode.start)]
    step = datetime.timedelta(weeks=rules.interval_weeks)
    due = episode.start + step
    if episode.exit is None:
        # Open-ended treatment: every interval up to two after today (the window of the last
        # one cannot have opened, so one is always still to come).
        while points[-1][1] <= today + step:
            points.append(("in-treatment", due))
            due += step
        return points
    # Treatment has ended: regular check-ups until shortly before the exit one.
    soon = datetime.timedelta(days=rules.due_soon_days)
    while due < episode.exit - soon:
        points.append(("in-treatment", due))
        due += step
    if episode.exit > episode.start:
        points.append(("exit", episode.exit))
    else:
        points = [("exit", episode.exit)]  # left on the day they started: one check-up
    if episode.status == "post-exit-monitoring":
        every = rules.post_exit_every_months
        for months in range(every, rules.post_exit_for_months + 1, every):
            points.append(("post-exit", add_months(episode.exit, months)))
    return points


def occasions(
    episode: EpisodeDates,
    completed: list[datetime.date],
    today: datetime.date,
    rules: Rules = Rules(),
) -> list[Occasion]:
    """Every occasion of the episode with its status, given the dates check-ups were completed.

    A closed episode ("finished") calls for nothing more: its open occasions are dropped.
    """
    points = planned(episode, rules, today)
    opens = [
        due
        - datetime.timedelta(
            days=rules.start_window_days if kind == "start" else rules.due_soon_days
        )
        for kind, due in points
    ]
    # A window never opens before the previous occasion's due date.
    for i in range(1, len(opens)):
        opens[i] = max(opens[i], points[i - 1][1] + datetime.timedelta(days=1))
    done_dates = sorted(d for d in completed if d <= today)
    result = []
    for i, (kind, due) in enumerate(points):
        closes = opens[i + 1] if i + 1 < len(points) else None
        done_on = next(
            (d for d in done_dates if d >= opens[i] and (closes is None or d < closes)), None
        )
        if done_on is not None:
            status: Status = "done"
        elif today < opens[i]:
            status = "upcoming"
        elif closes is not None and today >= closes:
            status = "missed"
        elif today <= due:
            status = "due"
        else:
            status = "overdue"
        result.append(Occasion(kind, due, opens[i], closes, status, done_on))
    if episode.status == "finished":
        result = [
            o if o.status in ("done", "missed") else replace(o, status="missed")
            for o in result
            if o.due <= (episode.exit or today)
        ]
    ahead = [i for i, o in enumerate(result) if o.status == "upcoming"]
    if episode.exit is None and len(ahead) > 1:
        result = result[: ahead[0] + 1]  # only the next one of open-ended treatment
    return result


def relevant_since(episode: EpisodeDates, rules: Rules, today: datetime.date) -> datetime.date:
    """Check-ups completed before this date cannot change which occasion is next, so a caller
    may leave them out (tests/test_core_schedule.py checks this with generated histories).

    The next occasion is the earliest one whose window has not closed. Occasions are at most
    `gap` days apart and a window opens at most `start_window_days` before its due date, so
    any window still open opened after today − gap − that. After exit the last occasion stays
    open-ended, so the bound also reaches back from the exit date."""
    gap = max(rules.interval_weeks * 7 + rules.due_soon_days, rules.post_exit_every_months * 31)
    reach = datetime.timedelta(days=gap + rules.start_window_days + 1)
    since = today - reach
    if episode.exit is not None:
        since = min(since, episode.exit - reach)
    return max(since, episode.start - datetime.timedelta(days=rules.start_window_days))


def next_occasion(found: list[Occasion]) -> Occasion | None:
    """The occasion to act on next: the earliest not yet done and not missed."""
    return next((o for o in found if o.status in ("overdue", "due", "upcoming")), None)
