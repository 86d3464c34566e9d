from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from patients import services as patient_services
from tests.factories import NO_CONTRAINDICATIONS, book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


def codenames(name):
    return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


def test_migration_makes_the_three_role_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {"Front desk", "Clinician", "Manager"}


def test_front_desk_group_may_book_but_not_see_clinical_records():
    desk = codenames("Front desk")
    assert {"view_patient", "add_patient", "change_patient", "add_appointment", "change_appointment",
            "add_course", "view_room"} <= desk
    assert not {"view_sessionrecord", "add_sessionrecord", "view_screening", "add_screening"} & desk
    assert not {codename for codename in desk if codename.startswith("delete_")}


def test_clinician_group_records_sessions_and_screenings():
    assert {"view_sessionrecord", "add_sessionrecord", "view_screening", "add_screening", "change_screening"} <= (
        codenames("Clinician"))


def test_manager_group_may_also_set_up_the_clinic():
    assert {"add_location", "add_room", "add_staff", "add_closure", "view_sessionrecord"} <= codenames("Manager")


def test_a_staff_role_puts_the_user_in_its_group(clinic):
    assert list(clinic.front_desk.user.groups.values_list("name", flat=True)) == ["Front desk"]
    assert list(clinic.clinician.user.groups.values_list("name", flat=True)) == ["Clinician"]
    assert list(clinic.manager.user.groups.values_list("name", flat=True)) == ["Manager"]


def test_front_desk_is_refused_session_records_and_screenings(desk):
    for url in ("/admin/scheduling/sessionrecord/", "/admin/scheduling/sessionrecord/add/",
                "/admin/patients/screening/", "/admin/patients/screening/add/"):
        assert desk.get(url).status_code == 403, url
    index = desk.get("/admin/").content.decode()
    assert "Session records" not in index and "Screenings" not in index
    assert "Appointments" in index and "Patients" in index


def test_clinician_opens_session_records_and_screenings(client, clinic):
    client.force_login(clinic.clinician.user)
    assert client.get("/admin/scheduling/sessionrecord/").status_code == 200
    assert client.get("/admin/patients/screening/").status_code == 200


def test_front_desk_sees_that_booking_is_blocked_but_not_the_answer(desk, client, clinic):
    patient = make_patient(clinic, screened=False)
    patient_services.screening_record(patient=patient, recorded_by=clinic.clinician.user,
                                      answers={**NO_CONTRAINDICATIONS, "pacemaker": True})
    page = desk.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert "Booking blocked:" in page
    assert "found a contraindication. A clinician must review it" in page
    assert "Pacemaker" not in page
    client.force_login(clinic.clinician.user)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert "found a contraindication (Pacemaker or implanted defibrillator). A clinician" in page


def test_patient_page_shows_course_progress_and_upcoming_sessions(desk, clinic):
    course = make_course(clinic)
    day = next_weekday(3)
    book(clinic, course, clinic.at(day, 14))
    book(clinic, course, clinic.at(day + timedelta(days=1), 14))
    page = desk.get(f"/admin/patients/patient/{course.patient.pk}/change/").content.decode()
    assert f"0 of 8 done, 2 booked, next {clinic.at(day, 14):%a %d %b} 14:00 GMT; 6 to book" in page
    assert f"{clinic.at(day, 14):%a %d %b %Y} 14:00 GMT" in page


def test_front_desk_sees_only_the_patients_of_their_location(desk, clinic):
    mine = make_patient(clinic, last_name="Mine")
    other_clinic = make_clinic()
    make_patient(other_clinic, last_name="Elsewhere")
    page = desk.get("/admin/patients/patient/").content.decode()
    assert "Mine, Alex" in page and "Elsewhere, Alex" not in page
    assert desk.get(f"/admin/patients/patient/{mine.pk}/change/").status_code == 200


def test_a_patient_with_a_course_here_is_seen_here_whatever_their_preferred_location(desk, clinic):
    other_clinic = make_clinic()
    visitor = make_patient(other_clinic, last_name="Visitor")
    make_course(clinic, visitor)
    assert "Visitor, Alex" in desk.get("/admin/patients/patient/").content.decode()
