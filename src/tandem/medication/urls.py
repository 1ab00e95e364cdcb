"""Medication pages: the care team's under /patients/ (the "patients" namespace), the patient's
own under /portal/ ("portal"), the service's settings under /manage/ ("manage")."""

from django.urls import path  # noqa: F401  (each list below is filled by its pages)

from tandem.medication.views import portal as portal_views
from tandem.medication.views import requests as request_views

staff = [
    path("<uuid:patient_id>/medication/request/", request_views.on_behalf,
         name="medication-request"),
]
portal = [
    path("medication/", portal_views.medication, name="medication"),
    path("medication/requests/<int:request_id>/withdraw/", portal_views.withdraw,
         name="medication-withdraw"),
    path("medication/reductions/<int:reduction_id>/pause/", portal_views.pause,
         name="medication-pause"),
]
manage = [
]
