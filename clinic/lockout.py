"""What a locked-out login gets: JSON in the API's error shape under /api/, a plain page elsewhere."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse

LOCKED_STATUS = 429


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (f"Too many failed sign-ins. Try again in {minutes} minutes, "
            "or ask a manager to unlock the account.")


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": lockout_message(), "code": "locked_out", "errors": {}}, status=LOCKED_STATUS)
    return HttpResponse(lockout_message(), status=LOCKED_STATUS, content_type="text/plain; charset=utf-8")
