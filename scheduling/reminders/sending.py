"""Sending the outbox's rows: one at a time, under locks, at most once.

The beat task claims due rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` and queues their ids in
send tasks (``send_batches``); each row is then sent on its own, in its own transaction, holding
the appointment's and the row's lock while it talks SMTP, so a change to the appointment waits
for the send, and a second copy of the task skips the row. A batch reads its rows ahead; under
each row's lock, one query checks that nothing the message is made from has changed since (by
PostgreSQL's row versions), and a row that changed is read again before its re-check.

At most once, and why once more can happen: a row is marked sent in the transaction that sent
it. If the worker dies after the SMTP server accepted the message but before that transaction
commits, the row is still "sending"; the redelivered task (or the beat, after SENDING_LEASE)
sends it again. Every copy carries the same Message-ID, so mail systems can tell it is one.
"""


from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import re
import smtplib
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.message import sanitize_address
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from clinic.models import Location
from patients.models import Patient
from scheduling.booking.selectors import (
    course_maintenance_due_at,
    course_sessions_left_to_book,
)
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Course,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from scheduling.reminders.emails import PatientEmail, email_build, message_id_for
from scheduling.reminders.outbox import (
    APPOINTMENT_KINDS,
    CLAIM_BATCH,
    notification_claim_due,
    notification_write_maintenance_recalls,
)

logger = logging.getLogger(__name__)

# The beat claims up to CLAIM_BATCH due rows a transaction and queues them SEND_BATCH rows a task.
# Each task pays a new database connection, the prepared lock, the read-ahead and Celery's
# hand-over, so larger batches spread that cost over more rows and send more a second.
SEND_BATCH = 200
SEND_SPREAD = 8
# A send task that has not finished its batch in this time hands the rest to a new task, well
# inside Celery's time limit even when the SMTP server answers slowly.
SEND_BUDGET = timedelta(seconds=30)
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


_connections: dict[tuple, object] = {}


def _deliver(message: PatientEmail, while_waiting: Callable[[], None] | None = None) -> None:
    """Send over one SMTP connection kept per process, reopened when the server dropped it.

    ``while_waiting`` runs once the message has gone: over SMTP, while the server takes it in and
    before its answer is read, which is most of a send's time; with another backend, after it.
    """
    key = (os.getpid(), settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)
    connection = _connections.get(key)
    reused = connection is not None
    if connection is None:
        connection = get_connection(fail_silently=False)
        connection.open()
        _connections[key] = connection
    try:
        smtp = getattr(connection, "connection", None)  # Django's SMTP backend, once open
        if isinstance(smtp, smtplib.SMTP):
            _smtp_send(smtp, message, while_waiting)
        else:
            connection.send_messages([message])
            if while_waiting is not None:
                while_waiting()
    except smtplib.SMTPServerDisconnected:
        _forget_connection(key)
        if not reused:
            raise
        _deliver(message, while_waiting)  # an idle connection the server closed; the message never went
    except BaseException:
        _forget_connection(key)
        raise


_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


