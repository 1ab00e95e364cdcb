"""The patients app's staff pages, under /patients/ in the "patients" namespace (tandem/urls.py
puts every app's patient pages together there)."""

from django.urls import path

from tandem.patients import views

staff = [
    path("new/", views.patient_new, name="new"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<uuid:patient_id>/episodes/new/", views.episode_new, name="episode-new"),
    path("<uuid:patient_id>/episodes/<uuid:episode_id>/", views.episode_edit, name="episode-edit"),
    path("<uuid:patient_id>/care-team/new/", views.member_new, name="member-new"),
    path(
        "<uuid:patient_id>/care-team/<uuid:member_id>/end/", views.member_end, name="member-end"
    ),
]
