"""The front-desk calendar's endpoints: the calendar's data, and moving one session (drag and drop)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import AuditEvent
from scheduling.models import Appointment
from tests.admin.busy_day import book_many, busy_clinic
from tests.api.conftest import bearer_client
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


def calendar_of(client, clinic, day, days=7, **extra):
    return client.get("/api/v1/calendar/", {"location": clinic.location.pk, "start": day.isoformat(),
                                             "end": (day + timedelta(days=days)).isoformat(), **extra})


def test_calendar_shows_sessions_at_the_locations_wall_clock_and_names_the_zone():
    toronto = make_clinic(name="Yonge Street", time_zone="America/Toronto")
    monday = next_weekday(0)
    appointment = book(toronto, make_course(toronto), toronto.at(monday, 14, 30))
    answer = calendar_of(bearer_client(toronto.front_desk.user), toronto, monday)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["time_zone"] == "America/Toronto"
    assert body["zone_text"] == "America/Toronto (EST)"
    assert body["utc_offset"] == "-05:00"
    [session] = body["sessions"]
    assert session["id"] == appointment.pk
    assert (session["start"], session["end"]) == (f"{monday}T14:30:00", f"{monday}T15:00:00")
    assert session["time_text"] == "14:30-15:00 EST"
    assert session["resource"] == toronto.room.pk
    assert session["state"] == "booked"
    assert session["actions"] == ["cancel", "move", "book_next"]  # not today: no arrival, no no-show yet
    assert session["etag"] == f'"appointment-{appointment.pk}-v{appointment.version}"'
    assert [r["title"] for r in body["resources"]] == ["Room 1", "Room 2"]
    # Sunday is closed all day, the other days before 08:00 and after 20:00 (the grid's own edges).
    sunday = monday + timedelta(days=6)
    assert {"start": f"{sunday}T08:00:00", "end": f"{sunday}T20:00:00", "reason": "closed",
            "resource": None} in body["closed"]
    assert (body["day_starts"], body["day_ends"]) == ("08:00:00", "20:00:00")


def test_calendar_columns_follow_the_grouping_and_leave_cancelled_sessions_out():
    clinic = make_clinic()
    monday = next_weekday(0)
    kept = book(clinic, make_course(clinic), clinic.at(monday, 9), clinician=clinic.clinicians[1])
    cancelled = book(clinic, make_course(clinic), clinic.at(monday, 11))
    client = bearer_client(clinic.front_desk.user)
    client.post(f"/api/v1/appointments/{cancelled.pk}/cancel/", {"by": "patient", "reason": "A cold"},
                format="json")
    body = calendar_of(client, clinic, monday, by="clinician").json()
    assert [r["id"] for r in body["resources"]] == sorted(
        [c.pk for c in clinic.clinicians], key=lambda pk: next(str(c) for c in clinic.clinicians if c.pk == pk))
    assert [(s["id"], s["resource"]) for s in body["sessions"]] == [(kept.pk, clinic.clinicians[1].pk)]


def test_calendar_costs_the_same_queries_for_3_and_60_sessions():
    clinic = busy_clinic(resources=10)
    monday = next_weekday(0)
    client = bearer_client(clinic.front_desk.user)
    book_many(clinic, monday, 3)
    calendar_of(client, clinic, monday)  # the token's first use writes its last-used time
    with CaptureQueriesContext(connection) as few:
        assert len(calendar_of(client, clinic, monday).json()["sessions"]) == 3
    book_many(clinic, monday + timedelta(days=1), 57)
    with CaptureQueriesContext(connection) as many:
        assert len(calendar_of(client, clinic, monday).json()["sessions"]) == 60
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_calendar_of_another_location_or_too_long_a_span_is_refused():
    own, other = make_clinic(), make_clinic()
    monday = next_weekday(0)
    client = bearer_client(own.front_desk.user)
    answer = calendar_of(client, other, monday)
    assert answer.status_code == 400
    assert "location" in answer.json()["errors"]
    answer = calendar_of(client, own, monday, days=15)
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"end": ["Show at most 14 days at a time."]}
    answer = calendar_of(client, own, monday, days=0)
    assert answer.json()["errors"] == {"end": ["Give a day after start."]}


def test_move_changes_time_length_and_room_of_one_session_and_leaves_the_course_alone():
    clinic = make_clinic()
    monday = next_weekday(0)
    course = make_course(clinic)
    first = book(clinic, course, clinic.at(monday, 10))
    later = book(clinic, course, clinic.at(monday + timedelta(days=2), 10))
    client = bearer_client(clinic.front_desk.user)
    answer = client.post(f"/api/v1/appointments/{first.pk}/move/",
                         {"starts_at": clinic.at(monday, 11, 15).isoformat(), "minutes": 40,
                          "room": clinic.rooms[1].pk},
                         format="json", HTTP_IF_MATCH=f'"appointment-{first.pk}-v{first.version}"')
    assert answer.status_code == 200, answer.json()
    first.refresh_from_db()
    assert (first.location.local(first.starts_at).time(), first.minutes, first.room) == (
        time(11, 15), 40, clinic.rooms[1])
    assert answer["ETag"] == f'"appointment-{first.pk}-v{first.version}"'
    assert Appointment.objects.get(pk=later.pk).starts_at == later.starts_at
    trail = AuditEvent.objects.filter(object_type="appointment", object_id=str(first.pk), action="update").get()
    assert trail.changes == {"starts_at": [str(clinic.at(monday, 10)), str(clinic.at(monday, 11, 15))],
                             "minutes": [30, 40], "room_id": [clinic.rooms[0].pk, clinic.rooms[1].pk]}


def test_move_refusals_name_the_rule_and_change_nothing():
    clinic = make_clinic()
    monday = next_weekday(0)
    moving = book(clinic, make_course(clinic), clinic.at(monday, 10))
    book(clinic, make_course(clinic), clinic.at(monday, 12))
    client = bearer_client(clinic.front_desk.user)
    url = f"/api/v1/appointments/{moving.pk}/move/"

    busy = client.post(url, {"starts_at": clinic.at(monday, 12, 15).isoformat()}, format="json")
    assert busy.status_code == 409
    assert busy.json()["detail"] == (f"{clinic.clinician} is booked {monday:%a %d %b} 12:00-12:30 by another "
                                     "session.")

    too_long = client.post(url, {"starts_at": clinic.at(monday, 10).isoformat(), "minutes": 50}, format="json")
    assert too_long.status_code == 400
    assert too_long.json()["errors"] == {"minutes": ["A session lasts 25 to 45 minutes, not 50."]}

    stale = client.post(url, {"starts_at": clinic.at(monday, 9).isoformat()}, format="json",
                        HTTP_IF_MATCH=f'"appointment-{moving.pk}-v{moving.version + 1}"')
    assert stale.status_code == 412
    assert Appointment.objects.get(pk=moving.pk).starts_at == moving.starts_at
    assert Appointment.objects.get(pk=moving.pk).minutes == 30
