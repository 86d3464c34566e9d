"""A per-address request budget for pages anyone can reach (patients' email links), kept by django-ratelimit.

Counts live in Django's cache, which every process shares, so the budget holds across web processes; the
address is the one clinic.request_context.client_address decides, as for the sign-in lockout and the API.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django_ratelimit.decorators import ratelimit

from clinic import request_context


def client_key(group: str, request) -> str:
    return request_context.client_address(request)


def patient_link_rate(group: str, request) -> str:
    return f"{settings.IONTO_PATIENT_LINK_RATE}/m"


def rate_limited(scope: str):
    """Answer 429 once an address has made more than IONTO_PATIENT_LINK_RATE requests in a minute."""
    return ratelimit(group=scope, key=client_key, rate=patient_link_rate)


def too_many_requests(request, exception) -> HttpResponse:
    """The answer past the budget (RATELIMIT_VIEW): plain words, and when to try again."""
    response = HttpResponse("Too many requests from your network. Please wait a minute and try again.",
                            status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "60"
    return response
