"""Who needs me today (/patients/) and one patient's summary, in the "patients" namespace."""

from django.urls import path

from tandem.caseload import medication, views

staff = [
    path("", views.patient_list, name="list"),
    path("<uuid:patient_id>/", views.patient_detail, name="detail"),
    path("medication/", medication.medication_list, name="medication-list"),
]
