"""Bearer-token sign-in for the API, and the permission gate in front of every view."""

from __future__ import annotations

import json
import logging
import time
import uuid

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
    """Apply the rule declared for the resolved URL before the view runs. Default deny.

    It also writes what the audit trail needs to know about the request: a view of part of one
    patient's record (`permissions.RECORD_PARTS`), the patients a list showed, once it has
    shown them (`permissions.LISTS`), and every refusal of a signed-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        listing = getattr(request, "audit_listing", None)
        if listing is not None and 200 <= response.status_code < 300:
            record_listing(request, listing, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        name = request.resolver_match.view_name if request.resolver_match else None
        rule = permissions.rule_for(name)
        if rule is None:
            log.error("No permission rule declared for URL %r; refusing.", name)
            return refuse(request, name, permissions.Decision(False))
        if rule.public:
            return None
        if not request.user.is_authenticated:
            if is_api(request):
                return refusal(request, 401)
            return redirect_to_login(request.get_full_path())
        decision = rule.decide(request, view_kwargs)
        if not decision.allowed:
            return refuse(request, name, decision)
        request.access_role = decision.role
        patient = getattr(request, "patient", None)
        part = permissions.RECORD_PARTS.get(name)
        if patient is not None and part is None:
            log.error("No record part declared for URL %r; refusing.", name)
            return refuse(request, name, permissions.Decision(False, patient=patient))
        if request.method in SAFE_METHODS:
            if patient is not None:
                trail.record_request(request, "read", patient=patient, object_type=part,
                                     object_id=item_id(view_kwargs))
            elif name in permissions.LISTS:
                request.audit_listing = permissions.LISTS[name]
        return None


def item_id(view_kwargs) -> str:
    """The one item of the record a URL names besides the patient (a check-up, a flag, a
    review...), or ""."""
    for key, value in view_kwargs.items():
        if key.endswith("_id") and key != "patient_id":
            return str(value)
    return ""


def refuse(request, name, decision):
    """Refuse, and put the refusal on the signed-in user's own organisation's audit trail:
    with the part of a record asked for and the path, and the patient only when they are of
    that organisation (a patient of another organisation is never named or looked up)."""
    user = request.user
    if user.is_authenticated and user.organisation_id:
        trail.record_request(
            request, "refused", patient=decision.patient,
            role=",".join(sorted(permissions.roles_of(user)))[:40],
            object_type=permissions.RECORD_PARTS.get(name or "", ""))
    response = refusal(request, decision.status)
    if decision.status == 405:  # RFC 9110: a 405 says which methods the URL takes
        response["Allow"] = ", ".join(getattr(permissions.rule_for(name), "by_method", ()))
    return response


def record_listing(request, listing, response) -> None:
    """One "listed" event per patient the list showed, in one bulk append; one event without a
    patient when it showed nobody (a search that found no one is still recorded)."""
    if listing.items:  # the API: the patients named in what was sent
        try:
            sent = json.loads(response.content)[listing.items]
            shown = [uuid.UUID(str(item[listing.patient_key])) for item in sent]
        except (ValueError, KeyError, TypeError) as error:
            raise RuntimeError(f"cannot read the patients a list showed: {error}") from error
    else:  # a page: its view names them
        shown = getattr(request, "shown_patients", None)
        if shown is None:
            raise RuntimeError(f"the view of {request.path} did not name the patients it showed")
    part = listing.searched if request.GET.get("q", "").strip() else listing.part
    ids = list(dict.fromkeys(shown)) or [None]
    trail.record_many(request, "search", [(patient_id, part, "") for patient_id in ids])
