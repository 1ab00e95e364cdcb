"""Check-up pages: the staff's under /patients/ (the "patients" namespace), the patient's own
under /portal/ ("portal") and the service admin's settings under /manage/ ("manage")."""

from django.urls import path

from tandem.assessment.views import admin
from tandem.assessment.views import portal as mine
from tandem.assessment.views import staff as views

staff = [
    path("<uuid:patient_id>/checkups/", views.results, name="checkups"),
    path("<uuid:patient_id>/checkups/new/", views.new, name="checkup-new"),
    path("<uuid:patient_id>/checkups/schedule/", views.schedule, name="checkup-schedule"),
    path(
        "<uuid:patient_id>/checkups/<uuid:response_id>/", views.entry, name="checkup-entry"
    ),
    path(
        "<uuid:patient_id>/checkups/<uuid:response_id>/view/",
        views.detail,
        name="checkup-detail",
    ),
]
portal = [
    path("checkups/", mine.checkups, name="checkups"),
    path("progress/", mine.progress, name="progress"),
    # One check-up: everything due now, as one (the portal home's button posts to begin).
    path("checkup/begin/", mine.begin, name="checkup-begin"),
    path("checkup/<uuid:checkup_id>/<int:number>/", mine.step, name="checkup-step"),
    path("checkup/<uuid:checkup_id>/help/<int:number>/", mine.step_help,
         name="checkup-step-help"),
    path("checkup/<uuid:checkup_id>/answers/", mine.answers, name="checkup-answers"),
    path("checkup/<uuid:checkup_id>/done/", mine.finished, name="checkup-finished"),
]
manage = [
    path("checkups/", admin.settings_page, name="checkups"),
    path("checkups/questionnaires/", admin.instruments, name="instruments"),
    path("checkups/crisis-contacts/", admin.crisis_contacts, name="crisis-contacts"),
    path("checkups/life-domains/", admin.life_domains, name="life-domains"),
    path("checkups/urgent-answers/", admin.urgent_answers, name="urgent-answers"),
]
