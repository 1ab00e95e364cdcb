"""What providers tell Tandem about the messages they accepted."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tandem.core.strict_json import JSONProblem, loads
from tandem.outbox import notify, services


@csrf_exempt
@require_POST
def notify_receipt(request):
    """GOV.UK Notify's delivery receipt (its "callback"): JSON with the message's `id`, our
    `reference` and its `status`, sent with the bearer token set in Notify. Without that
    token, nothing is read (401). A receipt for a message Tandem does not know is accepted
    and ignored, so Notify does not keep sending it."""
    expected = settings.NOTIFY_CALLBACK_TOKEN
    given = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        return HttpResponse("A valid bearer token is needed.", status=401,
                            content_type="text/plain")
    try:
        receipt = loads(request.body.decode("utf-8"), refuse_nul=True)
    except (JSONProblem, UnicodeDecodeError, ValueError) as error:
        return JsonResponse({"error": f"The receipt is not valid JSON: {error}"}, status=400)
    if not isinstance(receipt, dict) or not isinstance(receipt.get("id"), str) \
            or not isinstance(receipt.get("status"), str):
        return JsonResponse({"error": "The receipt needs an id and a status."}, status=400)
    known = notify.outcome(receipt["status"])
    changed = 0
    if known:
        try:
            at = parse_datetime(str(receipt.get("completed_at") or "")) or None
        except ValueError:  # a well-formed date that cannot be (31 February): the time now
            at = None
        changed = services.record_receipt(receipt["id"], *known, at=at)
    return JsonResponse({"recorded": bool(changed)})

