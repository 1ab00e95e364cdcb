"""Bearer-token sign-in for the API, and the permission gate in front of every view."""

from __future__ import annotations

import logging
import time

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import render

from tandem.accounts import permissions
from tandem.accounts.models import ApiToken
from tandem.audit import trail

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def refusal(request, status: int):
    messages = {
        401: "Sign in to continue.",
        403: "You do not have permission to open this page.",
        404: "Not found.",
        405: "Method not allowed.",
    }
    if is_api(request):
        return JsonResponse({"detail": messages[status]}, status=status)
    return render(request, f"{status}.html", {"message": messages[status]}, status=status)


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
        if header:
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


class PermissionMiddleware:
    """Apply the rule declared for the resolved URL before the view runs. Default deny."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        name = request.resolver_match.view_name if request.resolver_match else None
        rule = permissions.rule_for(name)
        if rule is None:
            log.error("No permission rule declared for URL %r; refusing.", name)
            return refusal(request, 403)
        if rule.public:
            return None
        if not request.user.is_authenticated:
            if is_api(request):
                return refusal(request, 401)
            return redirect_to_login(request.get_full_path())
        decision = rule.decide(request, view_kwargs)
        if not decision.allowed:
            return refusal(request, decision.status)
        request.access_role = decision.role
        if request.method in SAFE_METHODS:
            patient = getattr(request, "patient", None)
            if patient is not None:
                trail.record_request(request, "read", patient=patient, obj=patient)
            elif name in permissions.LIST_VIEWS:
                trail.record_request(request, "search", object_type="patient")
        return None
