"""Bad input answers 400/404/415 in the one error shape; never a 500."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from tests.api.conftest import booked_session
from tests.factories import make_course, next_weekday

pytestmark = pytest.mark.django_db


def test_malformed_json_answers_400(world, as_role):
    response = as_role("front_desk").generic("POST", "/api/v1/patients/", '{"first_name": "Al',
                                             content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error - ")


def test_a_body_that_is_not_an_object_answers_400(world, as_role):
    response = as_role("front_desk").post("/api/v1/patients/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_form_encoded_body_answers_415(world, as_role):
    response = as_role("front_desk").post("/api/v1/patients/", {"first_name": "Al"})
    assert response.status_code == 415


def test_values_of_the_wrong_json_type_answer_400_per_field(world, as_role):
    response = as_role("front_desk").post("/api/v1/patients/", {
        "first_name": 5, "last_name": ["x"], "date_of_birth": 19900101, "preferred_location": "1",
        "email_consent": "yes"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "first_name": ["Must be a string."], "last_name": ["Must be a string."],
        "date_of_birth": ["Must be a string."], "preferred_location": ["Must be a whole number."],
        "email_consent": ["Must be true or false."],
    }


def test_huge_numbers_answer_400_not_an_overflow(world, as_role):
    session = booked_session(world.own)
    client = as_role("front_desk")
    response = client.post("/api/v1/appointments/", {
        "course": 10**30, "clinician": 2**63, "room": -1, "device": 0,
        "starts_at": world.own.at(next_weekday(0), 10).isoformat()}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"course", "clinician", "room", "device"}
    assert client.get("/api/v1/appointments/", {"clinician": 10**30}).status_code == 400
    assert client.get(f"/api/v1/appointments/{10**30}/").status_code == 404
    assert client.get(f"/api/v1/appointments/{session.appointment.pk}/").status_code == 200


def test_a_time_without_offset_answers_400(world, as_role):
    course = make_course(world.own)
    response = as_role("front_desk").post("/api/v1/appointments/", {
        "course": course.pk, "clinician": world.own.clinician.pk, "room": world.own.room.pk,
        "device": world.own.device.pk, "starts_at": f"{next_weekday(0)}T10:00:00"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "starts_at": ["Give the time with its offset, e.g. 2026-12-07T09:00:00+01:00."]}
    window = as_role("front_desk").get("/api/v1/appointments/", {"start": "2026-12-07T00:00:00"})
    assert window.status_code == 400
    assert window.json()["errors"] == {"start": ["Give the time with its offset, e.g. 2026-12-07T09:00:00+01:00."]}


def test_unknown_ids_answer_404_in_the_error_shape(world, as_role):
    client = as_role("clinician")
    assert client.get("/api/v1/patients/999999/").json() == {"detail": "Not found.", "code": "not_found",
                                                              "errors": {}}
    assert client.post("/api/v1/appointments/999999/cancel/", {"by": "clinic", "reason": "x"},
                       format="json").status_code == 404
    response = client.get("/api/v1/appointments/0.5/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get("/api/v1/no-such-thing/").status_code == 404


def test_query_parameters_of_the_wrong_kind_answer_400(world, as_role):
    client = as_role("front_desk")
    assert client.get("/api/v1/appointments/", {"status": "lost"}).status_code == 400
    assert client.get("/api/v1/appointments/", {"page_size": 0}).status_code == 400
    assert client.get("/api/v1/patients/", {"page": "-1"}).status_code == 400
    assert client.get("/api/v1/patients/", {"include_archived": "maybe"}).status_code == 400
    assert client.get("/api/v1/rooms/", {"location": ""}).json()["errors"] == {
        "location": ["Give a value or leave the parameter out."]}
    assert client.get("/api/v1/rooms/?location=1&location=2").json()["errors"] == {
        "location": ["Give this parameter once."]}


def test_unauthenticated_requests_answer_401_with_the_scheme(db, api_client):
    response = api_client.get("/api/v1/appointments/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided.",
                               "code": "not_authenticated", "errors": {}}


def test_a_signed_in_user_who_is_not_staff_answers_403(db, api_client, django_user_model):
    user = django_user_model.objects.create_user(username="visitor", password="a long enough password")
    api_client.force_authenticate(user)
    response = api_client.get("/api/v1/patients/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only clinic staff (front desk, clinician or manager) use this API."


@pytest.fixture
def fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def test_too_many_requests_answer_429_with_retry_after(world, as_role, settings, fresh_throttle_counts):
    settings.IONTO_API_RATES = {"user": "3/min"}
    client = as_role("front_desk")
    with time_machine.travel(timezone.now(), tick=False):  # the four in one window of the per-user count
        answers = [client.get("/api/v1/rooms/") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    assert answers[-1].json()["code"] == "throttled"
    assert as_role("clinician").get("/api/v1/rooms/").status_code == 200  # counted per user


def test_json_nested_too_deeply_answers_400(world, as_role):
    response = as_role("front_desk").generic("POST", "/api/v1/patients/", "[" * 100_000 + "]" * 100_000,
                                             content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "The JSON is nested too deeply."


def test_a_body_over_the_upload_limit_answers_413(world, as_role, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = as_role("front_desk").post("/api/v1/patients/", {"front_desk_notes": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than this server accepts.",
                               "code": "too_large", "errors": {}}
