"""Monitoring's pages: flags, contacts, re-engagement and the timeline under /patients/ (the
"patients" namespace), and the early-warning rules under /manage/ (the "manage" namespace)."""

from django.urls import path

from tandem.monitoring.views import admin
from tandem.monitoring.views import staff as views

staff = [
    path("<uuid:patient_id>/flags/", views.flags, name="flags"),
    path("<uuid:patient_id>/flags/<uuid:flag_id>/", views.flag, name="flag"),
    path("<uuid:patient_id>/contacts/new/", views.contact_new, name="contact-new"),
    path("<uuid:patient_id>/re-engage/", views.reengage, name="re-engage"),
    path("<uuid:patient_id>/timeline/", views.patient_timeline, name="timeline"),
]
manage = [
    path("checkups/early-warning/", admin.rule_settings, name="flag-rules"),
]
