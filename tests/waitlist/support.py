"""Waitlist test data, built through the services: a session that will be freed and patients waiting."""

from __future__ import annotations

from datetime import date, time, timedelta

from scheduling.waitlist.services import waitlist_entry_create
from tests.factories import Clinic, book, make_course, make_patient


def waiting(clinic: Clinic, *, booked_on: date, weekdays=(0,), earliest=time(8), latest=time(20),
            until: date | None = None, move: bool = True, **patient_fields):
    """A patient with a session on ``booked_on`` at 10:00 who asks for an earlier time (to move that
    session, or with ``move=False`` the course's next unbooked session)."""
    course = make_course(clinic, make_patient(clinic, **patient_fields))
    session = book(clinic, course, clinic.at(booked_on, 10))
    entry = waitlist_entry_create(course=course, appointment=session if move else None, weekdays=list(weekdays),
                                  earliest=earliest, latest=latest, until=until or booked_on - timedelta(days=1),
                                  created_by=clinic.front_desk.user)
    return entry
