"""The waitlist's rules: which freed time goes to whom, when an offer ends, who gets the time."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.errors import ConflictError
from patients import services as patient_services
from scheduling.booking.services import appointment_cancel, appointment_reschedule
from scheduling.models import AppointmentStatus, CancelledBy, Notification, NotificationKind
from scheduling.waitlist.models import (
    WaitlistEntryStatus,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistSlot,
    WaitlistSlotStatus,
)
from scheduling.waitlist.services import (
    waitlist_entry_cancel,
    waitlist_entry_create,
    waitlist_offer_accept,
    waitlist_offer_by_hand,
    waitlist_offers_expire,
    waitlist_offers_write,
)
from tests.factories import NO_CONTRAINDICATIONS, book, make_clinic, make_course, next_weekday
from tests.waitlist.support import waiting

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return make_clinic(name="Weir Clinic")


@pytest.fixture
def monday():
    return next_weekday(0)


def cancel(clinic, appointment):
    return appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user, by=CancelledBy.PATIENT,
                              reason="Cannot come.")


def freed_monday_ten(clinic, monday):
    """Another patient's session on Monday 10:00, cancelled: the time is free again."""
    other = book(clinic, make_course(clinic), clinic.at(monday, 10))
    cancel(clinic, other)
    return other


def test_a_freed_time_is_offered_at_once_to_every_entry_it_fits_and_to_no_other(clinic, monday):
    later = monday + timedelta(weeks=1)
    fits = [waiting(clinic, booked_on=later + timedelta(days=day)) for day in range(2)]
    wrong_day = waiting(clinic, booked_on=later + timedelta(days=2), weekdays=(1, 2))
    wrong_hours = waiting(clinic, booked_on=later + timedelta(days=3), earliest=time(14), latest=time(18))
    too_late = waiting(clinic, booked_on=later + timedelta(days=4), until=monday - timedelta(days=1))
    freed_monday_ten(clinic, monday)
    assert WaitlistSlot.objects.filter(matched_at__isnull=True).count() == 1

    with time_machine.travel(timezone.now(), tick=False):
        now = timezone.now()
        assert waitlist_offers_write(now=now) == 2

    offers = WaitlistOffer.objects.order_by("entry_id")
    assert [offer.entry_id for offer in offers] == [entry.pk for entry in fits]
    assert {offer.expires_at for offer in offers} == {now + timedelta(minutes=120)}  # the location's default
    for offer in offers:
        assert offer.notification.kind == NotificationKind.WAITLIST_OFFER
        assert offer.notification.patient_id == offer.entry.patient_id
        assert offer.notification.appointment_id == offer.entry.appointment_id
        assert offer.entry.status == WaitlistEntryStatus.OFFERED
    for left_out in (wrong_day, wrong_hours, too_late):
        left_out.refresh_from_db()
        assert left_out.status == WaitlistEntryStatus.WAITING
    assert waitlist_offers_write(now=timezone.now()) == 0  # a second beat offers nothing twice


def test_the_first_to_accept_gets_the_time_through_the_booking_service_and_the_other_is_told(clinic, monday):
    later = monday + timedelta(weeks=1)
    first, second = (waiting(clinic, booked_on=later + timedelta(days=day)) for day in range(2))
    freed_monday_ten(clinic, monday)
    waitlist_offers_write(now=timezone.now())
    mine, theirs = (WaitlistOffer.objects.get(entry=entry) for entry in (second, first))

    accepted = waitlist_offer_accept(offer=mine)

    moved = accepted.appointment
    assert moved.pk == second.appointment_id
    assert (moved.starts_at, moved.status, moved.version) == (clinic.at(monday, 10), AppointmentStatus.BOOKED, 2)
    assert Notification.objects.filter(appointment=moved, kind=NotificationKind.RESCHEDULED).count() == 1
    with pytest.raises(ConflictError) as taken:
        waitlist_offer_accept(offer=theirs)
    assert taken.value.messages == ["Sorry, this time has been taken by another patient."]
    theirs.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert theirs.status == WaitlistOfferStatus.TAKEN
    assert (first.status, second.status) == (WaitlistEntryStatus.WAITING, WaitlistEntryStatus.FULFILLED)
    assert WaitlistSlot.objects.get(pk=mine.slot_id).status == WaitlistSlotStatus.TAKEN
    # The moved session's old time is freed in turn, for whoever still waits.
    assert WaitlistSlot.objects.filter(freed_from=moved, starts_at=clinic.at(later + timedelta(days=1), 10)).exists()


def test_an_entry_for_the_next_unbooked_session_books_a_new_one_with_the_patient_as_booker(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(days=1), weekdays=(0,), move=False,
                    until=monday + timedelta(days=7))
    freed_monday_ten(clinic, monday)
    waitlist_offers_write(now=timezone.now())
    offer = waitlist_offer_accept(offer=WaitlistOffer.objects.get(entry=entry))
    assert offer.appointment.course_id == entry.course_id
    assert offer.appointment.booked_by is None
    assert entry.course.appointments.filter(status=AppointmentStatus.BOOKED).count() == 2


