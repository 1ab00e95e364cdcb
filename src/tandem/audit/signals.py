"""Sign-in, sign-out and failed sign-in go on the audit trail too."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from tandem.audit.actor import client_address
from tandem.audit.trail import record


@receiver(user_logged_in)
def logged_in(sender, request, user, **kwargs):
    if user.organisation_id:
        record(organisation=user.organisation, action="login", actor=user,
               client=client_address(request), path=request.path)


@receiver(user_logged_out)
def logged_out(sender, request, user, **kwargs):
    if user is not None and user.organisation_id:
        record(organisation=user.organisation, action="logout", actor=user,
               client=client_address(request), path=request.path)


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    username = credentials.get("username", "")
    user = get_user_model().objects.filter(username=username).select_related(
        "organisation").first()
    if user is not None and user.organisation_id:
        record(organisation=user.organisation, action="login-failed", actor=None,
               object_type="user", object_id=str(user.pk),
               client=client_address(request) if request else None,
               path=request.path if request else "")
