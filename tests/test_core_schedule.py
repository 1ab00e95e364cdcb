"""Check-up schedules during treatment, at exit and after exit, across re-entry."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from tandem.core.schedule import (
    EpisodeDates,
    Rules,
    add_months,
    next_occasion,
    occasions,
    relevant_since,
)

D = datetime.date
START = D(2026, 1, 5)


def kinds_and_dues(found):
    return [(o.kind, o.due, o.status) for o in found]


def test_new_episode_start_check_up_is_due_then_overdue():
    episode = EpisodeDates(START, "active")
    assert kinds_and_dues(occasions(episode, [], START))[0] == ("start", START, "due")
    late = occasions(episode, [], START + datetime.timedelta(days=3))
    assert late[0].status == "overdue" and late[0].days_overdue(START + datetime.timedelta(3)) == 3


def test_every_twelve_weeks_in_treatment():
    episode = EpisodeDates(START, "active")
    today = D(2026, 7, 1)
    found = occasions(episode, [START, D(2026, 3, 28)], today)
    assert kinds_and_dues(found) == [
        ("start", START, "done"),
        ("in-treatment", D(2026, 3, 30), "done"),  # done 2 days early: inside the window
        ("in-treatment", D(2026, 6, 22), "overdue"),
        ("in-treatment", D(2026, 9, 14), "upcoming"),
    ]
    assert next_occasion(found).due == D(2026, 6, 22)


def test_interval_per_patient():
    found = occasions(
        EpisodeDates(START, "active"), [START], D(2026, 2, 10), Rules(interval_weeks=4)
    )
    assert [o.due for o in found] == [START, D(2026, 2, 2), D(2026, 3, 2)]


def test_unanswered_occasion_is_missed_once_the_next_window_opens():
    found = occasions(EpisodeDates(START, "active"), [START], D(2026, 6, 10))
    assert [o.status for o in found] == ["done", "missed", "due", "upcoming"][: len(found)]


def test_window_opens_two_weeks_before_due():
    episode = EpisodeDates(START, "active")
    due = D(2026, 3, 30)
    assert occasions(episode, [START], due - datetime.timedelta(days=15))[1].status == "upcoming"
    assert occasions(episode, [START], due - datetime.timedelta(days=14))[1].status == "due"


def test_exit_then_post_exit_every_three_months_for_a_year():
    exit_date = D(2026, 5, 31)
    episode = EpisodeDates(START, "post-exit-monitoring", exit_date)
    found = occasions(episode, [START, D(2026, 3, 30), D(2026, 6, 2)], D(2026, 9, 1))
    assert kinds_and_dues(found) == [
        ("start", START, "done"),
        ("in-treatment", D(2026, 3, 30), "done"),
        ("exit", exit_date, "done"),
        ("post-exit", D(2026, 8, 31), "overdue"),
        ("post-exit", D(2026, 11, 30), "upcoming"),
        ("post-exit", D(2027, 2, 28), "upcoming"),  # 31 May + 9 months: end of February
        ("post-exit", D(2027, 5, 31), "upcoming"),
    ]


def test_post_exit_period_is_configurable_and_ends():
    episode = EpisodeDates(START, "post-exit-monitoring", D(2026, 3, 1))
    found = occasions(episode, [], D(2026, 3, 1), Rules(post_exit_for_months=6))
    assert [o.kind for o in found].count("post-exit") == 2
    late = occasions(episode, [], D(2027, 1, 1), Rules(post_exit_for_months=6))
    assert next_occasion(late) is None or next_occasion(late).status == "overdue"


def test_no_in_treatment_check_up_just_before_exit():
    # Exit 10 days after a 12-week point: the exit check-up stands for both.
    episode = EpisodeDates(START, "finished", D(2026, 4, 9))
    assert [o.kind for o in occasions(episode, [], D(2026, 5, 1))] == ["start", "exit"]


def test_closed_episode_calls_for_nothing_more():
    episode = EpisodeDates(START, "finished", D(2026, 5, 31))
    found = occasions(episode, [START], D(2026, 9, 1))
    assert next_occasion(found) is None
    assert [(o.kind, o.status) for o in found] == [
        ("start", "done"),
        ("in-treatment", "missed"),
        ("exit", "missed"),
    ]


def test_re_entry_starts_a_new_schedule_and_keeps_earlier_check_ups_out():
    first = EpisodeDates(START, "finished", D(2026, 3, 1))
    again = EpisodeDates(D(2026, 8, 3), "active")
    done = [START, D(2026, 3, 1), D(2026, 5, 1)]  # start, exit, one post-exit
    assert next_occasion(occasions(first, done, D(2026, 8, 3))) is None
    found = occasions(again, done, D(2026, 8, 3))
    assert found[0].kind == "start" and found[0].status == "due"
    # A check-up done at assessment, three weeks before the new start, counts for it.
    assert occasions(again, [*done, D(2026, 7, 13)], D(2026, 8, 3))[0].status == "done"


def test_add_months_clamps_to_month_end():
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2026, 11, 30), 3) == D(2027, 2, 28)
    assert add_months(D(2026, 5, 15), 12) == D(2027, 5, 15)


dates = st.dates(D(2020, 1, 1), D(2030, 12, 31))


@given(
    dates,
    st.integers(0, 900),
    st.integers(1, 26),
    st.lists(st.integers(-40, 1500), max_size=12),
    st.integers(0, 1200),
    st.sampled_from(["active", "post-exit-monitoring", "finished"]),
)
def test_schedule_invariants(start, length, weeks, offsets, ahead, status):
    exit_date = None if status == "active" else start + datetime.timedelta(days=length)
    episode = EpisodeDates(start, status, exit_date)
    today = start + datetime.timedelta(days=ahead)
    done = [start + datetime.timedelta(days=o) for o in offsets]
    found = occasions(episode, done, today, Rules(interval_weeks=weeks))
    dues = [o.due for o in found]
    assert dues == sorted(dues) and len(set(dues)) == len(dues)
    assert sum(o.status == "overdue" for o in found) <= 1
    for o in found:
        if o.status == "done":
            assert o.opens <= o.done_on and (o.closes is None or o.done_on < o.closes)
        if o.closes is not None:
            assert o.opens < o.closes
    if status == "finished":
        assert next_occasion(found) is None
    else:
        # Never-ending follow-up is impossible, and there is always a next step in treatment.
        assert next_occasion(found) is not None or status == "post-exit-monitoring"


@given(dates, st.integers(0, 900), st.integers(1, 26), st.integers(1, 6),
       st.lists(st.integers(-40, 2000), max_size=15), st.integers(0, 2000),
       st.sampled_from(["active", "post-exit-monitoring", "finished"]))
def test_older_check_ups_never_change_the_next_occasion(start, length, weeks, months, offsets,
                                                          ahead, status):
    exit_date = None if status == "active" else start + datetime.timedelta(days=length)
    episode = EpisodeDates(start, status, exit_date)
    today = start + datetime.timedelta(days=ahead)
    rules = Rules(interval_weeks=weeks, post_exit_every_months=months)
    done = [start + datetime.timedelta(days=o) for o in offsets]
    since = relevant_since(episode, rules, today)
    recent = [d for d in done if d >= since]

    def key(found):
        nxt = next_occasion(found)
        return nxt and (nxt.kind, nxt.due, nxt.status)

    assert key(occasions(episode, done, today, rules)) == key(
        occasions(episode, recent, today, rules))
