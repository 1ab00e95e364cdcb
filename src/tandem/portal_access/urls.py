"""The portal-access pages. `staff`: under the patient, mounted under /patients/ in the
"patients" namespace; `public`: the patient's own pages before they can sign in, mounted at
/join/ in the "join" namespace (tandem/urls.py)."""

from django.urls import path

from tandem.portal_access import views

staff = [
    path("<uuid:patient_id>/portal/", views.portal_access, name="portal-access"),
    path("<uuid:patient_id>/portal/letter/", views.portal_letter, name="portal-letter"),
]

public = [
    path("", views.start, name="start"),
    path("confirm/", views.confirm, name="confirm"),
    path("forgot/", views.forgot, name="forgot"),
    path("reset/code/", views.reset_code, name="reset-code"),
    path("reset/done/", views.reset_done, name="reset-done"),
    path("reset/<uidb64>/<token>/", views.ResetLinkView.as_view(), name="reset-link"),
    path("<str:token>/", views.link, name="link"),
]
