"""Request rates per user (and per address for token requests); over the rate the API answers 429.

Rates are read at request time from IONTO_API_RATES so settings and tests can change them. The counts
live in Django's cache, which every process shares (clinic.settings.cache_settings), and the client is
the address clinic.request_context.client_address decides.
"""

from __future__ import annotations

from django.conf import settings
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
    pass


class AnonThrottle(_IontoRates, AnonRateThrottle):
    pass


class TokenRateThrottle(_IontoRates, AnonRateThrottle):
    scope = "token"
