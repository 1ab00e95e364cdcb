import datetime
import logging

from django.contrib import messages
from django.contrib.auth.views import (
    LoginView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
)
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.formats import date_format

from tandem.accounts import services
from tandem.accounts.forms import AccountEmailForm, TeamForm, UserForm
from tandem.accounts.models import Role, RoleGrant, Team, User
from tandem.audit import trail
from tandem.audit.actor import Actor, client_address
from tandem.records import versioning

# After an admin changes someone's address, no reset link goes to the new one for this long:
# the old address has been told, and its owner has time to say it was not them.
RESET_WAIT = datetime.timedelta(hours=24)

log = logging.getLogger(__name__)


class SignInView(LoginView):
    """Django's sign-in; the person is then told of what an admin did to their account since
    they last signed in (a changed address, a reset link sent)."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        since = user.last_login
        response = super().form_valid(form)
        for notice in account_notices(user, since):
            messages.warning(self.request, notice)
        return response


def account_notices(user, since) -> list[str]:
    def after(moment):
        return moment is not None and (since is None or moment > since)

    notices = []
    if after(user.email_changed_at):
        notices.append(f"Since you last signed in, your email address was changed to "
                       f"{user.email} by a service admin. If you did not expect this, tell "
                       f"your service.")
    if user.link_sent_by and after(user.link_sent_at):
        notices.append(f"Since you last signed in, a password reset link was sent to you at "
                       f"{user.link_sent_by}'s request.")
    return notices


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

    def make_form(data, instance):
        return UserForm(data, instance=instance, organisation=org, editor=request.user)

    form, stale = make_form(request.POST or None, instance), None
    if request.method == "POST" and form.is_valid():
        try:
            user = services.save_user(Actor.of(request), form)
        except versioning.Stale as refused:
            form, stale = versioning.form_again(request, make_form, refused), refused
        else:
            if instance is None:
                if send_account_email(request, user, "welcome"):
                    messages.success(request, f"Added {user.display_name}. They have been "
                                              f"emailed a link to set their password.")
                else:
                    messages.success(request, f"Added {user.display_name}. No email was sent, "
                                              "as the account is not active: tick Active and "
                                              "send a password reset when they need it.")
            else:
                old_email = form.before["email"]
                if old_email and old_email.lower() != user.email.lower():
                    tell_old_address(request, user, old_email)
                messages.success(request, f"Saved {user.display_name}.")
            return redirect("manage:users")
    return render(request, "accounts/user_form.html",
                  {"form": form, "subject": stale.current if stale else instance,
                   "stale": stale})


def password_reset(request, user_id):
    """Send the person Django's password-reset email. The admin never sees or sets it, and
    cannot send it to an address an admin changed less than RESET_WAIT ago."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    user = get_object_or_404(staff_accounts(request.user.organisation), pk=user_id)
    if not user.email or not user.is_active:
        messages.error(request, f"{user.display_name} has no email address or is deactivated: "
                                "add an address (and tick Active) first.")
        return redirect("manage:user-edit", user_id=user.pk)
    if user.email_changed_at and timezone.now() < user.email_changed_at + RESET_WAIT:
        told = ("the old address has been told" if user.email_changed_from else
                "the account had no address before, so nobody else could be told")
        after = date_format(timezone.localtime(user.email_changed_at + RESET_WAIT),
                            "j F Y, H:i")
        messages.error(request, f"The email address was changed less than 24 hours ago; "
                                f"{told}. A reset can be sent after {after}.")
        return redirect("manage:user-edit", user_id=user.pk)
    send_account_email(request, user, "reset")
    services.reset_sent(Actor.of(request), user)
    messages.success(request, f"A password reset link has been emailed to {user.display_name}.")
    return redirect("manage:user-edit", user_id=user.pk)


def send_account_email(request, user, kind: str) -> bool:
    """'welcome' (set your password) or 'reset': a link to Django's reset-confirm page, sent
    once the request's transaction has committed (never for a change rolled back, and once
    for a request run again). Whether it is sent: an inactive account, or one without an
    address, gets none."""
    form = AccountEmailForm(user)
    if not (form.is_valid() and form.get_users(user.email)):
        return False
    services.link_sent(Actor.of(request), user, kind)
    after_commit(request, user, f"the {kind} email to {user.email}", lambda: form.save(
        request=request, use_https=request.is_secure(),
        subject_template_name=f"accounts/email/{kind}_subject.txt",
        email_template_name=f"accounts/email/{kind}.txt",
        extra_email_context={"admin": request.user}))
    return True


def after_commit(request, user, what: str, send) -> None:
    """Send once the request's transaction has committed. Should the mail server refuse or
    not answer, the save stands, and the failure is logged and recorded on the account's
    audit trail (the admin's message was already shown), so nobody relies on a link that was
    never sent."""
    actor, path, client = request.user, request.path[:300], client_address(request)

    def attempt():
        try:
            send()
        except Exception as error:  # noqa: BLE001 - whatever the mail server answered
            log.exception("could not send %s", what)
            trail.record(organisation=user.organisation_id, action="update", actor=actor,
                         obj=user, path=path, client=client,
                         detail=f"{what} could not be sent: {error}")

    transaction.on_commit(attempt)


def tell_old_address(request, user, old_email: str) -> None:
    context = {"user": user, "old_email": old_email, "admin": request.user}
    body = render_to_string("accounts/email/email_changed.txt", context, request)
    after_commit(request, user, f"the email telling {old_email} of the change",
                 lambda: send_mail("Your Tandem email address was changed", body, None,
                                   [old_email]))


class SetPasswordView(PasswordResetConfirmView):
    """The page the emailed link opens: the person chooses their own password."""

    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("manage:password-set-done")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        sent = (f"sent at {user.link_sent_by}'s request" if user.link_sent_by
                else "for a new account")
        trail.record(organisation=user.organisation_id, action="update", actor=user, obj=user,
                     path=self.request.path[:300], client=client_address(self.request),
                     detail=f"password set from the link emailed to {user.email} ({sent})")
        return response


class PasswordSetDoneView(PasswordResetCompleteView):
    template_name = "accounts/password_set_done.html"


def teams(request):
    org = request.user.organisation
    return render(request, "accounts/teams.html", {"teams": Team.objects.of(org)})


def team_form(request, team_id=None):
    org = request.user.organisation
    instance = get_object_or_404(Team.objects.of(org), pk=team_id) if team_id else None

    def make_form(data, instance):
        return TeamForm(data, instance=instance, organisation=org)

    form, stale = make_form(request.POST or None, instance), None
    if request.method == "POST" and form.is_valid():
        try:
            team = services.save_team(Actor.of(request), form)
        except versioning.Stale as refused:
            form, stale = versioning.form_again(request, make_form, refused), refused
        else:
            messages.success(request, f"Saved team {team.name}.")
            return redirect("manage:teams")
    return render(request, "accounts/team_form.html",
                  {"form": form, "subject": stale.current if stale else instance,
                   "stale": stale})
