"""Twenty patients take one offered time at the same moment: one gets it, nineteen are told, nothing overlaps."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduling.booking.services import appointment_cancel
from scheduling.models import AppointmentStatus, CancelledBy
from scheduling.reminders.emails import waitlist_offer_url
from scheduling.waitlist.models import WaitlistOffer, WaitlistOfferStatus
from scheduling.waitlist.services import waitlist_offers_write
from tests.factories import book, make_clinic, make_course, next_weekday
from tests.scheduling.test_concurrency import THREADS, overlapping_pairs, race
from tests.waitlist.support import waiting

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_patients_accepting_one_offer_at_once_give_one_booking_and_nineteen_taken(settings):
    settings.IONTO_PATIENT_LINK_RATE = 1000
    clinic = make_clinic(name="Race Clinic")
    monday = next_weekday(0)
    entries = [waiting(clinic, booked_on=monday + timedelta(weeks=1 + i // 5, days=i % 5),
                       until=monday + timedelta(days=6)) for i in range(THREADS)]
    freed = book(clinic, make_course(clinic), clinic.at(monday, 10))
    appointment_cancel(appointment=freed, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC,
                       reason="Clinician ill.")
    assert waitlist_offers_write(now=timezone.now()) == THREADS
    paths = [re.sub(r"^https?://[^/]+", "", waitlist_offer_url(offer_id=offer.pk))
             for offer in WaitlistOffer.objects.order_by("id")]

    def attempt(path):
        return lambda: Client(REMOTE_ADDR="203.0.113.9").post(path)

    answers = race([attempt(path) for path in paths])

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (THREADS - 1)
    taken = [answer for answer in answers if answer.status_code == 409]
    assert all(b"Sorry, this time has been taken by another patient." in answer.content for answer in taken)
    assert WaitlistOffer.objects.filter(status=WaitlistOfferStatus.ACCEPTED).count() == 1
    assert WaitlistOffer.objects.filter(status=WaitlistOfferStatus.TAKEN).count() == THREADS - 1
    at_ten = [entry.course.appointments.filter(starts_at=clinic.at(monday, 10), status=AppointmentStatus.BOOKED)
              .count() for entry in entries]
    assert sorted(at_ten) == [0] * (THREADS - 1) + [1]
    for field in ("clinician", "room", "device", "patient"):
        assert overlapping_pairs(field) == 0
