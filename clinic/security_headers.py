"""Headers on every answer that Django and django-csp do not send: no caching of patient data, and no
powerful browser features or cross-window access for pages.

Every answer that does not say how it may be cached (API JSON, patient pages, clinician pages, exports) is
``no-store``: a shared computer's browser or a proxy keeps no copy of patient data. Static files set their
own caching and keep it. The Content-Security-Policy comes from django-csp (CONTENT_SECURITY_POLICY).
"""

from __future__ import annotations


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Cache-Control", "no-store")
        return response
