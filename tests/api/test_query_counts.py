"""Every list endpoint costs the same number of queries for 5 rows as for 50."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic import services as clinic_services
from clinic.models import StaffRole
from patients import services as patient_services
from scheduling.booking.services import appointment_book
from scheduling.records.services import session_record_create
from tests.api.conftest import make_world
from tests.conftest import made_once
from tests.factories import NO_CONTRAINDICATIONS, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


rows_made_once, world = made_once(make_world)  # the two clinics, each test rolled back to them


_n = itertools.count(1)


def _sessions(clinic, count: int, plan: dict) -> None:
    """Book (and record) sessions until ``count`` exist: ten courses, one hour each, Monday to Friday."""
    monday = next_weekday(0)
    while plan["made"] < count:
        index = plan["made"]
        course_index, day = divmod(index, 5)
        if course_index >= len(plan["booked_courses"]):
            plan["booked_courses"].append(make_course(clinic, planned_sessions=6))
        appointment = appointment_book(
            course=plan["booked_courses"][course_index], clinician=clinic.clinician, room=clinic.room,
            device=clinic.device,
            starts_at=clinic.at(monday + timedelta(days=day), 8 + course_index), booked_by=clinic.front_desk.user)
        with time_machine.travel(appointment.ends_at, tick=False):
            session_record_create(
                appointment=appointment, recorded_by=clinic.clinician.user, minutes_of_current=20,
                sites=[{"site": "palms", "current_ma": 12}], hdss=3,
                side_effects=[{"kind": "erythema", "grade": 1}])
        plan["made"] += 1


def _rows(resource: str, clinic, count: int, plan: dict) -> None:
    made = plan.setdefault(resource, 0)
    admin = clinic.admin
    for _ in range(count - made):
        n = next(_n)
        if resource == "locations":
            clinic_services.location_create(name=f"Site {n}", address="1 Road", phone="0", time_zone="Europe/Paris")
        elif resource == "rooms":
            clinic_services.room_create(location=clinic.location, name=f"Room x{n}", created_by=admin)
        elif resource == "devices":
            clinic_services.device_create(location=clinic.location, model="Dermadry", serial_number=f"DD-{n}")
        elif resource == "clinicians":
            clinic_services.staff_create(username=f"c{n}", first_name="C", last_name=f"L{n}",
                                         role=StaffRole.CLINICIAN, locations=[clinic.location])
        elif resource == "opening-hours":
            clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(0, n % 60),
                                              closes_at=time(23))
        elif resource == "working-hours":
            clinic_services.working_hours_add(clinician=clinic.clinician, location=clinic.location, weekday=6,
                                              starts_at=time(0, n % 60), ends_at=time(23))
        elif resource == "closures":
            start = clinic.at(date(2027, 1, 1) + timedelta(days=n), 9)
            clinic_services.closure_create(location=clinic.location, starts_at=start,
                                           ends_at=start + timedelta(hours=1), reason="Inspection")
        elif resource == "patients":
            make_patient(clinic, screened=False)
        elif resource == "screenings":
            patient_services.screening_record(patient=make_patient(clinic, screened=False),
                                              recorded_by=clinic.clinician.user, answers=NO_CONTRAINDICATIONS)
        elif resource == "courses":
            make_course(clinic)
    plan[resource] = count


RESOURCES = ["locations", "rooms", "devices", "clinicians", "opening-hours", "working-hours", "closures", "patients",
             "screenings", "courses", "appointments", "session-records", "notifications"]


# The front desk gets 403 on screenings and session records (tests/api/test_role_matrix.py).
CASES = [(resource, role) for role in ("front_desk", "clinician") for resource in RESOURCES
         if not (role == "front_desk" and resource in ("screenings", "session-records"))]


@pytest.mark.parametrize(("resource", "role"), CASES)
def test_list_query_count_does_not_grow_with_rows(world, as_role, resource, role):
    clinic = world.own
    client = as_role("manager" if resource == "locations" else role)
    plan = {"made": 0, "booked_courses": []}
    counts = {}
    for rows in (5, 50):
        if resource in ("appointments", "session-records", "notifications"):
            _sessions(clinic, rows, plan)
        else:
            _rows(resource, clinic, rows, plan)
        # A working client has asked before: its token and locations are in the cache (a change of staff
        # or locations, as making the rows may be, empties it).
        client.get(f"/api/v1/{resource}/", {"page_size": 100})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/{resource}/", {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= rows
        counts[rows] = len(queries)
    assert counts[5] == counts[50]
    assert counts[50] <= 6
