"""Sign-in throttling (django-axes): a username is locked at one address, and an address is
locked whatever the usernames.

axes counts failures for each entry of AXES_LOCKOUT_PARAMETERS, here
[["username", "ip_address"], "ip_address"], and locks when the larger count reaches one limit,
AXES_FAILURE_LIMIT. The address's count always includes the pair's, so one fixed number would
make the pair meaningless; the limit is therefore this callable: PAIR_LIMIT once this username
has failed that often from this address, ADDRESS_LIMIT otherwise. Five wrong guesses from an
attacker's address then lock that username *there* only; the person at their own address still
signs in. An address spraying guesses over many usernames is locked at ADDRESS_LIMIT.

A successful sign-in clears that person's own failures at that address (OwnAttemptsHandler):
someone who mistyped four times and then signed in starts afresh. axes itself would delete
every row matching each lockout parameter, the address's included, so an attacker signing
into an account of their own between guesses would clear their count at a victim's username
and at the address; here nothing but the signed-in username's rows at that address goes."""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_client_username
from axes.models import AccessAttempt
from django.db.models import Sum

PAIR_LIMIT = 5  # wrong passwords for one username from one address
ADDRESS_LIMIT = 20  # wrong passwords from one address, whatever the usernames


def failure_limit(request, credentials=None) -> int:
    username = get_client_username(request, credentials)
    address = getattr(request, "axes_ip_address", None) or get_client_ip_address(request)
    failures = AccessAttempt.objects.filter(
        username=username, ip_address=address,
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(n=Sum("failures_since_start"))["n"] or 0
    return PAIR_LIMIT if failures >= PAIR_LIMIT else ADDRESS_LIMIT


class OwnAttemptsHandler(AxesDatabaseHandler):
    """axes' database handler, resetting on success only the signed-in username's failures
    at the address it signed in from."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        count, _ = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        ).delete()
        return count
