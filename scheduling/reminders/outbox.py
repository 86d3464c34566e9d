"""The notification outbox: writing, re-timing and cancelling patient messages, claiming due ones.

Rows are written in the transaction of the change that causes them (the booking services call
the ``notifications_on_*`` functions), so a message exists exactly when its cause committed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from patients.models import ReminderChannel
from scheduling.booking.selectors import (
    course_annotate_maintenance,
    course_maintenance_due_at,
    course_sessions_left_to_book,
)
from scheduling.models import (
    MAINTENANCE_INTERVAL_WEEKS_MAX,
    Appointment,
    Course,
    CoursePhase,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)

# The beat claims up to CLAIM_BATCH due rows a transaction (see reminders/sending.py for the sends).
CLAIM_BATCH = 2000
# A row "sending" this long since its claim, or since its send began, lost its task or its worker: the
# beat claims it again. Longer than one message can take (each SMTP reply waits at most EMAIL_TIMEOUT),
# short enough that a reminder two hours ahead still goes out in good time.
SENDING_LEASE = timedelta(minutes=5)

# A recall is for maintenance that fell due lately. A patient whose maintenance fell due long before
# (before the clinic used Ionto, or while recalls were off) is not emailed out of the blue; the
# dashboard still flags them for a call.
RECALL_LOOKBACK = timedelta(weeks=8)

REMINDER_KINDS = (NotificationKind.REMINDER, NotificationKind.SECOND_REMINDER)
APPOINTMENT_KINDS = (*REMINDER_KINDS, NotificationKind.RESCHEDULED)


# ---------------------------------------------------------------------------------------------
# Writing rows (called inside the booking services' transactions)


def reminder_due_at(*, appointment: Appointment, hours_before: int) -> datetime:
    """``hours_before`` on the location's wall clock: a reminder 24 hours before a 09:00 session
    goes out at 09:00 local time the day before, across a daylight-saving change too."""
    zone = appointment.location.zone
    wall = appointment.location.local(appointment.starts_at).replace(tzinfo=None) - timedelta(hours=hours_before)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _row(kind: str, appointment: Appointment, due_at: datetime, appointment_ids: list[int] | None = None,
         channel: str = NotificationChannel.EMAIL) -> Notification:
    return Notification(
        kind=kind, channel=channel, patient_id=appointment.patient_id, course_id=appointment.course_id,
        appointment=appointment, appointment_version=appointment.version, appointment_ids=appointment_ids or [],
        due_at=due_at,
    )


def _reminder_channels(appointment: Appointment) -> list[str]:
    """The channels of a session's reminders: the patient's choice when they are written (every other message
    goes by email). Consent is checked again when each goes out."""
    choice = appointment.patient.reminder_channel
    return [channel for channel in (NotificationChannel.EMAIL, NotificationChannel.SMS)
            if choice in (channel, ReminderChannel.BOTH)]


def _reminder_rows(appointment: Appointment, now: datetime) -> list[Notification]:
    """The reminders still ahead of ``now``: a reminder whose time has passed at booking is not written
    (the booking confirmation has just told the patient)."""
    location = appointment.location
    rows = []
    for kind, hours in ((NotificationKind.REMINDER, location.reminder_hours_before),
                        (NotificationKind.SECOND_REMINDER, location.second_reminder_hours_before)):
        if hours:
            due_at = reminder_due_at(appointment=appointment, hours_before=hours)
            if due_at > now:
                rows.extend(_row(kind, appointment, due_at, channel=channel)
                            for channel in _reminder_channels(appointment))
    return rows


def _cancel_pending(appointment: Appointment, kinds, reason: str) -> int:
    return Notification.objects.filter(appointment=appointment, kind__in=kinds,
                                       status=NotificationStatus.PENDING).update(
        status=NotificationStatus.CANCELLED, last_error=reason, updated_at=timezone.now())


def notifications_on_booked(*, appointments: list[Appointment]) -> None:
    """One booking confirmation for every session booked in one call, and each session's reminders.

    Call inside the booking transaction, once per call, with all the appointments it booked.
    """
    if not appointments:
        return
    now = timezone.now()
    ordered = sorted(appointments, key=lambda appointment: appointment.starts_at)
    rows = [_row(NotificationKind.BOOKING_CONFIRMATION, ordered[0], now,
                 appointment_ids=[appointment.pk for appointment in ordered])]
    for appointment in ordered:
        rows.extend(_reminder_rows(appointment, now))
    Notification.objects.bulk_create(rows)


def notifications_on_rescheduled(*, appointment: Appointment) -> None:
    """A moved session: its pending reminders are cancelled, new ones written for the new time
    (the new version), and the patient told of the change with an updated invite."""
    now = timezone.now()
    _cancel_pending(appointment, APPOINTMENT_KINDS, "Not sent: the session was moved.")
    Notification.objects.bulk_create([_row(NotificationKind.RESCHEDULED, appointment, now),
                                      *_reminder_rows(appointment, now)])


def notifications_on_cancelled(*, appointment: Appointment) -> None:
    """A cancelled session: no reminder goes out; a cancellation notice (METHOD:CANCEL) does."""
    _cancel_pending(appointment, APPOINTMENT_KINDS, "Not sent: the session was cancelled.")
    now = timezone.now()
    if appointment.starts_at > now:
        Notification.objects.bulk_create([_row(NotificationKind.CANCELLATION, appointment, now)])


def notifications_on_withdrawn(*, appointment: Appointment) -> None:
    """A booking entered in error: its pending messages are withdrawn, nothing is sent about it."""
    _cancel_pending(appointment, APPOINTMENT_KINDS, "Not sent: the booking was entered in error.")


def notifications_on_noshow(*, appointment: Appointment) -> None:
    _cancel_pending(appointment, APPOINTMENT_KINDS, "Not sent: the patient did not come.")
    Notification.objects.bulk_create([_row(NotificationKind.NOSHOW_FOLLOW_UP, appointment, timezone.now())])


def notifications_on_fulfilled(*, appointment: Appointment, course: Course) -> None:
    """A session done: when the course still has sessions to book, ask the patient to book them."""
    _cancel_pending(appointment, APPOINTMENT_KINDS, "Not sent: the session took place.")
    if course.is_open and course.phase == CoursePhase.INITIAL and course_sessions_left_to_book(course=course) > 0:
        Notification.objects.bulk_create([_row(NotificationKind.SESSION_FOLLOW_UP, appointment, timezone.now())])


def notification_write_maintenance_recalls(*, now: datetime, courses: QuerySet[Course] | None = None) -> int:
    """Recall patients whose maintenance session fell due with none booked (the rule of
    ``course_annotate_maintenance``, which the dashboard flag and the proposal read too).

    One recall per last session (the unique key), so the patient is recalled again only after
    another session, and only within RECALL_LOOKBACK of the day it fell due. The courses already
    recalled for their last session are left out in SQL, so a beat reads the courses waiting for
    maintenance that were not recalled yet, not the history. ``courses`` narrows it (a patient's check-in
    answer that made maintenance due writes their recall at once).
    """
    # Only lines whose last session is recent enough to fall due inside the lookback (a day more for a
    # clock change): the rest of the history is never read.
    recent = now - RECALL_LOOKBACK - timedelta(weeks=MAINTENANCE_INTERVAL_WEEKS_MAX, days=1)
    recalled = Notification.objects.filter(appointment=OuterRef("last_session_id"),
                                           kind=NotificationKind.MAINTENANCE_RECALL)
    waiting = (course_annotate_maintenance(courses=(Course.objects if courses is None else courses)
                                           .select_related("location"))
               .filter(waits_for_maintenance=True, last_session_at__gt=recent).filter(~Exists(recalled)))
    due = [(course, due_at) for course in waiting
           if now - RECALL_LOOKBACK < (due_at := course_maintenance_due_at(course=course)) <= now]
    last = Appointment.objects.in_bulk([course.last_session_id for course, _ in due])
    rows = []
    for course, due_at in due:
        row = _row(NotificationKind.MAINTENANCE_RECALL, last[course.last_session_id], due_at)
        row.course = course
        rows.append(row)
    # Two beats at once: the unique key keeps one recall; the other insert is ignored.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)



# ---------------------------------------------------------------------------------------------
# Claiming due rows (the beat task)


def notification_claim_due(*, now: datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Mark up to ``limit`` due rows as sending and return their ids for the caller to queue.

    Rows another claim holds are skipped (SKIP LOCKED), so two beats never claim one row. A row
    left "sending" longer than SENDING_LEASE is claimed again; ``now`` becomes its ``claimed_at``,
    which the send task carries, so a task of the older claim skips it.
    """
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(Q(status=NotificationStatus.PENDING, due_at__lte=now)
                    | Q(status=NotificationStatus.SENDING, claimed_at__lt=now - SENDING_LEASE))
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Notification.objects.filter(pk__in=ids).update(status=NotificationStatus.SENDING, claimed_at=now,
                                                           updated_at=now)
    return ids



