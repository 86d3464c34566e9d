"""The SQL queries of the API's writes, of one clinician's free slots for a day and of a request that
does nothing (issue 25). Times live in bench/; counts are exact, so they are asserted here.

Each limit is the count reached; where it is above the issue's goal, the goal is named beside it
(bench/README.md says where each query goes). BEGIN and COMMIT count, as in the bench.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.noop import NOOP_PATH
from scheduling.engine.setup import location_setup
from scheduling.models import Appointment, AppointmentStatus
from tests.api.conftest import booked_session
from tests.factories import make_course, next_weekday

# Transactional, as in production: the outermost atomic block is a transaction, not a savepoint.
pytestmark = pytest.mark.django_db(transaction=True)


def _counted(limit: int, call):
    """The response of ``call``, failing with every query when there are more than ``limit``."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
    listing = "\n".join(f"{n}. {query['sql']}" for n, query in enumerate(queries.captured_queries, 1))
    if os.environ.get("IONTO_SHOW_QUERIES"):
        print(f"\n{len(queries)} queries:\n{listing}")
    assert len(queries) <= limit, f"{len(queries)} queries, at most {limit}:\n{listing}"
    return response


def _warm(client) -> None:
    """A first request, as a working client has made: the token and locations are then in the cache."""
    assert client.get("/api/v1/rooms/").status_code == 200


@pytest.mark.parametrize("role", ["front_desk", "manager"])  # a manager's answer shows the session record
def test_booking_one_appointment(world, as_role, role):
    clinic, client = world.own, as_role(role)
    course = make_course(clinic)
    _warm(client)
    location_setup(clinic.location.pk)  # in the cache, as the first booking or slot search there left it
    body = {"course": course.pk, "clinician": clinic.clinician.pk, "room": clinic.room.pk,
            "device": clinic.device.pk, "starts_at": clinic.at(next_weekday(0), 10).isoformat()}
    # Goal 10. The body's four ids in one read; BEGIN; the course locked with its patient and location; every
    # rule's facts in one read (with whether the patient's baseline check-in is still to plan; the location's set-up
    # from the cache, five reads after a change to it: scheduling/engine/setup.py); the appointment, its
    # audit row and its messages inserted; a course's first session plans the baseline check-in (its outbox row,
    # the check-in); COMMIT.
    response = _counted(10, lambda: client.post("/api/v1/appointments/", body, format="json"))
    assert response.status_code == 201, response.json()
    assert Appointment.objects.get(pk=response.json()["id"]).status == AppointmentStatus.BOOKED


@pytest.mark.parametrize("role", ["front_desk", "manager"])  # a manager's answer shows the session record
def test_cancel(world, as_role, role):
    session, client = booked_session(world.own), as_role(role)
    _warm(client)
    # Goal 8. BEGIN; the appointment locked at one of the user's locations, with whether anyone waits there for
    # the freed time (scheduling/waitlist/freed.py); the update, its audit row; the reminders withdrawn and the
    # cancellation notice written; COMMIT.
    response = _counted(7, lambda: client.post(f"/api/v1/appointments/{session.appointment.pk}/cancel/",
                                               {"by": "clinic", "reason": "Device serviced"}, format="json"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize("role", ["front_desk", "manager"])  # a manager's answer shows the session record
def test_move(world, as_role, role):
    clinic, client = world.own, as_role(role)
    session = booked_session(clinic, weekday=0, hour=10)
    _warm(client)
    new_time = clinic.at(next_weekday(1), 15)
    # Goal 8. BEGIN; the appointment locked at one of the user's locations with its course, patient and location
    # and whether anyone waits there for the freed time (scheduling/waitlist/freed.py); every rule's facts in one
    # read; the update, its audit row; the old reminders withdrawn and the new messages written; COMMIT.
    response = _counted(8, lambda: client.post(f"/api/v1/appointments/{session.appointment.pk}/move/",
                                               {"starts_at": new_time.isoformat()}, format="json"))
    assert response.status_code == 200, response.json()
    session.appointment.refresh_from_db()
    assert session.appointment.starts_at == new_time


def test_arrive(world, as_role):
    session, client = booked_session(world.own), as_role("front_desk")
    with time_machine.travel(session.appointment.starts_at - timedelta(minutes=10), tick=False):
        _warm(client)
        # BEGIN; the appointment locked at one of the user's locations; the update, its audit row; COMMIT.
        response = _counted(5, lambda: client.post(f"/api/v1/appointments/{session.appointment.pk}/arrive/"))
    assert response.status_code == 200 and response.json()["status"] == "arrived"


def test_noshow(world, as_role):
    session, client = booked_session(world.own), as_role("front_desk")
    with time_machine.travel(session.appointment.ends_at, tick=False):
        _warm(client)
        # As arrive, and the reminders withdrawn and the no-show notice written.
        response = _counted(7, lambda: client.post(f"/api/v1/appointments/{session.appointment.pk}/noshow/"))
    assert response.status_code == 200 and response.json()["status"] == "noshow"


def test_booking_a_ten_session_course(world, as_role):
    client = as_role("front_desk")
    course = make_course(world.own, planned_sessions=10)
    _warm(client)
    # Goal 25. The course in scope; BEGIN; its lock; the grid of the horizon (six reads, one more for the
    # screening); every rule's facts for the ten sessions in one read; the sessions, their audit rows and
    # their messages, one INSERT each; the baseline check-in (two); COMMIT.
    response = _counted(17, lambda: client.post(f"/api/v1/courses/{course.pk}/book/",
                                                {"weekdays": [0, 2, 4], "earliest": "09:00", "latest": "17:00"},
                                                format="json"))
    assert response.status_code == 201, response.json()
    assert Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED).count() == 10


def test_free_slots_of_one_clinician_for_one_day(world, as_role):
    clinic, client = world.own, as_role("front_desk")
    booked_session(clinic, weekday=1, hour=10)
    _warm(client)
    day = next_weekday(1)
    query = {"location": clinic.location.pk, "start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(),
             "minutes": 30, "clinician": clinic.clinician.pk}
    # A first search reads the location's set-up (clinicians, rooms, devices, the week's hours) and keeps it in
    # the shared cache (scheduling/engine/setup.py) until a change of it.
    assert client.get("/api/v1/availability/", query).status_code == 200
    # Goal 3: the location and the clinician from the cached set-up (the location one of the user's, by their
    # cached location ids), then the window's sessions and closures in one read.
    response = _counted(1, lambda: client.get("/api/v1/availability/", query))
    assert response.status_code == 200
    starts = [slot["starts_at"] for slot in response.json()["slots"]]
    assert starts and clinic.at(day, 10).isoformat() not in starts


@pytest.mark.urls("bench.noop")
def test_an_authenticated_request_that_does_nothing(world, as_role):
    client = as_role("front_desk")
    assert client.get(NOOP_PATH).status_code == 204
    response = _counted(1, lambda: client.get(NOOP_PATH))
    assert response.status_code == 204
