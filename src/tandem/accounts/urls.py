"""The service admin's pages for users and teams, under /manage/ in the "manage" namespace
(tandem/urls.py puts every app's admin pages together there)."""

from django.urls import path

from tandem.accounts import views

manage = [
    path("users/", views.users, name="users"),
    path("users/new/", views.user_form, name="user-new"),
    path("users/<int:user_id>/", views.user_form, name="user-edit"),
    path("users/<int:user_id>/password-reset/", views.password_reset, name="user-password-reset"),
    # The page a person's emailed link opens to set their own password (not an admin page).
    path("password/done/", views.PasswordSetDoneView.as_view(), name="password-set-done"),
    path("password/<uidb64>/<token>/", views.SetPasswordView.as_view(), name="password-set"),
    path("teams/", views.teams, name="teams"),
    path("teams/new/", views.team_form, name="team-new"),
    path("teams/<int:team_id>/", views.team_form, name="team-edit"),
]
