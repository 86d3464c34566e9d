"""Planning check-ins (with their emails in the outbox) and taking the patient's answer.

Called inside the booking and course services' transactions (``check_ins_on_booked``,
``check_ins_on_completed``), by the beat (``check_ins_plan_periodic``) and by the patient's page
(``check_in_answer``). Each check-in is planned once (its unique key) and answered once (a row lock
and the answer's check constraint).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from clinic.models import Location
from patients.models import AuditAction
from patients.services import audit_record
from scheduling.booking.selectors import course_annotate_maintenance, course_sweating_returned
from scheduling.checkins.models import CheckIn, CheckInPurpose, SkinReaction
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Course,
    CoursePhase,
    Indication,
    Notification,
    NotificationChannel,
    NotificationKind,
)
from scheduling.records.outcome import course_outcome_write
from scheduling.reminders.outbox import notification_write_maintenance_recalls
from scheduling.scales import HDSS_MAX, HDSS_MIN, PAIN_NPRS_MAX

# Check-in emails go out at this hour of the location's day: a time to sit down for a minute.
CHECK_IN_HOUR = 10
# Periodic check-ins stop a year after the last session: a patient who never came back is not emailed for ever.
PERIODIC_FOR = timedelta(weeks=52)
ALREADY_ANSWERED = "You have already answered this check-in. Thank you: your answer has reached the clinic."


def check_in_due_at(*, location: Location, day: date) -> datetime:
    """CHECK_IN_HOUR on the location's wall clock of ``day``, in UTC."""
    return datetime.combine(day, time(CHECK_IN_HOUR), tzinfo=location.zone).astimezone(UTC)


def _plan(course: Course, anchor: Appointment, purpose: str, weeks_after: int, due_at: datetime, *,
          checked: bool = False) -> CheckIn | None:
    """One check-in and its email (the outbox row), unless it is planned already (``checked``: the caller
    knows it is not). Written from the services' own values: the check constraints guard them."""
    if not checked and CheckIn.objects.filter(appointment=anchor, purpose=purpose, weeks_after=weeks_after).exists():
        return None
    notification = Notification.objects.create(
        kind=NotificationKind.CHECK_IN, channel=NotificationChannel.EMAIL, patient_id=course.patient_id,
        course=course, appointment=anchor, appointment_version=anchor.version, due_at=due_at)
    return CheckIn.objects.create(course=course, patient_id=course.patient_id, appointment=anchor, purpose=purpose,
                                  weeks_after=weeks_after, due_at=due_at, notification=notification)


def check_ins_on_booked(*, appointments: list[Appointment], blocked: bool) -> None:
    """A baseline check-in when an initial course's first session is booked and no score is recorded yet:
    due at CHECK_IN_HOUR the day before that session, or at once when that time has passed. ``blocked``:
    the booking's facts (``booking_facts``, read under the course's lock) found an earlier session of the
    course, a recorded score or a baseline planned already."""
    if not appointments or blocked:
        return
    now = timezone.now()
    first = min(appointments, key=lambda appointment: appointment.starts_at)
    course = first.course
    if course.phase != CoursePhase.INITIAL or first.starts_at <= now:
        return
    location = course.location
    due_at = max(now, check_in_due_at(location=location, day=first.local_date - timedelta(days=1)))
    _plan(course, first, CheckInPurpose.BASELINE, 0, due_at, checked=True)


def check_ins_on_completed(*, course: Course) -> None:
    """The after-course check-ins of a completed initial course: at the location's weeks (default 2, 4, 8)
    after its last session, at CHECK_IN_HOUR; a week whose day has already passed is left out."""
    if course.phase != CoursePhase.INITIAL:
        return
    last = (Appointment.objects.filter(course=course, status=AppointmentStatus.FULFILLED)
            .select_related("location").order_by("-starts_at").first())
    if last is None:
        return
    location = course.location
    today = location.local(timezone.now()).date()
    for weeks in sorted(set(location.check_in_weeks_after_course)):
        day = last.local_date + timedelta(weeks=weeks)
        if day >= today:
            _plan(course, last, CheckInPurpose.AFTER_COURSE, weeks,
                  max(timezone.now(), check_in_due_at(location=location, day=day)))


