"""Sending the outbox's rows: each on its own, at most once, with no lock held while SMTP talks.

The beat claims due rows (status "sending", ``claimed_at`` the claim's moment) and queues their ids
in send tasks on the send queue, each with its claim's moment. A send task opens one connection of
the email backend for its batch and takes the rows one at a time:

1. In a short transaction it locks the row (SKIP LOCKED: a second copy of the task skips it) and
   proceeds only if the row is still the claim the task was given; it locks the session, so a
   change in progress commits first and is seen, re-checks the session and the patient's consent,
   makes the email and stamps the row as on its way (a new ``claimed_at``). The commit releases
   both locks: a cancel or a move never waits for SMTP.
2. It sends the email with the backend's ``send_messages``.
3. It marks the row sent (and clears its error), or records the failure.

Each row goes by its channel (email, or SMS: ``CHANNELS``), which only makes and sends the message;
the rest is the same for both. A message whose check passed before a change is on its way: it goes
out, and the change's own message (cancellation, new time) follows it. A row on its way whose worker
died stays "sending" until SENDING_LEASE has passed, then the beat claims and sends it again, with the
same Message-ID:
the one duplicate the outbox allows. A failure before DATA is retried with backoff; once DATA has
begun, a dropped connection or a late reply leaves it unknown whether the server kept the message,
and the row is failed, not sent again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import smtplib
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone

from patients.phones import phone_e164
from scheduling.booking.selectors import (
    course_maintenance_due_at,
    course_sessions_left_to_book,
)
from scheduling.checkins.selectors import check_in_send_refusal
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from scheduling.reminders.emails import email_build, message_id_for
from scheduling.reminders.outbox import (
    APPOINTMENT_KINDS,
    CLAIM_BATCH,
    notification_claim_due,
    notification_write_maintenance_recalls,
)
from scheduling.reminders.sms import SmsError, sms_enabled, sms_send, sms_text
from scheduling.waitlist.selectors import waitlist_offer_is_open
from scheduling.waitlist.services import waitlist_offers_write

logger = logging.getLogger(__name__)

# Rows per send task (one SMTP connection each); a small claim is spread over up to SEND_SPREAD tasks
# so that several connections share it.
SEND_BATCH = 50
SEND_SPREAD = 8
MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


# ---------------------------------------------------------------------------------------------
# Sending one row (the send task)


def retry_delay(*, attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 1, 2, 4 ... minutes, never above an hour."""
    ceiling = min(RETRY_CAP, RETRY_BASE * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + ceiling / 2 * random.random()  # noqa: S311  # jitter, not security  # nosec B311


def smtp_failure(error: Exception) -> tuple[bool, str]:
    """(permanent?, text) for a failed delivery: 5xx answers and bad addresses are permanent."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        text = "; ".join(f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
                         for address, (code, reply) in error.recipients.items())
        return any(code >= 500 for code in codes), f"Recipient refused: {text}"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return error.smtp_code >= 500, f"SMTP {error.smtp_code} {reply}"
    if isinstance(error, ValueError | UnicodeError):
        return True, f"Invalid address: {error}"
    return False, f"{type(error).__name__}: {error}"


def _sessions_for(row: Notification, appointment: Appointment, now: datetime) -> tuple[list[Appointment], str]:
    """The sessions the message names, or ([], why it must not go out any more)."""
    kind = row.kind
    changed = appointment.version != row.appointment_version
    if kind in APPOINTMENT_KINDS:
        if appointment.status != AppointmentStatus.BOOKED:
            return [], f"Not sent: the session is {appointment.get_status_display().lower()}."
        if changed:
            return [], "Not sent: the session changed after this message was written."
        if appointment.starts_at <= now:
            return [], "Not sent: the session has started."
        return [appointment], ""
    if kind == NotificationKind.BOOKING_CONFIRMATION:
        booked = list(Appointment.objects.filter(pk__in=row.appointment_ids, status=AppointmentStatus.BOOKED,
                                                 starts_at__gt=now).select_related("location"))
        if not booked:
            return [], "Not sent: none of the booked sessions is still ahead."
        return booked, ""
    if kind == NotificationKind.CANCELLATION:
        if appointment.status != AppointmentStatus.CANCELLED or changed:
            return [], "Not sent: the session changed after it was cancelled."
        return [appointment], ""
    if kind == NotificationKind.NOSHOW_FOLLOW_UP:
        if appointment.status != AppointmentStatus.NOSHOW or changed:
            return [], "Not sent: the session is no longer a no-show."
        return [appointment], ""
    course = row.course
    if kind == NotificationKind.WAITLIST_OFFER:
        offer = row.waitlist_offer
        if not waitlist_offer_is_open(offer=offer, now=now):
            return [], "Not sent: the waitlist offer was taken, withdrawn or has expired."
        return [], ""
    if kind == NotificationKind.CHECK_IN:
        reason = check_in_send_refusal(notification=row, now=now)
        return ([], reason) if reason else ([appointment], "")
    if kind == NotificationKind.MAINTENANCE_RECALL:
        due_at = course_maintenance_due_at(course=course)
        # Due by the beat's claim (``claimed_at``): a worker whose clock runs behind the beat's still sends it.
        if due_at is None or due_at > max(now, row.claimed_at or now):
            return [], "Not sent: no maintenance session is due any more."
        return [appointment], ""
    if not course.is_open or course_sessions_left_to_book(course=course) == 0:
        return [], "Not sent: the course has no session left to book."
    return [appointment], ""


def _failure_text_unknown(text: str, channel: str) -> str:
    server = "the SMS provider" if channel == NotificationChannel.SMS else "the mail server"
    return (f"No answer from {server} after the message was handed over ({text}). It may have "
            "arrived, so it is not sent again; send it again from here if the patient did not get it.")


def _deliver(connection, message) -> None:
    """One message over the batch's connection (opened again after an error closed it)."""
    connection.open()
    if connection.send_messages([message]) != 1:
        raise ValueError("the message has no recipient")


def _data_started(connection) -> bool:
    """Whether the failed message had begun its DATA: only Ionto's SMTP backend (clinic.mail) can tell;
    with any other backend the outcome of a failure counts as unknown."""
    data_started = getattr(connection, "data_started", None)
    return data_started() if callable(data_started) else True


class EmailChannel:
    """Email over the batch's connection of Django's email backend."""

    refusal_text = "Not sent: the patient has not agreed to email."

    def refusal(self, patient) -> str:
        if not (patient.email_consent and patient.email):
            return self.refusal_text
        if patient.email_failing_since is not None:
            return "Not sent: the patient's email address bounced; correct it on the patient to send again."
        return ""

    def build(self, row: Notification, sessions: list[Appointment], left: int):
        message = email_build(notification=row, appointments=sessions, sessions_left=left)
        message.message()  # made here, so an email that cannot be made fails its row and nothing else
        return message

    def connect(self):
        return get_connection(fail_silently=False)

    def deliver(self, connection, row: Notification, message) -> str:
        _deliver(connection, message)
        return message_id_for(row)

    def failure(self, error: Exception, connection) -> tuple[bool, bool, str]:
        """(permanent, outcome unknown, text)."""
        answered = isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
                              | ValueError | UnicodeError)
        permanent, text = smtp_failure(error)
        unknown = not answered and _data_started(connection)
        with contextlib.suppress(Exception):
            connection.close()  # a connection after an error is not trusted with the next message
        return permanent, unknown, text


