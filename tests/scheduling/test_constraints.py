"""What must never happen, written straight to the database past the services: PostgreSQL refuses it."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from scheduling.models import Appointment, Course, SessionRecord, SessionSite, SideEffect
from tests.conftest import made_once
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


rows_made_once, clinic = made_once(make_clinic)  # each test rolled back to the clinic


@pytest.fixture
def booked(clinic):
    return book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))


def raw_copy(appointment: Appointment, **changes) -> Appointment:
    """Another row like this one, saved with no service in between."""
    copy = Appointment.objects.get(pk=appointment.pk)
    copy.pk = None
    for field, value in changes.items():
        setattr(copy, field, value)
    return copy


def refused(instance) -> str:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        instance.save()
    return str(error.value)


@pytest.mark.parametrize("shared", ["clinician", "room", "device", "patient"])
def test_database_refuses_overlapping_active_appointments(clinic, booked, shared):
    other_course = make_course(clinic)
    changes = {
        "course": other_course, "patient": other_course.patient, "clinician": clinic.clinicians[1],
        "room": clinic.rooms[1], "device": clinic.devices[1], "local_date": booked.local_date,
        "starts_at": booked.starts_at + timedelta(minutes=10), "ends_at": booked.ends_at + timedelta(minutes=10),
    }
    changes[shared] = getattr(booked, shared)
    assert f"appointment_no_overlap_per_{shared}" in refused(raw_copy(booked, **changes))


def test_database_lets_back_to_back_and_cancelled_rows_be(clinic, booked):
    other_course = make_course(clinic)
    back_to_back = raw_copy(booked, course=other_course, patient=other_course.patient,
                            starts_at=booked.ends_at, ends_at=booked.ends_at + timedelta(minutes=30))
    back_to_back.save()  # half-open ranges: [09:00, 09:30) and [09:30, 10:00) do not overlap
    cancelled = raw_copy(booked, course=other_course, patient=other_course.patient, status="cancelled",
                         cancelled_by="clinic", local_date=booked.local_date + timedelta(days=1))
    cancelled.save()


def test_database_refuses_two_sessions_of_a_course_on_one_day(clinic, booked):
    later = raw_copy(booked, clinician=clinic.clinicians[1], room=clinic.rooms[1], device=clinic.devices[1],
                     starts_at=booked.starts_at + timedelta(hours=3), ends_at=booked.ends_at + timedelta(hours=3))
    assert "appointment_one_session_a_day_per_patient" in refused(later)


@pytest.mark.parametrize("minutes", [20, 50])
def test_database_refuses_sessions_shorter_than_25_or_longer_than_45_minutes(booked, minutes):
    booked.ends_at = booked.starts_at + timedelta(minutes=minutes)
    assert "appointment_lasts_25_to_45_minutes" in refused(booked)


def test_database_refuses_a_cancellation_without_who(booked):
    booked.status = "cancelled"
    assert "appointment_cancellation_names_who" in refused(booked)


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("planned_sessions", 5, "course_initial_plans_6_to_10_sessions"),
        ("planned_sessions", 11, "course_initial_plans_6_to_10_sessions"),
        ("session_minutes", 24, "course_session_minutes_25_to_45"),
        ("sessions_per_week", 6, "course_sessions_per_week_1_to_5"),
        ("maintenance_interval_weeks", 5, "course_maintenance_interval_1_to_4_weeks"),
        ("status", "discontinued", "course_discontinued_has_reason"),
    ],
)
def test_database_refuses_impossible_courses(clinic, field, value, constraint):
    course = make_course(clinic)
    setattr(course, field, value)
    assert constraint in refused(course)


def test_database_refuses_a_maintenance_course_that_follows_nothing(clinic):
    course = make_course(clinic)
    course.phase = "maintenance"
    assert "course_maintenance_follows_a_course" in refused(course)
    assert Course.objects.filter(phase="maintenance").count() == 0


def _record(booked, clinic, **fields):
    values = {"appointment": booked, "minutes_of_current": 20, "recorded_by": clinic.clinician.user, "hdss": 3}
    values.update(fields)
    return SessionRecord(**values)


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"dose_ma_min": 80.5}, "session_dose_at_most_80_ma_min"),
        ({"hdss": 5}, "session_hdss_1_to_4"),
        ({"hdss": 0}, "session_hdss_1_to_4"),
        ({"hdss": None, "pain_nprs": 11}, "session_pain_0_to_10"),
        ({"minutes_of_current": 0}, "session_minutes_of_current_range"),
        ({"sweat_mg_min": 12}, "session_sweat_names_site"),
    ],
)
def test_database_refuses_impossible_session_values(clinic, booked, fields, constraint):
    assert constraint in refused(_record(booked, clinic, **fields))


def test_database_refuses_impossible_current_and_grades(clinic, booked):
    record = _record(booked, clinic)
    record.save()
    assert "session_site_current_range" in refused(SessionSite(record=record, site="palms", current_ma=31))
    assert "session_site_current_range" in refused(SessionSite(record=record, site="palms", current_ma=0))
    assert "side_effect_grade_1_to_3" in refused(SideEffect(record=record, kind="burn", grade=4))


def test_nothing_clinical_can_be_deleted_while_referenced(clinic, booked):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        booked.course.delete()
    with pytest.raises(ProtectedError):
        booked.patient.delete()
