"""The waitlist's patient pages: join from a session's link, take an offer; what an email says."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from patients.models import AuditEvent
from scheduling.booking.services import appointment_cancel, appointment_reschedule
from scheduling.models import CancelledBy, Notification, NotificationKind
from scheduling.reminders.emails import LINK_SALT, email_build, patient_link_token, waitlist_offer_url
from scheduling.waitlist.models import WaitlistEntry, WaitlistEntryStatus, WaitlistOffer
from scheduling.waitlist.selectors import waitlist_join_url
from scheduling.waitlist.services import waitlist_offer_accept, waitlist_offers_write
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.waitlist.support import waiting

pytestmark = pytest.mark.django_db

NOT_VALID = "This link is not valid. Please check that you copied all of it."


@pytest.fixture
def clinic():
    return make_clinic(name="Ford Clinic")


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_a_patient_joins_the_waitlist_from_the_join_link(client, clinic):
    course = make_course(clinic, make_patient(clinic, first_name="Ada"))
    session = book(clinic, course, clinic.at(next_weekday(3, weeks_ahead=2), 10))
    url = path_of(waitlist_join_url(appointment=session))
    assert "/waitlist/join/" in url

    shown = client.get(url)
    assert shown.status_code == 200
    assert b"Ask for an earlier time" in shown.content
    assert not WaitlistEntry.objects.exists()  # GET only shows

    refused = client.post(url, {"weekdays": ["1"], "earliest": "12:00", "latest": "09:00", "until": ""})
    assert refused.status_code == 400
    assert b"Give the last day." in refused.content
    until = (timezone.localdate() + timedelta(days=9)).isoformat()
    done = client.post(url, {"weekdays": ["0", "2"], "earliest": "09:00", "latest": "13:00", "until": until})
    assert done.status_code == 200
    assert b"You are on the waitlist" in done.content
    entry = WaitlistEntry.objects.get()
    assert (entry.appointment_id, entry.weekdays, entry.earliest, entry.latest, entry.created_by_id) == (
        session.pk, [0, 2], time(9), time(13), None)
    assert entry.status == WaitlistEntryStatus.WAITING
    assert AuditEvent.objects.filter(object_type="waitlistentry", actor__isnull=True).count() == 1
    again = client.get(url)
    assert b"You are already on our waitlist" in again.content
    for clinical in (b"yperhidrosis", b"palms", b"Palms"):
        assert clinical not in shown.content + done.content


def test_a_join_link_stops_working_after_the_session_changes(client, clinic):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(3, weeks_ahead=2), 10))
    url = path_of(waitlist_join_url(appointment=session))
    appointment_reschedule(appointment=session, starts_at=session.starts_at + timedelta(hours=2),
                           rescheduled_by=clinic.front_desk.user)
    assert client.get(url).status_code == 410


def test_unknown_forged_and_other_purpose_links_get_the_same_answer(client, clinic):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(3), 10))
    unknown_join = signing.dumps({"a": 999999, "v": 1, "k": "waitlist-join"}, salt=LINK_SALT)
    confirm_token = patient_link_token(appointment=session, action="confirm")  # a link for another purpose
    unknown_offer = path_of(waitlist_offer_url(offer_id=999999))
    answers = [client.get(reverse("patient:waitlist-join", args=[token]))
               for token in (unknown_join, confirm_token, "forged")]
    answers += [client.get(unknown_offer), client.get(reverse("patient:waitlist-offer", args=["forged"])),
                client.post(unknown_offer)]
    assert {(answer.status_code, NOT_VALID in answer.content.decode()) for answer in answers} == {(400, True)}


def test_the_offer_email_names_the_time_and_the_link_and_nothing_clinical(clinic):
    monday = next_weekday(0)
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1), first_name="Noor")
    freed = book(clinic, make_course(clinic), clinic.at(monday, 10))
    appointment_cancel(appointment=freed, recorded_by=None, by=CancelledBy.PATIENT, reason="Away.")
    waitlist_offers_write(now=timezone.now())
    row = Notification.objects.get(kind=NotificationKind.WAITLIST_OFFER)
    message = email_build(notification=row, appointments=[])
    text = message.body
    assert message.subject == f"An earlier time at Ford Clinic: Mon {monday.day} {monday:%b} 10:00"
    assert message.to == [entry.patient.email]
    assert "Dear Noor" in text
    assert f"{monday:%A} {monday.day} {monday:%B %Y}, 10:00 GMT (Europe/London)" in text
    assert re.search(r"Take this time: https?://\S+/waitlist/offer/\S+/", text)
    assert "This offer ends" in text
    assert not message.attachments  # no calendar invite for a time not yet taken
    for clinical in ("yperhidrosis", "palms", "dexamethasone"):
        assert clinical not in text


def test_the_offer_page_asks_then_books_and_the_other_patient_reads_taken_with_their_next_offer(client, clinic):
    monday = next_weekday(0)
    first, second = (waiting(clinic, booked_on=monday + timedelta(weeks=1, days=day), weekdays=(0, 1))
                     for day in range(2))
    for day in (0, 1):
        freed = book(clinic, make_course(clinic), clinic.at(monday + timedelta(days=day), 10))
        appointment_cancel(appointment=freed, recorded_by=None, by=CancelledBy.PATIENT, reason="Away.")
    waitlist_offers_write(now=timezone.now())
    monday_offer, tuesday_offer = (WaitlistOffer.objects.get(entry=second, slot__starts_at=clinic.at(
        monday + timedelta(days=day), 10)) for day in (0, 1))
    first_monday = WaitlistOffer.objects.get(entry=first, slot=monday_offer.slot)
    mine = path_of(waitlist_offer_url(offer_id=first_monday.pk))

    shown = client.get(mine)
    assert shown.status_code == 200
    assert b"Take this time" in shown.content
    first.refresh_from_db()
    assert first.status == WaitlistEntryStatus.OFFERED  # GET took nothing
    assert client.post(mine).status_code == 200
    first.refresh_from_db()
    assert first.status == WaitlistEntryStatus.FULFILLED
    first_tuesday = WaitlistOffer.objects.get(entry=first, slot=tuesday_offer.slot)
    withdrawn = client.get(path_of(waitlist_offer_url(offer_id=first_tuesday.pk)))
    assert (withdrawn.status_code, "Offer withdrawn" in withdrawn.content.decode()) == (410, True)

    theirs = client.post(path_of(waitlist_offer_url(offer_id=monday_offer.pk)))
    assert theirs.status_code == 409
    page = theirs.content.decode()
    assert "This time has been taken" in page
    assert path_of(waitlist_offer_url(offer_id=tuesday_offer.pk)) in page  # their next offer
    waitlist_offer_accept(offer=tuesday_offer)
    assert b"This time is yours" in client.get(path_of(waitlist_offer_url(offer_id=tuesday_offer.pk))).content


def test_an_expired_offer_page_says_so_and_books_nothing(client, clinic):
    monday = next_weekday(0)
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1))
    freed = book(clinic, make_course(clinic), clinic.at(monday, 10))
    appointment_cancel(appointment=freed, recorded_by=None, by=CancelledBy.PATIENT, reason="Away.")
    waitlist_offers_write(now=timezone.now())
    offer = WaitlistOffer.objects.get(entry=entry)
    url = path_of(waitlist_offer_url(offer_id=offer.pk))
    with time_machine.travel(offer.expires_at + timedelta(seconds=1), tick=False):
        shown, taken = client.get(url), client.post(url)
    assert (shown.status_code, taken.status_code) == (410, 410)
    assert "Offer expired" in taken.content.decode()
    entry.appointment.refresh_from_db()
    assert entry.appointment.starts_at == clinic.at(monday + timedelta(weeks=1), 10)


def test_the_pages_are_rate_limited_per_address(client, clinic, settings):
    settings.IONTO_PATIENT_LINK_RATE = 2
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(3, weeks_ahead=2), 10))
    url = path_of(waitlist_join_url(appointment=session))
    answers = [client.get(url).status_code for _ in range(2)] + [client.get(url).status_code,
                                                                  client.get(path_of(waitlist_offer_url(offer_id=1)))
                                                                  .status_code]
    assert answers == [200, 200, 429, 429]
