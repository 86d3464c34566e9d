"""The patient's link pages in a real browser (Chromium): the email's link asks, then acts on a click."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from scheduling.models import AppointmentStatus, CancelledBy
from scheduling.reminders.outbox import notification_claim_due
from scheduling.reminders.sending import notification_send
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.test_notifications import mail  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_patient_confirms_and_cancels_from_the_email_in_a_browser(page, live_server, mail, settings):  # noqa: F811
    settings.IONTO_PUBLIC_URL = live_server.url
    clinic = make_clinic(name="Bridge Clinic")
    course = make_course(clinic, make_patient(clinic, first_name="Kim"))
    first = book(clinic, course, clinic.at(next_weekday(0), 9))
    second = book(clinic, course, clinic.at(next_weekday(2), 9))
    now = timezone.now()
    for pk in notification_claim_due(now=now):
        notification_send(notification_id=pk, claimed_at=now)
    texts = [message.get_body(preferencelist=("plain",)).get_content() for message in mail.messages()]
    assert len(texts) == 2
    confirm = re.search(r"Confirm you will come: (\S+)", texts[0]).group(1)
    cancel = re.search(r"Cancel: (\S+)", texts[1]).group(1)

    page.goto(confirm)
    assert page.locator("h1").inner_text() == "Confirm your session"
    first.refresh_from_db()
    assert first.confirmed_at is None  # opening the link (as a mail scanner would) changes nothing
    page.click("button[type=submit]")
    assert page.locator("#message").inner_text() == "Your session is confirmed. We look forward to seeing you."
    first.refresh_from_db()
    assert first.confirmed_via == "email link"

    page.goto(cancel)
    assert page.locator("h1").inner_text() == "Cancel your session"
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Session cancelled"
    second.refresh_from_db()
    assert (second.status, second.cancelled_by) == (AppointmentStatus.CANCELLED, CancelledBy.PATIENT)
    page.goto(cancel)
    assert page.locator("h1").inner_text() == "Link not usable"