def test_an_offer_expires_after_the_locations_minutes_and_cannot_be_taken(clinic, monday):
    clinic.location.waitlist_offer_minutes = 30
    clinic.location.save()
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1))
    freed_monday_ten(clinic, monday)
    now = timezone.now()
    waitlist_offers_write(now=now)
    offer = WaitlistOffer.objects.get(entry=entry)
    assert now + timedelta(minutes=29) < offer.expires_at <= timezone.now() + timedelta(minutes=30)
    with time_machine.travel(offer.expires_at + timedelta(seconds=1), tick=False):
        with pytest.raises(ValidationError) as expired:
            waitlist_offer_accept(offer=offer)
        assert expired.value.messages == [
            "Sorry, this offer has expired. You stay on the waitlist until the day you gave."]
        assert waitlist_offers_expire(now=timezone.now()) == 1
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert (offer.status, entry.status) == (WaitlistOfferStatus.EXPIRED, WaitlistEntryStatus.WAITING)
    assert WaitlistSlot.objects.get(pk=offer.slot_id).status == WaitlistSlotStatus.CLOSED
    assert entry.appointment.starts_at == clinic.at(monday + timedelta(weeks=1), 10)


def test_an_offer_never_runs_into_the_late_change_window_before_the_time(clinic):
    tomorrow = timezone.localdate() + timedelta(days=1)  # a Tuesday; the late window is 24 hours
    entry = waiting(clinic, booked_on=tomorrow + timedelta(days=7), weekdays=(1,), until=tomorrow + timedelta(days=1))
    near = book(clinic, make_course(clinic), clinic.at(tomorrow, 10))  # 26 hours ahead (London = UTC in December)
    cancel(clinic, near)
    waitlist_offers_write(now=timezone.now())
    offer = WaitlistOffer.objects.get(entry=entry)
    assert offer.expires_at == clinic.at(tomorrow, 10) - timedelta(hours=24)  # not the 2 hours of the setting

    inside = book(clinic, make_course(clinic), clinic.at(tomorrow, 9))  # 25 hours ahead
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=30), tick=False):
        cancel(clinic, inside)
        assert waitlist_offers_write(now=timezone.now()) == 0
    assert WaitlistSlot.objects.get(freed_from=inside).status == WaitlistSlotStatus.CLOSED


def test_a_patient_whose_screening_blocks_booking_cannot_join_and_is_never_offered(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1))
    patient_services.screening_record(patient=entry.patient, recorded_by=clinic.clinician.user,
                                      answers={**NO_CONTRAINDICATIONS, "metal_implants": True})
    freed_monday_ten(clinic, monday)
    assert waitlist_offers_write(now=timezone.now()) == 0
    entry.refresh_from_db()
    assert entry.status == WaitlistEntryStatus.WAITING
    waitlist_entry_cancel(entry=entry, cancelled_by=clinic.front_desk.user)
    with pytest.raises(ValidationError) as refused:
        waitlist_entry_create(course=entry.course, appointment=entry.appointment, weekdays=[0], earliest=time(8),
                              latest=time(18), until=monday, created_by=None)
    assert refused.value.message_dict == {"patient": [
        "The screening found a contraindication; a clinician must review the screening and record an override "
        "before booking."]}


def test_the_course_rules_come_from_the_slot_engine_one_session_a_day(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1), move=False, until=monday + timedelta(days=1))
    book(clinic, entry.course, clinic.at(monday, 15))  # the course has a session that Monday already
    freed_monday_ten(clinic, monday)
    assert waitlist_offers_write(now=timezone.now()) == 0


def test_the_patients_own_freed_time_and_a_later_time_are_not_offered(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(days=1), until=monday + timedelta(days=7), weekdays=(0, 1))
    appointment_reschedule(appointment=entry.appointment, starts_at=clinic.at(monday + timedelta(days=1), 12),
                           rescheduled_by=clinic.front_desk.user)
    assert waitlist_offers_write(now=timezone.now()) == 0  # 10:00 that Tuesday was the patient's own
    later = book(clinic, make_course(clinic), clinic.at(monday + timedelta(days=1), 16))
    cancel(clinic, later)
    assert waitlist_offers_write(now=timezone.now()) == 0  # not earlier than the session to move


def test_the_desk_offers_a_time_by_hand_within_the_course_rules(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1), weekdays=(3,))
    offer = waitlist_offer_by_hand(entry=entry, starts_at=clinic.at(monday, 11), clinician=clinic.clinician,
                                   room=clinic.room, device=clinic.device, offered_by=clinic.front_desk.user)
    assert offer.slot.offered_by_id == clinic.front_desk.user.pk
    assert offer.notification.kind == NotificationKind.WAITLIST_OFFER
    busy = book(clinic, make_course(clinic), clinic.at(monday, 14))
    with pytest.raises(ValidationError) as refused:
        waitlist_offer_by_hand(entry=entry, starts_at=busy.starts_at, clinician=clinic.clinician, room=clinic.room,
                               device=clinic.device, offered_by=clinic.front_desk.user)
    assert refused.value.message_dict == {"starts_at": ["The course's rules or the calendar do not allow this time."]}


def test_entries_refuse_impossible_wishes_and_a_second_open_entry(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1))
    with pytest.raises(ValidationError) as refused:
        waitlist_entry_create(course=entry.course, weekdays=[], earliest=time(12), latest=time(9),
                              until=monday - timedelta(weeks=2), created_by=None)
    assert set(refused.value.message_dict) == {"weekdays", "latest", "until"}
    with pytest.raises(ConflictError):
        waitlist_entry_create(course=entry.course, weekdays=[0], earliest=time(8), latest=time(9),
                              until=monday, created_by=None)


def test_entries_past_their_last_day_expire(clinic, monday):
    entry = waiting(clinic, booked_on=monday + timedelta(weeks=1), until=monday)
    with time_machine.travel(clinic.at(monday + timedelta(days=1), 1), tick=False):
        waitlist_offers_expire(now=timezone.now())
    entry.refresh_from_db()
    assert entry.status == WaitlistEntryStatus.EXPIRED


def test_no_freed_time_is_recorded_when_nobody_waits(clinic, monday):
    freed_monday_ten(clinic, monday)
    assert not WaitlistSlot.objects.exists()
