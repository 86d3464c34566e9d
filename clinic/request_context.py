"""Where the current request comes from (address, browser, entry point), for the audit trail.

A middleware sets it per request; services read it without being handed the request, so the
admin, the API and patient links all leave the same trail through the same service calls.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None = None
    user_agent: str = ""
    via: str = "service"


_current: ContextVar[RequestContext | None] = ContextVar("ionto_request_context", default=None)
_NO_REQUEST = RequestContext()

ENTRY_POINTS = (("/api/", "api"), ("/admin/", "admin"), ("/p/", "patient link"), ("/clinician/", "clinician page"))


def current() -> RequestContext:
    """The current request's context; outside a request (a Celery task, a command): "service"."""
    return _current.get() or _NO_REQUEST


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        via = next((name for prefix, name in ENTRY_POINTS if request.path.startswith(prefix)), "web")
        # REMOTE_ADDR is the proxy's address behind one; SECURE_PROXY_SSL_HEADER deployments set
        # IONTO_PROXY_COUNT so django-axes and this agree on the client's address.
        from axes.helpers import get_client_ip_address

        token = _current.set(RequestContext(
            ip_address=get_client_ip_address(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            via=via,
        ))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
