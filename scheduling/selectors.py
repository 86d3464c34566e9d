"""Reads of courses, appointments and session records beyond a plain lookup."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError

from clinic.models import Device, Location, Room, Staff
from patients.models import Patient
from scheduling.availability import Slot, availability_grid, course_refusal
from scheduling.models import Appointment, AppointmentStatus, Course
from scheduling.progress import (  # noqa: F401  (the progress selectors live in their own module)
    CourseProgress,
    Flag,
    FlagKind,
    course_get_for_progress,
    course_list_for_dashboard,
    course_progress,
    progress_access_allowed,
)


def slot_list_available(
    *, location: Location, start: date, end: date, minutes: int | None = None, clinician: Staff | None = None,
    room: Room | None = None, device: Device | None = None, patient: Patient | None = None,
    course: Course | None = None, moving: Appointment | None = None,
) -> list[Slot]:
    """Free start times at ``location`` on the local days [start, end) for a session of ``minutes``.

    Each ``scheduling.availability.Slot`` has its start, end and the clinicians, rooms and in-service
    devices free together then. ``clinician``, ``room``, ``device`` narrow the search to one of each;
    ``patient`` keeps the patient's own sessions clear; ``course`` (its patient, its session length
    when ``minutes`` is None) adds the course rules and raises ``ValidationError`` when the course
    cannot be booked at all (no screening, closed course, every session booked); ``moving`` is a
    booked session about to be moved, whose own time counts as free. Every slot returned passes
    ``appointment_book``; at most six SQL queries, whatever the history.
    """
    if course is not None and minutes is None:
        minutes = course.session_minutes
    if minutes is None:
        raise ValidationError({"minutes": "Give the session length in minutes."})
    grid = availability_grid(
        location=location, start=start, end=end, minutes=minutes, clinician=clinician, room=room, device=device,
        patient_id=patient.pk if patient is not None else None, course=course,
        moving=[moving] if moving is not None else None,
    )
    if course is not None:
        refusal = course_refusal(course, active=grid.course.active, moving=moving is not None)
        if refusal is not None:
            raise refusal
    return grid.slots()


def appointment_arrival_refusal(*, appointment: Appointment, now: datetime) -> str | None:
    """Why the patient cannot be marked arrived now, or None when they can: a booked session, on its
    local day. ``appointment_mark_arrived`` refuses with this text; the admin shows the button when None."""
    if appointment.status != AppointmentStatus.BOOKED:
        return f"This session is {appointment.get_status_display().lower()}, not booked."
    if appointment.local_date != appointment.location.local(now).date():
        return f"This session is on {appointment.local_date:%a %d %b}; arrivals are marked on the day."
    return None


def appointment_noshow_refusal(*, appointment: Appointment, now: datetime) -> str | None:
    """Why the session cannot be marked a no-show now, or None when it can: a booked session whose start
    has passed. ``appointment_mark_noshow`` refuses with this text; the admin shows the button when None."""
    if appointment.status != AppointmentStatus.BOOKED:
        return f"This session is {appointment.get_status_display().lower()}, not booked."
    if appointment.starts_at > now:
        return "A session can be marked as a no-show only once its start time has passed."
    return None


def appointment_is_upcoming(*, appointment: Appointment, now: datetime) -> bool:
    """Booked and not started: the only sessions a patient can still confirm or cancel."""
    return appointment.status == AppointmentStatus.BOOKED and appointment.starts_at > now


def appointment_late_cancellation_message(*, appointment: Appointment) -> str:
    location = appointment.location
    return (f"Your session is less than {location.late_cancellation_hours} hours away, so it can no longer be "
            f"cancelled online. Please call {location.name} on {location.phone}.")


class PatientLinkUse(enum.StrEnum):
    """What a patient's confirm or cancel link may do now."""

    ALLOWED = "allowed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_AHEAD = "not_ahead"
    CALL_THE_CLINIC = "call_the_clinic"


def appointment_patient_link_use(*, appointment: Appointment, action: str, now: datetime) -> PatientLinkUse:
    """The patient's own ``action`` ("confirm" or "cancel"): a confirmation once, of an upcoming session;
    a cancellation of an upcoming session up to the location's ``late_cancellation_hours`` before it,
    after which the patient calls the clinic. The pages ask this before showing a button;
    ``appointment_cancel_by_patient`` refuses by the same answer, ``appointment_confirm`` by
    ``appointment_is_upcoming`` (a second confirmation changes nothing there)."""
    if action == "confirm" and appointment.confirmed_at is not None:
        return PatientLinkUse.ALREADY_CONFIRMED
    if not appointment_is_upcoming(appointment=appointment, now=now):
        return PatientLinkUse.NOT_AHEAD
    late = timedelta(hours=appointment.location.late_cancellation_hours)
    if action == "cancel" and appointment.starts_at - now < late:
        return PatientLinkUse.CALL_THE_CLINIC
    return PatientLinkUse.ALLOWED
