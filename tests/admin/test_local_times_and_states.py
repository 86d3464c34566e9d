"""Defects 3 and 6 of issue 20: every screen shows the location's own time with its zone, and one
display state of a session (confirmed by the patient shows as such everywhere)."""

import pytest

from scheduling.booking.services import appointment_confirm
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def toronto():
    return make_clinic(name="Yonge Street", time_zone="America/Toronto")


@pytest.fixture
def session(toronto):
    course = make_course(toronto)
    return book(toronto, course, toronto.at(next_weekday(1), 14, 30))


def test_the_day_sheet_shows_the_locations_time_not_the_servers(client, toronto, session):
    client.force_login(toronto.manager.user)
    page = client.get("/admin/scheduling/appointment/day-sheet/", {
        "location": toronto.location.pk, "date": session.local_date.isoformat()}).content.decode()
    assert "14:30-15:00 EST" in page
    assert "19:30" not in page
    assert "America/Toronto (EST)" in page


def test_the_progress_page_shows_the_locations_time_and_names_its_zone(client, toronto, session):
    client.force_login(toronto.manager.user)
    page = client.get(f"/clinician/courses/{session.course_id}/").content.decode()
    assert f"{session.local_date:%a %d %b %Y} 14:30 EST" in page
    assert "19:30" not in page


def test_the_session_page_patient_page_and_lists_name_the_zone(client, toronto, session):
    client.force_login(toronto.manager.user)
    when = f"{session.local_date:%a %d %b %Y} 14:30 EST"
    pages = {
        "session": client.get(f"/admin/scheduling/appointment/{session.pk}/change/"),
        "patient": client.get(f"/admin/patients/patient/{session.patient_id}/change/"),
        "course": client.get(f"/admin/scheduling/course/{session.course_id}/change/"),
        "appointments": client.get("/admin/scheduling/appointment/", {"location__id__exact": toronto.location.pk}),
        "courses": client.get("/admin/scheduling/course/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = response.content.decode()
        assert "19:30" not in page, name
        if name == "courses":
            assert f"next {session.local_date:%a %d %b} 14:30 EST" in page
        else:
            assert when in page, name
    assert "15:00 EST (30 minutes)" in pages["session"].content.decode()


def test_a_session_confirmed_by_the_patient_shows_confirmed_on_every_page(client, toronto, session):
    appointment_confirm(appointment=session, via="phone", confirmed_by=toronto.front_desk.user)
    client.force_login(toronto.front_desk.user)
    pages = {
        "session": client.get(f"/admin/scheduling/appointment/{session.pk}/change/").content.decode(),
        "patient": client.get(f"/admin/patients/patient/{session.patient_id}/change/").content.decode(),
        "course": client.get(f"/admin/scheduling/course/{session.course_id}/change/").content.decode(),
        "list": client.get("/admin/scheduling/appointment/").content.decode(),
        "sheet": client.get("/admin/scheduling/appointment/day-sheet/", {
            "location": toronto.location.pk, "date": session.local_date.isoformat()}).content.decode(),
    }
    for name, page in pages.items():
        assert "Confirmed by the patient" in page, name
        assert "(Booked)" not in page and "· Booked" not in page, name
        if name != "list":  # the list's status filter offers "Booked"
            assert ">Booked<" not in page, name
    title = pages["session"].split("<title>")[1].split("</title>")[0]
    assert "Confirmed by the patient" in title