def check_ins_plan_periodic(*, now: datetime) -> int:
    """The next periodic check-in of each hyperhidrosis patient waiting for maintenance (the rule of
    ``course_annotate_maintenance``: none booked), once the latest check-in since the line's last session
    has fallen due: the location's ``check_in_every_weeks`` after it, for a year after that session.
    Reads the waiting courses in one query; safe to run twice (the unique key)."""
    latest = CheckIn.objects.filter(appointment=OuterRef("last_session_id")).order_by("-weeks_after")
    waiting = (course_annotate_maintenance(courses=Course.objects.select_related("location"))
               .filter(waits_for_maintenance=True, indication=Indication.HYPERHIDROSIS,
                       last_session_at__gt=now - PERIODIC_FOR)
               .annotate(latest_weeks=Subquery(latest.values("weeks_after")[:1]),
                         latest_due_at=Subquery(latest.values("due_at")[:1]))
               .filter(Q(latest_due_at__isnull=True) | Q(latest_due_at__lte=now)))
    planned = 0
    for course in waiting:
        location = course.location
        last_day = location.local(course.last_session_at).date()
        weeks = (course.latest_weeks or 0) + location.check_in_every_weeks
        # Missed turns (the beat was off, the course completed long ago) are not made up: the next is ahead.
        while check_in_due_at(location=location, day=last_day + timedelta(weeks=weeks)) < now - timedelta(days=1):
            weeks += location.check_in_every_weeks
        day = last_day + timedelta(weeks=weeks)
        if day > last_day + PERIODIC_FOR:
            continue
        with transaction.atomic():
            anchor = Appointment.objects.get(pk=course.last_session_id)
            if _plan(course, anchor, CheckInPurpose.PERIODIC, weeks,
                     max(now, check_in_due_at(location=location, day=day))):
                planned += 1
    return planned


@transaction.atomic
def check_in_answer(*, check_in: CheckIn, score: int | None, skin_reaction: str = "") -> CheckIn:
    """The patient's answer: the course's score (HDSS 1-4, or pain 0-10) and, optionally, a skin reaction.

    Once: a second answer is refused with ALREADY_ANSWERED. An HDSS of 3 or 4 after a completed
    hyperhidrosis course makes maintenance due now (``course_maintenance_due_at``): the recall, the
    patient's one invitation to book, is written at once.
    """
    check_in = (CheckIn.objects.select_for_update(of=("self",)).select_related("course__location", "patient")
                .get(pk=check_in.pk))
    if check_in.is_answered:
        raise ValidationError(ALREADY_ANSWERED, code="already_answered")
    hyperhidrosis = check_in.course.indication == Indication.HYPERHIDROSIS
    low, high = (HDSS_MIN, HDSS_MAX) if hyperhidrosis else (0, PAIN_NPRS_MAX)
    if score is None or not low <= score <= high:
        raise ValidationError({"score": "Please choose one of the four statements." if hyperhidrosis
                               else "Please choose a number from 0 to 10."})
    if skin_reaction not in ("", *SkinReaction.values):
        raise ValidationError({"skin_reaction": "Please choose one of the answers about your skin."})
    now = timezone.now()
    if hyperhidrosis:
        check_in.hdss = score
    else:
        check_in.pain_nprs = score
    check_in.skin_reaction = skin_reaction
    check_in.answered_at = now
    check_in.full_clean()
    check_in.save()
    audit_record(actor=None, action=AuditAction.UPDATE, patient=check_in.patient, obj=check_in, via="patient-link",
                 changes={"hdss" if hyperhidrosis else "pain_nprs": [None, score],
                          "skin_reaction": [None, skin_reaction]})
    if check_in.purpose == CheckInPurpose.BASELINE and not check_in.course.is_open:
        course_outcome_write(course=check_in.course)
    line = Course.objects.filter(patient=check_in.patient_id, indication=Indication.HYPERHIDROSIS)
    if hyperhidrosis and any(course_sweating_returned(course=course)
                             for course in course_annotate_maintenance(courses=line.select_related("location"))):
        notification_write_maintenance_recalls(now=now, courses=line)
    return check_in
