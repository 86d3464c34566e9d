"""Who sees which rows in the admin: the rows of the user's locations, as the API shows them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduling.booking.courses import course_create
from scheduling.models import Indication
from tests.api.conftest import bearer_client, booked_session
from tests.api.test_role_matrix import rows_at
from tests.factories import book, make_clinic, make_patient, next_weekday

pytestmark = pytest.mark.django_db

# API resource -> the admin changelist that shows the same rows.
CHANGELISTS = {
    "locations": "/admin/clinic/location/",
    "rooms": "/admin/clinic/room/",
    "devices": "/admin/clinic/device/",
    "clinicians": "/admin/clinic/staff/?role__exact=clinician&is_active__exact=1",
    "opening-hours": "/admin/clinic/openinghours/",
    "working-hours": "/admin/clinic/workinghours/",
    "closures": "/admin/clinic/closure/",
    "patients": "/admin/patients/patient/",
    "screenings": "/admin/patients/screening/",
    "courses": "/admin/scheduling/course/",
    "appointments": "/admin/scheduling/appointment/",
    "session-records": "/admin/scheduling/sessionrecord/",
    "notifications": "/admin/scheduling/notification/",
}
CLINICAL = ("screenings", "session-records")


@pytest.fixture(autouse=True)
def wednesday():
    with time_machine.travel(datetime(2026, 12, 2, 9, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def own():
    return make_clinic(name="Northside")


@pytest.fixture
def other():
    return make_clinic(name="Southside")


def staff_of(clinic, role):
    return {"front_desk": clinic.front_desk, "clinician": clinic.clinician, "manager": clinic.manager}[role]


def admin_ids(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    path = url.split("?")[0]
    return {int(pk) for pk in re.findall(rf'href="{re.escape(path)}(\d+)/change/', response.content.decode())}


def api_ids(client, resource) -> set[int]:
    response = client.get(f"/api/v1/{resource}/", {"page_size": 100})
    assert response.status_code == 200, resource
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("role", ("front_desk", "clinician"))
def test_admin_lists_and_pages_hold_no_row_of_another_location(client, own, other, role):
    mine, theirs = rows_at(own), rows_at(other)
    client.force_login(staff_of(own, role).user)
    for resource, url in CHANGELISTS.items():
        if role == "front_desk" and resource in CLINICAL:
            assert client.get(url).status_code == 403, resource
            continue
        listed = admin_ids(client, url)
        if resource not in theirs.ids:
            continue
        assert mine.ids[resource] in listed, resource
        assert theirs.ids[resource] not in listed, resource
        page = client.get(f"{url.split('?')[0]}{theirs.ids[resource]}/change/")
        assert (page.status_code, page.url) == (302, "/admin/"), resource


def test_patient_page_of_a_patient_at_another_location_is_not_found(client, own, other):
    elsewhere = booked_session(other)
    client.force_login(own.front_desk.user)
    page = client.get(f"/admin/patients/patient/{elsewhere.course.patient_id}/change/", follow=True)
    assert page.redirect_chain == [("/admin/", 302)]
    assert (f"Patient with ID “{elsewhere.course.patient_id}” doesn’t exist. Perhaps it was deleted?"
            in page.content.decode())
    found = client.get("/admin/patients/patient/", {"q": elsewhere.course.patient.last_name}).content.decode()
    assert f"/admin/patients/patient/{elsewhere.course.patient_id}/change/" not in found


def test_patient_page_shows_only_the_courses_and_sessions_at_the_users_locations(client, own, other):
    patient = make_patient(own)
    here = course_create(
        patient=patient, location=own.location, indication=Indication.HYPERHIDROSIS, body_sites=["palms"],
        planned_sessions=8, session_minutes=30, created_by=own.front_desk.user)
    there = course_create(
        patient=patient, location=other.location, indication=Indication.HYPERHIDROSIS, body_sites=["soles"],
        planned_sessions=8, session_minutes=30, created_by=other.front_desk.user)
    day = next_weekday(1)
    session_here = book(own, here, own.at(day, 10))
    session_there = book(other, there, other.at(day + timedelta(days=1), 10))
    for role in ("front_desk", "clinician"):
        client.force_login(staff_of(own, role).user)
        page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
        assert f"/admin/scheduling/course/{here.pk}/change/" in page, role
        assert f"/admin/scheduling/course/{there.pk}/change/" not in page, role
        assert f"/admin/scheduling/appointment/{session_here.pk}/change/" in page, role
        assert f"/admin/scheduling/appointment/{session_there.pk}/change/" not in page, role
        assert "Southside" not in page, role
    client.force_login(other.front_desk.user)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert f"/admin/scheduling/course/{there.pk}/change/" in page
    assert f"/admin/scheduling/course/{here.pk}/change/" not in page


@pytest.mark.parametrize("role", ("front_desk", "clinician", "manager"))
def test_admin_and_api_show_the_same_rows(client, own, other, role):
    rows_at(own), rows_at(other)
    user = staff_of(own, role).user
    client.force_login(user)
    api = bearer_client(user)
    for resource, url in CHANGELISTS.items():
        if role == "front_desk" and resource in CLINICAL:
            continue
        assert admin_ids(client, url) == api_ids(api, resource), resource


@pytest.mark.parametrize("role", ("front_desk", "clinician"))
def test_admin_list_filters_offer_only_the_users_locations_and_clinicians(client, own, other, role):
    """The filters by location, room, device and clinician name none of another location (``VisibleFilter``)."""
    rows_at(own), rows_at(other)
    client.force_login(staff_of(own, role).user)
    hidden = ["Southside", *(clinician.user.last_name for clinician in other.clinicians)]
    for resource, url in CHANGELISTS.items():
        if role == "front_desk" and resource in CLINICAL:
            continue
        page = client.get(url).content.decode()
        assert [text for text in hidden if text in page] == [], resource
    appointments = client.get("/admin/scheduling/appointment/").content.decode()
    assert "Northside" in appointments and own.clinician.user.last_name in appointments


def test_the_working_hours_list_names_its_clinicians_in_a_fixed_number_of_queries(client, own):
    from datetime import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clinic.models import StaffRole
    from clinic.services import staff_create, working_hours_add

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/clinic/workinghours/").status_code == 200
        return len(captured.captured_queries)

    client.force_login(own.manager.user)
    before = queries()
    for n in range(4):
        clinician = staff_create(username=f"extra{n}", first_name="Extra", last_name=f"Clinician{n}",
                                 role=StaffRole.CLINICIAN, locations=[own.location], created_by=own.admin)
        working_hours_add(clinician=clinician, location=own.location, weekday=n, starts_at=time(9),
                          ends_at=time(17), created_by=own.admin)
    assert queries() == before


def test_rooms_devices_and_clinicians_are_offered_one_location_at_a_time(client, own, other):
    """A manager sees every location: the appointment list offers their rooms, devices and clinicians only for
    the location chosen in its location filter (``VisibleFilter``), not those of every location at once."""
    client.force_login(own.manager.user)

    def offered(page: str, name: str, pk: int) -> bool:
        return re.search(rf"{name}__id__exact={pk}\b", page) is not None

    page = client.get("/admin/scheduling/appointment/").content.decode()
    assert offered(page, "location", own.location.pk) and offered(page, "location", other.location.pk)
    assert "room__id__exact" not in page and "device__id__exact" not in page
    assert "clinician__id__exact" not in page

    page = client.get(f"/admin/scheduling/appointment/?location__id__exact={other.location.pk}").content.decode()
    assert offered(page, "room", other.rooms[0].pk) and not offered(page, "room", own.rooms[0].pk)
    assert offered(page, "device", other.devices[0].pk) and not offered(page, "device", own.devices[0].pk)
    assert offered(page, "clinician", other.clinician.pk) and not offered(page, "clinician", own.clinician.pk)

    client.force_login(own.front_desk.user)  # one location: its own, without choosing it
    page = client.get("/admin/scheduling/appointment/").content.decode()
    assert offered(page, "room", own.rooms[0].pk) and offered(page, "clinician", own.clinician.pk)
