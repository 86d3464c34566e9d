"""Courses treated session by session through the services, the clock moved with time-machine.

Bookings must lie in the future, so every session is booked first (at future times) and the
clock then travels to the end of each session to record it, mark it a no-show or cancel it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import time_machine

from scheduling.booking.courses import course_complete
from scheduling.booking.services import appointment_cancel, appointment_mark_noshow
from scheduling.models import Appointment, CancelledBy, Course
from scheduling.records.services import session_record_create
from tests.factories import Clinic, book

NOSHOW = "noshow"
CANCEL = "cancel"
BOOKED = "booked"


def scored(score: int, *, current: float | None = None, minutes: int = 20, side_effects=None, sweat=None,
           note: str = "", sites=None) -> dict:
    """What a session record says; the score is HDSS or pain as the course's indication needs."""
    return {"score": score, "current": current, "minutes": minutes, "side_effects": side_effects or [],
            "sweat": sweat, "note": note, "sites": sites}


def after(appointment: Appointment) -> datetime:
    return appointment.ends_at + timedelta(minutes=5)


def treat(clinic: Clinic, course: Course, visits: list[tuple[date, object]], *, hour: int = 10) -> list[Appointment]:
    """Book one session per (day, what happened) and let each happen in order.

    What happened: ``scored(...)`` (recorded), NOSHOW, CANCEL (by the patient) or BOOKED (still to come).
    """
    appointments = [book(clinic, course, clinic.at(day, hour)) for day, _ in visits]
    for appointment, (_day, what) in zip(appointments, visits, strict=True):
        if what == BOOKED:
            continue
        with time_machine.travel(after(appointment), tick=False):
            if what == NOSHOW:
                appointment_mark_noshow(appointment=appointment, marked_by=clinic.front_desk.user)
            elif what == CANCEL:
                appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user,
                                   by=CancelledBy.PATIENT, reason="Unwell")
            else:
                record(clinic, course, appointment, **what)
    return appointments


def record(clinic: Clinic, course: Course, appointment: Appointment, *, score: int, current, minutes: int,
           side_effects, sweat, note: str, sites):
    if course.is_medicated:
        sites = sites or [{"site": "other", "site_other": "left lateral epicondyle", "current_ma": current or 2}]
        outcome = {"pain_nprs": score}
    else:
        sites = sites or [{"site": "palms", "current_ma": current or 12}]
        outcome = {"hdss": score}
    return session_record_create(
        appointment=appointment, recorded_by=clinic.clinician.user, minutes_of_current=minutes, sites=sites,
        side_effects=side_effects, sweat_mg_min=None if sweat is None else Decimal(str(sweat)),
        sweat_site="palms" if sweat is not None else "", note=note, **outcome,
    )


def complete(clinic: Clinic, course: Course, at: datetime) -> Course:
    with time_machine.travel(at, tick=False):
        return course_complete(course=course, completed_by=clinic.clinician.user)
