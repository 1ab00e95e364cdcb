"""No copy of any page or answer is kept by the browser or anything between it and Tandem.

Patient pages, portal pages, PDFs and API responses all carry personal health data, and a
shared computer's browser cache, or its back button after signing out, would show them to
the next person. Every response that passes through here gets `Cache-Control: no-store`
(RFC 9111, 5.2.2.5), which also covers what the older `no-cache`, `must-revalidate` and
`Pragma` tried to. Static files (CSS, JavaScript, images) are served by WhiteNoise before
this middleware and keep their long-lived caching.
"""

from __future__ import annotations


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers["Cache-Control"] = "no-store"
        return response
