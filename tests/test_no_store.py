"""Nothing Tandem sends is kept in a browser's cache or a proxy: every page, PDF, API answer
and error carries `Cache-Control: no-store`. Static files (CSS, scripts) stay cacheable."""

import datetime

from django.test import Client, override_settings
from django.utils import timezone

from tandem.accounts.models import ApiToken


def test_every_kind_of_response_says_no_store(world):
    p = world.p1.pk
    staff = world.client("practitioner")
    review = timezone.localdate() + datetime.timedelta(days=30)
    assert staff.post(f"/patients/{p}/plan/edit/",
                      {"review_date": review.isoformat(), "status": "active"}).status_code == 302
    _token, plain = ApiToken.issue(world.users["practitioner"], "test")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    home = world.client("patient")
    walk = [
        (staff, f"/patients/{p}/"), (staff, f"/patients/{p}/plan/"),
        (staff, f"/patients/{p}/plan/print/"), (staff, f"/patients/{p}/plan/print.pdf"),
        (staff, f"/patients/{p}/checkups/"), (staff, "/patients/"),
        (home, "/portal/"), (home, "/portal/plan/"), (home, "/portal/plan/print.pdf"),
        (home, "/portal/checkups/"),
        (api, "/api/v1/patients"), (api, f"/api/v1/patients/{p}/episodes"),
        (staff, f"/api/v1/patients/{p}"),
        (Client(), "/accounts/login/"), (Client(), f"/patients/{p}/"),  # a redirect
        (world.client("practitioner_b"), f"/patients/{p}/"),  # refused
        (staff, "/patients/no-such-page/"), (api, "/api/v1/no-such-thing"),
    ]
    seen = set()
    for client, url in walk:
        response = client.get(url)
        seen.add(response.status_code)
        assert response["Cache-Control"] == "no-store", (url, response.status_code)
    pdf = staff.get(f"/patients/{p}/plan/print.pdf")
    if pdf.status_code == 200:  # WeasyPrint needs Pango; without it the page says so (503)
        assert pdf["Content-Type"] == "application/pdf"
    assert {200, 302, 404} <= seen
    assert staff.post(f"/patients/{p}/contacts/new/", {
        "on": timezone.localdate().isoformat(), "method": "phone"})["Cache-Control"] == "no-store"


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
def test_static_files_are_not_marked_no_store(world):
    response = Client().get("/static/tandem/print.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
