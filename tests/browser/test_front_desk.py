"""The front desk's day in a real browser: register, plan and book a course, see it, cancel, arrive.

Screenshots of the booking preview and the day schedule go to tests/artifacts/ on every run.
"""

from datetime import timedelta

import pytest
import time_machine

from patients import services as patient_services
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus, Notification, NotificationKind
from tests.admin.busy_day import book_many, busy_clinic
from tests.browser_support import login, screenshot
from tests.factories import NO_CONTRAINDICATIONS, next_weekday

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse 42"


def choose_in_autocomplete(page, field: str, text: str) -> None:
    """Pick an option of the admin's autocomplete (select2) widget, as a person would."""
    page.click(f"#id_{field} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", text)
    page.click(f".select2-results__option:has-text('{text}')")


def test_front_desk_books_a_course_through_the_preview_and_runs_the_day(page, live_server):
    clinic = busy_clinic(resources=6)
    monday = next_weekday(0)
    book_many(clinic, monday, 24)  # the other patients of that Monday: four sessions a room from 08:00
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)

    # Register the patient.
    page.click("nav.ionto-nav >> text=New patient")
    page.fill("#id_first_name", "Robin")
    page.fill("#id_last_name", "Okafor")
    page.fill("#id_date_of_birth", "1988-03-14")
    page.fill("#id_email", "robin.okafor@example.org")
    page.fill("#id_phone", "+44 7700 900123")
    page.select_option("#id_preferred_location", str(clinic.location.pk))
    page.check("#id_email_consent")
    page.click("input[name=_save]")
    assert "was added successfully" in page.locator("ul.messagelist").inner_text()
    patient = Patient.objects.get(last_name="Okafor")
    assert patient.registered_by == clinic.front_desk.user

    # A clinician screens the patient (not the desk's job); then the desk plans the course.
    patient_services.screening_record(patient=patient, recorded_by=clinic.clinician.user,
                                      answers=NO_CONTRAINDICATIONS)
    page.goto(f"{live_server.url}/admin/scheduling/course/add/")
    choose_in_autocomplete(page, "patient", "Okafor")
    page.select_option("#id_location", str(clinic.location.pk))
    page.select_option("#id_indication", "hyperhidrosis")
    page.check("input[name=body_sites][value=palms]")
    page.fill("#id_planned_sessions", "8")
    page.fill("#id_session_minutes", "30")
    page.fill("#id_sessions_per_week", "3")
    page.click("input[name=_save]")

    # Preferences, preview, confirm in one click.
    page.wait_for_url("**/book/")
    for weekday in ("0", "2", "4"):
        page.check(f"input[name=weekdays][value='{weekday}']")
    page.fill("#id_earliest", "09:00")
    page.fill("#id_latest", "13:00")
    page.fill("#id_first_date", monday.isoformat())
    page.click("#preview")
    assert page.locator("#plan-summary").inner_text() == (
        "All 8 sessions fit. Nothing is booked until you confirm.")
    assert page.locator("#plan tbody tr").count() == 8
    screenshot(page, "booking-preview")
    assert Appointment.objects.filter(patient=patient).count() == 0
    page.click("#confirm")

    page.wait_for_url("**/appointment/day/**")
    sessions = list(Appointment.objects.filter(patient=patient).order_by("starts_at"))
    assert len(sessions) == 8
    assert {clinic.location.local(s.starts_at).weekday() for s in sessions} <= {0, 2, 4}
    assert Notification.objects.filter(patient=patient, kind=NotificationKind.BOOKING_CONFIRMATION).count() == 1
    assert page.locator("ul.messagelist").inner_text().startswith(f"Booked 8 sessions for {patient}, from ")
    first = sessions[0]
    card = page.locator(f"a.card[data-appointment='{first.pk}']")
    assert "Robin Okafor" in card.inner_text()
    assert "session 1 of 8" in card.inner_text()
    assert page.locator("a.card").count() == 25
    screenshot(page, "day-schedule")

    # Cancel the third session from its card.
    third = sessions[2]
    page.goto(f"{live_server.url}/admin/scheduling/appointment/day/?location={clinic.location.pk}"
              f"&date={third.local_date.isoformat()}")
    page.click(f"a.card[data-appointment='{third.pk}']")
    page.select_option("#cancelled_by", "patient")
    page.fill("#cancel_reason", "Away on a work trip")
    page.click("#action-cancel")
    page.wait_for_url("**/appointment/day/**")
    assert f"The session of {patient} on {clinic.location.local(third.starts_at):%a %d %b %Y %H:%M}" in (
        page.locator("ul.messagelist").inner_text())
    assert "Cancelled" in page.locator(f"a.card[data-appointment='{third.pk}']").inner_text()
    third.refresh_from_db()
    assert (third.status, third.cancelled_by, third.cancellation_reason) == (
        AppointmentStatus.CANCELLED, "patient", "Away on a work trip")

    # On the day of the first session, the desk marks the arrival on the day sheet.
    with time_machine.travel(first.starts_at - timedelta(minutes=20), tick=True):
        # Days later: the 30-minute idle session has ended, so the desk signs in again.
        login(page, live_server, clinic.front_desk.user.username, PASSWORD)
        page.goto(f"{live_server.url}/admin/scheduling/appointment/day-sheet/?location={clinic.location.pk}"
                  f"&date={first.local_date.isoformat()}")
        row = page.locator(f"tr[data-appointment='{first.pk}']")
        row.locator("input[value=Arrived]").click()
        page.wait_for_url("**/day-sheet/**")
        assert page.locator("ul.messagelist").inner_text() == f"{patient} has arrived."
        assert page.locator(f"tr[data-appointment='{first.pk}'] .ionto-state").inner_text() == "Arrived"
    first.refresh_from_db()
    assert first.status == AppointmentStatus.ARRIVED and first.status_changed_by == clinic.front_desk.user

    # Session records are the clinicians'.
    response = page.goto(f"{live_server.url}/admin/scheduling/sessionrecord/")
    assert response.status == 403
    response = page.goto(f"{live_server.url}/admin/patients/screening/")
    assert response.status == 403


def test_day_schedule_date_picker_and_next_day(page, live_server):
    clinic = busy_clinic(resources=3)
    tuesday = next_weekday(1)
    book_many(clinic, tuesday + timedelta(days=1), 3)
    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    page.click("nav.ionto-nav >> text=Day schedule")
    page.fill("#day-picker input[name=date]", tuesday.isoformat())
    page.click("#day-picker input[type=submit]")
    assert f"{tuesday:%A %d %B %Y}" in page.locator("#content h1").inner_text()
    assert page.locator("a.card").count() == 0
    page.click("#next-day")
    assert f"{tuesday + timedelta(days=1):%A %d %B %Y}" in page.locator("#content h1").inner_text()
    assert page.locator("a.card").count() == 3
    page.select_option("#day-picker select[name=by]", "clinician")
    page.click("#day-picker input[type=submit]")
    assert page.locator(".schedule .head").all_inner_texts()[1:] == [str(c) for c in clinic.clinicians]
