"""SMS reminders through Twilio's Messages API: the text, the request, the signature of its callbacks.

A reminder by SMS is one short text with no clinical word: the location, the session's local time
and a short signed link to the confirm page, in GSM-7 characters so that it fits one 160-character
segment (a name or place outside GSM-7 makes it UCS-2, still sent). Twilio reports delivery to the
status callback and passes the patient's replies (STOP, START) to the inbound webhook; both are
signed with the account's auth token (X-Twilio-Signature), and an unsigned or forged call is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from scheduling.models import Appointment, Notification

SHORT_LINK_SALT = "ionto.sms-link"
# The GSM 03.38 basic character set: a text made of these alone fits 160 characters a segment.
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
           "¿abcdefghijklmnopqrstuvwxyzäöñüà")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}


class SmsError(Exception):
    """A send the provider did not take: ``permanent`` (a bad number, a refused account) or not, and
    ``unknown`` when the request went out and no answer came (it may have been taken)."""

    def __init__(self, text: str, *, permanent: bool = False, unknown: bool = False):
        super().__init__(text)
        self.permanent = permanent
        self.unknown = unknown


def sms_enabled() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER)


def short_link_token(appointment: Appointment) -> str:
    """A short signed token for the appointment's current version: hex id, hex version, 12 hex of HMAC."""
    value = f"{appointment.pk:x}.{appointment.version:x}"
    return f"{value}.{salted_hmac(SHORT_LINK_SALT, value).hexdigest()[:12]}"


def short_link_read(token: str) -> tuple[int, int] | None:
    """(appointment id, version) of a genuine token, else None."""
    value, _, signature = token.rpartition(".")
    if not value or not constant_time_compare(salted_hmac(SHORT_LINK_SALT, value).hexdigest()[:12], signature):
        return None
    appointment_id, _, version = value.partition(".")
    try:
        return int(appointment_id, 16), int(version, 16)
    except ValueError:
        return None


def sms_text(*, notification: Notification, appointment: Appointment) -> str:
    location = appointment.location
    local = location.local(appointment.starts_at)
    link = f"{settings.IONTO_PUBLIC_URL}{reverse('patient:short', args=[short_link_token(appointment)])}"
    return (f"{location.name}: reminder of your session {local:%a} {local.day} {local:%b %H:%M}. "
            f"Confirm: {link} Reply STOP to stop texts.")


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7


def twilio_signature(*, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature: HMAC-SHA1 with the auth token over the URL followed by each POST
    parameter's name and value, sorted by name, in base64."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(settings.TWILIO_AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_valid(*, url: str, params: dict[str, str], signature: str) -> bool:
    return bool(settings.TWILIO_AUTH_TOKEN and signature) and constant_time_compare(
        twilio_signature(url=url, params=params), signature)


def sms_send(*, to: str, body: str, notification_id: int) -> str:
    """Send one text (POST .../Accounts/{sid}/Messages.json); returns the provider's message id (SID).

    The status callback's URL names the notification: a report can come before the send has recorded the SID,
    and Twilio's signature covers the URL with its query."""
    account = settings.TWILIO_ACCOUNT_SID
    url = f"{settings.TWILIO_API_URL}/2010-04-01/Accounts/{account}/Messages.json"
    form = {"To": to, "From": settings.TWILIO_FROM_NUMBER, "Body": body,
            "StatusCallback": f"{settings.IONTO_PUBLIC_URL}{reverse('patient:sms-status')}?n={notification_id}"}
    login = base64.b64encode(f"{account}:{settings.TWILIO_AUTH_TOKEN}".encode()).decode()
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST",  # noqa: S310  # nosec B310
                                     headers={"Authorization": f"Basic {login}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.SMS_TIMEOUT) as response:  # noqa: S310  # nosec B310
            return str(json.load(response)["sid"])
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read() or b"{}")
        except ValueError:
            detail = {}
        text = f"SMS provider {error.code}: {detail.get('code', '')} {detail.get('message', error.reason)}".strip()
        raise SmsError(text, permanent=400 <= error.code < 500 and error.code != 429) from error
    except urllib.error.URLError as error:
        # Refused or not found: nothing was sent. Anything else (a timeout) may have reached the provider.
        before = isinstance(error.reason, ConnectionRefusedError | socket.gaierror)
        raise SmsError(f"SMS provider unreachable: {error.reason}", unknown=not before) from error
    except (TimeoutError, OSError, ValueError, KeyError) as error:
        raise SmsError(f"SMS provider: no usable answer ({type(error).__name__}: {error})", unknown=True) from error
