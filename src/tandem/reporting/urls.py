"""The service report's pages, under /reports/ (namespace "reports").
Each URL's permission rule is in web/permissions.py."""

from django.urls import path, re_path

from tandem.reporting import views

pages = [
    path("", views.service, name="service"),
    path("definitions/", views.definitions, name="definitions"),
    path("<slug:key>/patients/", views.patients, name="patients"),
    re_path(r"^export\.(?P<fmt>csv|xlsx|pdf)$", views.export, name="export"),
]
