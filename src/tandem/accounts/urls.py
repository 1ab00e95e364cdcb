from django.urls import path

from tandem.accounts import views
from tandem.assessment import manage as checkups
from tandem.monitoring import views as monitoring

app_name = "manage"
urlpatterns = [
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
    path("checkups/", checkups.settings_page, name="checkups"),
    path("checkups/questionnaires/", checkups.instruments, name="instruments"),
    path("checkups/crisis-contacts/", checkups.crisis_contacts, name="crisis-contacts"),
    path("checkups/life-domains/", checkups.life_domains, name="life-domains"),
    path("checkups/urgent-answers/", checkups.urgent_answers, name="urgent-answers"),
    path("checkups/early-warning/", monitoring.rule_settings, name="flag-rules"),
]
