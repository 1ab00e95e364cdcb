"""The service admin's settings pages: every change is an audit event naming what changed; two
admins saving the same page at once never silently overwrite each other (the second is told
what changed, and keeps what they typed); a life-domain set too small for the chart is refused,
and one stored anyway draws bars instead of breaking the check-up pages."""

from tandem.assessment.models import CheckupSettings, CrisisContact, LifeDomain, UrgentAnswer
from tandem.audit.models import AuditEvent
from tandem.core.charts import Series
from tandem.core.flags import RULES
from tandem.monitoring.models import RuleSetting
from tests.test_checkup_settings import GOOD, rows, upload
from tests.test_checkups import enter

CHECKUPS = "/manage/checkups/"
CONTACTS = "/manage/checkups/crisis-contacts/"
DOMAINS = "/manage/checkups/life-domains/"
URGENT = "/manage/checkups/urgent-answers/"
RULES_URL = "/manage/checkups/early-warning/"


def last_event(world, object_type):
    return AuditEvent.objects.filter(organisation=world.org, object_type=object_type).latest("seq")


def existing(rows_data, objects, fields):
    """Formset data with `objects` as the saved rows (id and version as the page had them)."""
    data = rows("rows", [{**{f: v for f, v in zip(fields, values, strict=True)},
                          "id": str(obj.pk), "version": str(version)}
                         for obj, version, values in objects] + rows_data)
    data["rows-INITIAL_FORMS"] = str(len(objects))
    return data


SETTINGS = {"interval_weeks": "6", "post_exit_every_months": "2", "post_exit_for_months": "6",
            "instruments": ["phq9", "audit-c"]}


# --- every change is an audit event saying what changed ---------------------------------------


def test_checkup_settings_changes_are_audited(world):
    client = world.client("service_admin")
    assert client.post(CHECKUPS, SETTINGS | {"version": "0"}).status_code == 302
    event = last_event(world, "checkupsettings")
    assert event.actor == world.users["service_admin"]
    assert "weeks between check-ups 12→6" in event.detail
    assert "questionnaires gad7,life-domains,phq9,top→audit-c,phq9" in event.detail


def test_questionnaire_uploads_are_audited(world):
    assert upload(world.client("service_admin"), GOOD).status_code == 302
    event = last_event(world, "uploadedinstrument")
    assert event.action == "create" and "sdq-mini version 1" in event.detail


def test_crisis_contact_life_domain_and_urgent_answer_changes_are_audited(world):
    client = world.client("service_admin")
    client.post(CONTACTS, rows("rows", [{"name": "Night line", "phone": "0800 000 000",
                                         "position": "1"}]))
    assert "added Night line" in last_event(world, "crisiscontact").detail
    contact = CrisisContact.objects.get()
    client.post(CONTACTS, existing([], [(contact, 1, ("Night line", "0800 111 111", "1"))],
                                   ["name", "phone", "position"]))
    assert "Night line: phone 0800 000 000→0800 111 111" in last_event(
        world, "crisiscontact").detail
    cards = [{"code": c, "label": c.title(), "position": str(n), "active": "on"}
             for n, c in enumerate(["drugs", "housing", "money"])]
    client.post(DOMAINS, rows("rows", cards))
    assert "added Drugs" in last_event(world, "lifedomain").detail
    client.post(URGENT, rows("rows", [{"instrument_code": "top", "item_id": "housing_acute",
                                       "at_least": "1", "message": "acute housing problem"}]))
    assert "added top housing_acute" in last_event(world, "urgentanswer").detail


def test_flag_rule_changes_are_audited_with_what_changed(world):
    client = world.client("service_admin")
    data = rule_data(versions=True) | {"no-contact-t_days": "21"}
    del data["no-contact-enabled"]
    assert client.post(RULES_URL, data).status_code == 302
    purposes = [e.detail for e in AuditEvent.objects.filter(object_type="rulesetting")]
    assert any("no-contact: on yes→no" in p and "21" in p for p in purposes)
    # rules nobody changed are not reported as changed
    assert not any(p.startswith("changed: return-to-use") for p in purposes)


# --- two admins on one page: the second is told, nothing is lost -----------------------------


