"""Defect 5 of issue 20: a likely duplicate patient is not saved silently, and pickers tell two
patients of the same name apart by their date of birth."""

from datetime import date

import pytest

from patients.models import Patient
from tests.api.conftest import bearer_client
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db

NADIA = {"first_name": "Nadia", "last_name": "Newcomer", "date_of_birth": "1991-02-03", "email": "",
         "phone": "+44 7700 900555", "reminder_channel": "email", "front_desk_notes": "", "_save": "Save"}


@pytest.fixture
def registered(clinic):
    return make_patient(clinic, first_name="Nadia", last_name="Newcomer", date_of_birth=date(1991, 2, 3),
                        email="nadia@example.org")


def test_the_admin_warns_of_the_same_name_and_birth_date_with_a_link_and_saves_only_when_told(desk, clinic,
                                                                                             registered):
    form = {**NADIA, "first_name": " nadia", "preferred_location": clinic.location.pk}
    page = desk.post("/admin/patients/patient/add/", form).content.decode()
    assert "This may be a patient already registered" in page
    assert f'href="/admin/patients/patient/{registered.pk}/change/"' in page
    assert "Nadia Newcomer (born 03 Feb 1991)" in page
    assert Patient.objects.filter(last_name="Newcomer").count() == 1
    response = desk.post("/admin/patients/patient/add/", {**form, "different_person": "on"})
    assert response.status_code == 302
    assert Patient.objects.filter(last_name="Newcomer").count() == 2


def test_the_admin_warns_of_the_same_email(desk, clinic, registered):
    page = desk.post("/admin/patients/patient/add/", {
        **NADIA, "first_name": "Nadja", "date_of_birth": "1990-01-01", "email": "NADIA@example.org",
        "preferred_location": clinic.location.pk}).content.decode()
    assert "This may be a patient already registered" in page
    assert Patient.objects.filter(last_name="Newcomer").count() == 1


def test_a_likely_duplicate_elsewhere_is_named_without_a_link_the_user_cannot_open(desk, clinic):
    other = make_clinic(name="Faraway")
    make_patient(other, first_name="Nadia", last_name="Newcomer", date_of_birth=date(1991, 2, 3))
    page = desk.post("/admin/patients/patient/add/", {**NADIA, "preferred_location": clinic.location.pk}
                     ).content.decode()
    assert "registered at another location" in page
    assert "/admin/patients/patient/" not in page.split("This may be a patient already registered")[1][:400]


def test_the_api_answers_409_until_told_it_is_a_different_person(clinic, registered):
    client = bearer_client(clinic.front_desk.user)
    body = {"first_name": "Nadia", "last_name": "Newcomer", "date_of_birth": "1991-02-03",
            "preferred_location": clinic.location.pk}
    first = client.post("/api/v1/patients/", body, format="json")
    assert first.status_code == 409, first.json()
    assert first.json()["code"] == "likely_duplicate"
    assert f"patient {registered.pk}" in first.json()["detail"]
    again = client.post("/api/v1/patients/", {**body, "different_person": True}, format="json")
    assert again.status_code == 201, again.json()


def test_pickers_show_the_date_of_birth(client, clinic, registered):
    twin = make_patient(clinic, first_name="Nadia", last_name="Newcomer", date_of_birth=date(1985, 7, 9),
                        email="other.nadia@example.org", different_person=True)
    client.force_login(clinic.clinician.user)
    found = client.get("/admin/autocomplete/", {"term": "Newcomer", "app_label": "scheduling",
                                                "model_name": "course", "field_name": "patient"}).json()
    assert sorted(row["text"] for row in found["results"]) == [
        "Nadia Newcomer (born 03 Feb 1991)", "Nadia Newcomer (born 09 Jul 1985)"]
    assert str(twin) == "Nadia Newcomer (born 09 Jul 1985)"
