import re
from datetime import date, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scheduling.booking.services import appointment_cancel, appointment_mark_arrived, appointment_mark_noshow
from scheduling.models import Appointment, AppointmentStatus, CancelledBy, Notification, NotificationKind
from tests.factories import book, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


def book_url(course):
    return f"/admin/scheduling/course/{course.pk}/book/"


def test_course_preview_lists_every_session_and_books_nothing(desk, clinic):
    course = make_course(clinic, planned_sessions=6)
    first = next_weekday(0)
    response = desk.post(book_url(course), {"weekdays": ["0", "2", "4"], "earliest": "09:00", "latest": "12:00",
                                            "first_date": first.isoformat(), "preview": "1"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "All 6 sessions fit. Nothing is booked until you confirm." in page
    assert len(re.findall(r"<tr><td>\d</td>", page)) == 6
    assert f"{first:%a %d %b %Y}" in page
    assert 'value="Confirm and book 6 sessions"' in page
    assert Appointment.objects.filter(course=course).count() == 0


def test_confirming_books_the_whole_course_and_queues_one_confirmation(desk, clinic):
    course = make_course(clinic, planned_sessions=6)
    first = next_weekday(0)
    response = desk.post(book_url(course), {"weekdays": ["0", "2", "4"], "earliest": "09:00", "latest": "12:00",
                                            "first_date": first.isoformat(), "confirm": "1"}, follow=True)
    booked = list(Appointment.objects.filter(course=course).order_by("starts_at"))
    assert len(booked) == 6
    assert all(a.status == AppointmentStatus.BOOKED for a in booked)
    assert {clinic.location.local(a.starts_at).weekday() for a in booked} <= {0, 2, 4}
    assert all(time(9) <= clinic.location.local(a.starts_at).time() for a in booked)
    assert Notification.objects.filter(course=course, kind=NotificationKind.BOOKING_CONFIRMATION).count() == 1
    page = response.content.decode()
    first_local = clinic.location.local(booked[0].starts_at)
    assert (f"Booked 6 sessions for {course.patient}, from {first_local:%a %d %b %Y %H:%M %Z}."
            " The patient gets one confirmation email for the whole course.") in page
    assert response.redirect_chain[-1][0].startswith("/admin/scheduling/appointment/day/?")


def test_course_that_does_not_fit_explains_each_session_and_books_nothing(desk, clinic):
    course = make_course(clinic, planned_sessions=10)
    # Only Sundays: the clinic is closed on Sundays.
    response = desk.post(book_url(course), {"weekdays": ["6"], "confirm": "1"})
    page = response.content.decode()
    assert "Nothing was booked:" in page
    assert "Does not fit:" in page
    assert Appointment.objects.filter(course=course).count() == 0


def test_bad_time_window_is_a_form_error(desk, clinic):
    course = make_course(clinic)
    page = desk.post(book_url(course), {"earliest": "15:00", "latest": "10:00", "preview": "1"}).content.decode()
    assert "The latest time (10:00) must be after the earliest (15:00)." in page


def test_booking_one_session_from_a_free_cell(desk, clinic):
    course = make_course(clinic)
    day = next_weekday(1)
    next_url = f"/admin/scheduling/appointment/day/?location={clinic.location.pk}&date={day}&by=room"
    response = desk.post(
        f"/admin/scheduling/appointment/add/?location={clinic.location.pk}&day={day}&at=10:15&room={clinic.room.pk}",
        {"course": course.pk, "day": day.isoformat(), "at": "10:15", "clinician": clinic.clinician.pk,
         "room": clinic.room.pk, "device": clinic.device.pk, "next": next_url}, follow=True)
    appointment = Appointment.objects.get(course=course)
    assert clinic.location.local(appointment.starts_at).strftime("%H:%M") == "10:15"
    assert response.redirect_chain[-1][0] == next_url
    assert f"Booked: {course.patient}, {day:%a %d %b %Y} 10:15 GMT." in response.content.decode()


def test_booking_a_taken_room_shows_the_conflict_as_a_form_error(desk, clinic):
    day = next_weekday(1)
    book(clinic, make_course(clinic), clinic.at(day, 10))
    course = make_course(clinic)
    response = desk.post("/admin/scheduling/appointment/add/", {
        "course": course.pk, "day": day.isoformat(), "at": "10:15", "clinician": clinic.clinicians[1].pk,
        "room": clinic.room.pk, "device": clinic.devices[1].pk})
    assert response.status_code == 200
    assert f"Room 1 is booked {day:%a %d %b} 10:00-10:30 by another session (plus 5 minutes turnover)." in (
        response.content.decode())
    assert not Appointment.objects.filter(course=course).exists()


def test_moving_a_session_to_a_proposed_time(desk, clinic):
    day = next_weekday(1)
    appointment = book(clinic, make_course(clinic), clinic.at(day, 10))
    page = desk.get(f"/admin/scheduling/appointment/{appointment.pk}/move/").content.decode()
    proposals = re.findall(r'name="day" value="([\d-]+)"><input type="hidden" name="at" value="([\d:]+)"', page)
    assert len(proposals) > 10
    target_day, target_at = proposals[0]
    response = desk.post(f"/admin/scheduling/appointment/{appointment.pk}/move/", {
        "day": target_day, "at": target_at, "clinician": clinic.clinician.pk, "room": clinic.room.pk,
        "device": clinic.device.pk, "version": appointment.version}, follow=True)
    appointment.refresh_from_db()
    assert f"{clinic.location.local(appointment.starts_at):%Y-%m-%d %H:%M}" == f"{target_day} {target_at}"
    assert "Moved the session of" in response.content.decode()


def test_moving_with_a_stale_version_is_refused_in_plain_words(desk, clinic):
    day = next_weekday(1)
    appointment = book(clinic, make_course(clinic), clinic.at(day, 10))
    page = desk.post(f"/admin/scheduling/appointment/{appointment.pk}/move/", {
        "day": (day + timedelta(days=1)).isoformat(), "at": "11:00", "version": appointment.version + 3}).content
    assert b"This appointment was changed by someone else; reload it and try again." in page


def test_cancel_from_the_appointment_page_needs_a_reason(desk, clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    url = f"/admin/scheduling/appointment/{appointment.pk}/act/cancel/"
    page = desk.post(url, {"cancelled_by": "patient", "reason": " ", "version": appointment.version},
                     follow=True).content.decode()
    assert "Reason: Give a reason for the cancellation." in page
    page = desk.post(url, {"cancelled_by": "patient", "reason": "Holiday", "version": appointment.version},
                     follow=True).content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED and appointment.cancellation_reason == "Holiday"
    assert appointment.status_changed_by == clinic.front_desk.user
    assert f"The session of {appointment.patient} on " in page and " is cancelled." in page


def test_arrival_before_the_day_is_refused_with_the_services_words(desk, clinic):
    day = next_weekday(2)
    appointment = book(clinic, make_course(clinic), clinic.at(day, 9))
    page = desk.post(f"/admin/scheduling/appointment/{appointment.pk}/act/arrived/", follow=True).content.decode()
    assert f"This session is on {day:%a %d %b}; arrivals are marked on the day." in page


def test_cancel_action_on_the_list_cancels_each_selected_session(desk, clinic):
    day = next_weekday(3)
    first = book(clinic, make_course(clinic), clinic.at(day, 9))
    second = book(clinic, make_course(clinic), clinic.at(day, 10))
    response = desk.post("/admin/scheduling/appointment/", {
        "action": "cancel", "_selected_action": [first.pk, second.pk], "cancelled_by": "clinic",
        "reason": "Room flooded", "index": 0}, follow=True)
    assert Appointment.objects.filter(status=AppointmentStatus.CANCELLED, cancellation_reason="Room flooded",
                                      cancelled_by="clinic").count() == 2
    assert response.content.decode().count("is cancelled.") == 2


def test_resend_says_when_nothing_failed(desk, clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(3), 9))
    page = desk.post(f"/admin/scheduling/appointment/{appointment.pk}/act/resend/", follow=True).content.decode()
    assert (f"No email to {appointment.patient} about the session on {appointment.local_date:%a %d %b %Y} 09:00 GMT"
            " has failed; sent emails are never sent twice.") in page


def test_a_free_cell_opens_the_booking_form_with_a_free_clinician_and_device(desk, clinic):
    day = next_weekday(1)
    book(clinic, make_course(clinic), clinic.at(day, 14), clinician=clinic.clinicians[0], room=clinic.rooms[0],
         device=clinic.devices[0])
    page = desk.get(f"/admin/scheduling/appointment/add/?location={clinic.location.pk}&day={day}&at=14:00"
                    f"&room={clinic.rooms[1].pk}").content.decode()
    assert f'<option value="{clinic.rooms[1].pk}" selected>' in page
    assert f'<option value="{clinic.clinicians[1].pk}" selected>' in page
    assert f'<option value="{clinic.devices[1].pk}" selected>' in page
    assert f'value="{day.isoformat()}"' in page and 'value="14:00"' in page


@pytest.fixture
def mail(tmp_path, settings):
    """A real SMTP server on a free loopback port that can refuse a recipient."""
    from aiosmtpd.controller import Controller

    from devtools.mailcatcher import MailFolder
    from tests.conftest import free_port

    handler = MailFolder(tmp_path / "mail")
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield handler
    controller.stop()


def test_resend_queues_the_failed_confirmation_again(desk, clinic, mail):
    from scheduling.reminders.outbox import notification_claim_due
    from scheduling.reminders.sending import notification_send

    patient = make_patient(clinic, email="gone@example.org")
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(3), 9))
    mail.refused_recipients = {"gone@example.org"}
    now = timezone.now()
    assert [notification_send(notification_id=pk, claimed_at=now) for pk in notification_claim_due(now=now)] == [
        "failed"]
    page = desk.post(f"/admin/scheduling/appointment/{appointment.pk}/act/resend/", follow=True).content.decode()
    assert f"1 email to {patient} is queued to go again now." in page
    confirmation = Notification.objects.get(appointment=appointment, kind=NotificationKind.BOOKING_CONFIRMATION)
    assert (confirmation.status, confirmation.attempts) == ("pending", 0)


