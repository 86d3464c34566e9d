"""The front-desk calendar in a real Chromium: the week by room, drag and drop (accepted and refused),
changing a length by the lower edge, a session's pop-over, booking a new patient in a free cell, and the
global patient search. Screenshots go to tests/artifacts/.

The browser's clock is set to the suite's frozen "today", so its line at the current time and the
server agree on what is past.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from tests.admin.busy_day import book_many, busy_clinic
from tests.browser_support import login, screenshot
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db(transaction=True)
expect = pytest.importorskip("playwright.sync_api").expect

PASSWORD = "correct horse 42"


def open_calendar(page, live_server, clinic, day, *, view: str = "week", by: str = "room") -> None:
    # The browser's clock is the server's (the suite's frozen day), ticking on from there.
    page.clock.install(time=timezone.now())
    page.goto(f"{live_server.url}/admin/scheduling/appointment/calendar/?location={clinic.location.pk}"
              f"&date={day.isoformat()}&view={view}&by={by}")
    page.wait_for_selector("#calendar[data-loaded]")


def session_card(page, appointment):
    return page.locator(f".ec-event:has([data-appointment='{appointment.pk}'])")


def drag_by(page, card, *, down_px: float, right_px: float = 0, from_edge: bool = False) -> None:
    box = card.bounding_box()
    x = box["x"] + box["width"] / 2
    y = box["y"] + (box["height"] - 3 if from_edge else box["height"] / 3)
    page.mouse.move(x, y)
    page.mouse.down()
    steps = 8
    for i in range(1, steps + 1):
        page.mouse.move(x + right_px * i / steps, y + down_px * i / steps)
    page.mouse.up()


def slot_px(card, minutes: int = 30, slot_minutes: int = 15) -> float:
    return card.bounding_box()["height"] / (minutes / slot_minutes)


def click_free_time(page, at: str, half_hour_later: str) -> None:
    """Click the first column just below the line of ``at`` (its time label sits on the line)."""
    sidebar = page.locator(".ec-sidebar")
    sidebar.get_by_text(half_hour_later, exact=True).first.scroll_into_view_if_needed()
    line = sidebar.get_by_text(at, exact=True).first.bounding_box()
    next_line = sidebar.get_by_text(half_hour_later, exact=True).first.bounding_box()
    slot = (next_line["y"] - line["y"]) / 2
    column = page.locator(".ec-body .ec-day").first.bounding_box()
    page.mouse.click(column["x"] + column["width"] / 2, line["y"] + line["height"] / 2 + slot / 2)


def message_says(page, text: str) -> None:
    expect(page.locator("#calendar-message")).to_have_text(text)


def test_week_view_by_room_shows_local_times_with_the_zone_and_moves_a_session_by_drag(page, live_server):
    clinic = busy_clinic(resources=4)
    monday = next_weekday(0)
    sessions = book_many(clinic, monday, 12) + book_many(clinic, monday + timedelta(days=2), 8)
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    page.click("nav.ionto-nav >> text=Calendar")
    page.wait_for_selector("#calendar[data-loaded]")  # this week, today's location
    open_calendar(page, live_server, clinic, monday)

    assert page.locator(".ec-event.ionto-session").count() == 20
    assert "Europe/London (GMT)" in page.locator("#calendar-zone").inner_text()
    for room in ("Room 1", "Room 2", "Room 3", "Room 4"):  # a column a day for each room
        assert page.locator(".ec-header").get_by_text(room, exact=True).count() == 7
    first = sessions[0]
    assert "08:00-08:30 GMT" in session_card(page, first).inner_text()
    screenshot(page, "calendar-week")

    # Drag the 09:30 session of room 2 (its last of the day) one hour later: the move endpoint moves it.
    moving = sessions[9]
    card = session_card(page, moving)
    drag_by(page, card, down_px=4 * slot_px(card))
    message_says(page, f"Moved the session of {moving.patient} to {monday:%a %d %b %Y} 10:30.")
    moving.refresh_from_db()
    assert clinic.location.local(moving.starts_at).time() == time(10, 30)
    assert moving.room == clinic.rooms[1]
    expect(session_card(page, moving)).to_contain_text("10:30-11:00 GMT")

    # Drag its lower edge two slots down: 30 becomes 60 minutes, which the service refuses, and it snaps back.
    card = session_card(page, moving)
    height = card.bounding_box()["height"]
    drag_by(page, card, down_px=2 * slot_px(card), from_edge=True)
    message_says(page, "Not moved: A session lasts 25 to 45 minutes, not 60.")
    page.wait_for_timeout(200)
    assert abs(session_card(page, moving).bounding_box()["height"] - height) < 2
    moving.refresh_from_db()
    assert moving.minutes == 30

    # One slot down: 45 minutes, allowed.
    card = session_card(page, moving)
    drag_by(page, card, down_px=slot_px(card), from_edge=True)
    message_says(page, f"Moved the session of {moving.patient} to {monday:%a %d %b %Y} 10:30 for 45 minutes.")
    moving.refresh_from_db()
    assert moving.minutes == 45


def test_a_refused_drag_snaps_back_and_says_why(page, live_server):
    clinic = make_clinic(rooms=1, devices=1, clinicians=1)
    tuesday = next_weekday(1)
    moving = book(clinic, make_course(clinic), clinic.at(tuesday, 10))
    book(clinic, make_course(clinic), clinic.at(tuesday, 11))
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    open_calendar(page, live_server, clinic, tuesday, view="day")
    card = session_card(page, moving)
    before = card.bounding_box()["y"]
    drag_by(page, card, down_px=4 * slot_px(card))  # onto 11:00, taken by another patient
    message_says(page, f"Not moved: {clinic.clinician} is booked {tuesday:%a %d %b} 11:00-11:30 by another session.")
    page.wait_for_timeout(200)
    assert abs(session_card(page, moving).bounding_box()["y"] - before) < 2
    screenshot(page, "calendar-refused-drag")
    moving.refresh_from_db()
    assert clinic.location.local(moving.starts_at).time() == time(10)


def test_pop_over_marks_an_arrival_without_leaving_the_calendar(page, live_server):
    clinic = make_clinic()
    today = timezone.localdate()
    later_today = clinic.at(today, 14)
    appointment = book(clinic, make_course(clinic), later_today)
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    open_calendar(page, live_server, clinic, today, view="day")
    assert page.locator(".ec-now-indicator").count() == 1
    session_card(page, appointment).click()
    popover = page.locator("#calendar-popover")
    assert "14:00-14:30 GMT" in popover.inner_text()
    assert popover.locator("#action-noshow").count() == 0  # not started yet
    screenshot(page, "calendar-pop-over")
    url = page.url
    popover.locator("#action-arrive").click()
    message_says(page, f"{appointment.patient} has arrived.")
    assert page.url == url
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED
    page.wait_for_selector(f".ec-event.ionto-arrived:has([data-appointment='{appointment.pk}'])")


def test_click_a_free_time_to_book_a_new_patient(page, live_server):
    clinic = make_clinic(rooms=1, devices=1, clinicians=1)
    wednesday = next_weekday(2)
    login(page, live_server, clinic.clinician.user.username, PASSWORD)
    open_calendar(page, live_server, clinic, wednesday, view="day")
    # The free cell at 10:00 in Room 1.
    click_free_time(page, "10:00", "10:30")
    popover = page.locator("#calendar-popover")
    assert popover.locator("h3").inner_text() == f"Book {wednesday:%a %d %b %Y} 10:00 · Room 1"
    popover.locator("#new-patient").click()
    popover.locator("#new-first-name").fill("Nadia")
    popover.locator("#new-last-name").fill("Newcomer")
    popover.locator("#new-date-of-birth").fill("1994-02-11")
    popover.locator("#new-phone").fill("+44 7700 900456")
    popover.locator("#new-email").fill("nadia.newcomer@example.org")
    screenshot(page, "calendar-book-new-patient")
    popover.locator("#new-patient-book").click()
    message_says(page, f"Booked: Nadia Newcomer (born 11 Feb 1994), {wednesday:%a %d %b %Y} 10:00 Room 1.")
    patient = Patient.objects.get(last_name="Newcomer")
    [appointment] = Appointment.objects.filter(patient=patient)
    assert clinic.location.local(appointment.starts_at) == clinic.at(wednesday, 10)
    assert appointment.course.planned_sessions == 8
    assert patient.screenings.count() == 1
    page.wait_for_selector(f".ec-event:has([data-appointment='{appointment.pk}'])")


def test_click_a_free_time_to_book_a_known_patient_found_by_phone(page, live_server):
    clinic = make_clinic(rooms=2, devices=2, clinicians=2)
    friday = next_weekday(4)
    patient = make_patient(clinic, first_name="Priya", last_name="Known", phone="+44 7700 900321")
    course = make_course(clinic, patient, planned_sessions=6)
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    open_calendar(page, live_server, clinic, friday, view="day")
    click_free_time(page, "15:00", "15:30")
    popover = page.locator("#calendar-popover")
    popover.locator("#patient-search").fill("07700 900 321")
    popover.locator("#patient-results button").filter(has_text="Known, Priya · 17/05/1990").click()
    expect(popover.locator("#book-course")).to_have_value(str(course.pk))
    popover.locator("#book-confirm").click()
    message_says(page, f"Booked: Priya Known (born 17 May 1990), {friday:%a %d %b %Y} 15:00 Room 1.")
    [appointment] = Appointment.objects.filter(course=course)
    assert (clinic.location.local(appointment.starts_at), appointment.room) == (clinic.at(friday, 15), clinic.rooms[0])


def test_front_desk_new_patient_in_a_free_cell_is_kept_and_told_the_screening_comes_first(page, live_server):
    clinic = make_clinic(rooms=1, devices=1, clinicians=1)
    thursday = next_weekday(3)
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    open_calendar(page, live_server, clinic, thursday, view="day")
    click_free_time(page, "11:00", "11:30")
    popover = page.locator("#calendar-popover")
    popover.locator("#new-patient").click()
    assert popover.locator("#screening-fields").count() == 0
    popover.locator("#new-first-name").fill("Omar")
    popover.locator("#new-last-name").fill("Firsttime")
    popover.locator("#new-date-of-birth").fill("1980-07-01")
    popover.locator("#new-patient-book").click()
    page.wait_for_selector("#book-status.errornote")
    assert popover.locator("#book-status").inner_text().startswith(
        "Record the patient's contraindication screening before booking. Omar Firsttime is registered")
    assert Patient.objects.filter(last_name="Firsttime").count() == 1
    assert not Appointment.objects.filter(patient__last_name="Firsttime").exists()


def test_global_search_finds_a_patient_by_phone_in_any_spacing_and_by_date_of_birth(page, live_server):
    clinic = make_clinic()
    other = make_clinic()
    wanted = make_patient(clinic, first_name="Imogen", last_name="Hartley", phone="+44 7700 900 777",
                          date_of_birth=datetime(1979, 3, 8, tzinfo=UTC).date())
    make_patient(other, first_name="Imogen", last_name="Elsewhere", phone="+44 7700 900 777")
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    page.goto(f"{live_server.url}/admin/scheduling/appointment/day-sheet/")
    page.fill("#ionto-patient-search", "07700900777")
    page.press("#ionto-patient-search", "Enter")
    page.wait_for_url("**/patients/patient/search/**")
    rows = page.locator("#patient-search-results tbody tr")
    assert rows.count() == 1  # the other location's patient is not one of this desk's
    assert rows.first.inner_text().startswith("Hartley, Imogen\t08 Mar 1979")
    screenshot(page, "global-search")
    page.fill("#ionto-patient-search", "08/03/1979")
    page.press("#ionto-patient-search", "Enter")
    expect(rows.first).to_contain_text("Hartley")
    rows.first.locator("a").click()
    page.wait_for_url(f"**/patients/patient/{wanted.pk}/change/")


def test_a_browser_in_another_zone_sees_the_locations_wall_clock_and_its_current_time(browser, live_server):
    tokyo = make_clinic(name="Shibuya", time_zone="Asia/Tokyo", rooms=1, devices=1, clinicians=1)
    today = tokyo.location.local(timezone.now()).date()  # 08:00 UTC is 17:00 in Tokyo
    appointment = book(tokyo, make_course(tokyo), tokyo.at(today, 18, 30))
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-GB",
                                  timezone_id="America/Los_Angeles")
    page = context.new_page()
    try:
        login(page, live_server, tokyo.front_desk.user.username, PASSWORD)
        open_calendar(page, live_server, tokyo, today, view="day")
        assert "Asia/Tokyo (JST)" in page.locator("#calendar-zone").inner_text()
        card = session_card(page, appointment)
        assert "18:30-19:00 JST" in card.inner_text()
        sidebar = page.locator(".ec-sidebar")
        label = sidebar.get_by_text("18:30", exact=True).first.bounding_box()
        assert abs(card.bounding_box()["y"] - (label["y"] + label["height"] / 2)) < 6
        now_line = page.locator(".ec-now-indicator").bounding_box()
        five = sidebar.get_by_text("17:00", exact=True).first.bounding_box()
        assert abs(now_line["y"] - (five["y"] + five["height"] / 2)) < 6
        screenshot(page, "calendar-other-zone")
    finally:
        context.close()
