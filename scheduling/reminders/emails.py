"""Patient emails: the message for a notification, its calendar invite and its signed links.

Nothing clinical ever goes into an email: no indication, diagnosis, drug or treatment name.
A message names the patient by first name, the session by its local date and time with the
zone, and the location by name, address and phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.mime.text import MIMEText
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from icalendar import Calendar, Event, vCalAddress

from patients.models import Patient
from scheduling.checkins.links import check_in_link_url
from scheduling.checkins.models import CheckIn
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


NOT_VALID = "This link is not valid. Please check that you copied all of it."
LINK_EXPIRED = "This link has expired. Please use the link in your latest email, or call the clinic."


def _link_payload(token: str, kind: str, *, expired: str | None = LINK_EXPIRED) -> dict:
    """The payload of a signed patient link of ``kind``: PatientLinkError (400) when it is forged or of another
    kind, (410) with ``expired`` when it is too old (``expired=None``: answered as not valid, for a link whose
    own record says when it ends)."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired as error:
        raise PatientLinkError(expired or NOT_VALID, 410 if expired else 400) from error
    except signing.BadSignature as error:
        raise PatientLinkError(NOT_VALID, 400) from error
    if not isinstance(data, dict) or data.get("k") != kind:
        raise PatientLinkError(NOT_VALID, 400)
    return data


def patient_link_token(*, appointment: Appointment, action: str) -> str:
    """A signed token for one action on a session (confirm, cancel, move...), bound to its id and version."""
    return signing.dumps({"a": appointment.pk, "v": appointment.version, "k": action}, salt=LINK_SALT)


def patient_link_read(*, token: str, action: str) -> tuple[int, int]:
    """The (appointment id, version) a token names; PatientLinkError when it is forged or too old."""
    data = _link_payload(token, action)
    return int(data["a"]), int(data["v"])


def course_link_token(*, course_id: int, sessions_left: int) -> str:
    """A signed token for booking a course's remaining sessions, bound to how many are left to book:
    it stops working once they are booked (or the clinic books or cancels one)."""
    return signing.dumps({"c": course_id, "l": sessions_left, "k": "book-rest"}, salt=LINK_SALT)


def course_link_read(*, token: str) -> tuple[int, int]:
    """The (course id, sessions left to book) a book-the-rest token names; PatientLinkError as
    ``patient_link_read``."""
    data = _link_payload(token, "book-rest")
    return int(data["c"]), int(data["l"])


def waitlist_offer_token(*, offer_id: int) -> str:
    """A signed token for one waitlist offer (its expiry is the offer's own, checked when it is used)."""
    return signing.dumps({"o": offer_id, "k": "waitlist-offer"}, salt=LINK_SALT)


def waitlist_offer_read(*, token: str) -> int:
    """The offer id a token names; PatientLinkError when it is forged or too old (the offer expired long
    before its signature)."""
    return int(_link_payload(token, "waitlist-offer", expired=None)["o"])


def waitlist_offer_url(*, offer_id: int) -> str:
    return _public_url(reverse("patient:waitlist-offer", args=[waitlist_offer_token(offer_id=offer_id)]))


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
        raise PatientLinkError(NOT_VALID, 400) from error
    patient = Patient.objects.filter(pk=data["p"]).first()
    if patient is None or not patient.email or not constant_time_compare(_address_tag(patient.email), data["e"]):
        return None
    return patient


def _public_url(path: str) -> str:
    return f"{settings.IONTO_PUBLIC_URL}{path}"


def patient_link_url(*, appointment: Appointment, action: str) -> str:
    return _public_url(reverse(f"patient:{action}", args=[patient_link_token(appointment=appointment,
                                                                             action=action)]))


def course_link_url(*, course_id: int, sessions_left: int) -> str:
    return _public_url(reverse("patient:book-rest", args=[course_link_token(course_id=course_id,
                                                                            sessions_left=sessions_left)]))


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


def _calendar_time(appointment: Appointment, moment: datetime) -> datetime:
    """The location's wall time, or UTC for a wall time the zone names twice (the second 01:30 of a
    fall-back night): a TZID time that is repeated means its first occurrence (RFC 5545, 3.3.5)."""
    local = appointment.location.local(moment)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def calendar_ics(*, appointment: Appointment, cancelled: bool, organizer_email: str, attendee_email: str) -> bytes:
    """One session as an iCalendar object with one event: METHOD PUBLISH while it stands, CANCEL when
    cancelled (RFC 5546: both name the ORGANIZER; a CANCEL of a whole event names its ATTENDEE).

    The UID is the appointment's for its whole life and SEQUENCE its version, raised on every change,
    so a calendar updates the event it has. Times carry the location's zone (its VTIMEZONE from
    icalendar), except a repeated wall time, which is written in UTC.
    """
    location = appointment.location
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = location.name
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["role"] = "REQ-PARTICIPANT"
    event = Event.new(
        uid=appointment_uid(appointment),
        sequence=appointment.version,
        stamp=datetime.now(UTC),
        start=_calendar_time(appointment, appointment.starts_at),
        end=_calendar_time(appointment, appointment.ends_at),
        summary=f"Session at {location.name}",
        location=", ".join(line.strip() for line in location.address.splitlines() if line.strip()),
        description=f"Phone {location.phone}",
        status="CANCELLED" if cancelled else "CONFIRMED",
        organizer=organizer,
        attendees=[attendee],
    )
    calendar = Calendar.new(prodid="-//Ionto//Clinic sessions//EN", method="CANCEL" if cancelled else "PUBLISH",
                            subcomponents=[event])
    year = appointment.starts_at.year
    calendar.add_missing_timezones(first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return calendar.to_ical()


# ---------------------------------------------------------------------------------------------
# The message


def local_time_text(appointment: Appointment) -> str:
    """e.g. 'Tuesday 1 December 2026, 09:00 GMT (Europe/London)'."""
    local = appointment.location.local(appointment.starts_at)
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {local.tzname()} ({appointment.location.time_zone})"


@dataclass
class SessionLine:
    when: str
    confirm_url: str
    cancel_url: str
    move_url: str = ""


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
    NotificationKind.WAITLIST_OFFER: ("An earlier time at {location}: {when}", "",
                                      "A time you asked for on our waitlist has come free:"),
    NotificationKind.CHECK_IN: ("How are you doing? A question from {location}", "",
                                "How are you doing? We would like to know how you have been since your last "
                                "visit. One short question, a minute of your time:"),
}


