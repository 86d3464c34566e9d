"""Each role x each endpoint x a row of their own location / of another location -> the expected status."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from clinic import services as clinic_services
from patients.models import CONTRAINDICATIONS
from scheduling.records.services import session_record_create
from scheduling.waitlist.services import waitlist_entry_create, waitlist_offer_by_hand
from tests.api.conftest import bearer_client, booked_session, make_world
from tests.conftest import made_once_for_module
from tests.factories import next_weekday

pytestmark = pytest.mark.django_db

ROLES = ("front_desk", "clinician", "manager")


@dataclass
class Rows:
    """One row of every resource at a clinic."""

    ids: dict[str, int]


def rows_at(clinic) -> Rows:
    session = booked_session(clinic, weekday=1, hour=9)
    done = booked_session(clinic, weekday=2, hour=9)
    with time_machine.travel(done.appointment.ends_at, tick=False):
        record = session_record_create(
            appointment=done.appointment, recorded_by=clinic.clinician.user, minutes_of_current=20,
            sites=[{"site": "palms", "current_ma": 12}], hdss=3,
        )
    closure = clinic_services.closure_create(
        location=clinic.location, starts_at=clinic.at(next_weekday(5, weeks_ahead=3), 8),
        ends_at=clinic.at(next_weekday(5, weeks_ahead=3), 20), reason="Staff training", created_by=clinic.admin,
    )
    waits = booked_session(clinic, weekday=3, hour=9, weeks_ahead=2)
    entry = waitlist_entry_create(course=waits.course, appointment=waits.appointment, weekdays=[0, 1, 2, 3, 4],
                                  earliest=time(8), latest=time(20), until=next_weekday(2, weeks_ahead=2),
                                  created_by=clinic.front_desk.user)
    offer = waitlist_offer_by_hand(entry=entry, starts_at=clinic.at(next_weekday(4), 15), clinician=clinic.clinician,
                                   room=clinic.room, device=clinic.device, offered_by=clinic.front_desk.user)
    return Rows(ids={
        "locations": clinic.location.pk,
        "rooms": clinic.room.pk,
        "devices": clinic.device.pk,
        "clinicians": clinic.clinician.pk,
        "opening-hours": clinic.location.opening_hours.first().pk,
        "closures": closure.pk,
        "patients": session.course.patient_id,
        "screenings": session.course.patient.screenings.get().pk,
        "courses": session.course.pk,
        "appointments": session.appointment.pk,
        "session-records": record.pk,
        "notifications": session.appointment.notifications.order_by("id").first().pk,
        "waitlist-entries": entry.pk,
        "waitlist-offers": offer.pk,
    })


@pytest.fixture(scope="module")
def _made(django_db_setup, django_db_blocker):
    """The two clinics and their rows, made once for the module's 94 tests (each rolls back to them)."""

    def make():
        world = make_world()
        return world, {"own": rows_at(world.own), "other": rows_at(world.other)}

    yield from made_once_for_module(django_db_blocker, make)


@pytest.fixture
def world(_made, db):
    return copy.deepcopy(_made[0])


@pytest.fixture
def rows(_made, db):
    return copy.deepcopy(_made[1])


# resource -> {role: (status for own location's row, status for other location's row)}
DETAIL = {
    "locations": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "rooms": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "devices": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "clinicians": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "opening-hours": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "closures": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "patients": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "screenings": {"front_desk": (403, 403), "clinician": (200, 404), "manager": (200, 200)},
    "courses": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "appointments": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "session-records": {"front_desk": (403, 403), "clinician": (200, 404), "manager": (200, 200)},
    "notifications": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "waitlist-entries": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
    "waitlist-offers": {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)},
}


@pytest.mark.parametrize("role", ROLES)
def test_details_answer_by_role_and_location(world, rows, as_role, role):
    client = as_role(role)
    answered = {
        resource: (client.get(f"/api/v1/{resource}/{rows['own'].ids[resource]}/").status_code,
                   client.get(f"/api/v1/{resource}/{rows['other'].ids[resource]}/").status_code)
        for resource in DETAIL
    }
    assert answered == {resource: statuses[role] for resource, statuses in DETAIL.items()}


@pytest.mark.parametrize("role", ("front_desk", "clinician"))
def test_lists_hold_no_row_of_another_location(world, rows, as_role, role):
    for resource, statuses in DETAIL.items():
        response = as_role(role).get(f"/api/v1/{resource}/")
        if statuses[role][0] == 403:
            assert response.status_code == 403, resource
            continue
        assert response.status_code == 200, resource
        listed = {row["id"] for row in response.json()["results"]}
        assert rows["own"].ids[resource] in listed, resource
        assert rows["other"].ids[resource] not in listed, resource


def test_a_manager_lists_every_location(world, rows, as_role):
    for resource in DETAIL:
        response = as_role("manager").get(f"/api/v1/{resource}/")
        listed = {row["id"] for row in response.json()["results"]}
        assert {rows["own"].ids[resource], rows["other"].ids[resource]} <= listed, resource


