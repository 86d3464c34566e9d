"""Defect 4 of issue 20: no two open initial courses of one patient for the same indication and site,
and never two sessions of one patient on one day, in the services and (where it can be said) the database."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import ConflictError
from scheduling.booking.courses import course_book, course_create
from scheduling.models import Appointment, Indication
from tests.api.conftest import bearer_client
from tests.factories import book, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


def plan(clinic, patient, sites):
    return course_create(patient=patient, location=clinic.location, indication=Indication.HYPERHIDROSIS,
                         body_sites=sites, planned_sessions=6, created_by=clinic.front_desk.user)


def test_a_second_open_course_for_the_same_indication_and_site_is_refused(clinic):
    patient = make_patient(clinic)
    plan(clinic, patient, ["palms", "soles"])
    with pytest.raises(ValidationError) as refused:
        plan(clinic, patient, ["soles"])
    assert refused.value.message_dict == {"body_sites": [
        "This patient already has an open hyperhidrosis (tap water) course for the soles; book its sessions, "
        "or complete or discontinue it first."]}
    assert patient.courses.count() == 1


def test_another_site_or_indication_gets_a_course_of_its_own(clinic):
    patient = make_patient(clinic, medicated=True)
    plan(clinic, patient, ["palms"])
    assert plan(clinic, patient, ["axillae"]).pk
    assert make_course(clinic, patient, medicated=True).pk


def test_the_api_refuses_the_second_course_with_a_field_message(clinic):
    patient = make_patient(clinic)
    plan(clinic, patient, ["palms"])
    response = bearer_client(clinic.front_desk.user).post("/api/v1/courses/", {
        "patient": patient.pk, "location": clinic.location.pk, "indication": "hyperhidrosis",
        "body_sites": ["palms"], "planned_sessions": 6}, format="json")
    assert response.status_code == 400, response.json()
    assert "already has an open hyperhidrosis (tap water) course for the palms" in (
        response.json()["errors"]["body_sites"][0])


def test_a_patients_second_session_on_one_day_is_refused_whatever_the_course(clinic):
    patient = make_patient(clinic)
    first, second = plan(clinic, patient, ["palms"]), plan(clinic, patient, ["axillae"])
    day = next_weekday(0)
    book(clinic, first, clinic.at(day, 9))
    with pytest.raises(ConflictError) as refused:
        book(clinic, second, clinic.at(day, 15), clinician=clinic.clinicians[1], room=clinic.rooms[1],
             device=clinic.devices[1])
    assert refused.value.messages == [
        f"The patient already has a session on {day:%a %d %b} (09:00-09:30, another course); "
        "one session a day at most."]
    assert book(clinic, second, clinic.at(day + timedelta(days=1), 15)).pk


def test_a_course_plan_leaves_out_the_days_of_the_patients_other_course(clinic):
    patient = make_patient(clinic)
    first, second = plan(clinic, patient, ["palms"]), plan(clinic, patient, ["axillae"])
    monday = next_weekday(0)
    booked = course_book(course=first, booked_by=clinic.front_desk.user, weekdays=[0, 2, 4], first_date=monday)
    taken = {session.starts_at.date() for session in booked.sessions}
    proposed = course_book(course=second, booked_by=clinic.front_desk.user, weekdays=[0, 1, 2, 3, 4],
                           first_date=monday, preview=True)
    assert proposed.fits
    assert not taken & {clinic.location.local(s.starts_at).date() for s in proposed.sessions}


def test_the_database_refuses_two_active_sessions_of_a_patient_on_one_day(clinic):
    patient = make_patient(clinic)
    first, second = plan(clinic, patient, ["palms"]), plan(clinic, patient, ["axillae"])
    day = next_weekday(0)
    booked = book(clinic, first, clinic.at(day, 9))
    copy = Appointment.objects.get(pk=booked.pk)
    copy.pk, copy.course = None, second
    copy.starts_at, copy.ends_at = booked.starts_at + timedelta(hours=4), booked.ends_at + timedelta(hours=4)
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        copy.save()
    assert "appointment_one_session_a_day_per_patient" in str(refused.value)


def test_the_admin_shows_the_second_course_refusal_as_a_form_error(client, clinic):
    patient = make_patient(clinic)
    plan(clinic, patient, ["palms"])
    client.force_login(clinic.front_desk.user)
    response = client.post("/admin/scheduling/course/add/", {
        "patient": patient.pk, "location": clinic.location.pk, "indication": "hyperhidrosis",
        "body_sites": ["palms", "soles"], "planned_sessions": 6, "session_minutes": 30, "sessions_per_week": 3,
        "_save": "Save"})
    assert response.status_code == 200
    assert ("This patient already has an open hyperhidrosis (tap water) course for the palms; book its sessions, "
            "or complete or discontinue it first.") in response.content.decode()
    assert patient.courses.count() == 1
