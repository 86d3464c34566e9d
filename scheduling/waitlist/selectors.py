"""Reads of the waitlist: who sees which entries and offers, whether a freed time fits an entry (asked of the
slot engine, never a second copy of the booking rules), and what an offer's page shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from clinic.selectors import at_visible_locations
from scheduling.booking.selectors import slot_list_available
from scheduling.models import Appointment, AppointmentStatus
from scheduling.waitlist.models import (
    OPEN_ENTRY_STATUSES,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistSlot,
)

TAKEN_MESSAGE = "Sorry, this time has been taken by another patient."
EXPIRED_MESSAGE = "Sorry, this offer has expired. You stay on the waitlist until the day you gave."


def waitlist_entries_visible_to(*, user) -> QuerySet[WaitlistEntry]:
    """The entries at the user's locations; a manager sees every entry."""
    return at_visible_locations(WaitlistEntry.objects, user=user)


def waitlist_offers_visible_to(*, user) -> QuerySet[WaitlistOffer]:
    return at_visible_locations(WaitlistOffer.objects, user=user, field="slot__location_id")


def waitlist_join_url(*, appointment: Appointment) -> str:
    """The signed link of the page "Ask for an earlier time" for a booked session (bound to its version)."""
    from scheduling.reminders.emails import patient_link_url

    return patient_link_url(appointment=appointment, action="waitlist-join")


def waitlist_anchor(*, course_id: int, appointment_id: int | None) -> Appointment | None:
    """The session an offer's outbox row hangs on: the session to move, else the course's latest session."""
    if appointment_id is not None:
        return Appointment.objects.get(pk=appointment_id)
    return Appointment.objects.filter(course_id=course_id).order_by("-starts_at", "-id").first()


def waitlist_offer_expires_at(*, slot: WaitlistSlot, now: datetime) -> datetime:
    """The location's offer time from now, never later than the late-change window before the slot."""
    location = slot.location
    return min(now + timedelta(minutes=location.waitlist_offer_minutes),
               slot.starts_at - timedelta(hours=location.late_cancellation_hours))


def waitlist_slot_fits(*, slot: WaitlistSlot, entry: WaitlistEntry, now: datetime, by_hand: bool = False
                       ) -> str | None:
    """Why the freed time cannot go to this entry, or None when it can: the entry is open and (unless the
    desk offers it by hand) the time fits the patient's weekdays, hours and last day; a session to move is
    booked and later; and the slot engine finds the time bookable for the course with the same clinician,
    room and device (the course's rules, one session a day, the screening: what ``appointment_book`` and
    ``appointment_reschedule`` check)."""
    course = entry.course
    location = slot.location
    start = location.local(slot.starts_at)
    end = location.local(slot.starts_at + timedelta(minutes=course.session_minutes))
    if not entry.is_open:
        return "The entry is no longer waiting."
    if slot.freed_from_id is not None and entry.patient_id == slot.freed_from.patient_id:
        return "The time was the patient's own."
    if not by_hand:
        if start.date() > entry.until or start.date() < now.astimezone(location.zone).date():
            return "The day is past the patient's last day."
        if start.weekday() not in entry.weekdays:
            return "The weekday is not one the patient chose."
        if start.time() < entry.earliest or end.date() != start.date() or end.time() > entry.latest:
            return "The time of day is outside the patient's hours."
    moving = entry.appointment
    if moving is not None:
        if moving.status != AppointmentStatus.BOOKED:
            return "The session to move is no longer booked."
        if moving.starts_at <= slot.starts_at:
            return "The time is not earlier than the patient's session."
    if not entry.patient.email or not entry.patient.email_consent:
        return "The patient gets no email."
    try:
        slots = slot_list_available(location=location, start=start.date(), end=start.date() + timedelta(days=1),
                                    clinician=slot.clinician, room=slot.room, device=slot.device, course=course,
                                    moving=moving)
    except ValidationError as error:
        return " ".join(error.messages)
    if not any(found.starts_at == slot.starts_at for found in slots):
        return "The course's rules or the calendar do not allow this time."
    return None


def waitlist_entries_matching(*, slot: WaitlistSlot, now: datetime) -> list[WaitlistEntry]:
    """The open entries at the slot's location that the freed time fits, oldest first. The weekday and the
    last day are filtered in SQL; the rest (hours, course rules) per entry by ``waitlist_slot_fits``."""
    day = slot.location.local(slot.starts_at).date()
    candidates = (WaitlistEntry.objects.filter(location=slot.location_id, until__gte=day,
                                               weekdays__contains=[day.weekday()])
                  .filter(status__in=OPEN_ENTRY_STATUSES)
                  .exclude(offers__slot=slot)
                  .select_related("course__patient", "course__location", "patient", "appointment__location")
                  .order_by("created_at", "id"))
    return [entry for entry in candidates if waitlist_slot_fits(slot=slot, entry=entry, now=now) is None]


def waitlist_offers_open_for(*, entry: WaitlistEntry, now: datetime) -> list[WaitlistOffer]:
    """The entry's offers that can still be taken, soonest first: what a patient told "taken" may take next."""
    return list(WaitlistOffer.objects.filter(entry=entry, status=WaitlistOfferStatus.OFFERED, expires_at__gt=now,
                                             slot__status="open")
                .select_related("slot__location").order_by("slot__starts_at"))


def waitlist_offer_is_open(*, offer: WaitlistOffer, now: datetime) -> bool:
    """An offer whose email may still go out and whose link may still be used."""
    return offer.status == WaitlistOfferStatus.OFFERED and offer.expires_at > now and offer.slot.status == "open"
