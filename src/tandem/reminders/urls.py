"""Reminders' pages: one patient's messages and appointments (staff), and the public ones a
message links to (no sign-in; the token is the key)."""

from django.urls import path

from tandem.reminders import public as public_views
from tandem.reminders import views

staff = [
    path("<uuid:patient_id>/messages/", views.messages_page, name="messages"),
    path("<uuid:patient_id>/messages/choices/", views.choices, name="messages-choices"),
    path("<uuid:patient_id>/appointments/new/", views.appointment_new, name="appointment-new"),
    path("<uuid:patient_id>/appointments/<uuid:appointment_id>/cancel/",
         views.appointment_cancel, name="appointment-cancel"),
]

public = [
    path("stop/<str:token>/", public_views.stop, name="stop"),
    path("appointment/<str:token>/", public_views.appointment, name="appointment"),
]
