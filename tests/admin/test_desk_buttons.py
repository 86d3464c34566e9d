"""Issue 20, the desk's buttons: "Book next session" proposes the day the cadence wants; "Plan a course"
on the patient page starts at the user's location; the 403 page says why and where to go."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


def link(page: str, element_id: str) -> dict:
    href = re.search(rf'id="{element_id}"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*id="{element_id}"', page)
    url = (href.group(1) or href.group(2)).replace("&amp;", "&")
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_book_next_session_proposes_the_next_day_of_the_cadence(desk, clinic):
    course = make_course(clinic)  # 3 a week: a free day between sessions
    monday = next_weekday(0)
    appointment = book(clinic, course, clinic.at(monday, 10))
    page = desk.get(f"/admin/scheduling/appointment/{appointment.pk}/change/").content.decode()
    query = link(page, "action-book-next")
    assert query["day"] == (monday + timedelta(days=2)).isoformat()
    assert (query["at"], query["clinician"], query["course"]) == ("10:00", str(clinic.clinician.pk), str(course.pk))
    form = desk.get("/admin/scheduling/appointment/add/", query).content.decode()
    assert (monday + timedelta(days=2)).isoformat() in form


def test_book_next_session_skips_a_day_the_course_already_has(desk, clinic):
    course = make_course(clinic)
    monday = next_weekday(0)
    first = book(clinic, course, clinic.at(monday, 10))
    book(clinic, course, clinic.at(monday + timedelta(days=2), 10))
    page = desk.get(f"/admin/scheduling/appointment/{first.pk}/change/").content.decode()
    assert link(page, "action-book-next")["day"] == (monday + timedelta(days=4)).isoformat()


def test_plan_a_course_starts_at_the_users_location(client):
    home, other = make_clinic(name="Northgate"), make_clinic(name="Southbank")
    patient = make_patient(other)  # prefers a location the home desk does not work at
    book(home, make_course(home, patient), home.at(next_weekday(1), 9))  # so the home desk sees them
    client.force_login(home.front_desk.user)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert link(page, "plan-a-course") == {"patient": str(patient.pk), "location": str(home.location.pk)}
    mine = make_patient(home)
    page = client.get(f"/admin/patients/patient/{mine.pk}/change/").content.decode()
    assert link(page, "plan-a-course")["location"] == str(home.location.pk)
    form = client.get("/admin/scheduling/course/add/", {"patient": mine.pk, "location": home.location.pk})
    assert f'<option value="{home.location.pk}" selected>' in form.content.decode()


def test_the_403_page_says_why_and_where_to_go(desk, clinic):
    response = desk.get("/admin/scheduling/sessionrecord/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Session records and screening answers are for clinicians and managers" in page
    assert 'href="/admin/"' in page and "Day schedule" in page