class _Undo(Exception):
    """Raised to roll back a service call that was only asked whether it accepts."""


def _accepts(call) -> bool:
    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except ValidationError:
        return False


def test_the_arrival_and_noshow_buttons_show_exactly_when_the_services_accept(desk, clinic):
    tuesday = date(2031, 3, 11)
    with time_machine.travel(clinic.at(tuesday - timedelta(days=7), 12), tick=False):
        sessions = {name: book(clinic, make_course(clinic), clinic.at(day, hour)) for name, day, hour in (
            ("started", tuesday, 9), ("later today", tuesday, 11), ("arrived", tuesday, 12),
            ("cancelled", tuesday, 14), ("tomorrow", tuesday + timedelta(days=1), 9))}
        appointment_cancel(appointment=sessions["cancelled"], recorded_by=clinic.front_desk.user,
                           by=CancelledBy.CLINIC, reason="Clinician ill")
    user = clinic.front_desk.user
    seen = {}
    with time_machine.travel(clinic.at(tuesday, 9, 10), tick=False):
        appointment_mark_arrived(appointment=sessions["arrived"], marked_by=user)
        desk.force_login(user)  # the sign-in of today has long expired by then
        for name, appointment in sessions.items():
            appointment.refresh_from_db()
            page = desk.get(f"/admin/scheduling/appointment/{appointment.pk}/change/").content.decode()
            sheet = desk.get(f"/admin/scheduling/appointment/day-sheet/?location={clinic.location.pk}"
                             f"&date={appointment.local_date.isoformat()}").content.decode()
            row = re.search(rf'<tr data-appointment="{appointment.pk}">.*?</tr>', sheet, re.DOTALL).group(0)
            seen[name] = (
                'id="action-arrived"' in page, 'value="Arrived"' in row,
                _accepts(lambda a=appointment: appointment_mark_arrived(appointment=a, marked_by=user)),
                'id="action-noshow"' in page,
                _accepts(lambda a=appointment: appointment_mark_noshow(appointment=a, marked_by=user)),
            )
    assert seen == {
        "started": (True, True, True, True, True),
        "later today": (True, True, True, False, False),
        "arrived": (False, False, False, False, False),
        "cancelled": (False, False, False, False, False),
        "tomorrow": (False, False, False, False, False),
    }


