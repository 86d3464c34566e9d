"""Phone numbers as SMS needs them: E.164 (+447700900123), read with the clinic's country as default."""

from __future__ import annotations

import phonenumbers
from django.conf import settings


def phone_e164(text: str) -> str | None:
    """``text`` as an E.164 number, or None when it is not a valid phone number (read in
    IONTO_PHONE_REGION's numbering plan unless it starts with + and a country code)."""
    try:
        number = phonenumbers.parse(text, settings.IONTO_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
