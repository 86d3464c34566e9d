"""The rules of a patient's details hold on every path, and every change names who made it."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patients import services
from patients.models import AuditAction, AuditEvent, Patient
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db

BIDI_NAME = "Ann\u202eeH"  # shows as "AnnHe" reversed: another name on screen


@pytest.fixture
def clinic():
    return make_clinic()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("date_of_birth", "9999-12-31", "The date of birth is in the future."),
    ("date_of_birth", "1899-12-31", "The date of birth is before 1900; check the year."),
    ("last_name", BIDI_NAME, "The name holds a character that changes the direction of text; type it again."),
])
def test_the_api_refuses_impossible_details_on_create_and_on_change(clinic, api_client, field, value, message):
    patient = make_patient(clinic)
    api_client.force_authenticate(clinic.front_desk.user)
    new = {"first_name": "Ann", "last_name": "Lee", "date_of_birth": "1985-03-04",
           "preferred_location": clinic.location.pk, field: value}
    created = api_client.post("/api/v1/patients/", new, format="json")
    assert created.status_code == 400
    assert created.json()["errors"] == {field: [message]}
    changed = api_client.patch(f"/api/v1/patients/{patient.pk}/", {field: value}, format="json")
    assert changed.status_code == 400
    assert changed.json()["errors"] == {field: [message]}
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.date_of_birth, stored.last_name) == (patient.date_of_birth, patient.last_name)


def test_the_admin_refuses_a_date_of_birth_in_the_future_on_change(clinic, client):
    patient = make_patient(clinic)
    client.force_login(clinic.front_desk.user)
    url = f"/admin/patients/patient/{patient.pk}/change/"
    form = {"first_name": patient.first_name, "last_name": patient.last_name, "date_of_birth": "9999-12-31",
            "email": patient.email, "phone": patient.phone, "preferred_location": clinic.location.pk,
            "email_consent": "on", "reminder_channel": "email", "front_desk_notes": ""}
    page = client.post(url, form)
    assert page.status_code == 200
    assert "The date of birth is in the future." in page.content.decode()
    assert Patient.objects.get(pk=patient.pk).date_of_birth == patient.date_of_birth


def test_the_database_refuses_a_date_of_birth_before_1900(clinic):
    patient = make_patient(clinic)
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(date_of_birth=date(1850, 1, 1))


@pytest.mark.parametrize("when", ["2026-12-0７T09:00:00+00:00", "٢٠٢٦-12-07T09:00:00+00:00"])
def test_times_written_with_other_digits_are_refused_naming_the_field(clinic, api_client, when):
    api_client.force_authenticate(clinic.front_desk.user)
    listed = api_client.get("/api/v1/appointments/", {"start": when})
    assert listed.status_code == 400
    assert listed.json()["errors"] == {"start": ["Write the digits as 0-9."]}
    booked = api_client.post("/api/v1/appointments/", {"starts_at": when}, format="json")
    assert booked.status_code == 400
    assert booked.json()["errors"]["starts_at"] == ["Write the digits as 0-9."]


def test_a_date_written_with_other_digits_is_refused(clinic, api_client):
    api_client.force_authenticate(clinic.front_desk.user)
    answer = api_client.post("/api/v1/patients/", {
        "first_name": "Ann", "last_name": "Lee", "date_of_birth": "١٩٨٥-03-04",
        "preferred_location": clinic.location.pk}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"date_of_birth": ["Write the digits as 0-9."]}


def test_a_time_with_an_offset_beyond_what_postgresql_stores_is_read_as_its_instant(clinic, api_client):
    api_client.force_authenticate(clinic.front_desk.user)
    answer = api_client.get("/api/v1/appointments/", {"start": "2026-12-07T09:00:00+23:00",
                                                      "end": "2026-12-08T09:00:00-23:30"})
    assert answer.status_code == 200, answer.content


def test_restoring_a_patient_is_audited_with_who_archived_them(clinic):
    patient = make_patient(clinic)
    archived = services.patient_archive(patient=patient, archived_by=clinic.front_desk.user)
    services.patient_restore(patient=patient, restored_by=clinic.manager.user)
    event = AuditEvent.objects.filter(patient=patient, action=AuditAction.RESTORE).get()
    assert event.actor == clinic.manager.user
    assert event.changes == {"archived_at": [str(archived.archived_at), None],
                             "archived_by": [clinic.front_desk.user.pk, None]}
    assert Patient.objects.get(pk=patient.pk).is_archived is False


def test_the_service_refuses_a_direction_control_in_a_name_on_register(clinic):
    with pytest.raises(ValidationError) as refused:
        services.patient_register(first_name=BIDI_NAME, last_name="Lee", date_of_birth=date(1985, 3, 4),
                                  registered_by=clinic.front_desk.user)
    assert refused.value.message_dict == {
        "first_name": ["The name holds a character that changes the direction of text; type it again."]}
