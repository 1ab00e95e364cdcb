"""A safety answer in the one check-up is never lost: not to a clash with another tab, not to
another answer on the same screen that needs correcting; and nothing changes a questionnaire
once it has been sent, though a safety answer given after is flagged all the same
(docs/clinical-safety.md)."""

from tandem.assessment.models import CheckupSettings, Response, UrgentAnswer
from tandem.audit.models import AuditEvent
from tandem.monitoring.models import Flag
from tests.test_one_checkup import begin, fields, step_url, the_checkup


def only(world, codes):
    CheckupSettings.objects.update_or_create(organisation=world.org,
                                             defaults={"instruments": codes})


def urgent_flags(world):
    return Flag.objects.filter(patient=world.p1, severity="urgent")


def clash(world, codes, number, elsewhere: dict, here: dict):
    """Question `number` open in one tab; another tab saves `elsewhere` there; then the first
    tab posts `here`. The first tab's reply."""
    only(world, codes)
    client = world.client("patient")
    begin(client)
    url = step_url(the_checkup(world), number)
    opened = fields(client.get(url).content.decode())
    client.post(url, {**fields(client.get(url).content.decode()), **elsewhere,
                      "action": "next"})
    return client.post(url, {**opened, **here, "action": "next"})


def drinking_every_day_is_urgent(world):
    UrgentAnswer.objects.create(organisation=world.org, instrument_code="top",
                                item_id="alcohol_w1", at_least=7,
                                message="Drinking every day of a week")


def test_a_safety_answer_is_kept_and_flagged_even_when_another_tab_changed_the_screen(world):
    # Another tab answered "not at all"; this one says "nearly every day".
    reply = clash(world, ["phq9"], 9, {"item_9": "0"}, {"item_9": "3"})
    page = reply.content.decode()
    assert reply.status_code == 200 and "changed in another window" in page
    assert "Help is available now" in page and "Your care team has been told today" in page
    assert Response.objects.get(patient=world.p1).answers["9"] == 3
    assert urgent_flags(world).count() == 1


def test_a_tab_left_open_never_lowers_a_saved_safety_answer(world):
    reply = clash(world, ["phq9"], 9, {"item_9": "3"}, {"item_9": "1"})
    assert reply.status_code == 200 and "changed in another window" in reply.content.decode()
    assert Response.objects.get(patient=world.p1).answers["9"] == 3
    assert urgent_flags(world).count() == 1


def test_on_a_clash_only_the_safety_answer_is_kept_not_the_screens_other_answers(world):
    drinking_every_day_is_urgent(world)
    reply = clash(world, ["top"], 1, {"item_alcohol_w2": "3"},
                  {"item_alcohol_w1": "7", "item_alcohol_w2": "0"})
    page = reply.content.decode()
    assert reply.status_code == 200 and "Help is available now" in page
    answers = Response.objects.get(patient=world.p1).answers
    assert answers["alcohol_w1"] == 7 and answers["alcohol_w2"] == 3
    assert urgent_flags(world).count() == 1


def test_without_a_safety_answer_a_clash_with_another_tab_still_saves_nothing(world):
    reply = clash(world, ["phq9"], 1, {"item_1": "2"}, {"item_1": "1"})
    assert reply.status_code == 200 and "changed in another window" in reply.content.decode()
    assert Response.objects.get(patient=world.p1).answers["1"] == 2


def test_a_safety_answer_is_flagged_even_when_another_answer_on_its_screen_is_wrong(world):
    """A service marks 7 drinking days in a week urgent; the same screen's amount is wrong."""
    only(world, ["top"])
    drinking_every_day_is_urgent(world)
    client = world.client("patient")
    begin(client)
    url = step_url(the_checkup(world), 1)
    data = {**fields(client.get(url).content.decode()), "item_alcohol_w1": "7",
            "item_alcohol_w2": "3", "item_alcohol_amount": "9000", "action": "next"}
    reply = client.post(url, data)
    page = reply.content.decode()
    assert reply.status_code == 200
    assert "Help is available now" in page and "Your care team has been told today" in page
    assert 'name="item_alcohol_amount" value="9000"' in page  # what was typed stays
    assert 'name="item_alcohol_w2" value="3"' in page
    assert Response.objects.get(patient=world.p1).answers == {"alcohol_w1": 7}
    assert urgent_flags(world).count() == 1


def test_nothing_changes_a_questionnaire_once_the_check_up_is_sent(world):
    only(world, ["phq9"])
    client = world.client("patient")
    begin(client)
    checkup = the_checkup(world)
    late = {}
    for number in range(1, 10):
        url = step_url(checkup, number)
        page = fields(client.get(url).content.decode())
        if number == 9:
            late = dict(page)  # a tab left open on question 9
        assert client.post(url, {**page, f"item_{number}": "0",
                                 "action": "next"}).status_code == 302
    assert client.post(f"/portal/checkup/{checkup.pk}/answers/").status_code == 302
    sent = Response.objects.get(patient=world.p1)
    # An ordinary answer from the tab left open changes nothing and goes to the done page.
    reply = client.post(step_url(checkup, 3), {**late, "item_3": "2", "action": "next"})
    assert reply.status_code == 302 and reply["Location"].endswith("/done/")
    # A safety answer from it changes nothing sent either, but is heeded: flagged, help shown.
    reply = client.post(step_url(checkup, 9), {**late, "item_9": "2", "action": "next"})
    assert reply.status_code == 302 and "/help/" in reply["Location"]
    sent.refresh_from_db()
    assert sent.status == "completed" and sent.answers["9"] == 0 and sent.answers["3"] == 0
    flag = urgent_flags(world).get()
    assert flag.response_id == sent.pk
    assert AuditEvent.objects.filter(
        patient=world.p1, detail__startswith="a safety answer given after this questionnaire "
                                             "was sent").exists()
    # Sent again, the same answer raises no second flag.
    client.post(step_url(checkup, 9), {**late, "item_9": "2", "action": "next"})
    assert urgent_flags(world).count() == 1


def test_a_page_record_that_is_not_what_the_page_sent_is_no_500(world):
    only(world, ["phq9"])
    client = world.client("patient")
    begin(client)
    url = step_url(the_checkup(world), 1)
    deep = "[" * 100_000 + "]" * 100_000
    reply = client.post(url, {"item_1": "1", "action": "next", "seen": deep})
    assert reply.status_code == 302
