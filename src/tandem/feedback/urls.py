"""The feedback report's pages: the patient's own under /portal/ (the "portal" namespace) and
the care team's view of shared reports under /patients/ (the "patients" namespace)."""

from django.urls import path

from tandem.feedback import views

staff = [
    path("<uuid:patient_id>/feedback/", views.staff, name="feedback"),
]
portal = [
    path("feedback/", views.report, name="feedback"),
    path("feedback/report.pdf", views.report_pdf, name="feedback-pdf"),
    path("feedback/<uuid:report_id>/stop-sharing/", views.stop_sharing,
         name="feedback-stop-sharing"),
]