class SmsChannel:
    """A text through the SMS provider (scheduling/reminders/sms.py), to the patient's number in E.164."""

    def refusal(self, patient) -> str:
        if not (patient.sms_consent and phone_e164(patient.phone)):
            return "Not sent: the patient has not agreed to SMS."
        if not sms_enabled():
            return "Not sent: SMS is not set up (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER)."
        return ""

    def build(self, row: Notification, sessions: list[Appointment], left: int) -> tuple[str, str]:
        return phone_e164(row.patient.phone), sms_text(notification=row, appointment=sessions[0])

    def connect(self):
        return None

    def deliver(self, connection, row: Notification, message: tuple[str, str]) -> str:
        to, body = message
        return sms_send(to=to, body=body, notification_id=row.pk)

    def failure(self, error: Exception, connection) -> tuple[bool, bool, str]:
        if isinstance(error, SmsError):
            return error.permanent, error.unknown, str(error)
        return False, True, f"{type(error).__name__}: {error}"


# The channel port: the outbox, the once-only rule, the lease, the retries and the admin are the same for each.
CHANNELS = {NotificationChannel.EMAIL: EmailChannel(), NotificationChannel.SMS: SmsChannel()}


def notifications_dispatch_due(*, now: datetime, enqueue: Callable[[list[int], datetime], object]) -> int:
    """One beat: write the maintenance recalls due by ``now`` and the waitlist's offers, then claim every due
    row, CLAIM_BATCH at a time until a claim comes back short, and hand each send batch with its claim's moment
    to ``enqueue`` (the send task's queueing: this module does not import the tasks).
    Returns how many rows were queued."""
    notification_write_maintenance_recalls(now=now)
    waitlist_offers_write(now=now)
    queued = 0
    while True:
        ids = notification_claim_due(now=now)
        for batch in send_batches(ids):
            enqueue(batch, now)
        queued += len(ids)
        if len(ids) < CLAIM_BATCH:
            return queued


