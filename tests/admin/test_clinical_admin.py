from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model

from clinic.models import Closure
from patients.models import CONTRAINDICATIONS, Screening
from scheduling.models import AppointmentStatus, SessionRecord
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


def test_clinician_records_a_session_through_the_admin(client, clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(1), 10))
    with time_machine.travel(appointment.ends_at + timedelta(minutes=5), tick=False):
        client.force_login(clinic.clinician.user)
        response = client.post("/admin/scheduling/sessionrecord/add/", {
            "appointment": appointment.pk, "minutes_of_current": 20, "waveform": "dc", "medium": "tap",
            "palms_ma": "12.5", "hdss": 3, "tingling_grade": 1, "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:3000]
    record = SessionRecord.objects.get(appointment=appointment)
    assert (record.recorded_by, record.hdss) == (clinic.clinician.user, 3)
    assert [(site.site, str(site.current_ma)) for site in record.sites.all()] == [("palms", "12.5")]
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.FULFILLED


def test_a_current_above_the_limit_is_a_form_error(client, clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(1), 10))
    with time_machine.travel(appointment.ends_at + timedelta(minutes=5), tick=False):
        client.force_login(clinic.clinician.user)
        response = client.post("/admin/scheduling/sessionrecord/add/", {
            "appointment": appointment.pk, "minutes_of_current": 20, "waveform": "dc", "palms_ma": "25",
            "hdss": 3, "_save": "Save"})
    assert response.status_code == 200
    assert f"Sites: Palms 25 mA: the limit for an adult on tap water at {clinic.location} is 20.0 mA." in (
        response.content.decode())
    assert not SessionRecord.objects.exists()


def test_clinician_records_a_screening_with_an_override(client, clinic):
    patient = make_patient(clinic, screened=False)
    client.force_login(clinic.clinician.user)
    answers = dict.fromkeys(CONTRAINDICATIONS, "no")
    answers["metal_implants"] = "yes"
    response = client.post("/admin/patients/screening/add/", {
        "patient": patient.pk, **answers, "override_reason": "Plate is outside the current path.", "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:3000]
    screening = Screening.objects.get(patient=patient)
    assert screening.metal_implants and screening.is_overridden and screening.overridden_by == clinic.clinician.user


def test_an_unanswered_screening_question_is_a_form_error(client, clinic):
    patient = make_patient(clinic, screened=False)
    client.force_login(clinic.clinician.user)
    response = client.post("/admin/patients/screening/add/", {"patient": patient.pk, "pacemaker": "no"})
    assert response.status_code == 200
    assert response.content.decode().count("This field is required.") == 9
    assert not Screening.objects.filter(patient=patient).exists()


def test_manager_adds_staff_who_land_in_their_role_group(client, clinic):
    client.force_login(clinic.manager.user)
    response = client.post("/admin/clinic/staff/add/", {
        "username": "desk2", "first_name": "Lee", "last_name": "Park", "email": "lee@example.org",
        "password": "a long enough passphrase", "role": "front_desk", "locations": [clinic.location.pk],
        "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:3000]
    user = get_user_model().objects.get(username="desk2")
    assert list(user.groups.values_list("name", flat=True)) == ["Front desk"]
    assert user.staff.locations.get() == clinic.location


def test_a_closure_typed_in_the_admin_is_read_in_the_locations_zone(client):
    berlin = make_clinic(time_zone="Europe/Berlin")
    client.force_login(berlin.manager.user)
    day = next_weekday(2)
    response = client.post("/admin/clinic/closure/add/", {
        "location": berlin.location.pk, "room": berlin.room.pk, "starts_at_0": day.isoformat(),
        "starts_at_1": "12:00", "ends_at_0": day.isoformat(), "ends_at_1": "13:00", "reason": "Deep clean",
        "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:3000]
    closure = Closure.objects.get(reason="Deep clean")
    assert closure.starts_at == berlin.at(day, 12)
    assert f"{closure.starts_at:%H:%M}" == "11:00"  # 12:00 in Berlin is 11:00 UTC in winter
