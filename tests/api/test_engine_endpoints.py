"""Availability, whole-course booking (with preview) and rescheduling through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduling.booking.courses import course_book
from scheduling.models import Appointment, AppointmentStatus
from tests.api.conftest import booked_session
from tests.factories import make_course, next_weekday

pytestmark = pytest.mark.django_db


def test_availability_lists_free_starts_with_local_times(world, as_role):
    clinic = world.own
    day = next_weekday(0)
    booked_session(clinic, weekday=0, hour=10)
    response = as_role("front_desk").get("/api/v1/availability/", {
        "location": clinic.location.pk, "start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(),
        "minutes": 30, "room": clinic.room.pk, "device": clinic.device.pk, "clinician": clinic.clinician.pk})
    assert response.status_code == 200
    body = response.json()
    assert (body["location"], body["time_zone"], body["minutes"]) == (clinic.location.pk, "Europe/London", 30)
    starts = [slot["local_starts_at"] for slot in body["slots"]]
    assert starts[0] == clinic.at(day, 8).isoformat()
    # 10:00-10:30 is booked, with 5 minutes turnover for the room and device either side.
    assert clinic.at(day, 9, 15).isoformat() in starts
    assert clinic.at(day, 9, 30).isoformat() not in starts
    assert clinic.at(day, 10, 30).isoformat() not in starts
    assert clinic.at(day, 10, 45).isoformat() in starts
    assert starts[-1] == clinic.at(day, 19, 30).isoformat()
    assert body["slots"][0]["rooms"] == [clinic.room.pk]


def test_availability_of_another_location_answers_400_for_its_staff(world, as_role):
    day = next_weekday(0)
    query = {"location": world.other.location.pk, "start": day.isoformat(),
             "end": (day + timedelta(days=1)).isoformat(), "minutes": 30}
    refused = as_role("clinician").get("/api/v1/availability/", query)
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "location": [f'Invalid pk "{world.other.location.pk}" - object does not exist.']}
    assert as_role("manager").get("/api/v1/availability/", query).status_code == 200


def test_availability_from_the_cached_set_up_keeps_the_scope(world, as_role):
    """The location and the clinician come from the location's cached set-up only when the location is one of
    the user's: another location's set-up in the cache, or its clinician, still answer as unknown."""
    day = next_weekday(0)
    query = {"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat(), "minutes": 30}
    manager, clinician = as_role("manager"), as_role("clinician")
    for clinic in (world.own, world.other):  # both set-ups read and kept
        assert manager.get("/api/v1/availability/", {**query, "location": clinic.location.pk}).status_code == 200
    refused = clinician.get("/api/v1/availability/", {**query, "location": world.other.location.pk,
                                                      "clinician": world.other.clinician.pk})
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "location": [f'Invalid pk "{world.other.location.pk}" - object does not exist.'],
        "clinician": [f'Invalid pk "{world.other.clinician.pk}" - object does not exist.']}
    refused = clinician.get("/api/v1/availability/", {**query, "location": world.own.location.pk,
                                                      "clinician": world.other.clinician.pk})
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "clinician": [f'Invalid pk "{world.other.clinician.pk}" - object does not exist.']}
    own = clinician.get("/api/v1/availability/", {**query, "location": world.own.location.pk,
                                                  "clinician": world.own.clinician.pk})
    assert own.status_code == 200
    assert {slot["clinician"] for slot in own.json()["slots"]} == {world.own.clinician.pk}


def test_course_book_preview_books_nothing_and_booking_books_every_session(world, as_role):
    course = make_course(world.own, planned_sessions=6)
    client = as_role("front_desk")
    preview = client.post(f"/api/v1/courses/{course.pk}/book/", {"preview": True, "weekdays": [0, 2, 4],
                                                                  "earliest": "09:00", "latest": "12:00"},
                          format="json")
    assert preview.status_code == 200
    plan = preview.json()
    assert (plan["booked"], plan["fits"], len(plan["sessions"]), plan["unplaced"]) == (False, True, 6, [])
    assert all(session["appointment"] is None for session in plan["sessions"])
    assert Appointment.objects.count() == 0

    booked = client.post(f"/api/v1/courses/{course.pk}/book/", {"weekdays": [0, 2, 4], "earliest": "09:00",
                                                                 "latest": "12:00"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="course-1")
    assert booked.status_code == 201
    sessions = booked.json()["sessions"]
    assert [session["starts_at"] for session in sessions] == [session["starts_at"] for session in plan["sessions"]]
    assert sorted(session["appointment"] for session in sessions) == sorted(
        Appointment.objects.filter(course=course).values_list("pk", flat=True))
    again = client.post(f"/api/v1/courses/{course.pk}/book/", {"weekdays": [0, 2, 4], "earliest": "09:00",
                                                                "latest": "12:00"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="course-1")
    assert again.json() == booked.json()
    assert Appointment.objects.filter(course=course).count() == 6


def test_a_course_that_does_not_fit_answers_409_with_the_partial_plan(world, as_role):
    course = make_course(world.own, planned_sessions=10)
    response = as_role("front_desk").post(f"/api/v1/courses/{course.pk}/book/", {"weekdays": [0]}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "course_does_not_fit"
    assert body["plan"]["fits"] is False
    assert body["detail"] == body["plan"]["unplaced"][0]["reason"]
    assert len(body["plan"]["sessions"]) + len(body["plan"]["unplaced"]) == 10
    assert Appointment.objects.count() == 0


def test_reschedule_moves_the_session_and_answers_its_new_etag(world, as_role):
    session = booked_session(world.own, weekday=0, hour=10)
    new_time = world.own.at(next_weekday(1), 15)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/reschedule/",
                                          {"starts_at": new_time.isoformat()}, format="json",
                                          HTTP_IF_MATCH=f'"appointment-{session.appointment.pk}-v1"')
    assert response.status_code == 200, response.json()
    assert response.json()["sessions"][0]["appointment"] == session.appointment.pk
    assert response.json()["sessions"][0]["local_starts_at"] == new_time.isoformat()
    assert response["ETag"] == f'"appointment-{session.appointment.pk}-v2"'
    session.appointment.refresh_from_db()
    assert (session.appointment.starts_at, session.appointment.status) == (new_time, AppointmentStatus.BOOKED)


def test_reschedule_with_a_stale_etag_answers_412_and_moves_nothing(world, as_role):
    session = booked_session(world.own, weekday=0, hour=10)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/reschedule/",
                                          {"starts_at": world.own.at(next_weekday(1), 15).isoformat()},
                                          format="json", HTTP_IF_MATCH=f'"appointment-{session.appointment.pk}-v7"')
    assert response.status_code == 412
    session.appointment.refresh_from_db()
    assert session.appointment.version == 1


def test_a_second_move_with_the_etag_the_first_one_used_answers_412_and_moves_nothing(world, as_role):
    with time_machine.travel(datetime(2030, 1, 9, 8, tzinfo=UTC), tick=False):
        clinic = world.own
        course = make_course(clinic, planned_sessions=6)
        plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=next_weekday(0))
        first = plan.sessions[0].appointment
        path = f"/api/v1/appointments/{first.pk}/reschedule/"
        etag = as_role("front_desk").get(f"/api/v1/appointments/{first.pk}/")["ETag"]
        moved = as_role("front_desk").post(path, {"starts_at": clinic.at(next_weekday(0), 11).isoformat()},
                                           format="json", HTTP_IF_MATCH=etag)
        after_first = list(Appointment.objects.filter(course=course).order_by("pk").values_list("starts_at",
                                                                                                "version"))
        stale = as_role("clinician").post(path, {"starts_at": clinic.at(next_weekday(0), 14).isoformat()},
                                          format="json", HTTP_IF_MATCH=etag)
    assert moved.status_code == 200, moved.json()
    assert (stale.status_code, stale.json()) == (412, {
        "detail": "This appointment was changed by someone else; reload it and try again.",
        "code": "precondition_failed", "errors": {}})
    assert list(Appointment.objects.filter(course=course).order_by("pk").values_list("starts_at", "version")) == (
        after_first)


def test_reschedule_preview_changes_nothing(world, as_role):
    session = booked_session(world.own, weekday=0, hour=10)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/reschedule/",
                                          {"starts_at": world.own.at(next_weekday(1), 15).isoformat(),
                                           "preview": True}, format="json")
    assert response.status_code == 200
    assert response.json()["booked"] is False
    session.appointment.refresh_from_db()
    assert session.appointment.version == 1
