from django.urls import path

from tandem.accounts import views

app_name = "manage"
urlpatterns = [
    path("users/", views.users, name="users"),
    path("users/new/", views.user_form, name="user-new"),
    path("users/<int:user_id>/", views.user_form, name="user-edit"),
    path("teams/", views.teams, name="teams"),
    path("teams/new/", views.team_form, name="team-new"),
    path("teams/<int:team_id>/", views.team_form, name="team-edit"),
]
