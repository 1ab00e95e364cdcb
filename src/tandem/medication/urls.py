"""Medication pages: the care team's under /patients/ (the "patients" namespace), the patient's
own under /portal/ ("portal"), the service's settings under /manage/ ("manage")."""

from django.urls import path  # noqa: F401  (each list below is filled by its pages)

from tandem.medication.views import dispensing as dispensing_views
from tandem.medication.views import portal as portal_views
from tandem.medication.views import requests as request_views
from tandem.medication.views import staff as staff_views

staff = [
    path("<uuid:patient_id>/medication/", staff_views.medication, name="medication"),
    path("<uuid:patient_id>/medication/new/", staff_views.new, name="medication-new"),
    path("<uuid:patient_id>/medication/change/", staff_views.edit, name="medication-edit"),
    path("<uuid:patient_id>/medication/stop/", staff_views.stop, name="medication-stop"),
    path("<uuid:patient_id>/medication/requests/<int:request_id>/answer/", staff_views.answer,
         name="medication-request-answer"),
    path("<uuid:patient_id>/medication/review/", staff_views.review_new,
         name="medication-review-new"),
    path("<uuid:patient_id>/medication/reduction/", staff_views.reduction_new,
         name="medication-reduction-new"),
    path("<uuid:patient_id>/medication/reductions/<int:reduction_id>/", staff_views.reduction,
         name="medication-reduction"),
    path("<uuid:patient_id>/medication/changes/<int:change_id>/notice/", staff_views.notice,
         name="medication-notice"),
    path("<uuid:patient_id>/medication/request/", request_views.on_behalf,
         name="medication-request"),
    path("<uuid:patient_id>/medication/dispensing/", dispensing_views.page, name="dispensing"),
    path("dispensing/import/", dispensing_views.import_page, name="dispensing-import"),
]
portal = [
    path("medication/", portal_views.medication, name="medication"),
    path("medication/requests/<int:request_id>/withdraw/", portal_views.withdraw,
         name="medication-withdraw"),
    path("medication/reductions/<int:reduction_id>/pause/", portal_views.pause,
         name="medication-pause"),
]
manage = [
    path("medication/", staff_views.settings_page, name="medication"),
]
