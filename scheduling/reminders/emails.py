"""Patient emails: the message for a notification, its calendar invite and its signed links.

Nothing clinical ever goes into an email: no indication, diagnosis, drug or treatment name.
A message names the patient by first name, the session by its local date and time with the
zone, and the location by name, address and phone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.generator import BytesGenerator
from email.mime.text import MIMEText
from email.policy import Compat32
from functools import lru_cache
from io import BytesIO
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from icalendar import Calendar, Event, Timezone

from patients.models import Patient
from scheduling.models import Appointment, Notification, NotificationKind

LINK_SALT = "ionto.patient-link"
UNSUBSCRIBE_SALT = "ionto.unsubscribe"
# Confirm and cancel links expire; a new email (reminder, change) carries fresh ones.
LINK_MAX_AGE = timedelta(days=60)
UNSUBSCRIBE_MAX_AGE = timedelta(days=400)


class PatientLinkError(Exception):
    """A link that cannot be used, with the words the patient reads and the HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------------------------
# Signed links


def patient_link_token(*, appointment: Appointment, action: str) -> str:
    """A signed token for ``confirm`` or ``cancel``, bound to the appointment's id and version."""
    return signing.dumps({"a": appointment.pk, "v": appointment.version, "k": action}, salt=LINK_SALT)


def patient_link_read(*, token: str, action: str) -> tuple[int, int]:
    """The (appointment id, version) a token names; PatientLinkError when it is forged or too old."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired as error:
        raise PatientLinkError("This link has expired. Please use the link in your latest email, "
                               "or call the clinic.", 410) from error
    except signing.BadSignature as error:
        raise PatientLinkError("This link is not valid. Please check that you copied all of it.", 400) from error
    if not isinstance(data, dict) or data.get("k") != action:
        raise PatientLinkError("This link is not valid. Please check that you copied all of it.", 400)
    return int(data["a"]), int(data["v"])


def _address_tag(email: str) -> str:
    """Binds an unsubscribe link to the address it was sent to without carrying the address: a signed
    token's payload is only base64, and the link's path lands in access logs."""
    return salted_hmac(UNSUBSCRIBE_SALT, email.lower()).hexdigest()[:20]


def unsubscribe_token(*, patient: Patient) -> str:
    return signing.dumps({"p": patient.pk, "e": _address_tag(patient.email)}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_read(*, token: str) -> Patient | None:
    """The patient a valid link names, or None once the patient has another address (or none)."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
    except signing.SignatureExpired as error:
        raise PatientLinkError("This link has expired. Please call the clinic to stop emails.", 410) from error
    except signing.BadSignature as error:
        raise PatientLinkError("This link is not valid. Please check that you copied all of it.", 400) from error
    patient = Patient.objects.filter(pk=data["p"]).first()
    if patient is None or not patient.email or not constant_time_compare(_address_tag(patient.email), data["e"]):
        return None
    return patient


def _public_url(path: str) -> str:
    return f"{settings.IONTO_PUBLIC_URL}{path}"


def patient_link_url(*, appointment: Appointment, action: str) -> str:
    return _public_url(reverse(f"patient:{action}", args=[patient_link_token(appointment=appointment,
                                                                             action=action)]))


def unsubscribe_url(*, patient: Patient) -> str:
    return _public_url(reverse("patient:unsubscribe", args=[unsubscribe_token(patient=patient)]))


# ---------------------------------------------------------------------------------------------
# Calendar invite


def _mail_domain() -> str:
    return urlsplit(settings.IONTO_PUBLIC_URL).hostname or "ionto.localhost"


def appointment_uid(appointment: Appointment) -> str:
    """Stable for the life of the appointment: calendars update the same event on every change."""
    return f"ionto-appointment-{appointment.pk}@{_mail_domain()}"


def message_id_for(notification: Notification) -> str:
    """One Message-ID per notification: a message sent twice (after a crash) can be told apart as one."""
    return f"<ionto-notification-{notification.pk}@{_mail_domain()}>"


