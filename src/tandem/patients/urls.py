from django.urls import path

from tandem.assessment import views as checkups
from tandem.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_new, name="new"),
    path("<uuid:patient_id>/", views.patient_detail, name="detail"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<uuid:patient_id>/episodes/new/", views.episode_new, name="episode-new"),
    path("<uuid:patient_id>/episodes/<uuid:episode_id>/", views.episode_edit, name="episode-edit"),
    path("<uuid:patient_id>/care-team/new/", views.member_new, name="member-new"),
    path(
        "<uuid:patient_id>/care-team/<uuid:member_id>/end/", views.member_end, name="member-end"
    ),
    path("<uuid:patient_id>/checkups/", checkups.results, name="checkups"),
    path("<uuid:patient_id>/checkups/new/", checkups.new, name="checkup-new"),
    path("<uuid:patient_id>/checkups/schedule/", checkups.schedule, name="checkup-schedule"),
    path(
        "<uuid:patient_id>/checkups/<uuid:response_id>/", checkups.entry, name="checkup-entry"
    ),
    path(
        "<uuid:patient_id>/checkups/<uuid:response_id>/view/",
        checkups.detail,
        name="checkup-detail",
    ),
]
