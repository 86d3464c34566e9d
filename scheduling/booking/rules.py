"""The refusals that stop any booking of a course whatever the time: the booking services and the
slot engine both ask them, so they live here, importing neither."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from patients.models import Screening
from patients.selectors import screening_current
from scheduling.models import Course


def screening_check(course: Course) -> None:
    """Raise ValidationError unless the patient's current screening allows this course to be booked."""
    refusal = screening_refusal(course, screening_current(patient=course.patient))
    if refusal is not None:
        raise refusal


def screening_refusal(course: Course, screening: Screening | None) -> ValidationError | None:
    """Why ``screening`` (the patient's current one, or None) does not allow this course to be booked."""
    if screening is None:
        return ValidationError({"patient": "Record the patient's contraindication screening before booking."})
    if course.is_medicated and not screening.for_medicated:
        return ValidationError({"patient": "A medicated course needs the screening with the drug questions."})
    if screening.blocks_booking:
        # The answer itself is clinical: the front desk reads refusals too (DESIGN.md, Roles).
        return ValidationError({"patient": "The screening found a contraindication; a clinician must review the "
                                           "screening and record an override before booking."})
    return None


def course_refusal(course: Course, *, active: int, moving: bool = False) -> ValidationError | None:
    """What stops any booking of this course, whatever the time (the checks of the booking services
    that do not depend on the time), or None. ``active``: the course's sessions booked or done."""
    try:
        screening_check(course)
    except ValidationError as error:
        return error
    if not course.is_open:
        return ValidationError({"course": f"This course is {course.get_status_display().lower()}."})
    if course.patient.is_archived:
        return ValidationError({"patient": "This patient is archived."})
    if not moving and active >= course.planned_sessions:
        return ValidationError({"course": f"All {course.planned_sessions} planned sessions of this course are "
                                          "already booked."})
    return None