def _later(clinic, weeks: int = 2, hour: int = 11):
    return clinic.at(next_weekday(3, weeks_ahead=weeks), hour).isoformat()


# action -> (method, path template, body builder, {role: (own status, other status)})
def _book_body(clinic, rows):
    return {"course": rows.ids["courses"], "clinician": clinic.clinician.pk, "room": clinic.room.pk,
            "device": clinic.device.pk, "starts_at": _later(clinic)}


WRITES = {
    "book": ("post", "/api/v1/appointments/", _book_body,
             {"front_desk": (201, 400), "clinician": (201, 400), "manager": (201, 201)}),
    "book course": ("post", "/api/v1/courses/{courses}/book/", lambda clinic, rows: {"preview": True},
                    {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "cancel": ("post", "/api/v1/appointments/{appointments}/cancel/",
               lambda clinic, rows: {"by": "patient", "reason": "Flu"},
               {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "reschedule": ("post", "/api/v1/appointments/{appointments}/reschedule/",
                   lambda clinic, rows: {"starts_at": _later(clinic, weeks=3)},
                   {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "move": ("post", "/api/v1/appointments/{appointments}/move/",
             lambda clinic, rows: {"starts_at": _later(clinic, weeks=3), "minutes": 40},
             {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "confirm": ("post", "/api/v1/appointments/{appointments}/confirm/", lambda clinic, rows: {"via": "phone"},
                {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "complete": ("post", "/api/v1/appointments/{appointments}/complete/",
                 lambda clinic, rows: {"minutes_of_current": 20, "sites": [{"site": "palms", "current_ma": 12}],
                                       "hdss": 3},
                 {"front_desk": (403, 404), "clinician": (400, 404), "manager": (400, 400)}),
    "register patient": ("post", "/api/v1/patients/",
                         lambda clinic, rows: {"first_name": "Robin", "last_name": "Hood",
                                               "date_of_birth": "1980-01-02", "different_person": True,
                                               "preferred_location": rows.ids["locations"]},
                         {"front_desk": (201, 400), "clinician": (201, 400), "manager": (201, 201)}),
    "update patient": ("patch", "/api/v1/patients/{patients}/", lambda clinic, rows: {"phone": "+44 20 1234 5678"},
                       {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "record screening": ("post", "/api/v1/screenings/",
                         lambda clinic, rows: {"patient": rows.ids["patients"],
                                               "answers": dict.fromkeys(CONTRAINDICATIONS, False)},
                         {"front_desk": (403, 403), "clinician": (201, 400), "manager": (201, 201)}),
    "plan course": ("post", "/api/v1/courses/",
                    lambda clinic, rows: {"patient": rows.ids["patients"], "location": rows.ids["locations"],
                                          "indication": "hyperhidrosis", "body_sites": ["soles"],
                                          "planned_sessions": 6},
                    {"front_desk": (201, 400), "clinician": (201, 400), "manager": (201, 201)}),
    "discontinue course": ("post", "/api/v1/courses/{courses}/discontinue/",
                           lambda clinic, rows: {"reason": "Moved away"},
                           {"front_desk": (403, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "add room": ("post", "/api/v1/rooms/", lambda clinic, rows: {"location": rows.ids["locations"], "name": "Room 9"},
                 {"front_desk": (403, 403), "clinician": (403, 403), "manager": (201, 201)}),
    "close": ("post", "/api/v1/closures/",
              lambda clinic, rows: {"location": rows.ids["locations"], "starts_at": _later(clinic, weeks=5, hour=8),
                                    "ends_at": _later(clinic, weeks=5, hour=12), "reason": "Boiler repair"},
              {"front_desk": (403, 403), "clinician": (403, 403), "manager": (201, 201)}),
    "arrive": ("post", "/api/v1/appointments/{appointments}/arrive/", lambda clinic, rows: {},
               {"front_desk": (400, 404), "clinician": (400, 404), "manager": (400, 400)}),
    "no-show": ("post", "/api/v1/appointments/{appointments}/noshow/", lambda clinic, rows: {},
                {"front_desk": (400, 404), "clinician": (400, 404), "manager": (400, 400)}),
    "archive patient": ("post", "/api/v1/patients/{patients}/archive/", lambda clinic, rows: {},
                        {"front_desk": (400, 404), "clinician": (400, 404), "manager": (400, 400)}),
    "override screening": ("post", "/api/v1/screenings/{screenings}/override/",
                           lambda clinic, rows: {"reason": "Benefit outweighs the risk"},
                           {"front_desk": (403, 403), "clinician": (400, 404), "manager": (400, 400)}),
    "complete course": ("post", "/api/v1/courses/{courses}/complete/", lambda clinic, rows: {},
                        {"front_desk": (403, 404), "clinician": (400, 404), "manager": (400, 400)}),
    "start maintenance": ("post", "/api/v1/courses/{courses}/start-maintenance/", lambda clinic, rows: {},
                          {"front_desk": (403, 404), "clinician": (400, 404), "manager": (400, 400)}),
    "add device": ("post", "/api/v1/devices/",
                   lambda clinic, rows: {"location": rows.ids["locations"], "model": "Dermadry",
                                         "serial_number": f"DD-{rows.ids['locations']}"},
                   {"front_desk": (403, 403), "clinician": (403, 403), "manager": (201, 201)}),
    "add opening hours": ("post", "/api/v1/opening-hours/",
                          lambda clinic, rows: {"location": rows.ids["locations"], "weekday": 6,
                                                "opens_at": "10:00", "closes_at": "14:00"},
                          {"front_desk": (403, 403), "clinician": (403, 403), "manager": (201, 201)}),
    "waitlist join": ("post", "/api/v1/waitlist-entries/",
                      lambda clinic, rows: {"course": rows.ids["courses"], "weekdays": [0], "earliest": "08:00",
                                            "latest": "12:00", "until": next_weekday(0, weeks_ahead=3).isoformat()},
                      {"front_desk": (201, 400), "clinician": (201, 400), "manager": (201, 201)}),
    "waitlist cancel": ("post", "/api/v1/waitlist-entries/{waitlist-entries}/cancel/", lambda clinic, rows: {},
                        {"front_desk": (200, 404), "clinician": (200, 404), "manager": (200, 200)}),
    "waitlist offer by hand": ("post", "/api/v1/waitlist-entries/{waitlist-entries}/offer/",
                               lambda clinic, rows: {"clinician": clinic.clinicians[1].pk,
                                                     "room": clinic.rooms[1].pk, "device": clinic.devices[1].pk,
                                                     "starts_at": _later(clinic, 1, 16)},
                               {"front_desk": (201, 404), "clinician": (201, 404), "manager": (201, 201)}),
    "device out of service": ("post", "/api/v1/devices/{devices}/in-service/",
                              lambda clinic, rows: {"in_service": False},
                              {"front_desk": (403, 403), "clinician": (403, 403), "manager": (200, 200)}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("write", sorted(WRITES))
def test_writes_answer_by_role_and_location(world, rows, role, write):
    method, template, body, expected = WRITES[write]
    client = bearer_client(world.staff(role).user)
    for side, clinic, status in (("own", world.own, expected[role][0]), ("other", world.other, expected[role][1])):
        path = template.format(**rows[side].ids)
        response = getattr(client, method)(path, body(clinic, rows[side]), format="json")
        assert response.status_code == status, (side, response.json())


def test_front_desk_is_refused_ending_or_extending_a_course_in_the_services_words(world):
    with time_machine.travel(datetime(2030, 1, 9, 8, tzinfo=UTC), tick=False):
        session = booked_session(world.own)
        client = bearer_client(world.own.front_desk.user)
        answers = [client.post(f"/api/v1/courses/{session.course.pk}/{action}/", body, format="json")
                   for action, body in (("complete", {}), ("discontinue", {"reason": "Moved away"}),
                                        ("start-maintenance", {"interval_weeks": 2}))]
    assert [(answer.status_code, answer.json()) for answer in answers] == [(403, {
        "detail": "Only a clinician or a manager ends or extends a course.", "code": "permission_denied",
        "errors": {}})] * 3
    session.course.refresh_from_db()
    session.appointment.refresh_from_db()
    assert (session.course.status, session.appointment.status) == ("planned", "booked")


@pytest.mark.parametrize("role", ROLES)
def test_availability_answers_by_role_and_location(world, rows, role):
    client = bearer_client(world.staff(role).user)
    day = next_weekday(0)
    answered = [
        client.get("/api/v1/availability/", {"location": clinic.location.pk, "start": day.isoformat(),
                                             "end": (day + timedelta(days=1)).isoformat(),
                                             "minutes": 30}).status_code
        for clinic in (world.own, world.other)
    ]
    assert answered == ([200, 200] if role == "manager" else [200, 400])


@pytest.mark.parametrize("role", ROLES)
def test_calendar_answers_by_role_and_location(world, rows, role):
    client = bearer_client(world.staff(role).user)
    day = next_weekday(0)
    answered = [
        client.get("/api/v1/calendar/", {"location": clinic.location.pk, "start": day.isoformat(),
                                         "end": (day + timedelta(days=7)).isoformat()}).status_code
        for clinic in (world.own, world.other)
    ]
    assert answered == ([200, 200] if role == "manager" else [200, 400])


@pytest.mark.parametrize("role", ROLES)
def test_only_a_manager_adds_a_location(world, role):
    response = bearer_client(world.staff(role).user).post("/api/v1/locations/", {
        "name": "Eastside", "address": "3 Quay", "phone": "+44 20 7946 0003", "time_zone": "Europe/Dublin"},
        format="json")
    assert response.status_code == (201 if role == "manager" else 403)
