from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine

from scheduling.reminders.emails import patient_link_url
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


def test_pages_carry_a_content_security_policy_without_inline_scripts(client):
    clinic = make_clinic()
    client.force_login(clinic.front_desk.user)
    for url in ("/admin/login/", "/admin/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_json_answers_carry_the_same_policy_and_headers(client, api_client):
    page = client.get("/admin/login/")
    response = api_client.get("/api/v1/health/")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Security-Policy"] == page["Content-Security-Policy"]
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(), payment=()"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@time_machine.travel(datetime(2026, 12, 7, 9, tzinfo=UTC), tick=False)
def test_answers_with_patient_data_are_never_stored_by_a_browser_or_proxy(client, api_client):
    clinic = make_clinic()
    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(next_weekday(0), 9))
    client.force_login(clinic.clinician.user)
    api_client.force_login(clinic.clinician.user)
    answers = [
        api_client.get("/api/v1/patients/"),
        api_client.get(f"/api/v1/appointments/{appointment.pk}/"),
        client.get(f"/clinician/courses/{course.pk}/"),
        client.get(f"/clinician/courses/{course.pk}/sessions.csv"),
        client.get(f"/clinician/courses/{course.pk}/fhir.json"),
        client.get(f"/admin/patients/patient/{course.patient_id}/change/"),
        client.get(urlsplit(patient_link_url(appointment=appointment, action="confirm")).path),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer
        assert "no-store" in answer["Cache-Control"], (answer.request["PATH_INFO"], answer["Cache-Control"])
