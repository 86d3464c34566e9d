"""Request rates per user (and per address for token requests); over the rate the API answers 429.

Rates are read at request time from IONTO_API_RATES so settings and tests can change them. The counts
live in Django's cache, which every process shares (clinic.settings.cache_settings), and the client is
the address clinic.request_context.client_address decides.

The per-user rate, which every authenticated request passes, counts in fixed windows through
django-ratelimit (``get_usage``: one small number per user and window, added and incremented), as the
patient links' limit does: DRF's own throttle keeps the time of every request of the last window in one
cache entry, read, pickled, compressed and written whole on each request, which cost more than the rest
of a request that does nothing (bench/README.md). The per-address rates of requests without a login
and of the token endpoint keep DRF's sliding window: they guard against guessing, where a burst at a
window's edge must not count double.
"""

from __future__ import annotations

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from clinic.request_context import client_address

DEFAULT_RATES = {"user": "1200/min", "anon": "120/min", "token": "30/min"}


def _rate(scope: str) -> str | None:
    return {**DEFAULT_RATES, **getattr(settings, "IONTO_API_RATES", {})}.get(scope)


class _IontoRates:
    """Rates from settings, and the client's address as Ionto decides it (not DRF's own reading of
    X-Forwarded-For, which a client can write)."""

    def get_rate(self):
        return _rate(self.scope)

    def get_ident(self, request):
        return client_address(request)


class UserThrottle(_IontoRates, UserRateThrottle):
    """``IONTO_API_RATES["user"]`` requests a window per user (per address without a login), counted by
    django-ratelimit; a refused request counts too, and ``Retry-After`` names the end of the window."""

    seconds_left = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        usage = get_usage(request, group=f"ionto-api-{self.scope}", key=lambda group, request: ident,
                          rate=(self.num_requests, self.duration), increment=True)
        if usage is None:  # RATELIMIT_ENABLE is off
            return True
        self.seconds_left = usage["time_left"]
        return not usage["should_limit"]

    def wait(self):
        return None if self.seconds_left is None else max(self.seconds_left, 1)


class AnonThrottle(_IontoRates, AnonRateThrottle):
    pass


class TokenRateThrottle(_IontoRates, AnonRateThrottle):
    scope = "token"
