"""Where the current request comes from (address, browser, entry point), for the audit trail.

A middleware sets it per request; services read it without being handed the request, so the
admin, the API and patient links all leave the same trail through the same service calls.
"""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None = None
    user_agent: str = ""
    via: str = "service"


_current: ContextVar[RequestContext | None] = ContextVar("ionto_request_context", default=None)
_NO_REQUEST = RequestContext()

ENTRY_POINTS = (("/api/", "api"), ("/admin/", "admin"), ("/p/", "patient link"), ("/clinician/", "clinician page"))


def client_address(request) -> str:
    """The address of the client a request comes from: the one place that decides it, for the
    sign-in lockout (django-axes), the API's throttles, the patient links' rate limit and the audit trail.

    With no proxy in front (``IONTO_PROXY_COUNT`` = 0) that is the connection's address, and any
    ``X-Forwarded-For`` is the client's own words and ignored. Behind N proxies, each appends the
    address it was reached from, so the client is the N-th address from the right; what the client
    wrote further left is never read.
    """
    connected = request.META.get("REMOTE_ADDR", "")
    proxies = settings.IONTO_PROXY_COUNT
    if not proxies:
        return connected
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return connected
    candidate = forwarded[-min(proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return connected


def current() -> RequestContext:
    """The current request's context; outside a request (a Celery task, a command): "service"."""
    return _current.get() or _NO_REQUEST


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        via = next((name for prefix, name in ENTRY_POINTS if request.path.startswith(prefix)), "web")
        token = _current.set(RequestContext(
            ip_address=client_address(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            via=via,
        ))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
