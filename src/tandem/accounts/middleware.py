"""Bearer-token sign-in for the API, and the idle expiry of a signed-in session."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.http import JsonResponse

from tandem.accounts.models import ApiToken

log = logging.getLogger(__name__)

SESSION_REFRESH_SECONDS = 60
_clock = time.time


class SessionActivityMiddleware:
    """Move a signed-in session's idle expiry (TANDEM_SESSION_IDLE_MINUTES) forward as its user
    works, writing the session at most once a minute: Django's SESSION_SAVE_EVERY_REQUEST would
    write it on every request. Sits after SessionMiddleware, which saves what this marks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.session_key and not session.is_empty():
            now = int(_clock())
            if now - session.get("_active_at", 0) >= SESSION_REFRESH_SECONDS:
                session["_active_at"] = now  # changed, so saved with a new expiry
        return response


class BearerTokenMiddleware:
    """`Authorization: Bearer <token>` signs the request in as the token's user.

    Token requests carry no cookies, so they are not exposed to CSRF; the check is skipped.
    A malformed or revoked token is refused outright rather than treated as anonymous.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        # Addresses that check a bearer token of their own (a provider's delivery receipts).
        if header and request.path not in settings.OWN_BEARER_PATHS:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return JsonResponse({"detail": "Use 'Authorization: Bearer <token>'."}, status=401)
            user = ApiToken.authenticate(token.strip())
            if user is None:
                return JsonResponse({"detail": "Invalid or revoked token."}, status=401)
            request.user = user
            request.token_auth = True
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