def send_batches(ids: list[int]) -> list[list[int]]:
    """Claimed ids cut into send tasks: at least SEND_SPREAD tasks when there are enough rows, so several
    SMTP connections share a small claim, and at most SEND_BATCH rows a task."""
    size = max(1, min(SEND_BATCH, -(-len(ids) // SEND_SPREAD)))
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def notification_send_many(*, notification_ids: list[int], claimed_at: datetime) -> Counter:
    """Send claimed rows one after the other over one connection of each channel (made when first needed)."""
    outcomes: Counter = Counter()
    connections: dict[str, object] = {}
    try:
        for notification_id in notification_ids:
            outcomes[notification_send(notification_id=notification_id, claimed_at=claimed_at,
                                       connections=connections)] += 1
    finally:
        for connection in connections.values():
            with contextlib.suppress(Exception):
                connection.close()
    return outcomes


def _start(notification_id: int, claimed_at: datetime) -> tuple[Notification | None, object, str]:
    """Step 1, in one short transaction: (row stamped as on its way, its email, "") or (None, None, outcome)."""
    with transaction.atomic():
        row = (Notification.objects.select_for_update(skip_locked=True, of=("self",))
               .select_related("patient", "course")
               .filter(pk=notification_id, status=NotificationStatus.SENDING, claimed_at=claimed_at).first())
        if row is None:
            return None, None, "skipped"
        # Waits for a change that holds the session, then reads the session as that change left it.
        row.appointment = (Appointment.objects.select_for_update(of=("self",)).select_related("location")
                           .get(pk=row.appointment_id))
        now = timezone.now()
        sessions, reason = _sessions_for(row, row.appointment, now)
        channel = CHANNELS[row.channel]
        if reason == "":
            reason = channel.refusal(row.patient)
        if reason:
            row.status = NotificationStatus.CANCELLED
            row.last_error = reason
            row.save(update_fields=["status", "last_error", "updated_at"])
            return None, None, "cancelled"
        left = (course_sessions_left_to_book(course=row.course) if row.kind == NotificationKind.SESSION_FOLLOW_UP
                else 0)
        try:
            message = channel.build(row, sessions, left)
        except Exception as error:
            logger.exception("notification %s: the message could not be made", row.pk)
            row.status = NotificationStatus.FAILED
            row.last_error = f"Not sent: the message could not be made ({type(error).__name__}: {error})."
            row.save(update_fields=["status", "last_error", "updated_at"])
            return None, None, "failed"
        row.attempts += 1
        # A new stamp, never the claim's: a second task carrying that claim finds the row no longer its own.
        row.claimed_at = max(now, claimed_at) + timedelta(microseconds=1)
        row.save(update_fields=["attempts", "claimed_at", "updated_at"])
    return row, message, ""


def notification_send(*, notification_id: int, claimed_at: datetime, connections: dict | None = None) -> str:
    """Send one claimed row, at most once; returns what happened: sent, skipped, cancelled, retry, failed.

    ``claimed_at`` is the moment of the claim the caller was given (``notification_claim_due``'s
    ``now``): a row claimed again since, already on its way, or no longer "sending" is skipped.
    ``connections`` holds the batch's connection of each channel (made here when missing; closed by the
    caller, or here when the caller gives none).
    """
    row, message, outcome = _start(notification_id, claimed_at)
    if row is None:
        return outcome
    own = connections is None
    connections = {} if connections is None else connections
    channel = CHANNELS[row.channel]
    if row.channel not in connections:
        connections[row.channel] = channel.connect()
    connection = connections[row.channel]
    try:
        sent_id = channel.deliver(connection, row, message)
    except Exception as error:
        permanent, unknown, text = channel.failure(error, connection)
        return _record_failure(row, permanent=permanent, unknown=unknown, text=text)
    finally:
        if own and connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
    now = timezone.now()
    # Not over a delivery report that came first and failed the row.
    done = (NotificationStatus.SENT, NotificationStatus.FAILED)
    Notification.objects.filter(pk=row.pk).exclude(status__in=done).update(
        status=NotificationStatus.SENT, sent_at=now, message_id=sent_id, last_error="", updated_at=now)
    return "sent"


def _record_failure(row: Notification, *, permanent: bool, unknown: bool, text: str) -> str:
    fields = {}
    if unknown:
        status, outcome, text = NotificationStatus.FAILED, "failed", _failure_text_unknown(text, row.channel)
        if row.channel == NotificationChannel.EMAIL:
            fields["message_id"] = message_id_for(row)  # it may be out there: a bounce report names it
    elif permanent or row.attempts >= MAX_ATTEMPTS:
        status, outcome = NotificationStatus.FAILED, "failed"
    else:
        status, outcome = NotificationStatus.PENDING, "retry"
    now = timezone.now()
    fields.update(status=status, last_error=text, updated_at=now)
    if status == NotificationStatus.PENDING:
        fields["due_at"] = now + retry_delay(attempts=row.attempts)
    logger.warning("notification %s: %s (attempt %s): %s", row.pk, outcome, row.attempts, text)
    # Only while the row is still this send's: past the lease, another send owns it.
    Notification.objects.filter(pk=row.pk, status=NotificationStatus.SENDING, claimed_at=row.claimed_at
                                ).update(**fields)
    return outcome
