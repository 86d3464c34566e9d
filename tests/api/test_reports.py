"""The reports in the API: managers only (session or token), the same figures as the pages, CSV audited."""

import csv
import io

import pytest
from rest_framework.test import APIClient

from patients.models import AuditAction, AuditEvent
from tests.api.conftest import bearer_client
from tests.conftest import made_once
from tests.scheduling.report_clinics import END, START, attendance_clinic

pytestmark = pytest.mark.django_db

NAMES = ("utilization", "attendance", "outcomes", "reminders")


rows_made_once, riverside = made_once(attendance_clinic)  # each test rolled back to the rows made once


def query(clinic) -> str:
    return f"?start={START}&end={END}&location={clinic.location.pk}"


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
@pytest.mark.parametrize("how", ["token", "session"])
def test_other_roles_are_refused_every_report_and_export(riverside, role, how):
    clinic, _ = riverside
    user = getattr(clinic, role if role == "front_desk" else "clinician").user
    if how == "token":
        client = bearer_client(user)
    else:
        client = APIClient()
        client.force_login(user)
    for name in NAMES:
        for suffix in ("", "csv/"):
            response = client.get(f"/api/v1/reports/{name}/{suffix}{query(clinic)}")
            assert response.status_code == 403, (name, suffix)
            assert response.json()["detail"] == "Only managers see the reports."
    assert not AuditEvent.objects.filter(object_type="report").exists()


def test_anonymous_is_asked_to_sign_in(riverside):
    clinic, _ = riverside
    assert APIClient().get(f"/api/v1/reports/attendance/{query(clinic)}").status_code == 401


def test_a_manager_reads_attendance_and_reading_patients_names_is_audited(riverside):
    clinic, sessions = riverside
    response = bearer_client(clinic.manager.user).get(f"/api/v1/reports/attendance/{query(clinic)}")
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"start": "2026-10-19", "end": "2026-11-01", "location": clinic.location.pk}
    assert {key: body["total"][key] for key in ("sessions", "noshows", "late_cancellations", "noshow_percent",
                                                "late_cancellation_percent")} == {
        "sessions": 9, "noshows": 3, "late_cancellations": 1, "noshow_percent": 33.3,
        "late_cancellation_percent": 11.1}
    assert body["repeat_noshows"] == [{"patient_id": sessions["a1"].patient_id, "name": "Ada Often", "noshows": 2}]
    read = AuditEvent.objects.get(object_type="report")
    assert (read.action, read.patient_id, read.object_id, read.actor_id) == (
        AuditAction.READ, sessions["a1"].patient_id, "attendance", clinic.manager.user.pk)


def test_every_report_answers_a_manager_in_json(riverside):
    clinic, _ = riverside
    client = bearer_client(clinic.manager.user)
    for name in NAMES:
        response = client.get(f"/api/v1/reports/{name}/{query(clinic)}")
        assert response.status_code == 200, name
    utilization = client.get(f"/api/v1/reports/utilization/{query(clinic)}").json()
    assert {"weekday": 1, "hour": 9, "sessions": 2} in utilization["heat"]
    room_1 = next(row for row in utilization["totals"] if row["label"] == "Room 1")
    assert (room_1["open_minutes"], room_1["booked_minutes"]) == (4560 - 210 + 4500, 90)


def test_csv_export_is_audited_once_for_the_report_and_once_per_patient_named(riverside):
    clinic, sessions = riverside
    response = bearer_client(clinic.manager.user).get(f"/api/v1/reports/attendance/csv/{query(clinic)}",
                                                     HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="attendance-20261019-20261101.csv"'
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == ["table", "row", "week", "figure", "value"]
    assert ["attendance", "All", "", "late cancellations", "1"] in lines
    assert ["attendance by week", "26 Oct 2026", "2026-10-26", "noshows", "2"] in lines
    assert ["patients with two or more no-shows", f"Ada Often (patient {sessions['a1'].patient_id})", "",
            "no-shows", "2"] in lines
    events = list(AuditEvent.objects.filter(object_type="report").order_by("id"))
    assert [(event.action, event.via, event.patient_id, event.object_id) for event in events] == [
        (AuditAction.EXPORT, "export", None, "attendance"),
        (AuditAction.EXPORT, "export", sessions["a1"].patient_id, "attendance")]
    assert events[0].changes == {"start": [None, "2026-10-19"], "end": [None, "2026-11-01"],
                                 "location": [None, clinic.location.pk]}


def test_bad_query_answers_400_with_field_messages(riverside):
    clinic, _ = riverside
    client = bearer_client(clinic.manager.user)
    response = client.get(f"/api/v1/reports/outcomes/?start={END}&end={START}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"end": ["The end (19 Oct 2026) is before the start (01 Nov 2026)."]}
    response = client.get("/api/v1/reports/outcomes/csv/?start=2026-13-01")
    assert response.status_code == 400 and "start" in response.json()["errors"]
    response = client.get("/api/v1/reports/reminders/?location=999999")
    assert response.json()["errors"] == {"location": ["There is no location 999999."]}
    assert not AuditEvent.objects.filter(object_type="report").exists()
