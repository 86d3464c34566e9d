import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic import services as clinic_services
from scheduling.desk.selectors import appointment_list_for_day
from tests.admin.busy_day import book_many, busy_clinic, cancel
from tests.admin.conftest import page_queries
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


def day_url(clinic, day, by="room"):
    return f"/admin/scheduling/appointment/day/?location={clinic.location.pk}&date={day.isoformat()}&by={by}"


def test_day_schedule_costs_the_same_queries_for_2_and_150_sessions(client):
    clinic = busy_clinic()
    day = next_weekday(1)
    book_many(clinic, day, 2)
    client.force_login(clinic.front_desk.user)
    with CaptureQueriesContext(connection) as few:
        response = client.get(day_url(clinic, day))
    assert response.status_code == 200
    assert response.content.decode().count('class="card ') == 2
    few = few.captured_queries  # taken before the next request (tests/admin/conftest.py, page_queries)

    book_many(clinic, day, 148, start_index=2)
    with CaptureQueriesContext(connection) as many:
        response = client.get(day_url(clinic, day))
    assert response.status_code == 200
    assert response.content.decode().count('class="card ') == 150
    many = many.captured_queries
    assert len(many) == len(few)
    # The staff row, the zone, the locations, the location, its opening hours, the columns, the closures, the day's
    # appointments with their session numbers and screening alerts: 8, whatever the number of sessions.
    assert len(page_queries(many)) == len(page_queries(few)) == 8, page_queries(many)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_a_days_sessions_are_read_by_the_start_index_at_both_ends_of_the_clock(zone):
    """Asked on ``starts_at`` alone, between the location's midnights, so the index on (location, start) reads that
    day, not the location's years (bench/README.md); still exactly the local day's sessions, at UTC+14 and UTC-11,
    where a local evening falls on another day in UTC."""
    clinic = make_clinic(time_zone=zone)
    day = next_weekday(2)
    on_the_day = [book(clinic, make_course(clinic), clinic.at(day, hour)) for hour in (8, 19)]
    for other in (day - timedelta(days=1), day + timedelta(days=1)):
        for hour in (8, 19):
            book(clinic, make_course(clinic), clinic.at(other, hour))
    found = appointment_list_for_day(location=clinic.location, day=day)
    assert [appointment.pk for appointment in found] == [appointment.pk for appointment in on_the_day]
    bounds = [child.lhs.target.name for child in found.query.where.children]
    assert bounds.count("starts_at") == 2 and "local_date" not in bounds


def test_day_schedule_shows_each_card_in_its_room_column_and_time_row(desk, clinic):
    day = next_weekday(2)
    course = make_course(clinic)
    book(clinic, course, clinic.at(day, 9, 30), room=clinic.rooms[1])
    page = desk.get(day_url(clinic, day)).content.decode()
    card = re.search(r'<a class="card [^"]*"[^>]*style="([^"]*)"', page)
    # Grid: row 1 is the header, row 2 is 08:00; 09:30 is the 7th 15-minute row; column 1 is the time.
    assert card.group(1) == "grid-column:3;grid-row:8 / span 2"
    assert f"{course.patient.first_name} {course.patient.last_name}" in page
    assert "09:30-10:00 GMT · Booked" in page
    assert "session 1 of 8" in page and "1st session" in page
    assert "Times in <strong>Europe/London (GMT)</strong>" in page


def test_day_schedule_switches_to_clinician_columns(desk, clinic):
    day = next_weekday(2)
    book(clinic, make_course(clinic), clinic.at(day, 10), clinician=clinic.clinicians[1])
    page = desk.get(day_url(clinic, day, by="clinician")).content.decode()
    headers = re.findall(r'<div class="head" style="grid-column:(\d+);grid-row:1">([^<]+)', page)
    assert [text for _, text in headers] == ["Time", str(clinic.clinicians[0]), str(clinic.clinicians[1])]
    assert 'style="grid-column:3;grid-row:10 / span 2"' in page


def test_day_schedule_shades_hours_outside_opening_and_closures(desk, clinic):
    day = next_weekday(3)
    clinic_services.closure_create(location=clinic.location, room=clinic.rooms[0], starts_at=clinic.at(day, 12),
                                   ends_at=clinic.at(day, 13), reason="Deep clean", created_by=clinic.admin)
    page = desk.get(day_url(clinic, day)).content.decode()
    assert page.count('title="Deep clean"') == 4  # four 15-minute cells of Room 1
    assert "Closed: Room 1 (" in page
    free = re.findall(r'<a class="cell free[^"]*" style="grid-column:2;grid-row:(\d+)"', page)
    assert len(free) == 48 - 4  # 08:00-20:00 is 48 rows; the closure takes 4


def test_day_schedule_shows_a_sunday_as_closed(desk, clinic):
    sunday = next_weekday(6)
    page = desk.get(day_url(clinic, sunday)).content.decode()
    assert "open closed all day" in page
    assert 'class="cell free' not in page


def test_cancelled_session_shows_beside_the_one_booked_in_its_place(desk, clinic):
    day = next_weekday(1)
    first = book(clinic, make_course(clinic), clinic.at(day, 11))
    cancel(clinic, first)
    book(clinic, make_course(clinic), clinic.at(day, 11))
    page = desk.get(day_url(clinic, day)).content.decode()
    assert page.count('class="card ionto-state ionto-cancelled cancelled"') == 1
    assert page.count('class="card ionto-state ionto-booked booked"') == 1
    assert "1 session booked" in page


def test_an_unknown_date_falls_back_to_today_with_a_message(desk, clinic):
    response = desk.get(f"/admin/scheduling/appointment/day/?location={clinic.location.pk}&date=31-12-2026",
                        follow=True)
    assert response.status_code == 200
    assert "&#x27;31-12-2026&#x27; is not a date like 2026-12-01; showing today." in response.content.decode()


def test_another_locations_schedule_is_not_found_for_the_front_desk(desk, clinic):
    other = make_clinic()
    response = desk.get(day_url(other, next_weekday(1)))
    assert response.status_code == 404


def test_day_sheet_lists_the_days_patients_in_time_order(desk, clinic):
    day = next_weekday(4)
    late = book(clinic, make_course(clinic), clinic.at(day, 15))
    early = book(clinic, make_course(clinic), clinic.at(day, 9))
    page = desk.get(f"/admin/scheduling/appointment/day-sheet/?location={clinic.location.pk}&date={day}").content
    rows = re.findall(rb'<tr data-appointment="(\d+)">', page)
    assert rows == [str(early.pk).encode(), str(late.pk).encode()]
