"""The waitlist end to end: real Chromium, the real SMTP server and Celery workers, the beat.

A patient joins the waitlist from the join page; another patient's session is cancelled; the beat offers the
freed time; the patient opens the offer from the email received and takes it; the other waiting patient's
link then says the time has been taken.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest

from scheduling.booking.services import appointment_cancel
from scheduling.models import AppointmentStatus, CancelledBy
from scheduling.waitlist.models import WaitlistEntry
from scheduling.waitlist.selectors import waitlist_join_url
from scheduling.waitlist.services import waitlist_entry_create
from tests.browser_support import screenshot
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.test_tasks import beat_and_wait

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

PUBLIC = "https://clinic.example.org"  # the workers' IONTO_PUBLIC_URL (tests/delivery_support.py)


def offer_link(mailbox, email: str, live_url: str) -> str:
    for message in mailbox.handler.messages():
        if message["To"] == email and message["Subject"].startswith("An earlier time"):
            text = message.get_body(preferencelist=("plain",)).get_content()
            return re.search(r"Take this time: (\S+)", text).group(1).replace(PUBLIC, live_url)
    raise AssertionError(f"no offer email to {email}")


def test_a_patient_joins_gets_an_offer_after_a_cancellation_and_takes_it(page, live_server, mailbox, settings):
    settings.IONTO_PUBLIC_URL = live_server.url
    clinic = make_clinic(name="Lock Clinic")
    # The workers judge an offer on the real clock, the test on the suite's: a day's offer holds on both.
    clinic.location.waitlist_offer_minutes = 1440
    clinic.location.save()
    monday = next_weekday(0)
    ada = make_patient(clinic, first_name="Ada", email="ada@example.org")
    ada_session = book(clinic, make_course(clinic, ada), clinic.at(monday + timedelta(weeks=1, days=2), 10))
    ben_course = make_course(clinic, make_patient(clinic, first_name="Ben", email="ben@example.org"))
    book(clinic, ben_course, clinic.at(monday + timedelta(weeks=1, days=3), 10))
    waitlist_entry_create(course=ben_course, weekdays=[0], earliest=time(8), latest=time(18),
                          until=monday + timedelta(days=1), created_by=clinic.front_desk.user)

    page.goto(waitlist_join_url(appointment=ada_session))
    assert page.locator("h1").inner_text() == "Ask for an earlier time"
    for day in range(1, 5):
        page.uncheck(f"input[name=weekdays][value='{day}']")
    page.fill("input[name=earliest]", "09:00")
    page.fill("input[name=latest]", "12:00")
    page.fill("input[name=until]", (monday + timedelta(days=6)).isoformat())
    page.click("#waitlist-join button[type=submit]")
    assert page.locator("h1").inner_text() == "You are on the waitlist"
    assert WaitlistEntry.objects.get(patient=ada).weekdays == [0]

    freed = book(clinic, make_course(clinic), clinic.at(monday, 10))
    appointment_cancel(appointment=freed, recorded_by=clinic.front_desk.user, by=CancelledBy.PATIENT,
                       reason="Away that week.")
    beat_and_wait()
    mine = offer_link(mailbox, "ada@example.org", live_server.url)
    theirs = offer_link(mailbox, "ben@example.org", live_server.url)

    page.goto(mine)
    assert page.locator("h1").inner_text() == "An earlier time for you"
    screenshot(page, "waitlist-offer")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "This time is yours"
    ada_session.refresh_from_db()
    assert (ada_session.starts_at, ada_session.status) == (clinic.at(monday, 10), AppointmentStatus.BOOKED)

    page.goto(theirs)
    assert page.locator("h1").inner_text() == "This time has been taken"
    assert "Sorry, this time has been taken by another patient." in page.locator("#message").inner_text()
    assert ben_course.appointments.filter(status=AppointmentStatus.BOOKED).count() == 1