def _subject_time(appointment: Appointment, local: datetime, text: str) -> str:
    """The subject's time, with the zone's abbreviation where the zone names that wall time twice."""
    if _calendar_time(appointment, appointment.starts_at).tzinfo is UTC:
        return f"{text} {local.tzname()}"
    return text


def _check_in_url(notification: Notification) -> str:
    """A check-in email's one link, to the page with the question (the email itself asks nothing clinical)."""
    if notification.kind != NotificationKind.CHECK_IN:
        return ""
    check_in_id = CheckIn.objects.filter(notification=notification).values_list("pk", flat=True).get()
    return check_in_link_url(check_in_id=check_in_id)


def email_build(*, notification: Notification, appointments: list[Appointment], sessions_left: int = 0,
                ) -> EmailMultiAlternatives:
    """The email for a notification, listing ``appointments`` (the sessions it is about)."""
    kind = notification.kind
    patient = notification.patient
    location = notification.appointment.location
    first = appointments[0] if appointments else notification.appointment
    offer = notification.waitlist_offer if kind == NotificationKind.WAITLIST_OFFER else None
    if offer is not None:  # the offered time, not the session the row hangs on
        first = Appointment(location=location, starts_at=offer.slot.starts_at)
    local_first = location.local(first.starts_at)
    single, plural, intro = _WORDING[kind]
    subject_template = plural if plural and len(appointments) > 1 else single
    fill = {"location": location.name,
            "when": _subject_time(first, local_first, f"{local_first:%a} {local_first.day} {local_first:%b %H:%M}"),
            "time": _subject_time(first, local_first, f"{local_first:%H:%M}"),
            "left": sessions_left, "plural": "" if sessions_left == 1 else "s"}
    subject = subject_template.format(**fill)
    upcoming = kind in (NotificationKind.BOOKING_CONFIRMATION, NotificationKind.REMINDER,
                        NotificationKind.SECOND_REMINDER, NotificationKind.RESCHEDULED)
    lists_sessions = upcoming or kind in (NotificationKind.CANCELLATION, NotificationKind.NOSHOW_FOLLOW_UP)
    sessions = [
        SessionLine(
            when=local_time_text(appointment),
            confirm_url=patient_link_url(appointment=appointment, action="confirm") if upcoming else "",
            cancel_url=patient_link_url(appointment=appointment, action="cancel") if upcoming else "",
            move_url=patient_link_url(appointment=appointment, action="move") if upcoming else "",
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
        "book_rest_url": (course_link_url(course_id=notification.course_id, sessions_left=sessions_left)
                          if kind == NotificationKind.SESSION_FOLLOW_UP and sessions_left > 0 else ""),
        "offer_when": local_time_text(first) if offer else "",
        "offer_url": waitlist_offer_url(offer_id=offer.pk) if offer else "",
        "offer_expires": local_time_text(Appointment(location=location, starts_at=offer.expires_at)) if offer else "",
        "check_in_url": _check_in_url(notification),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/notification.txt", context),
        # The envelope sender, where bounce reports go; the From the patient sees stays the clinic's.
        from_email=settings.IONTO_BOUNCE_ADDRESS or settings.DEFAULT_FROM_EMAIL,
        to=[patient.email],
        headers={
            "From": settings.DEFAULT_FROM_EMAIL,
            "Message-ID": message_id_for(notification),
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            # One click in the mail program stops the emails: a POST to that link (RFC 8058).
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string("emails/notification.html", context), "text/html")
    if lists_sessions and kind != NotificationKind.NOSHOW_FOLLOW_UP:
        cancelled = kind == NotificationKind.CANCELLATION
        organizer = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        for number, appointment in enumerate(appointments, start=1):
            ics = calendar_ics(appointment=appointment, cancelled=cancelled, organizer_email=organizer,
                               attendee_email=patient.email)
            invite = MIMEText(ics.decode(), "calendar", "utf-8")
            invite.set_param("method", "CANCEL" if cancelled else "PUBLISH")
            name = "session.ics" if len(appointments) == 1 else f"session-{number}.ics"
            invite.add_header("Content-Disposition", "attachment", filename=name)
            message.attach(invite)
    return message
