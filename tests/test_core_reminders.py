"""Reminders' rules (core/reminders.py): discreet wording, safe templates, quiet hours, another
channel after two unanswered, and when a check-up reminder goes."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.reminders import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    TELLING_WORDS,
    TemplateError,
    Window,
    checkup_reminder,
    next_channel,
    next_in_window,
    placeholders_in,
    render,
    words_that_tell,
)

T = datetime.time
D = datetime.date
DT = datetime.datetime

# --- discreet wording ------------------------------------------------------------------------


def test_neutral_wording_tells_nothing():
    assert words_that_tell("You have a check-up with Riverside on Wednesday 4 March.",
                           ["Riverside Drug and Alcohol Service"]) == []


@pytest.mark.parametrize("text, found", [
    ("Your alcohol check-up is due", ["alcohol"]),
    ("DRUGS team: see you Monday", ["DRUGS"]),
    ("Your Treatment review", ["Treatment"]),
    ("Time for your methadone review", ["methadone"]),
    ("A reminder from Riverside Drug and Alcohol Service", ["Riverside Drug and Alcohol Service",
                                                           "Drug", "Alcohol"]),
    ("Recovery check-up", ["Recovery"]),
])
def test_telling_words_and_the_clinical_name_are_found(text, found):
    assert words_that_tell(text, ["Riverside Drug and Alcohol Service"]) == found


def test_only_whole_words_tell():
    # "drugstore" and "crackers" are not "drug" or "crack"; other forms of a word are.
    assert words_that_tell("Buy crackers at the drugstore") == []
    assert words_that_tell("treatments, addictions, drinks, detoxing, injected, clinics") == [
        "treatments", "addictions", "drinks", "detoxing", "injected", "clinics"]


@given(st.sampled_from(TELLING_WORDS), st.sampled_from(["", "Hi. ", "Re: "]),
       st.sampled_from(["", ".", " soon", "!"]))
def test_every_telling_word_is_found_in_any_case(word, before, after):
    for shown in (word, word.upper(), word.capitalize()):
        assert words_that_tell(f"{before}{shown}{after}") == [shown]


# --- templates ---------------------------------------------------------------------------------

VALUES = {"name": "Jade", "service": "Riverside", "date": "Wednesday 4 March",
          "link": "https://t.example/c/abc", "keyworker": "Sam", "goal": None, "time": None,
          "place": None}


def test_a_template_is_filled_and_an_optional_part_goes_without_its_value():
    template = ('Hi {name}, your check-up with {service} is on {date}: {link} '
                '[[You said: "{goal}".]] {keyworker}')
    assert render(template, VALUES) == (
        "Hi Jade, your check-up with Riverside is on Wednesday 4 March: "
        "https://t.example/c/abc Sam")
    with_goal = {**VALUES, "goal": "See my kids every weekend"}
    assert render(template, with_goal) == (
        "Hi Jade, your check-up with Riverside is on Wednesday 4 March: "
        'https://t.example/c/abc You said: "See my kids every weekend". Sam')


def test_a_value_is_never_read_as_a_template():
    sneaky = {**VALUES, "name": "{link} [[x]]", "goal": "{keyworker}"}
    assert render("Hi {name}. [[{goal}]]", sneaky) == "Hi {link} [[x]]. {keyworker}"


@pytest.mark.parametrize("template, says", [
    ("Hi {first_name}", "{first_name} is not a placeholder"),
    ("Hi {name.__class__}", "is not a placeholder"),
    ("Hi {name!r}", "is not a placeholder"),
    ("Hi {0}", "{0} is not a placeholder"),
    ("Hi {}", "{} is not a placeholder"),
    ("Hi { name", "A brace"),
    ("Hi name}", "A brace"),
    ("Hi [[{goal}", "[[ and closed with ]]"),
    ("Hi {goal}]]", "[[ and closed with ]]"),
    ("Hi [[a [[{goal}]] b]]", "[[ and closed with ]]"),
])
def test_a_bad_template_says_what_is_wrong(template, says):
    with pytest.raises(TemplateError, match=says.replace("[", r"\[").replace("{", r"\{")
                       .replace("}", r"\}").replace(".", r"\.")):
        placeholders_in(template)


def test_a_placeholder_without_a_value_outside_brackets_is_refused():
    with pytest.raises(TemplateError, match=r"\{goal\} has no value"):
        render("You said: {goal}", VALUES)


@given(st.dictionaries(st.sampled_from(sorted(PLACEHOLDERS)),
                       st.one_of(st.none(), st.text(max_size=20)), max_size=len(PLACEHOLDERS)))
def test_optional_parts_never_fail_and_leave_no_placeholder(values):
    template = " ".join(f"[[{{{p}}}]]" for p in PLACEHOLDERS)
    out = render(template, values)
    for name in PLACEHOLDERS:
        if values.get(name):
            assert values[name] in out


def reference_render(template, values):
    """The rule in its plainest form (regular expressions over the text, no compiling), to
    check the compiled `render` against."""
    import re

    placeholder, optional = re.compile(r"\{([^{}]*)\}"), re.compile(r"\[\[(.*?)\]\]", re.S)

    def fill(text):
        for name in placeholder.findall(text):
            if values.get(name) in (None, ""):
                raise TemplateError(name)
        return placeholder.sub(lambda m: str(values[m.group(1)]), text)

    out, at, dropped = "", 0, False
    for part in optional.finditer(template):
        text = fill(template[at:part.start()])
        if dropped and text[:1] in (" ", "\t") and out[-1:] in (" ", "\t", ""):
            text = text[1:]
        out += text
        inner = part.group(1)
        dropped = any(values.get(n) in (None, "") for n in placeholder.findall(inner))
        if not dropped:
            out += fill(inner)
        at = part.end()
    text = fill(template[at:])
    if dropped and text[:1] in (" ", "\t") and out[-1:] in (" ", "\t", ""):
        text = text[1:]
    return out + text


PIECES = st.one_of(st.sampled_from(["Hi ", " ", ", ", "see you ", "x", ""]),
                   st.sampled_from([f"{{{p}}}" for p in PLACEHOLDERS]))


@given(st.lists(st.one_of(PIECES, st.lists(PIECES, max_size=3).map(
    lambda parts: "[[" + "".join(parts) + "]]")), max_size=8).map("".join),
       st.dictionaries(st.sampled_from(sorted(PLACEHOLDERS)),
                       st.one_of(st.none(), st.just(""), st.text(max_size=8)),
                       max_size=len(PLACEHOLDERS)))
def test_render_is_the_plain_rule(template, values):
    try:
        expected = reference_render(template, values)
    except TemplateError:
        with pytest.raises(TemplateError):
            render(template, values)
        return
    assert render(template, values) == expected


# --- quiet hours -------------------------------------------------------------------------------


def test_a_message_waits_for_the_window():
    day = Window(T(9), T(20))
    assert next_in_window(DT(2026, 3, 4, 7, 30), day) == DT(2026, 3, 4, 9)
    assert next_in_window(DT(2026, 3, 4, 12, 0), day) == DT(2026, 3, 4, 12)
    assert next_in_window(DT(2026, 3, 4, 20, 0), day) == DT(2026, 3, 5, 9)
    evening = Window(T(18), T(1))  # past midnight
    assert next_in_window(DT(2026, 3, 4, 0, 30), evening) == DT(2026, 3, 4, 0, 30)
    assert next_in_window(DT(2026, 3, 4, 1, 0), evening) == DT(2026, 3, 4, 18)
    assert next_in_window(DT(2026, 3, 4, 23, 0), evening) == DT(2026, 3, 4, 23)
    assert next_in_window(DT(2026, 3, 4, 3, 0), Window(T(0), T(0))) == DT(2026, 3, 4, 3)


@given(st.datetimes(min_value=DT(2020, 1, 1), max_value=DT(2030, 1, 1)),
       st.times(), st.times())
def test_the_time_chosen_is_in_the_window_and_the_first_such(at, opens, closes):
    window = Window(opens, closes)
    chosen = next_in_window(at, window)
    assert chosen >= at
    assert window.holds(chosen.time())
    assert chosen - at < datetime.timedelta(days=1)
    # Nothing earlier from `at` is in the window: `at` itself when inside, else the opening.
    if chosen != at:
        assert not window.holds(at.time()) and chosen.time() == opens


# --- another channel after two unanswered --------------------------------------------------


def test_after_two_unanswered_texts_a_letter_and_the_keyworker_is_told():
    agreed = ["sms", "letter"]
    assert next_channel(agreed, []) == ("sms", False)
    assert next_channel(agreed, ["sms"]) == ("sms", False)
    assert next_channel(agreed, ["sms", "sms"]) == ("letter", True)
    assert next_channel(agreed, ["sms", "sms", "letter"]) == ("letter", False)
    assert next_channel(agreed, ["sms", "sms", "letter", "letter"]) == ("sms", True)
    # A channel the patient no longer agrees to is not used again.
    assert next_channel(["email"], ["sms"]) == ("email", False)
    with pytest.raises(ValueError):
        next_channel([], [])


@given(st.lists(st.sampled_from(["sms", "email", "letter", "portal"]), min_size=1, max_size=4,
                unique=True),
       st.lists(st.sampled_from(["sms", "email", "letter", "portal"]), max_size=8))
def test_the_next_channel_is_always_one_the_patient_agreed_to(agreed, unanswered):
    channel, tell = next_channel(agreed, unanswered)
    assert channel in agreed
    if tell:
        assert len(unanswered) >= 2 and unanswered[-1] == unanswered[-2]


# --- check-up reminders ----------------------------------------------------------------------


def test_a_check_up_is_reminded_before_on_the_day_and_after_if_not_done():
    due = D(2026, 3, 10)
    days = {d: checkup_reminder(due, D(2026, 3, d), done=False) for d in range(1, 31)}
    assert {d: k for d, k in days.items() if k} == {
        7: "checkup-soon", 10: "checkup-today", 17: "checkup-late"}
    assert checkup_reminder(due, D(2026, 3, 17), done=True) is None


# --- Tandem's default wording ------------------------------------------------------------------

FULL = {"name": "Jade", "service": "Riverside", "date": "Wednesday 4 March", "time": "10:30",
        "place": "by phone", "link": "https://t.example/x", "keyworker": "Sam",
        "goal": "See my kids every weekend"}


@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_the_default_wording_is_discreet_and_renders(kind):
    template = DEFAULT_TEMPLATES[kind]
    for part in (template.subject, template.text, template.body):
        placeholders_in(part)
        assert words_that_tell(part) == [], part
        # Filled with everyday values, and with the optional ones missing, it still tells
        # nothing and leaves no placeholder behind.
        for values in (FULL, {**FULL, "goal": None, "time": None, "place": None,
                              "keyworker": None}):
            try:
                out = render(part, values)
            except TemplateError:
                pytest.fail(f"{kind}: {part!r} needs a value it may not have")
            assert "{" not in out and "[[" not in out
            assert words_that_tell(out) == []
    # A text message fits in two standard text messages (306 characters) with a long link.
    assert len(render(template.text, {**FULL, "link": "https://t.example/" + "x" * 60})) <= 306


def test_the_goal_appears_only_when_given():
    body = DEFAULT_TEMPLATES["checkup-soon"].body
    assert 'You said: "See my kids every weekend".' in render(body, FULL)
    assert "You said" not in render(body, {**FULL, "goal": None})
