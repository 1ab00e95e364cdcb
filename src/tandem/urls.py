"""Every URL of Tandem. Each app declares its own pages by audience (`staff`, `portal`,
`manage`); they are put together here, above the apps, into one namespace per audience, so no
app needs to import another app's views. Each URL's permission rule is in web/permissions.py."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from tandem.accounts import urls as accounts
from tandem.accounts.views import SignInView
from tandem.api.urls import api
from tandem.api.views import api_docs
from tandem.assessment import urls as assessment
from tandem.caseload import urls as caseload
from tandem.feedback import urls as feedback
from tandem.medication import urls as medication
from tandem.monitoring import urls as monitoring
from tandem.outbox import urls as outbox
from tandem.patients import urls as patients
from tandem.planning import urls as planning
from tandem.portal import urls as portal
from tandem.portal_access import urls as portal_access
from tandem.reminders import urls as reminders
from tandem.reporting import urls as reporting
from tandem.web import views as web

staff_pages = [*caseload.staff, *patients.staff, *monitoring.staff, *planning.staff,
               *assessment.staff]
staff_pages += feedback.staff
portal_pages = [*portal.portal, *assessment.portal, *planning.portal]
portal_pages += feedback.portal
staff_pages += portal_access.staff  # the patient's portal access, under the patient
staff_pages += medication.staff
staff_pages += reminders.staff
portal_pages += reminders.portal
portal_pages += medication.portal
admin_pages = [*accounts.manage, *assessment.manage, *monitoring.manage]
admin_pages += medication.manage
admin_pages += reminders.manage

urlpatterns = [
    path("", web.home, name="home"),
    path("healthz", web.healthz, name="healthz"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/", include((staff_pages, "patients"))),
    path("portal/", include((portal_pages, "portal"))),
    path("join/", include((portal_access.public, "join"))),  # patients' sign-up, resets
    path("manage/", include((admin_pages, "manage"))),
    path("audit/", include("tandem.audit.urls")),
    path("outbox/", include((outbox.public, "outbox"))),  # providers' delivery receipts
    path("", include(reminders.public)),  # a message's links: stop, "I can't come"
    path("reports/", include((reporting.pages, "reports"))),
    path("api/v1/docs", api_docs, name="api-docs"),
    path("api/v1/", api.urls),
]

handler403 = "tandem.web.views.forbidden"
handler404 = "tandem.web.views.not_found"
handler500 = "tandem.web.views.server_error"
