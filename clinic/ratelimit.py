"""A per-address request budget for pages anyone can reach (patients' email links).

Counts live in Django's cache, which every process shares (clinic.settings.cache_settings), so the
budget holds across web processes.
"""

from __future__ import annotations

import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from clinic import request_context


def rate_limited(scope: str):
    """Answer 429 once an address has made more than IONTO_PATIENT_LINK_RATE requests this minute."""

    def decorator(view):
        @wraps(view)
        def limited(request, *args, **kwargs):
            address = request_context.client_address(request)
            key = f"ionto-rate:{scope}:{address}:{int(time.time() // 60)}"
            cache.add(key, 0, timeout=120)
            try:
                count = cache.incr(key)
            except ValueError:  # the count expired between add and incr: this is the minute's first
                cache.set(key, 1, timeout=120)
                count = 1
            if count > settings.IONTO_PATIENT_LINK_RATE:
                response = HttpResponse("Too many requests from your network. Please wait a minute and try again.",
                                        status=429, content_type="text/plain; charset=utf-8")
                response["Retry-After"] = "60"
                return response
            return view(request, *args, **kwargs)

        return limited

    return decorator