def _smtp_send(smtp: smtplib.SMTP, message: PatientEmail, while_waiting: Callable[[], None] | None) -> None:
    """smtplib's ``sendmail``, which Django's SMTP backend sends with, with ``while_waiting`` run
    between the message's last line and the server's answer: the same commands and the same errors
    (the caller drops the connection after any, so it sends no RSET)."""
    encoding = message.encoding or settings.DEFAULT_CHARSET
    sender = sanitize_address(message.from_email, encoding)
    recipients = [sanitize_address(address, encoding) for address in message.recipients()]
    payload = message.smtp_bytes()
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender, [f"size={len(payload)}"] if smtp.has_extn("size") else [])
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = smtp.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    data = _DOT_AT_LINE_START.sub(b"..", payload)  # dot-stuffing (RFC 5321, section 4.5.2)
    smtp.send(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    if while_waiting is not None:
        while_waiting()
    code, reply = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _forget_connection(key) -> None:
    connection = _connections.pop(key, None)
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


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
    if kind == NotificationKind.MAINTENANCE_RECALL:
        due_at = course_maintenance_due_at(course=course)
        if due_at is None or due_at > now:
            return [], "Not sent: no maintenance session is due any more."
        return [appointment], ""
    if not course.is_open or course_sessions_left_to_book(course=course) == 0:
        return [], "Not sent: the course has no session left to book."
    return [appointment], ""


def notifications_dispatch_due(*, now: datetime, enqueue: Callable[[list[int]], object]) -> int:
    """One beat: write the maintenance recalls due by ``now``, then claim every due row, CLAIM_BATCH at a
    time until a claim comes back short, and hand each send batch to ``enqueue`` (the send task's
    ``delay``: this module does not import the tasks). Returns how many rows were queued."""
    notification_write_maintenance_recalls(now=now)
    queued = 0
    while True:
        ids = notification_claim_due(now=now)
        for batch in send_batches(ids):
            enqueue(batch)
        queued += len(ids)
        if len(ids) < CLAIM_BATCH:
            return queued


def send_batches(ids: list[int]) -> list[list[int]]:
    """Claimed ids cut into send tasks: at least SEND_SPREAD tasks when there are enough rows, so
    every worker process gets a share of a small claim, and at most SEND_BATCH rows a task, so a
    large one pays Celery's per-task cost once per batch instead of once per message."""
    size = max(1, min(SEND_BATCH, -(-len(ids) // SEND_SPREAD)))
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def notification_send_many(*, notification_ids: list[int]) -> tuple[Counter, list[int]]:
    """Send claimed rows one after the other, each on its own as ``notification_send`` does.

    The batch's rows are read ahead in two queries; each row's own transaction then only checks,
    under its lock, that nothing it reads has changed since (``_locked_row``). While the SMTP
    server takes in one row's message, the next row's is made from what was read ahead
    (``_email_ahead``), so the worker does not wait for the server with nothing to do.
    Returns the outcomes and the ids not reached within SEND_BUDGET (a slow SMTP server), which the
    caller queues again: they are still claimed ("sending"), so nobody else sends them meanwhile.
    """
    outcomes: Counter = Counter()
    started = time.monotonic()
    with _send_session():
        read_ahead = _read_ahead(notification_ids)
        emails_ahead: dict[int, PatientEmail] = {}
        for position, notification_id in enumerate(notification_ids):
            if position and time.monotonic() - started > SEND_BUDGET.total_seconds():
                return outcomes, notification_ids[position:]
            following = read_ahead.get(notification_ids[position + 1]) if position + 1 < len(notification_ids) else None
            outcomes[notification_send(
                notification_id=notification_id, read_ahead=read_ahead.get(notification_id),
                email_ahead=emails_ahead.pop(notification_id, None),
                while_waiting=functools.partial(_email_ahead, following, emails_ahead) if following else None,
            )] += 1
    return outcomes, []


def _email_ahead(read_ahead: tuple[str, Notification], emails: dict[int, PatientEmail]) -> None:
    """Make a row's email before its turn, from what was read ahead, into ``emails`` by its id.

    Only a message that names the row's own session and nothing else: a confirmation lists
    sessions and a follow-up counts them, which only the row's turn can read under its lock.
    Making it reads nothing from the database. An email that cannot be made is left to the row's
    turn, which makes it again and meets the error there, in that row's own send, not in the send
    this runs during.
    """
    row = read_ahead[1]
    if row.kind in (NotificationKind.BOOKING_CONFIRMATION, NotificationKind.SESSION_FOLLOW_UP):
        return
    try:
        email = email_build(notification=row, appointments=[row.appointment])
        email.smtp_bytes()
    except Exception:
        logger.debug("notification %s: email not made ahead", row.pk, exc_info=True)
        return
    emails[row.pk] = email


_LOCK_STATEMENT = "ionto_notification_lock"


@contextlib.contextmanager
def _send_session():
    """The database session as a batch of sends wants it, and as it was afterwards.

    - Not waiting for the disk on each row's commit: should PostgreSQL itself crash right after,
      the row is "sending" again and goes once more (the same class of duplicate as a worker dying).
    - The row lock prepared once: planning its five-table join was much of PostgreSQL's work for
      each message. A statement left by a batch whose end failed is used as it is.
    """
    joined, versions = _tables_sql()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
        cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [_LOCK_STATEMENT])
        if cursor.fetchone() is None:
            cursor.execute(f"PREPARE {_LOCK_STATEMENT}(bigint) AS SELECT {versions} FROM {joined} "  # noqa: S608  # table names from the models  # nosec B608
                           "WHERE n.id = $1 FOR UPDATE OF n, a SKIP LOCKED")
    try:
        yield
    finally:
        # A connection that broke mid-batch takes both with it; its error is the one to see.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
            cursor.execute(f"DEALLOCATE {_LOCK_STATEMENT}")


_RELATED = ("patient", "course", "appointment__location")


def _tables_sql() -> tuple[str, str]:
    """The rows a message is made from, joined, and their versions: PostgreSQL's ``xmin`` of each
    row, the transaction that last wrote it, which any committed change replaces."""
    quote = connection.ops.quote_name
    table = {model: quote(model._meta.db_table) for model in (Notification, Appointment, Patient, Course, Location)}
    joined = (f"{table[Notification]} n JOIN {table[Appointment]} a ON a.id = n.appointment_id "
              f"JOIN {table[Patient]} p ON p.id = n.patient_id JOIN {table[Course]} c ON c.id = n.course_id "
              f"JOIN {table[Location]} l ON l.id = a.location_id")
    return joined, "concat_ws(' ', n.xmin, a.xmin, p.xmin, c.xmin, l.xmin)"


def _read_ahead(notification_ids: list[int]) -> dict[int, tuple[str, Notification]]:
    """Each row's versions, then the row with what it names: a change between the two reads makes
    the versions older than the objects, so the check under the lock sends the row down the slow path."""
    joined, versions = _tables_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT n.id, {versions} FROM {joined} WHERE n.id = ANY(%s)", [notification_ids])  # noqa: S608  # table names from the models, ids as a parameter  # nosec B608
        read = dict(cursor.fetchall())
    rows = Notification.objects.select_related(*_RELATED).in_bulk(read)
    return {pk: (version, rows[pk]) for pk, version in read.items() if pk in rows}


def _locked_row(notification_id: int, read_ahead: tuple[str, Notification] | None = None) -> Notification | None:
    """The row with its appointment, both locked; None when another sender holds the row.

    ``read_ahead`` (versions, row), within a batch's ``_send_session``, is used as it is when its
    versions are still the current ones.
    """
    if read_ahead is not None:
        with connection.cursor() as cursor:
            cursor.execute(f"EXECUTE {_LOCK_STATEMENT}(%s)", [notification_id])
            locked = cursor.fetchone()
        if locked is not None:
            version, row = read_ahead
            if locked[0] == version:
                return row
            return Notification.objects.select_related(*_RELATED).get(pk=notification_id)  # changed: read it again
    else:
        row = (Notification.objects.select_for_update(skip_locked=True, of=("self", "appointment"))
               .select_related(*_RELATED).filter(pk=notification_id).first())
        if row is not None:
            return row
    # Busy: another sender holds the row, or a change holds its appointment. Wait for the appointment,
    # as the booking services lock it (a change commits first and this send then sees it), then take
    # the row unless another sender has it.
    appointment_id = Notification.objects.filter(pk=notification_id).values_list("appointment_id", flat=True).first()
    if appointment_id is None:
        return None
    list(Appointment.objects.select_for_update().filter(pk=appointment_id).values_list("pk"))
    return (Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(*_RELATED).filter(pk=notification_id).first())


def notification_send(*, notification_id: int, read_ahead: tuple[str, Notification] | None = None,
                      email_ahead: PatientEmail | None = None,
                      while_waiting: Callable[[], None] | None = None) -> str:
    """Send one claimed row, at most once; returns what happened: sent, skipped, cancelled, retry, failed.

    Safe to run twice and concurrently: the row lock (SKIP LOCKED) lets one copy through, and a
    row no longer "sending" is left alone. The appointment stays locked while SMTP talks, so a
    cancel or a move waits for the send.

    ``email_ahead``, the row's email made from ``read_ahead`` before the lock, goes out only when
    that is still the row as it is and the email names just its session; otherwise the email is
    made again. ``while_waiting`` runs while the SMTP server takes in the message (``_deliver``).
    """
    with transaction.atomic():
        row = _locked_row(notification_id, read_ahead)
        if row is None or row.status != NotificationStatus.SENDING:
            return "skipped"
        appointment = row.appointment
        now = timezone.now()
        sessions, reason = _sessions_for(row, appointment, now)
        if reason == "" and not (row.patient.email_consent and row.patient.email):
            reason = "Not sent: the patient has not agreed to email."
        if reason:
            row.status = NotificationStatus.CANCELLED
            row.last_error = reason
            row.save(update_fields=["status", "last_error", "updated_at"])
            return "cancelled"
        left = (course_sessions_left_to_book(course=row.course) if row.kind == NotificationKind.SESSION_FOLLOW_UP
                else 0)
        if email_ahead is not None and read_ahead is not None and row is read_ahead[1] \
                and sessions == [appointment] and left == 0:
            message = email_ahead
        else:
            message = email_build(notification=row, appointments=sessions, sessions_left=left)
        row.attempts += 1
        try:
            _deliver(message, while_waiting)
        except Exception as error:
            permanent, text = smtp_failure(error)
            row.last_error = text
            if permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = NotificationStatus.FAILED
                outcome = "failed"
            else:
                row.status = NotificationStatus.PENDING
                row.due_at = now + retry_delay(attempts=row.attempts)
                outcome = "retry"
            logger.warning("notification %s: %s (attempt %s): %s", row.pk, outcome, row.attempts, text)
            row.save(update_fields=["status", "last_error", "attempts", "due_at", "updated_at"])
            return outcome
        row.status = NotificationStatus.SENT
        row.sent_at = row.updated_at = timezone.now()
        row.message_id = message_id_for(row)
        with connection.cursor() as cursor:
            # What save(update_fields=...) would write, in one plain statement that costs less (once per message).
            cursor.execute(f"UPDATE {connection.ops.quote_name(Notification._meta.db_table)} SET status = %s, "  # noqa: S608  # the model's table name  # nosec B608
                           "sent_at = %s, message_id = %s, attempts = %s, updated_at = %s WHERE id = %s",
                           [row.status, row.sent_at, row.message_id, row.attempts, row.updated_at, row.pk])
        return "sent"