def calendar_ics(*, appointments: list[Appointment], method: str) -> bytes:
    """An iCalendar file: METHOD REQUEST for bookings and changes, CANCEL for cancellations.

    Times carry the location's zone (TZID with its VTIMEZONE); SEQUENCE is the appointment's
    version, raised on every change.
    """
    stamp = datetime.now(UTC)
    events = []
    for appointment in appointments:
        location = appointment.location
        event = Event()
        event.add("uid", appointment_uid(appointment))
        event.add("sequence", appointment.version)
        event.add("dtstamp", stamp)
        event.add("dtstart", location.local(appointment.starts_at))
        event.add("dtend", location.local(appointment.ends_at))
        event.add("summary", f"Session at {location.name}")
        event.add("location", ", ".join(line.strip() for line in location.address.splitlines() if line.strip()))
        event.add("description", f"Phone {location.phone}")
        event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        events.append(event.to_ical())
    years = sorted({appointment.starts_at.year for appointment in appointments})
    zones = [_vtimezone(zone, years[0], years[-1])
             for zone in sorted({appointment.location.time_zone for appointment in appointments})]
    # The zones go after the events (RFC 5545 sets no order), as icalendar itself would add them.
    return b"".join([_calendar_head(method), *events, *zones, b"END:VCALENDAR\r\n"])


