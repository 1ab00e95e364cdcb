"""Refuse a NUL character in the address, a query parameter or a form field, before any view.

A NUL (\\x00) is never part of text a person typed, and PostgreSQL can neither store nor
compare text holding one (the query fails: a 500). So a request carrying one is answered 400,
naming the parameter or field: JSON `{"detail": ...}` under /api/, a page elsewhere. (A JSON
body's strings are checked by the API's parser, web.strict_json, which answers 422 naming the
field.)"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_problem(request) -> str | None:
    """What holds a NUL character, in words, or None."""
    if NUL in request.path:
        return "The address holds a NUL character, which is never part of valid text."
    sources = [("parameter", request.GET)]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        sources.append(("field", request.POST))
    for kind, values in sources:
        for name, items in values.lists():
            if NUL in name:
                return (f"The name of a {kind} holds a NUL character, which is never part of "
                        "valid text.")
            if any(NUL in item for item in items):
                return (f"The {kind} “{name}” holds a NUL character, which is never part of "
                        "valid text: remove it and try again.")
    return None


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = nul_problem(request)
        if problem is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": problem}, status=400)
        return render(request, "400.html", {"message": "This request could not be read",
                                            "problem": problem}, status=400)