def test_second_save_of_the_checkup_settings_is_told_what_changed(world):
    first, second = world.client("service_admin"), world.client("service_admin")
    assert first.post(CHECKUPS, SETTINGS | {"version": "0"}).status_code == 302
    late = second.post(CHECKUPS, SETTINGS | {"interval_weeks": "20", "version": "0"})
    assert late.status_code == 200
    page = late.content.decode()
    assert "changed these settings after you opened this page" in page
    assert 'value="20"' in page  # what they typed is still in the form
    saved = CheckupSettings.objects.get(organisation=world.org)
    assert saved.interval_weeks == 6  # the first save is kept
    # saving again from the refreshed page replaces it, knowingly
    again = late.context["form"]["version"].value()
    assert second.post(CHECKUPS, SETTINGS | {"interval_weeks": "20",
                                             "version": str(again)}).status_code == 302
    saved.refresh_from_db()
    assert saved.interval_weeks == 20


def test_second_save_of_a_crisis_contact_is_told_what_changed(world):
    contact = CrisisContact.objects.create(organisation=world.org, name="Night line",
                                           phone="0800 000 000")
    fields = ["name", "phone", "position"]
    first, second = world.client("service_admin"), world.client("service_admin")
    assert first.post(CONTACTS, existing([], [(contact, 1, ("Night line", "0800 111 111", "0"))],
                                         fields)).status_code == 302
    late = second.post(CONTACTS, existing([], [(contact, 1, ("Night helpline", "0800 000 000",
                                                             "0"))], fields))
    assert late.status_code == 200
    page = late.content.decode()
    assert "changed these settings after you opened this page" in page
    assert "0800 111 111" in page and 'value="Night helpline"' in page
    contact.refresh_from_db()
    assert (contact.name, contact.phone) == ("Night line", "0800 111 111")


def fields_of(page: str) -> dict:
    """What a browser would post from the page's settings form, as it was shown."""
    from html.parser import HTMLParser

    class Form(HTMLParser):
        def __init__(self):
            super().__init__()
            self.data, self.area, self.select = {}, None, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "input" and a.get("name") and a.get("type") != "submit":
                if a.get("type") != "checkbox" or "checked" in a:
                    self.data[a["name"]] = a.get("value", "")
            elif tag == "textarea":
                self.area = a["name"]
                self.data[self.area] = ""
            elif tag == "select":
                self.select = a["name"]
            elif tag == "option" and self.select and "selected" in a:
                self.data[self.select] = a.get("value", "")

        def handle_endtag(self, tag):
            self.area = None if tag == "textarea" else self.area
            self.select = None if tag == "select" else self.select

        def handle_data(self, text):
            if self.area:
                self.data[self.area] += text

    form = Form()
    form.feed(page)
    return form.data


def test_after_a_conflict_the_page_as_shown_saves_with_its_blank_rows(world):
    """The page shown after a conflict, posted back as it stands (its blank extra rows
    included), saves: the blank rows are not taken for rows being added."""
    contact = CrisisContact.objects.create(organisation=world.org, name="Night line",
                                           phone="0800 000 000")
    fields = ["name", "phone", "position"]
    blank = [{"name": "", "phone": "", "position": "0", "id": "", "version": "0"}] * 2  # as shown
    first, second = world.client("service_admin"), world.client("service_admin")
    assert first.post(CONTACTS, existing([], [(contact, 1, ("Night line", "0800 111 111", "0"))],
                                         fields)).status_code == 302
    late = second.post(CONTACTS, existing(blank, [(contact, 1, ("Night helpline",
                                                                "0800 000 000", "0"))], fields))
    assert late.status_code == 200 and "changed these settings" in late.content.decode()
    again = second.post(CONTACTS, fields_of(late.content.decode()))
    assert again.status_code == 302, again.content.decode()[:3000]
    contact.refresh_from_db()
    assert contact.name == "Night helpline" and CrisisContact.objects.count() == 1


def test_a_row_removed_meanwhile_comes_back_as_a_new_row_with_what_was_typed(world):
    contact = CrisisContact.objects.create(organisation=world.org, name="Night line")
    fields = ["name", "phone", "position"]
    CrisisContact.objects.filter(pk=contact.pk).delete()  # another admin removed it
    late = world.client("service_admin").post(
        CONTACTS, existing([], [(contact, 1, ("Night line", "0800 222 222", "0"))], fields))
    assert late.status_code == 200
    page = late.content.decode()
    assert "removed since you opened this page" in page and 'value="0800 222 222"' in page
    assert not CrisisContact.objects.exists()


