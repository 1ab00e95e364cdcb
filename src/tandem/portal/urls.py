"""The portal's home and who has looked at my record, under /portal/ in the "portal" namespace
(tandem/urls.py puts every app's portal pages together there)."""

from django.urls import path

from tandem.portal import views

portal = [
    path("", views.home, name="home"),
    path("who-looked/", views.record_access, name="record-access"),
]
