from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from tests.admin.conftest import page_queries
from tests.factories import book, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db

NEW_PATIENT = {"first_name": "Robin", "last_name": "Okafor", "date_of_birth": "1988-03-14",
               "email": "robin@example.org", "phone": "+44 7700 900123", "email_consent": "on",
               "reminder_channel": "email", "front_desk_notes": "", "_save": "Save"}


def test_registering_a_patient_goes_through_the_service(desk, clinic):
    response = desk.post("/admin/patients/patient/add/", {**NEW_PATIENT, "preferred_location": clinic.location.pk})
    assert response.status_code == 302
    patient = Patient.objects.get(last_name="Okafor")
    assert patient.registered_by == clinic.front_desk.user
    assert patient.email_consent_at is not None


def test_consent_without_an_email_is_a_form_error_in_plain_words(desk, clinic):
    response = desk.post("/admin/patients/patient/add/", {**NEW_PATIENT, "email": ""})
    assert response.status_code == 200
    assert "An email address is needed for reminders by email." in response.content.decode()
    assert not Patient.objects.filter(last_name="Okafor").exists()


def test_editing_a_patient_changes_only_what_changed(desk, clinic):
    patient = make_patient(clinic, phone="+44 20 0000 0000")
    data = {"first_name": patient.first_name, "last_name": patient.last_name, "date_of_birth": "1990-05-17",
            "email": patient.email, "phone": "+44 7700 900999", "preferred_location": clinic.location.pk,
            "email_consent": "on", "reminder_channel": "email", "front_desk_notes": "Prefers mornings", "_save": "Save",
            "courses-TOTAL_FORMS": "0", "courses-INITIAL_FORMS": "0"}
    response = desk.post(f"/admin/patients/patient/{patient.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    patient.refresh_from_db()
    assert (patient.phone, patient.front_desk_notes) == ("+44 7700 900999", "Prefers mornings")


def test_archiving_a_patient_with_a_booked_session_is_refused(desk, clinic):
    course = make_course(clinic)
    book(clinic, course, clinic.at(next_weekday(1), 9))
    response = desk.post("/admin/patients/patient/", {"action": "archive", "_selected_action": [course.patient.pk],
                                                      "index": 0}, follow=True)
    assert f"{course.patient} has 1 upcoming session; cancel them first." in response.content.decode()


def test_patient_search_finds_by_date_of_birth_and_phone(desk, clinic):
    found = make_patient(clinic, last_name="Quist", date_of_birth=date(1971, 2, 3))
    make_patient(clinic, last_name="Other")
    page = desk.get("/admin/patients/patient/?q=03/02/1971").content.decode()
    assert "Quist, Alex" in page and "Other, Alex" not in page
    page = desk.get(f"/admin/patients/patient/?q={found.phone.split()[-1]}").content.decode()
    assert "Quist, Alex" in page


def list_queries(client, url):
    client.get(url)  # as a working user has: the user's location ids are then in the shared cache
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured), page_queries(captured.captured_queries)


def test_patient_list_costs_the_same_queries_for_2_and_40_patients(desk, clinic):
    for _ in range(2):
        make_patient(clinic)
    few = list_queries(desk, "/admin/patients/patient/")
    for _ in range(38):
        make_patient(clinic)
    many = list_queries(desk, "/admin/patients/patient/")
    assert many[0] == few[0]
    # Staff, zone, the location filter, the count, the page with each patient's location.
    assert len(many[1]) == len(few[1]) == 5, many[1]


def test_course_list_costs_the_same_queries_for_1_and_12_courses(desk, clinic):
    make_course(clinic)
    few = list_queries(desk, "/admin/scheduling/course/")
    for _ in range(11):
        make_course(clinic)
    many = list_queries(desk, "/admin/scheduling/course/")
    assert many[0] == few[0]
    # Staff, zone, the location filter, the count, the page with its progress figures.
    assert len(many[1]) == len(few[1]) == 5, many[1]
