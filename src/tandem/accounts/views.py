from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render

from tandem.accounts.forms import TeamForm, UserForm
from tandem.accounts.models import RoleGrant, Team, User


class SignInView(LoginView):
    redirect_authenticated_user = True


def users(request):
    org = request.user.organisation
    qs = (
        User.objects.filter(organisation=org)
        .prefetch_related(Prefetch("grants", RoleGrant.objects.select_related("team")))
        .order_by("last_name", "first_name", "username")
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/users.html", {"page": page})


def user_form(request, user_id=None):
    org = request.user.organisation
    instance = get_object_or_404(User, pk=user_id, organisation=org) if user_id else None
    form = UserForm(request.POST or None, instance=instance, organisation=org)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        messages.success(request, f"Saved {user.display_name}.")
        return redirect("manage:users")
    return render(request, "accounts/user_form.html", {"form": form, "subject": instance})


def teams(request):
    org = request.user.organisation
    return render(request, "accounts/teams.html", {"teams": Team.objects.filter(organisation=org)})


def team_form(request, team_id=None):
    org = request.user.organisation
    instance = get_object_or_404(Team, pk=team_id, organisation=org) if team_id else None
    form = TeamForm(request.POST or None, instance=instance, organisation=org)
    if request.method == "POST" and form.is_valid():
        team = form.save()
        messages.success(request, f"Saved team {team.name}.")
        return redirect("manage:teams")
    return render(request, "accounts/team_form.html", {"form": form, "subject": instance})
