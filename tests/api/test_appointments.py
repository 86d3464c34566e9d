"""Appointments through the API: booking, the actions, ETag/If-Match, Idempotency-Key, the window filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.models import IdempotencyKey
from patients.models import AuditEvent
from scheduling.booking.services import appointment_cancel, appointment_confirm
from scheduling.models import Appointment, AppointmentStatus, SessionRecord
from scheduling.records.services import session_record_create
from tests.api.conftest import booked_session, make_world
from tests.conftest import made_once
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


rows_made_once, world = made_once(make_world)  # the two clinics, each test rolled back to them


def test_booking_answers_201_with_utc_and_local_times_and_an_etag(world, as_role):
    clinic = make_clinic(name="Berlin", time_zone="Europe/Berlin")
    course = make_course(clinic)
    client = as_role("manager")
    day = next_weekday(0)
    response = client.post("/api/v1/appointments/", {
        "course": course.pk, "clinician": clinic.clinician.pk, "room": clinic.room.pk, "device": clinic.device.pk,
        "starts_at": clinic.at(day, 10).isoformat(),
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    appointment = Appointment.objects.get()
    assert body["id"] == appointment.pk
    assert body["starts_at"] == clinic.at(day, 10).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["local_starts_at"] == clinic.at(day, 10).isoformat()
    assert body["local_ends_at"] == clinic.at(day, 10, 30).isoformat()
    assert body["time_zone"] == "Europe/Berlin"
    assert body["local_date"] == day.isoformat()
    assert response["ETag"] == f'"appointment-{appointment.pk}-v1"' == body["etag"]
    assert appointment.booked_by == world.own.manager.user


def test_a_clash_answers_409_naming_time_and_resource_but_not_the_other_patient(world, as_role):
    clinic = world.own
    first = booked_session(clinic, weekday=0, hour=10)
    second = make_course(clinic)
    response = as_role("front_desk").post("/api/v1/appointments/", {
        "course": second.pk, "clinician": clinic.clinicians[1].pk, "room": clinic.room.pk,
        "device": clinic.devices[1].pk, "starts_at": clinic.at(next_weekday(0), 10, 15).isoformat(),
    }, format="json")
    assert response.status_code == 409
    local = clinic.location.local(first.appointment.starts_at)
    assert response.json() == {
        "detail": f"Room 1 is booked {local:%a %d %b} 10:00-10:30 by another session (plus 5 minutes turnover).",
        "code": "room_busy", "errors": {},
    }
    assert first.course.patient.last_name not in response.content.decode()


def test_cancel_records_who_and_why_and_raises_the_version(world, as_role):
    session = booked_session(world.own)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/cancel/",
                                          {"by": "patient", "reason": "Away on holiday"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelled_by"], body["cancellation_reason"], body["version"]) == (
        "cancelled", "patient", "Away on holiday", 2)
    assert response["ETag"] == f'"appointment-{session.appointment.pk}-v2"'


def test_cancel_without_reason_answers_400_with_the_field_message(world, as_role):
    session = booked_session(world.own)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/cancel/",
                                          {"by": "clinic", "reason": "   "}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["This field may not be blank."]}


def test_stale_if_match_answers_412_and_changes_nothing(world, as_role):
    session = booked_session(world.own)
    path = f"/api/v1/appointments/{session.appointment.pk}"
    etag = as_role("front_desk").get(f"{path}/")["ETag"]
    first = as_role("front_desk").post(f"{path}/reschedule/", {
        "starts_at": world.own.at(next_weekday(2), 14).isoformat()}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    second = as_role("clinician").post(f"{path}/cancel/", {"by": "clinic", "reason": "Clinician ill"},
                                       format="json", HTTP_IF_MATCH=etag)
    assert second.status_code == 412
    assert second.json() == {
        "detail": "This appointment was changed by someone else; reload it and try again.",
        "code": "precondition_failed", "errors": {},
    }
    session.appointment.refresh_from_db()
    assert session.appointment.status == AppointmentStatus.BOOKED
    assert session.appointment.version == 2


def test_if_match_of_another_appointment_answers_412(world, as_role):
    one, two = booked_session(world.own, weekday=0), booked_session(world.own, weekday=1)
    response = as_role("front_desk").post(f"/api/v1/appointments/{one.appointment.pk}/confirm/", {"via": "phone"},
                                          format="json", HTTP_IF_MATCH=f'"appointment-{two.appointment.pk}-v1"')
    assert response.status_code == 412


def test_current_if_match_lets_the_change_through(world, as_role):
    session = booked_session(world.own)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/confirm/",
                                          {"via": "email"}, format="json",
                                          HTTP_IF_MATCH=f'"appointment-{session.appointment.pk}-v1"')
    assert response.status_code == 200
    assert response.json()["confirmed_via"] == "email"


def test_a_staff_confirmation_names_who_took_it_in_the_audit_trail(world, as_role):
    session = booked_session(world.own)
    response = as_role("front_desk").post(f"/api/v1/appointments/{session.appointment.pk}/confirm/",
                                          {"via": "phone"}, format="json")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(object_type="appointment", object_id=str(session.appointment.pk),
                                      changes__has_key="confirmed_at").get()
    assert (event.actor, event.via, event.changes["confirmed_via"]) == (world.staff("front_desk").user, "api",
                                                                        ["", "phone"])


def test_arrive_noshow_and_complete_follow_the_day(world, as_role):
    came = booked_session(world.own, weekday=0, hour=10)
    missed = booked_session(world.own, weekday=0, hour=11)
    with time_machine.travel(came.appointment.starts_at - timedelta(minutes=10), tick=False):
        arrived = as_role("front_desk").post(f"/api/v1/appointments/{came.appointment.pk}/arrive/")
        too_early = as_role("front_desk").post(f"/api/v1/appointments/{missed.appointment.pk}/noshow/")
    assert arrived.status_code == 200 and arrived.json()["status"] == "arrived"
    assert too_early.status_code == 400
    assert too_early.json()["detail"] == "A session can be marked as a no-show only once its start time has passed."
    with time_machine.travel(missed.appointment.ends_at, tick=False):
        noshow = as_role("front_desk").post(f"/api/v1/appointments/{missed.appointment.pk}/noshow/")
        refused = as_role("front_desk").post(f"/api/v1/appointments/{came.appointment.pk}/complete/", {
            "minutes_of_current": 20, "sites": [{"site": "palms", "current_ma": 12}], "hdss": 3}, format="json")
        completed = as_role("clinician").post(f"/api/v1/appointments/{came.appointment.pk}/complete/", {
            "minutes_of_current": 20, "sites": [{"site": "palms", "current_ma": 12}], "hdss": 3,
            "side_effects": [{"kind": "erythema", "grade": 1}]}, format="json")
    assert noshow.status_code == 200 and noshow.json()["status"] == "noshow"
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only a clinician can record a session."
    assert completed.status_code == 200
    record = completed.json()["session_record"]
    assert completed.json()["status"] == "fulfilled"
    assert (record["minutes_of_current"], record["hdss"], record["sites"], record["side_effects"]) == (
        20, 3, [{"site": "palms", "site_other": "", "current_ma": "12.0"}],
        [{"kind": "erythema", "kind_other": "", "grade": 1}])
    front_desk_view = as_role("front_desk").get(f"/api/v1/appointments/{came.appointment.pk}/").json()
    assert "session_record" not in front_desk_view


def test_a_current_above_the_limit_answers_400_naming_the_limit(world, as_role):
    session = booked_session(world.own)
    with time_machine.travel(session.appointment.ends_at, tick=False):
        response = as_role("clinician").post(f"/api/v1/appointments/{session.appointment.pk}/complete/", {
            "minutes_of_current": 20, "sites": [{"site": "palms", "current_ma": 25}], "hdss": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "sites": ["Palms 25.0 mA: the limit for an adult on tap water at Northside is 20.0 mA."]}


def _book_body(clinic, course, day, hour=10):
    return {"course": course.pk, "clinician": clinic.clinician.pk, "room": clinic.room.pk, "device": clinic.device.pk,
            "starts_at": clinic.at(day, hour).isoformat()}


def test_same_idempotency_key_and_body_replays_the_first_answer_and_books_once(world, as_role):
    course = make_course(world.own)
    body = _book_body(world.own, course, next_weekday(0))
    first = as_role("front_desk").post("/api/v1/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = as_role("front_desk").post("/api/v1/appointments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["ETag"] == first["ETag"]
    assert Appointment.objects.count() == 1


def test_same_idempotency_key_with_another_body_answers_422(world, as_role):
    course = make_course(world.own)
    as_role("front_desk").post("/api/v1/appointments/", _book_body(world.own, course, next_weekday(0)),
                               format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = as_role("front_desk").post("/api/v1/appointments/", _book_body(world.own, course, next_weekday(1)),
                                       format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 422
    assert other.json()["detail"] == "This Idempotency-Key was used with another request in the last 24 hours."
    assert Appointment.objects.count() == 1


def test_an_idempotency_key_older_than_a_day_starts_over(world, as_role):
    course = make_course(world.own)
    day = next_weekday(0)
    as_role("front_desk").post("/api/v1/appointments/", _book_body(world.own, course, day), format="json",
                               HTTP_IDEMPOTENCY_KEY="k-3")
    IdempotencyKey.objects.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=25))
    again = as_role("front_desk").post("/api/v1/appointments/", _book_body(world.own, course, day), format="json",
                                       HTTP_IDEMPOTENCY_KEY="k-3")
    assert again.status_code == 409
    assert again.json()["detail"] == (f"This course already has a session on {day:%a %d %b} ({day:%a %d %b} "
                                      "10:00-10:30); one session a day at most.")


def test_window_filter_lists_appointments_overlapping_start_to_end(world, as_role):
    clinic = world.own
    course = make_course(clinic)
    monday = next_weekday(0)
    inside = book(clinic, course, clinic.at(monday, 9, 45))  # 09:45-10:15 overlaps [10:00, 12:00)
    book(clinic, course, clinic.at(monday + timedelta(days=2), 12))  # starts at the window's end next time
    touching_end = book(clinic, make_course(clinic), clinic.at(monday, 12), clinician=clinic.clinicians[1],
                        room=clinic.rooms[1], device=clinic.devices[1])
    response = as_role("front_desk").get("/api/v1/appointments/", {
        "start": clinic.at(monday, 10).isoformat(), "end": clinic.at(monday, 12).isoformat()})
    assert [row["id"] for row in response.json()["results"]] == [inside.pk]
    assert touching_end.pk not in [row["id"] for row in response.json()["results"]]
    by_clinician = as_role("front_desk").get("/api/v1/appointments/", {
        "clinician": clinic.clinicians[1].pk, "start": clinic.at(monday, 0).isoformat(),
        "end": clinic.at(monday + timedelta(days=7), 0).isoformat()})
    assert [row["id"] for row in by_clinician.json()["results"]] == [touching_end.pk]


def test_appointment_list_pages_with_a_cursor_in_time_order(world, as_role):
    clinic = world.own
    course = make_course(clinic)
    made = [book(clinic, course, clinic.at(next_weekday(day), 10)) for day in (0, 2, 4)]
    first = as_role("front_desk").get("/api/v1/appointments/", {"page_size": 2}).json()
    second = as_role("front_desk").get(first["next"]).json()
    in_time_order = [a.pk for a in sorted(made, key=lambda appointment: appointment.starts_at)]
    assert [row["id"] for row in first["results"] + second["results"]] == in_time_order
    assert second["next"] is None


def test_window_includes_the_longest_session_that_began_before_the_start(world, as_role):
    clinic = world.own
    monday = next_weekday(0)
    long_session = book(clinic, make_course(clinic, session_minutes=45), clinic.at(monday, 9, 20))  # to 10:05
    ended_before = book(clinic, make_course(clinic, session_minutes=45), clinic.at(monday, 8, 0),
                        clinician=clinic.clinicians[1], room=clinic.rooms[1], device=clinic.devices[1])  # to 8:45
    response = as_role("front_desk").get("/api/v1/appointments/", {
        "start": clinic.at(monday, 10).isoformat(), "end": clinic.at(monday, 11).isoformat()})
    listed = [row["id"] for row in response.json()["results"]]
    assert listed == [long_session.pk]
    assert ended_before.pk not in listed


def test_a_start_without_an_end_lists_what_runs_then_and_everything_after(world, as_role):
    clinic = world.own
    monday = next_weekday(0)
    running = book(clinic, make_course(clinic, session_minutes=45), clinic.at(monday, 9, 30))  # to 10:15
    ended_at_start = book(clinic, make_course(clinic, session_minutes=30), clinic.at(monday, 9, 30),
                          clinician=clinic.clinicians[1], room=clinic.rooms[1], device=clinic.devices[1])  # to 10:00
    course = make_course(clinic)
    later = [book(clinic, course, clinic.at(monday, 11)), book(clinic, course, clinic.at(monday + timedelta(9), 8))]
    response = as_role("front_desk").get("/api/v1/appointments/", {"start": clinic.at(monday, 10).isoformat()})
    listed = [row["id"] for row in response.json()["results"]]
    assert listed == [running.pk, later[0].pk, later[1].pk]
    assert ended_at_start.pk not in listed


def test_complete_with_a_stale_if_match_answers_412_and_records_nothing(world, as_role):
    session = booked_session(world.own)
    with time_machine.travel(session.appointment.ends_at, tick=False):
        response = as_role("clinician").post(
            f"/api/v1/appointments/{session.appointment.pk}/complete/",
            {"minutes_of_current": 20, "sites": [{"site": "palms", "current_ma": 12}], "hdss": 3}, format="json",
            HTTP_IF_MATCH=f'"appointment-{session.appointment.pk}-v0"')
    assert response.status_code == 412
    session.appointment.refresh_from_db()
    assert session.appointment.status == AppointmentStatus.BOOKED


def test_recording_a_session_moved_since_its_etag_was_read_answers_412_and_records_nothing(world, as_role):
    with time_machine.travel(datetime(2030, 1, 9, 8, tzinfo=UTC), tick=False):
        session = booked_session(world.own, weekday=0, hour=10)
        path = f"/api/v1/appointments/{session.appointment.pk}"
        etag = as_role("clinician").get(f"{path}/")["ETag"]
        moved = as_role("front_desk").post(f"{path}/reschedule/", {
            "starts_at": world.own.at(next_weekday(1), 10).isoformat()}, format="json", HTTP_IF_MATCH=etag)
        session.appointment.refresh_from_db()
        with time_machine.travel(session.appointment.ends_at, tick=False):
            stale = as_role("clinician").post(f"{path}/complete/", {
                "minutes_of_current": 20, "sites": [{"site": "palms", "current_ma": 12}], "hdss": 3},
                format="json", HTTP_IF_MATCH=etag)
    assert moved.status_code == 200, moved.json()
    assert (stale.status_code, stale.json()) == (412, {
        "detail": "This appointment was changed by someone else; reload it and try again.",
        "code": "precondition_failed", "errors": {}})
    session.appointment.refresh_from_db()
    assert (session.appointment.status, session.appointment.version) == (AppointmentStatus.BOOKED, 2)
    assert SessionRecord.objects.count() == 0


FRONT_DESK_FIELDS = ["id", "course", "patient", "patient_name", "location", "clinician", "clinician_name", "room",
                     "room_name", "device", "device_name", "starts_at", "ends_at", "local_date", "time_zone",
                     "local_starts_at", "local_ends_at", "status", "state", "cancelled_by", "cancellation_reason",
                     "confirmed_at", "confirmed_via", "version", "etag"]


@pytest.mark.parametrize(("role", "fields"), [("front_desk", FRONT_DESK_FIELDS),
                                              ("clinician", [*FRONT_DESK_FIELDS, "session_record"])])
def test_the_list_answers_each_appointment_as_its_detail_does(world, as_role, role, fields):
    cancelled = booked_session(world.own, weekday=0)
    appointment_cancel(appointment=cancelled.appointment, recorded_by=world.own.admin,
                       by="patient", reason="Moved house")
    confirmed = booked_session(world.own, weekday=1)
    appointment_confirm(appointment=confirmed.appointment, via="email", confirmed_by=None)
    done = booked_session(world.own, weekday=2)
    with time_machine.travel(done.appointment.ends_at, tick=False):
        session_record_create(appointment=done.appointment, recorded_by=world.own.clinician.user,
                              minutes_of_current=20, sites=[{"site": "palms", "current_ma": 12}],
                              hdss=2)
    client = as_role(role)
    listed = client.get("/api/v1/appointments/", {"page_size": 500}).json()["results"]
    in_time_order = Appointment.objects.filter(location=world.own.location).order_by("starts_at", "id")
    assert [row["id"] for row in listed] == [appointment.pk for appointment in in_time_order]
    assert listed == [client.get(f"/api/v1/appointments/{row['id']}/").json() for row in listed]
    assert [list(row) for row in listed] == [fields] * len(listed)
    by_id = {row["id"]: row for row in listed}
    assert (by_id[cancelled.appointment.pk]["cancelled_by"], by_id[cancelled.appointment.pk]["cancellation_reason"]) \
        == ("patient", "Moved house")
    assert by_id[confirmed.appointment.pk]["confirmed_via"] == "email"
    states = [(by_id[one.appointment.pk]["status"], by_id[one.appointment.pk]["state"])
              for one in (cancelled, confirmed, done)]
    assert states == [("cancelled", "cancelled"), ("booked", "confirmed"), ("fulfilled", "fulfilled")]
    if role == "clinician":
        record = by_id[done.appointment.pk]["session_record"]
        assert (record["hdss"], record["sites"]) == (2, [{"site": "palms", "site_other": "", "current_ma": "12.0"}])
        assert [row["id"] for row in listed if row["session_record"]] == [done.appointment.pk]


def test_the_desk_records_how_the_patient_told_the_clinic_but_not_the_patients_own_email_link(world, as_role):
    session = booked_session(world.own)
    url = f"/api/v1/appointments/{session.appointment.pk}/confirm/"
    refused = as_role("front_desk").post(url, {"via": "email link"}, format="json")
    assert (refused.status_code, refused.json()["errors"]) == (400, {"via": ['"email link" is not a valid choice.']})
    confirmed = as_role("front_desk").post(url, {"via": "in_person"}, format="json")
    assert (confirmed.status_code, confirmed.json()["confirmed_via"]) == (200, "in_person")