@lru_cache(maxsize=4)
def _calendar_head(method: str) -> bytes:
    """The calendar's own lines, the same in every invite of a method."""
    calendar = Calendar()
    calendar.add("prodid", "-//Ionto//Clinic sessions//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    ics = calendar.to_ical()
    return ics[:ics.rindex(b"END:VCALENDAR")]


@lru_cache(maxsize=64)
def _vtimezone(zone: str, first_year: int, last_year: int) -> bytes:
    """The zone's VTIMEZONE over the years the sessions fall in, as iCalendar text (built once per
    process: it is most of the invite, and the same in every message of the zone)."""
    return Timezone.from_tzid(zone, first_date=date(first_year - 1, 1, 1),
                              last_date=date(last_year + 2, 1, 1)).to_ical()


# ---------------------------------------------------------------------------------------------
# The message


def local_time_text(appointment: Appointment) -> str:
    """e.g. 'Tuesday 1 December 2026, 09:00 GMT (Europe/London)'."""
    local = appointment.location.local(appointment.starts_at)
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {local.tzname()} ({appointment.location.time_zone})"


class PatientEmail(EmailMultiAlternatives):
    """Django's email with each MIME boundary drawn at random when the message is made.

    Left unset, Python's generator makes one up for each multipart and compiles a pattern to
    search the whole message for it, a large part of turning an email into bytes. 128 random bits
    cannot be met by chance in a message's text, which is why the search is not needed.
    MIME-Version is written once, at the top, instead of on every part.
    """

    _bytes: bytes | None = None

    def message(self):
        message = super().message()
        for part in message.walk():
            if part.is_multipart():
                part.set_boundary(f"=_ionto-{secrets.token_hex(16)}")
            if part is not message:
                del part["MIME-Version"]  # a header of the message, not of its parts (RFC 2045, section 4)
        return message

    def smtp_bytes(self) -> bytes:
        """The message as it goes over SMTP, made once: the bytes Django's SMTP backend would send."""
        if self._bytes is None:
            self._bytes = mime_smtp_bytes(self.message())
        return self._bytes


class _HeaderPolicy(Compat32):
    """The compat32 policy of Django's messages, with its common case written directly: an ASCII
    header that fits on its line is what Python's Header class returns it as, after a split and
    a join that were most of the time spent turning an email into bytes."""

    def fold_binary(self, name, value):
        if isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value \
                and len(name) + 2 + len(value) <= self.max_line_length:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_SMTP_POLICY = _HeaderPolicy(linesep="\r\n")


def mime_smtp_bytes(message) -> bytes:
    """``message.as_bytes(linesep="\\r\\n")`` for a Django MIME message, the same bytes, made faster."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_SMTP_POLICY).flatten(message)
    return out.getvalue()


@dataclass
class SessionLine:
    when: str
    confirm_url: str
    cancel_url: str


_WORDING = {
    NotificationKind.BOOKING_CONFIRMATION: ("Your session at {location} is booked",
                                            "Your sessions at {location} are booked",
                                            "We have booked the following for you:"),
    NotificationKind.REMINDER: ("Reminder: your session at {location} on {when}", "",
                                "This is a reminder of your coming session:"),
    NotificationKind.SECOND_REMINDER: ("Soon: your session at {location} at {time}", "",
                                       "Your session is coming up soon:"),
    NotificationKind.RESCHEDULED: ("Your session at {location} has moved to {when}", "",
                                   "Your session has a new time:"),
    NotificationKind.CANCELLATION: ("Your session at {location} on {when} is cancelled", "",
                                    "This session is cancelled:"),
    NotificationKind.NOSHOW_FOLLOW_UP: ("We missed you at {location}", "",
                                        "We missed you at your session:"),
    NotificationKind.SESSION_FOLLOW_UP: ("Book your next sessions at {location}", "",
                                         "Thank you for coming in. You have {left} more session{plural} to book."),
    NotificationKind.MAINTENANCE_RECALL: ("Time to book your next session at {location}", "",
                                          "Your next maintenance session is due."),
}


def email_build(*, notification: Notification, appointments: list[Appointment], sessions_left: int = 0,
                ) -> PatientEmail:
    """The email for a notification, listing ``appointments`` (the sessions it is about)."""
    kind = notification.kind
    patient = notification.patient
    location = notification.appointment.location
    first = appointments[0] if appointments else notification.appointment
    local_first = location.local(first.starts_at)
    single, plural, intro = _WORDING[kind]
    subject_template = plural if plural and len(appointments) > 1 else single
    fill = {"location": location.name, "when": f"{local_first:%a} {local_first.day} {local_first:%b %H:%M}",
            "time": f"{local_first:%H:%M}", "left": sessions_left, "plural": "" if sessions_left == 1 else "s"}
    subject = subject_template.format(**fill)
    upcoming = kind in (NotificationKind.BOOKING_CONFIRMATION, NotificationKind.REMINDER,
                        NotificationKind.SECOND_REMINDER, NotificationKind.RESCHEDULED)
    lists_sessions = upcoming or kind in (NotificationKind.CANCELLATION, NotificationKind.NOSHOW_FOLLOW_UP)
    sessions = [
        SessionLine(
            when=local_time_text(appointment),
            confirm_url=patient_link_url(appointment=appointment, action="confirm") if upcoming else "",
            cancel_url=patient_link_url(appointment=appointment, action="cancel") if upcoming else "",
        )
        for appointment in (appointments if lists_sessions else [])
    ]
    context = {
        "first_name": patient.first_name,
        "intro": intro.format(**fill),
        "sessions": sessions,
        "upcoming": upcoming,
        "kind": kind,
        "location": location,
        "address_lines": [line.strip() for line in location.address.splitlines() if line.strip()],
        "late_cancellation_hours": location.late_cancellation_hours,
        "unsubscribe_url": unsubscribe_url(patient=patient),
    }
    message = PatientEmail(
        subject=subject,
        body=render_to_string("emails/notification.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[patient.email],
        headers={
            "Message-ID": message_id_for(notification),
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string("emails/notification.html", context), "text/html")
    if lists_sessions and kind != NotificationKind.NOSHOW_FOLLOW_UP:
        method = "CANCEL" if kind == NotificationKind.CANCELLATION else "REQUEST"
        invite = MIMEText(calendar_ics(appointments=appointments, method=method).decode(), "calendar", "utf-8")
        invite.set_param("method", method)
        invite.add_header("Content-Disposition", "attachment", filename="session.ics")
        message.attach(invite)
    return message