@pytest.mark.parametrize(("day", "at", "message"), [
    (date(2027, 3, 28), "01:15", "01:15 on Sun 28 Mar 2027 in Europe/London does not exist: the clocks go forward "
                                 "then. Choose another time."),
    (date(2027, 10, 31), "01:30", "01:30 on Sun 31 Oct 2027 in Europe/London happens twice: the clocks go back "
                                  "then. Choose a time outside that hour."),
])
def test_a_time_the_clock_skips_or_shows_twice_is_refused_not_shifted(client, day, at, message):
    """A night clinic (open round the clock) so that only the clock change can refuse the time."""
    from tests.factories import make_clinic

    clinic = make_clinic(time_zone="Europe/London", opens=time(0), closes=time(23, 59))
    with time_machine.travel(clinic.at(day - timedelta(days=3), 9), tick=False):
        client.force_login(clinic.front_desk.user)
        course = make_course(clinic)
        appointment = book(clinic, course, clinic.at(day - timedelta(days=1), 10))
        moved = client.post(f"/admin/scheduling/appointment/{appointment.pk}/move/", {
            "day": day.isoformat(), "at": at, "version": appointment.version})
        added = client.post("/admin/scheduling/appointment/add/", {
            "course": course.pk, "day": day.isoformat(), "at": at, "clinician": clinic.clinician.pk,
            "room": clinic.room.pk, "device": clinic.device.pk})
    for page in (moved, added):
        assert page.status_code == 200
        assert message in page.content.decode(), re.findall(r"errorlist[^>]*>(.*?)</ul>", page.content.decode())
    assert list(Appointment.objects.filter(course=course).values_list("starts_at", flat=True)) == [
        appointment.starts_at]
