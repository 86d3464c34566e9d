"""The signed link of a check-in: single-purpose, bound to one check-in, expiring."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

CHECK_IN_SALT = "ionto.check-in"
# A check-in's link works this long after the check-in fell due (not after the email went: a send retried
# later does not lengthen it): long enough to answer at leisure, shorter than the weeks between two check-ins.
CHECK_IN_LINK_MAX_AGE = timedelta(days=14)


def check_in_link_token(*, check_in_id: int) -> str:
    return signing.dumps({"c": check_in_id, "k": "check-in"}, salt=CHECK_IN_SALT)


def check_in_link_read(*, token: str) -> int:
    """The check-in id a token names; ``signing.BadSignature`` when it is forged or of another kind. Whether
    it has expired is the check-in's own date (``check_in_link_expired``)."""
    data = signing.loads(token, salt=CHECK_IN_SALT)
    if not isinstance(data, dict) or data.get("k") != "check-in" or not isinstance(data.get("c"), int):
        raise signing.BadSignature("not a check-in link")
    return data["c"]


def check_in_link_expired(*, due_at: datetime, now: datetime) -> bool:
    return now > due_at + CHECK_IN_LINK_MAX_AGE


def check_in_link_url(*, check_in_id: int) -> str:
    token = check_in_link_token(check_in_id=check_in_id)
    return f"{settings.IONTO_PUBLIC_URL}{reverse('patient:check-in', args=[token])}"
