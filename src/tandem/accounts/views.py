from django.contrib import messages
from django.contrib.auth.views import (
    LoginView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
)
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy

from tandem.accounts.changes import difference, record_change
from tandem.accounts.forms import AccountEmailForm, TeamForm, UserForm
from tandem.accounts.models import Role, RoleGrant, Team, User
from tandem.audit import trail


class SignInView(LoginView):
    redirect_authenticated_user = True


def staff_accounts(org):
    """The service's staff accounts. Patients' portal accounts never pass through the staff
    pages: they are not listed and their edit pages are not found."""
    return User.objects.filter(organisation=org).exclude(grants__role=Role.PATIENT)


def users(request):
    org = request.user.organisation
    qs = (
        staff_accounts(org)
        .prefetch_related(Prefetch("grants", RoleGrant.objects.select_related("team")))
        .order_by("last_name", "first_name", "username")
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/users.html", {"page": page})


def user_form(request, user_id=None):
    org = request.user.organisation
    instance = get_object_or_404(staff_accounts(org), pk=user_id) if user_id else None
    old_email = instance.email if instance else ""
    form = UserForm(request.POST or None, instance=instance, organisation=org,
                    editor=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        if instance is None:
            record_change(request, "create", user, form.changes, prefix="created: ")
            send_account_email(request, user, "welcome")
            messages.success(request, f"Added {user.display_name}. They have been emailed a "
                                      f"link to set their password.")
        else:
            if form.changes:
                record_change(request, "update", user, form.changes)
            if old_email and old_email != user.email:
                tell_old_address(request, user, old_email)
            messages.success(request, f"Saved {user.display_name}.")
        return redirect("manage:users")
    return render(request, "accounts/user_form.html", {"form": form, "subject": instance})


def password_reset(request, user_id):
    """Send the person Django's password-reset email. The admin never sees or sets it."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    user = get_object_or_404(staff_accounts(request.user.organisation), pk=user_id)
    if not user.email or not user.is_active:
        messages.error(request, f"{user.display_name} has no email address or is deactivated: "
                                "add an address (and tick Active) first.")
        return redirect("manage:user-edit", user_id=user.pk)
    send_account_email(request, user, "reset")
    record_change(request, "update", user, [user.email], prefix="password reset sent to ")
    messages.success(request, f"A password reset link has been emailed to {user.display_name}.")
    return redirect("manage:user-edit", user_id=user.pk)


def send_account_email(request, user, kind: str) -> None:
    """'welcome' (set your password) or 'reset': a link to Django's reset-confirm page."""
    form = AccountEmailForm(user)
    if form.is_valid():
        form.save(request=request, use_https=request.is_secure(),
                  subject_template_name=f"accounts/email/{kind}_subject.txt",
                  email_template_name=f"accounts/email/{kind}.txt",
                  extra_email_context={"admin": request.user})


def tell_old_address(request, user, old_email: str) -> None:
    context = {"user": user, "old_email": old_email, "admin": request.user}
    send_mail("Your Tandem email address was changed",
              render_to_string("accounts/email/email_changed.txt", context, request),
              None, [old_email])


class SetPasswordView(PasswordResetConfirmView):
    """The page the emailed link opens: the person chooses their own password."""

    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("manage:password-set-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        trail.record(organisation=user.organisation_id, action="update", actor=user, obj=user,
                     path=self.request.path[:300], client=trail.client_address(self.request),
                     purpose="password set by its owner from the emailed link")
        return response


class PasswordSetDoneView(PasswordResetCompleteView):
    template_name = "accounts/password_set_done.html"


def teams(request):
    org = request.user.organisation
    return render(request, "accounts/teams.html", {"teams": Team.objects.filter(organisation=org)})


def team_form(request, team_id=None):
    org = request.user.organisation
    instance = get_object_or_404(Team, pk=team_id, organisation=org) if team_id else None
    old_name = instance.name if instance else None
    form = TeamForm(request.POST or None, instance=instance, organisation=org)
    if request.method == "POST" and form.is_valid():
        team = form.save()
        change = difference("name", old_name, team.name)
        if change:
            record_change(request, "create" if instance is None else "update", team, [change],
                          prefix="created: " if instance is None else "changed: ")
        messages.success(request, f"Saved team {team.name}.")
        return redirect("manage:teams")
    return render(request, "accounts/team_form.html", {"form": form, "subject": instance})
