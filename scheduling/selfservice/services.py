"""Writes of the patients' own pages: a patient moves a session, or books the rest of a course.

Both go through the booking services the front desk uses (``appointment_reschedule``, ``course_book``),
with the patient as the actor (``None``: the audit trail names the patient link), under the same locks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import ConflictError
from scheduling.booking.courses import course_book
from scheduling.booking.selectors import (
    PatientLinkUse,
    appointment_late_cancellation_message,
    appointment_patient_link_use,
    course_sessions_left_to_book,
)
from scheduling.booking.services import appointment_reschedule, locked_appointment, locked_course
from scheduling.engine.planner import CoursePlan
from scheduling.models import Appointment, Course
from scheduling.selfservice.selectors import MoveOption

TAKEN = "Sorry, that time has just been taken. Please choose another time below."
COURSE_CHANGED = ("Your sessions have changed since this email was sent (some are already booked). "
                  "Please use the link in your latest email, or call the clinic.")


def appointment_move_refusal(*, appointment: Appointment, now) -> str | None:
    """Why the patient cannot move this session online now, or None: the cancel link's rule (an upcoming
    session, up to the late-change window) and its words."""
    use = appointment_patient_link_use(appointment=appointment, action="cancel", now=now)
    if use == PatientLinkUse.NOT_AHEAD:
        return "This session is no longer ahead, so it cannot be moved online."
    if use == PatientLinkUse.CALL_THE_CLINIC:
        return appointment_late_cancellation_message(appointment=appointment)
    return None


@transaction.atomic
def appointment_move_by_patient(*, appointment: Appointment, option: MoveOption, expected_version: int
                                ) -> Appointment:
    """Move the patient's session to a time of ``appointment_move_options``. Refused (ValidationError)
    inside the late-change window, of the old time or of the new; a version other than
    ``expected_version`` (the link's) or a time another booking took raises ConflictError."""
    locked_course(appointment.course_id)  # the desk's order: the course, then the appointment
    appointment = locked_appointment(appointment, expected_version)
    now = timezone.now()
    refusal = appointment_move_refusal(appointment=appointment, now=now)
    if refusal is not None:
        raise ValidationError(refusal)
    if option.starts_at < now + timedelta(hours=appointment.location.late_cancellation_hours):
        raise ValidationError(appointment_late_cancellation_message(appointment=appointment))
    try:
        with transaction.atomic():
            return appointment_reschedule(appointment=appointment, starts_at=option.starts_at, rescheduled_by=None,
                                          clinician=option.clinician, room=option.room, device=option.device,
                                          expected_version=expected_version, by_patient=True)
    except ValidationError as error:
        # The desk's words name rooms, clinicians and other sessions: the patient hears that it was taken.
        raise ConflictError(TAKEN, code="taken") from error


@transaction.atomic
def course_book_rest_by_patient(
    *, course: Course, sessions_left: int, preview: bool, weekdays: Iterable[int] | None = None,
    earliest: time | None = None, latest: time | None = None,
) -> CoursePlan:
    """The patient books every remaining session of the course, all or none (``course_book`` with
    ``booked_by=None``), or previews the plan. ``sessions_left`` is what the patient's link was sent
    for: once the course has another number left to book (booked meanwhile), the link no longer acts."""
    course = locked_course(course)
    if course_sessions_left_to_book(course=course) != sessions_left:
        raise ConflictError(COURSE_CHANGED, code="course_changed")
    return course_book(course=course, booked_by=None, preview=preview, weekdays=weekdays, earliest=earliest,
                       latest=latest)
