"""Refuse a NUL character in the address, a query parameter or a form field, before any view.

A NUL (\\x00) is never part of text a person typed, and PostgreSQL can neither store nor
compare text holding one (the query fails: a 500). So a request carrying one is answered 400,
naming the parameter or field: JSON `{"detail": ...}` under /api/ (technical words), a page in
plain words elsewhere (patients see it too). (A JSON body's strings are checked by the API's
parser, core.strict_json, which answers 422 naming the field.)"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_place(request) -> tuple[str, str | None] | None:
    """Where a NUL character is: (kind, name) — kind "address", "parameter" or "field", name
    None when it is in the address or in a name itself — or None."""
    if NUL in request.path:
        return ("address", None)
    sources = [("parameter", request.GET)]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        sources.append(("field", request.POST))
    for kind, values in sources:
        for name, items in values.lists():
            if NUL in name:
                return (kind, None)
            if any(NUL in item for item in items):
                return (kind, name)
    return None


def technical(kind: str, name: str | None) -> str:
    if kind == "address":
        return "The address holds a NUL character, which is never part of valid text."
    if name is None:
        return f"The name of a {kind} holds a NUL character, which is never part of valid text."
    return (f"The {kind} “{name}” holds a NUL character, which is never part of valid text: "
            "remove it and try again.")


def plain(kind: str, name: str | None) -> str:
    where = {"address": "the address"}.get(kind) if name is None else f"“{name}”"
    where = where or f"the name of a {kind}"
    return ("Part of what was sent could not be read (an invisible control character in "
            f"{where}). Please type it again.")


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        place = nul_place(request)
        if place is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": technical(*place)}, status=400)
        return render(request, "400.html", {"message": "This request could not be read",
                                            "problem": plain(*place)}, status=400)
