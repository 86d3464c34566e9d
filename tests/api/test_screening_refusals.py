"""Defect 2 of issue 20: a refusal for a positive screening never tells the front desk the answer."""

from __future__ import annotations

import pytest

from patients import services as patient_services
from tests.api.conftest import bearer_client
from tests.factories import NO_CONTRAINDICATIONS, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db

REFUSAL = ("The screening found a contraindication; a clinician must review the screening and record an "
           "override before booking.")


@pytest.fixture
def blocked_course(world):
    clinic = world.own
    patient = make_patient(clinic, screened=False)
    patient_services.screening_record(patient=patient, recorded_by=clinic.clinician.user,
                                      answers={**NO_CONTRAINDICATIONS, "pregnancy": True})
    return make_course(clinic, patient)


@pytest.mark.parametrize("session", [False, True], ids=["token", "session"])
def test_the_api_refuses_booking_without_naming_the_answer(world, blocked_course, session):
    clinic = world.own
    if session:
        from rest_framework.test import APIClient

        client = APIClient()
        client.force_login(clinic.front_desk.user)
    else:
        client = bearer_client(clinic.front_desk.user)
    day = next_weekday(0)
    one = client.post("/api/v1/appointments/", {
        "course": blocked_course.pk, "clinician": clinic.clinician.pk, "room": clinic.room.pk,
        "device": clinic.device.pk, "starts_at": clinic.at(day, 10).isoformat()}, format="json")
    whole = client.post(f"/api/v1/courses/{blocked_course.pk}/book/", {
        "weekdays": [0, 2, 4], "earliest": "09:00", "latest": "12:00", "first_date": day.isoformat(),
        "preview": True}, format="json")
    for response in (one, whole):
        assert response.status_code == 400, response.json()
        text = response.content.decode()
        assert REFUSAL in text
        assert "Pregnan" not in text


def test_the_admin_preview_refuses_without_naming_the_answer(client, world, blocked_course):
    clinic = world.own
    client.force_login(clinic.front_desk.user)
    page = client.post(f"/admin/scheduling/course/{blocked_course.pk}/book/", {
        "weekdays": ["0", "2", "4"], "earliest": "09:00", "latest": "12:00",
        "first_date": next_weekday(0).isoformat(), "preview": "1"}).content.decode()
    assert REFUSAL in page
    assert "Pregnan" not in page
