"""The waitlist in the API: entries (list, create, cancel, offer by hand) and offers, scoped by location."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling.booking.services import appointment_cancel
from scheduling.models import CancelledBy
from scheduling.waitlist.models import WaitlistEntry, WaitlistEntryStatus, WaitlistOfferStatus
from scheduling.waitlist.services import waitlist_offers_write
from tests.api.conftest import bearer_client, booked_session, make_world
from tests.conftest import made_once
from tests.factories import book, make_course, next_weekday

pytestmark = pytest.mark.django_db


rows_made_once, world = made_once(make_world)  # the two clinics, each test rolled back to them


def entry_body(session, **changes):
    return {"course": session.course.pk, "appointment": session.appointment.pk, "weekdays": [0, 1, 2],
            "earliest": "08:00", "latest": "18:00",
            "until": (session.appointment.local_date - timedelta(days=1)).isoformat(), **changes}


def test_the_desk_puts_a_session_on_the_waitlist_lists_it_and_cancels_it(world, as_role):
    session = booked_session(world.own, weekday=2, weeks_ahead=2)
    client = as_role("front_desk")
    created = client.post("/api/v1/waitlist-entries/", entry_body(session), format="json")
    assert created.status_code == 201, created.json()
    entry = created.json()
    assert (entry["appointment"], entry["weekdays"], entry["status"], entry["location"]) == (
        session.appointment.pk, [0, 1, 2], "waiting", world.own.location.pk)
    assert client.post("/api/v1/waitlist-entries/", entry_body(session), format="json").status_code == 409
    listed = client.get("/api/v1/waitlist-entries/", {"status": "waiting"}).json()["results"]
    assert [row["id"] for row in listed] == [entry["id"]]
    cancelled = client.post(f"/api/v1/waitlist-entries/{entry['id']}/cancel/", format="json")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    again = client.post(f"/api/v1/waitlist-entries/{entry['id']}/cancel/", format="json")
    assert again.status_code == 400


def test_impossible_wishes_get_field_messages(world, as_role):
    session = booked_session(world.own, weekday=2, weeks_ahead=2)
    answer = as_role("front_desk").post("/api/v1/waitlist-entries/", entry_body(
        session, weekdays=[7], earliest="18:00", latest="08:00"), format="json")
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"weekdays.0"}
    answer = as_role("front_desk").post("/api/v1/waitlist-entries/", entry_body(
        session, earliest="18:00", latest="08:00"), format="json")
    assert (answer.status_code, set(answer.json()["errors"])) == (400, {"latest"})


def test_another_locations_course_and_rows_are_out_of_reach(world, as_role):
    theirs = booked_session(world.other, weekday=2, weeks_ahead=2)
    answer = as_role("front_desk").post("/api/v1/waitlist-entries/", entry_body(theirs), format="json")
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"course", "appointment"}
    as_role("manager").post("/api/v1/waitlist-entries/", entry_body(theirs), format="json")
    entry = WaitlistEntry.objects.get()
    assert as_role("front_desk").get(f"/api/v1/waitlist-entries/{entry.pk}/").status_code == 404
    assert as_role("front_desk").get("/api/v1/waitlist-entries/").json()["results"] == []
    assert as_role("manager").get(f"/api/v1/waitlist-entries/{entry.pk}/").status_code == 200
    assert as_role("front_desk").post(f"/api/v1/waitlist-entries/{entry.pk}/cancel/").status_code == 404


def test_offers_are_listed_with_their_state_and_a_time_is_offered_by_hand(world, as_role,
                                                                         django_assert_max_num_queries):
    clinic = world.own
    monday = next_weekday(0)
    client = as_role("front_desk")
    for day in range(3):
        session = booked_session(clinic, weekday=day, weeks_ahead=2)
        client.post("/api/v1/waitlist-entries/", entry_body(session, until=(monday + timedelta(days=6)).isoformat()),
                    format="json")
    freed = book(clinic, make_course(clinic), clinic.at(monday, 10))
    appointment_cancel(appointment=freed, recorded_by=None, by=CancelledBy.PATIENT, reason="Away.")
    assert waitlist_offers_write(now=timezone.now()) == 3
    with django_assert_max_num_queries(8):
        listed = client.get("/api/v1/waitlist-offers/").json()["results"]
    assert len(listed) == 3
    assert {(row["starts_at"], row["status"], row["by_hand"]) for row in listed} == {
        (clinic.at(monday, 10).isoformat().replace("+00:00", "Z"), WaitlistOfferStatus.OFFERED, False)}

    entry = WaitlistEntry.objects.order_by("id").first()
    by_hand = client.post(f"/api/v1/waitlist-entries/{entry.pk}/offer/", {
        "clinician": clinic.clinicians[1].pk, "room": clinic.rooms[1].pk, "device": clinic.devices[1].pk,
        "starts_at": clinic.at(monday + timedelta(days=1), 14).isoformat()}, format="json")
    assert by_hand.status_code == 201, by_hand.json()
    assert (by_hand.json()["by_hand"], by_hand.json()["entry"]) == (True, entry.pk)
    refused = client.post(f"/api/v1/waitlist-entries/{entry.pk}/offer/", {  # a Sunday: the clinic is closed
        "clinician": clinic.clinicians[1].pk, "room": clinic.rooms[1].pk, "device": clinic.devices[1].pk,
        "starts_at": clinic.at(monday + timedelta(days=6), 14).isoformat()}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"starts_at": ["The course's rules or the calendar do not allow this time."]}
    assert as_role("front_desk").get("/api/v1/waitlist-offers/", {"location": world.other.location.pk}
                                     ).json()["results"] == []
    entry.refresh_from_db()
    assert entry.status == WaitlistEntryStatus.OFFERED


def test_the_waitlist_needs_a_staff_login(world):
    assert Client().get("/api/v1/waitlist-entries/").status_code == 401
    assert bearer_client(world.own.front_desk.user).get("/api/v1/waitlist-offers/").status_code == 200


def test_the_schema_names_the_waitlist(world, as_role):
    schema = as_role("manager").get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/v1/waitlist-entries/", "/api/v1/waitlist-entries/{id}/cancel/",
                 "/api/v1/waitlist-entries/{id}/offer/", "/api/v1/waitlist-offers/"):
        assert path in schema["paths"], path


def test_the_lists_cost_the_same_queries_for_one_row_and_for_five(world, as_role):
    clinic, client = world.own, as_role("front_desk")
    monday = next_weekday(0)

    def counts() -> tuple[int, int]:
        found = []
        for path in ("/api/v1/waitlist-entries/", "/api/v1/waitlist-offers/"):
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200
            found.append(len(captured.captured_queries))
        return tuple(found)

    def one_more(day: int):
        session = booked_session(clinic, weekday=day, weeks_ahead=3)
        entry = client.post("/api/v1/waitlist-entries/", entry_body(session), format="json").json()
        client.post(f"/api/v1/waitlist-entries/{entry['id']}/offer/", {
            "clinician": clinic.clinician.pk, "room": clinic.room.pk, "device": clinic.device.pk,
            "starts_at": clinic.at(monday + timedelta(days=day), 9).isoformat()}, format="json")

    one_more(0)
    few = counts()
    for day in range(1, 5):
        one_more(day)
    assert len(client.get("/api/v1/waitlist-offers/").json()["results"]) == 5
    assert counts() == few
