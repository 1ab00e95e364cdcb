"""Medication pages: the care team's under /patients/ (the "patients" namespace), the patient's
own under /portal/ ("portal"), the service's settings under /manage/ ("manage")."""

from django.urls import path  # noqa: F401  (each list below is filled by its pages)

staff = [
]
portal = [
]
manage = [
]
