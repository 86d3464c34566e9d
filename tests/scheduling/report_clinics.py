"""Clinics for the reports tests, built through the services on the clock of the day each thing happened.

Everything happens in October 2026 in London, across the end of summer time (Sunday 25 October, 02:00 BST
becomes 01:00 GMT); the period asked is Monday 19 October to Sunday 1 November: two weeks. The right
answers are worked out by hand in the tests from what is written here.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import time_machine

from clinic import services as clinic_services
from scheduling.booking.courses import course_complete, course_discontinue, course_start_maintenance
from scheduling.booking.services import appointment_cancel, appointment_confirm, appointment_mark_noshow
from scheduling.records.services import session_record_create
from tests.factories import book, make_clinic, make_course, make_patient

START, END = date(2026, 10, 19), date(2026, 11, 1)


@contextmanager
def on(moment: datetime):
    """The clock at ``moment`` while the block runs."""
    with time_machine.travel(moment, tick=False):
        yield


def booked_early(clinic, course, day: date, hour: int, *, minute: int = 0, room=0, device=0, clinician=0):
    """A session booked on 1 October for a day later in the month."""
    with on(datetime(2026, 10, 1, 12, tzinfo=UTC)):
        return book(clinic, course, clinic.at(day, hour, minute), room=clinic.rooms[room],
                    device=clinic.devices[device], clinician=clinic.clinicians[clinician])


def record(clinic, appointment, *, hdss=None, pain=None, side_effects=None, clinician=0):
    """The session recorded half an hour after its end."""
    with on(appointment.ends_at + timedelta(minutes=30)):
        medicated = appointment.course.is_medicated
        return session_record_create(
            appointment=appointment, recorded_by=clinic.clinicians[clinician].user, minutes_of_current=20,
            sites=[{"site": "other" if medicated else "palms", "current_ma": 2 if medicated else 12,
                    "site_other": "left lateral epicondyle" if medicated else ""}],
            hdss=hdss, pain_nprs=pain, side_effects=side_effects or [],
            dose_ma_min=40 if medicated else None)


def noshow(clinic, appointment):
    with on(appointment.ends_at):
        return appointment_mark_noshow(appointment=appointment, marked_by=clinic.front_desk.user)


def cancel_by_patient(clinic, appointment, when: datetime):
    with on(when):
        return appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user, by="patient",
                                  reason="Cannot come")


def confirm(clinic, appointment, when: datetime, via: str):
    with on(when):
        return appointment_confirm(appointment=appointment, via=via,
                                   confirmed_by=None if via == "email link" else clinic.front_desk.user)


def attendance_clinic():
    """Two patients' courses over the two weeks (see test_reports.py for the sessions and their fates);
    closures: Room 1 on Tue 20 Oct 10:00-12:00 and Wed 21 Oct 08:30-09:30, the whole location on Wed
    21 Oct 08:00-09:00; the location also opens on Sundays 00:30-03:30 (the DST night)."""
    clinic = make_clinic(name="Riverside", time_zone="Europe/London")
    with on(datetime(2026, 10, 1, 12, tzinfo=UTC)):
        clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(0, 30),
                                          closes_at=time(3, 30))
        london = clinic.location
        clinic_services.closure_create(location=london, room=clinic.rooms[0], reason="Repairs",
                                       starts_at=clinic.at(date(2026, 10, 20), 10),
                                       ends_at=clinic.at(date(2026, 10, 20), 12))
        clinic_services.closure_create(location=london, room=clinic.rooms[0], reason="Cleaning",
                                       starts_at=clinic.at(date(2026, 10, 21), 8, 30),
                                       ends_at=clinic.at(date(2026, 10, 21), 9, 30))
        clinic_services.closure_create(location=london, reason="Staff meeting",
                                       starts_at=clinic.at(date(2026, 10, 21), 8),
                                       ends_at=clinic.at(date(2026, 10, 21), 9))
        first = make_patient(clinic, first_name="Ada", last_name="Often")
        second = make_patient(clinic, first_name="Ben", last_name="Mostly")
        course_a = make_course(clinic, first)
        course_b = make_course(clinic, second)
    a1 = booked_early(clinic, course_a, date(2026, 10, 19), 9)
    a2 = booked_early(clinic, course_a, date(2026, 10, 21), 10)
    a3 = booked_early(clinic, course_a, date(2026, 10, 23), 9, room=1, device=1)
    a4 = booked_early(clinic, course_a, date(2026, 10, 27), 10, clinician=1)
    a5 = booked_early(clinic, course_a, date(2026, 10, 29), 10, clinician=1)
    b1 = booked_early(clinic, course_b, date(2026, 10, 24), 9, room=1, device=1, clinician=1)
    b2 = booked_early(clinic, course_b, date(2026, 10, 26), 9, room=1, device=1, clinician=1)
    b3 = booked_early(clinic, course_b, date(2026, 10, 28), 11, room=1, device=1, clinician=1)
    b4 = booked_early(clinic, course_b, date(2026, 10, 30), 9, room=1, device=1)
    record(clinic, a1, hdss=3)
    noshow(clinic, a2)
    record(clinic, a3, hdss=2)
    confirm(clinic, b1, datetime(2026, 10, 23, 18, tzinfo=UTC), "email link")
    record(clinic, b1, hdss=3, clinician=1)
    cancel_by_patient(clinic, b3, datetime(2026, 10, 25, 12, tzinfo=UTC))  # three days ahead: not late
    record(clinic, b2, hdss=3, clinician=1)
    noshow(clinic, a4)
    cancel_by_patient(clinic, a5, datetime(2026, 10, 28, 20, tzinfo=UTC))  # 13 hours ahead: late
    confirm(clinic, b4, datetime(2026, 10, 29, 9, tzinfo=UTC), "phone")
    noshow(clinic, b4)
    return clinic, {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "a5": a5, "b1": b1, "b2": b2, "b3": b3, "b4": b4}


def outcomes_clinic():
    """Four initial courses that end in the period: A (HDSS 4, 3, 3) completed, B (HDSS 3, 3, 3)
    discontinued, C medicated (pain 7, 6, 4) completed, D (HDSS 3, 2, 2) completed and followed by
    maintenance; F completed after one session (HDSS 3): one score, not judged; and E, started in September,
    still open."""
    clinic = make_clinic(name="Hillside", time_zone="Europe/London", rooms=2, devices=2)
    with on(datetime(2026, 9, 1, 12, tzinfo=UTC)):
        courses = {name: make_course(clinic, make_patient(clinic, medicated=name == "C"), medicated=name == "C")
                   for name in "ABCDEF"}
        early = book(clinic, courses["E"], clinic.at(date(2026, 9, 14), 9))
    record(clinic, early, hdss=4)
    mon_wed_fri = [date(2026, 10, 19), date(2026, 10, 21), date(2026, 10, 23)]
    tue_thu_sat = [date(2026, 10, 20), date(2026, 10, 22), date(2026, 10, 24)]
    plan = {
        "A": (mon_wed_fri, 9, [{"hdss": 4}, {"hdss": 3}, {"hdss": 3}]),
        "B": (mon_wed_fri, 11, [{"hdss": 3}] * 3),
        "C": (tue_thu_sat, 10, [{"pain": 7}, {"pain": 6}, {"pain": 4}]),
        "D": (tue_thu_sat, 14, [{"hdss": 3}, {"hdss": 2}, {"hdss": 2}]),
        "F": (mon_wed_fri[:1], 16, [{"hdss": 3}]),
    }
    side_effects = {("A", 0): [{"kind": "erythema", "grade": 1}], ("A", 1): [{"kind": "tingling", "grade": 1}],
                    ("C", 2): [{"kind": "erythema", "grade": 2}]}
    for name, (days, hour, scores) in plan.items():
        for number, (day, score) in enumerate(zip(days, scores, strict=True)):
            appointment = booked_early(clinic, courses[name], day, hour)
            record(clinic, appointment, side_effects=side_effects.get((name, number)), **score)
    clinician = clinic.clinician.user
    with on(datetime(2026, 10, 30, 12, tzinfo=UTC)):
        course_complete(course=courses["A"], completed_by=clinician)
        course_discontinue(course=courses["B"], discontinued_by=clinician, reason="No improvement")
        course_complete(course=courses["D"], completed_by=clinician)
        course_complete(course=courses["F"], completed_by=clinician)
        course_start_maintenance(course=courses["D"], created_by=clinician)
    with on(datetime(2026, 10, 31, 12, tzinfo=UTC)):
        course_complete(course=courses["C"], completed_by=clinician)
    return clinic, courses