def test_second_save_of_the_flag_rules_is_told_what_changed(world):
    first, second = world.client("service_admin"), world.client("service_admin")
    opened = rule_data(versions=True)
    assert first.post(RULES_URL, opened | {"no-contact-t_days": "21"}).status_code == 302
    late = second.post(RULES_URL, opened | {"no-contact-t_days": "35"})
    assert late.status_code == 200
    page = late.content.decode()
    assert "changed these settings after you opened this page" in page and 'value="35"' in page
    assert RuleSetting.objects.get(rule="no-contact").thresholds["days"] == 21


def test_a_settings_page_posted_without_its_version_saves_nothing(world):
    """A save that does not say which version it started from cannot be checked: it is shown
    again, carrying the versions saved now, and saving it again is a deliberate choice."""
    client = world.client("service_admin")
    late = client.post(CHECKUPS, SETTINGS)
    assert late.status_code == 200
    assert "did not say which version" in late.content.decode()
    assert not CheckupSettings.objects.filter(organisation=world.org).exists()
    assert late.context["form"]["version"].value() == "0"


def test_a_settings_row_posted_without_its_version_saves_nothing(world):
    contact = CrisisContact.objects.create(organisation=world.org, name="Night line",
                                           phone="0800 000 000")
    data = existing([], [(contact, 1, ("Night line", "0800 111 111", "0"))],
                    ["name", "phone", "position"])
    del data["rows-0-version"]
    late = world.client("service_admin").post(CONTACTS, data)
    assert late.status_code == 200
    assert "did not say which version" in late.content.decode()
    contact.refresh_from_db()
    assert contact.phone == "0800 000 000"


def test_the_flag_rules_posted_without_versions_save_nothing(world):
    late = world.client("service_admin").post(RULES_URL, rule_data() | {"no-contact-t_days": "35"})
    assert late.status_code == 200
    assert "did not say which version" in late.content.decode()
    assert not RuleSetting.objects.filter(rule="no-contact").exists()


# --- fewer than three life-domain cards -------------------------------------------------------


def test_fewer_than_three_life_domain_cards_are_refused(world):
    cards = [{"code": c, "label": c.title(), "position": str(n), "active": "on"}
             for n, c in enumerate(["drugs", "housing"])]
    page = world.client("service_admin").post(DOMAINS, rows("rows", cards))
    assert page.status_code == 200
    assert "at least three" in page.content.decode()
    assert not LifeDomain.objects.exists()


def test_a_stored_set_of_two_cards_draws_bars_not_an_error(world):
    for n, code in enumerate(["drugs", "housing"]):
        LifeDomain.objects.create(organisation=world.org, code=code, label=code.title(),
                                  position=n)
    client = world.client("practitioner")
    _url, done = enter(client, world.p1, "life-domains", {"drugs": "4", "housing": "7"})
    assert done.status_code == 302, done.content[:300]
    page = client.get(f"/patients/{world.p1.pk}/checkups/")
    assert page.status_code == 200
    assert "chart-bars" in page.content.decode()


def test_areas_chart_is_a_radar_from_three_areas_and_bars_below():
    from tandem.core.charts import areas_svg

    series = [Series("1 Mar 2026", [3, None], latest=True)]
    bars = areas_svg(["Drugs", "Housing"], series, max_value=10, title="Areas")
    assert "chart-bars" in bars and "Housing: not answered" in bars
    radar = areas_svg(["a", "b", "c"], [Series("s", [1, 2, 3], latest=True)], title="t")
    assert "chart-radar" in radar


def rule_data(versions=False):
    data = {}
    for code, spec in RULES.items():
        data[f"{code}-enabled"] = "on"
        if versions:
            data[f"{code}-version"] = "0"
        for t in spec.thresholds:
            data[f"{code}-t_{t.name}"] = str(t.default)
    return data


def test_version_fields_are_on_the_pages(world):
    client = world.client("service_admin")
    CrisisContact.objects.create(organisation=world.org, name="Night line")
    UrgentAnswer.objects.create(organisation=world.org, instrument_code="top",
                                item_id="housing_acute", at_least=1, message="x")
    for url, name in [(CHECKUPS, 'name="version"'), (CONTACTS, 'name="rows-0-version"'),
                      (URGENT, 'name="rows-0-version"'), (RULES_URL, 'name="no-contact-version"')]:
        assert name in client.get(url).content.decode(), url
