"""Reminders' pages: one patient's messages and appointments (staff), letters to post, the
service's wording (service admins), and the public ones a message links to (no sign-in; the
token is the key)."""

from django.urls import path

from tandem.reminders import portal as portal_views
from tandem.reminders import public as public_views
from tandem.reminders import service_pages, views

staff = [
    path("letters/", views.letters_page, name="letters"),
    path("letters/print.pdf", views.letters_pdf, name="letters-pdf"),
    path("letters/posted/", views.letters_posted, name="letters-posted"),
    path("<uuid:patient_id>/messages/", views.messages_page, name="messages"),
    path("<uuid:patient_id>/messages/choices/", views.choices, name="messages-choices"),
    path("<uuid:patient_id>/appointments/new/", views.appointment_new, name="appointment-new"),
    path("<uuid:patient_id>/appointments/<uuid:appointment_id>/cancel/",
         views.appointment_cancel, name="appointment-cancel"),
]

portal = [
    path("reminders/", portal_views.reminders, name="messages"),
    path("reminders/choices/", portal_views.choices, name="message-choices"),
]

manage = [
    path("messages/", service_pages.messages_settings, name="messages"),
    path("messages/<str:kind>/", service_pages.template_page, name="message-template"),
]

public = [
    path("stop/<str:token>/", public_views.stop, name="stop"),
    path("appointment/<str:token>/", public_views.appointment, name="appointment"),
]