# ---------------------------------------------------------------------------------------------
# The admin's resend


@transaction.atomic
def notification_resend(*, notification_ids: list[int], resent_by) -> int:
    """Queue failed rows again, at once (the admin's action after fixing an address or the relay).

    Only failed rows: a sent one would go twice, a cancelled one is no longer wanted. The count of
    attempts starts again, so transient errors get their retries.
    """
    now = timezone.now()
    ids = list(Notification.objects.select_for_update().filter(pk__in=notification_ids,
                                                               status=NotificationStatus.FAILED)
               .values_list("pk", flat=True))
    who = getattr(resent_by, "username", None) or "the clinic"
    return Notification.objects.filter(pk__in=ids).update(
        status=NotificationStatus.PENDING, due_at=now, attempts=0, updated_at=now,
        last_error=f"Queued again by {who} on {now:%Y-%m-%d %H:%M} UTC.")


# ---------------------------------------------------------------------------------------------
# Delivery reports


def notification_record_sms_status(*, notification_id: int, provider_id: str, status: str, error_code: str = "") -> int:
    """The SMS provider's report on a text: its delivery status (and its message id, should the report come
    before the send recorded it); an undelivered or failed text fails the row with the provider's error code.
    Returns how many rows it concerned (0 or 1)."""
    if not provider_id or not status:
        return 0
    fields = {"delivery_status": status[:20], "message_id": provider_id, "updated_at": timezone.now()}
    if status in ("undelivered", "failed"):
        fields.update(status=NotificationStatus.FAILED,
                      last_error=f"SMS {status} (provider error {error_code or '-'}).")
    return (Notification.objects.filter(pk=notification_id, channel=NotificationChannel.SMS)
            .filter(Q(message_id="") | Q(message_id=provider_id)).update(**fields))
