"""Headers on every answer: a Content-Security-Policy for pages, and no caching of patient data.

Pages load scripts, styles and images from Ionto itself only; nothing from a CDN, no inline
script, and no framing by other sites. JSON answers carry no policy (they are not documents).
Every answer that does not say how it may be cached (API JSON, patient pages, clinician pages,
exports) is ``no-store``: a shared computer's browser or a proxy keeps no copy of patient data.
Static files set their own caching and keep it.
"""

from __future__ import annotations

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # Django's admin and the server-drawn charts set style attributes inline.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Cache-Control", "no-store")
        return response
