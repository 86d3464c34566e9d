"""Reads of courses, appointments and session records beyond a plain lookup."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from clinic.models import Device, Location, Room, Staff
from clinic.selectors import at_visible_locations
from patients.models import Patient
from scheduling.availability import Slot, availability_grid
from scheduling.models import Appointment, Course, Notification, SessionRecord
from scheduling.rules import course_refusal


def courses_visible_to(*, user) -> QuerySet[Course]:
    """The courses at the user's locations; a manager sees every course."""
    return at_visible_locations(Course.objects, user=user)


def appointments_visible_to(*, user) -> QuerySet[Appointment]:
    return at_visible_locations(Appointment.objects, user=user)


def session_records_visible_to(*, user) -> QuerySet[SessionRecord]:
    return at_visible_locations(SessionRecord.objects, user=user, field="appointment__location_id")


def notifications_visible_to(*, user) -> QuerySet[Notification]:
    """By the course's location, not the appointment's: a message (a recall, a follow-up) is about the
    course, and the two agree today only because every session is booked at its course's location."""
    return at_visible_locations(Notification.objects, user=user, field="course__location_id")


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
