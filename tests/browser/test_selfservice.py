"""Patients help themselves, from the email they received (issue #22): real Chromium, the real SMTP server
and real Celery workers send the emails (``mailbox``), the live server answers the links.

The workers write links to https://clinic.example.org; the test opens them on the live server.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import time_machine
from django.utils import timezone

from patients.models import AuditAction, AuditEvent
from scheduling.booking.courses import course_book
from scheduling.booking.selectors import appointment_late_cancellation_message
from scheduling.desk.selectors import day_schedule_url
from scheduling.models import ACTIVE_STATUSES, Appointment
from scheduling.records.services import session_record_create
from scheduling.reminders.emails import local_time_text
from tests.browser_support import login, screenshot
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.test_tasks import beat_and_wait

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse 42"
PUBLIC = "https://clinic.example.org"


def texts(mailbox, subject_start: str) -> list[str]:
    return [message.get_body(preferencelist=("plain",)).get_content() for message in mailbox.handler.messages()
            if message["Subject"].startswith(subject_start)]


def on_live(url: str, live_server) -> str:
    assert url.startswith(PUBLIC)
    return live_server.url + url[len(PUBLIC):]


def test_patient_moves_a_session_from_the_email_and_the_desk_sees_it(page, live_server, mailbox):
    clinic = make_clinic(name="Moor Clinic")
    course = make_course(clinic, make_patient(clinic, first_name="Robin"), planned_sessions=6)
    course_book(course=course, booked_by=clinic.front_desk.user, first_date=next_weekday(0))
    beat_and_wait()
    [text] = texts(mailbox, "Your sessions at Moor Clinic are booked")
    moves = re.findall(r"Choose another time: (\S+)", text)
    assert len(moves) == 6
    first = Appointment.objects.filter(course=course).order_by("starts_at").first()

    page.goto(on_live(moves[0], live_server))
    assert page.locator("h1").inner_text() == "Choose another time"
    assert local_time_text(first) in page.locator("#session").inner_text()
    assert "call us on +44 20 7946 0000" in page.locator("#none-suit").inner_text()
    assert "/waitlist/join/" in page.locator("#waitlist-join").get_attribute("href")
    choice = page.locator("input[name=time]").nth(2)
    chosen = int(choice.get_attribute("value"))
    choice.check()
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Move your session?"
    assert page.locator("#old-time").inner_text() == local_time_text(first)
    first.refresh_from_db()
    assert first.moved_by_patient_at is None  # the first step only asks
    screenshot(page, "selfservice-move-confirm")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Your session has moved"

    first.refresh_from_db()
    assert int(first.starts_at.timestamp()) == chosen
    assert first.moved_by_patient_at is not None
    change = AuditEvent.objects.get(object_type="appointment", object_id=str(first.pk), action=AuditAction.UPDATE)
    assert (change.actor_id, change.actor_label) == (None, "patient link")
    beat_and_wait()
    assert len(texts(mailbox, "Your session at Moor Clinic has moved to")) == 1

    login(page, live_server, clinic.front_desk.user.username, PASSWORD)
    page.goto(live_server.url + day_schedule_url(location_id=clinic.location.pk, day=first.local_date))
    card = page.locator("a.card", has_text=str(first.patient.last_name))
    assert "moved by the patient" in card.inner_text()
    screenshot(page, "selfservice-day-schedule-moved")


def test_patient_books_the_rest_of_the_course_from_the_follow_up_email(page, live_server, mailbox):
    clinic = make_clinic(name="Fell Clinic")
    course = make_course(clinic, make_patient(clinic, first_name="Sam"), planned_sessions=6)
    first = book(clinic, course, clinic.at(next_weekday(0), 9))
    done_at = first.starts_at + timedelta(minutes=40)
    with time_machine.travel(done_at, tick=False):
        session_record_create(appointment=first, recorded_by=clinic.clinician.user, minutes_of_current=20,
                              sites=[{"site": "palms", "current_ma": 12}], hdss=3)
    beat_and_wait(done_at + timedelta(minutes=1))
    [text] = texts(mailbox, "Book your next sessions at Fell Clinic")
    link = re.search(r"Book your remaining sessions online: (\S+)", text).group(1)

    with time_machine.travel(done_at + timedelta(hours=2), tick=True):
        page.goto(on_live(link, live_server))
        assert page.locator("h1").inner_text() == "Book your remaining sessions"
        page.check("input[name=weekdays][value='1']")
        page.check("input[name=weekdays][value='3']")
        page.fill("input[name=earliest]", "14:00")
        page.fill("input[name=latest]", "18:00")
        page.click("#wishes button[type=submit]")
        assert page.locator("#plan li").count() == 5
        assert all(re.match(r"(Tuesday|Thursday) .* 1[4-7]:\d\d ", line)
                   for line in page.locator("#plan li").all_inner_texts())
        assert Appointment.objects.filter(course=course).count() == 1  # the plan is only shown
        screenshot(page, "selfservice-book-rest-plan")
        page.click("#book button[type=submit]")
        assert page.locator("h1").inner_text() == "Your sessions are booked"

    booked = Appointment.objects.filter(course=course, status__in=ACTIVE_STATUSES).exclude(pk=first.pk)
    assert booked.count() == 5 and {session.booked_by_id for session in booked} == {None}
    assert {f"{clinic.location.local(session.starts_at):%A}" for session in booked} == {"Tuesday", "Thursday"}
    assert AuditEvent.objects.filter(object_type="appointment", action=AuditAction.CREATE,
                                     actor_label="patient link").count() == 5
    beat_and_wait(done_at + timedelta(hours=2, minutes=1))
    assert len(texts(mailbox, "Your sessions at Fell Clinic are booked")) == 1
    page.goto(on_live(link, live_server))
    assert page.locator("h1").inner_text() == "Link not usable"


def test_a_late_change_from_the_email_gets_the_call_us_page(page, live_server, mailbox):
    clinic = make_clinic(name="Tarn Clinic", late_cancellation_hours=48)
    tomorrow = timezone.localdate() + timedelta(days=1)
    session = book(clinic, make_course(clinic), clinic.location.at(tomorrow, time(10)))
    beat_and_wait()
    [text] = texts(mailbox, "Your session at Tarn Clinic is booked")
    move = re.search(r"Choose another time: (\S+)", text).group(1)
    page.goto(on_live(move, live_server))
    assert page.locator("h1").inner_text() == "Please call us"
    assert page.locator("#message").inner_text() == appointment_late_cancellation_message(appointment=session)
    assert page.locator("input[name=time]").count() == 0
    session.refresh_from_db()
    assert session.version == 1
