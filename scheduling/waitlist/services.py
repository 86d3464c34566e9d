"""Writes of the waitlist: joining and leaving it, offering freed times, taking an offer.

Policy (issue 22, DESIGN.md): a freed time is offered to every matching entry at once, by email; the first
patient to accept gets it through the booking service (``appointment_book`` or ``appointment_reschedule``),
and the others are told it has been taken. Accepting locks the freed time's row first, so simultaneous
accepts queue there and exactly one books. Offers expire after the location's ``waitlist_offer_minutes``,
and never later than the late-change window before the time.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.errors import ConflictError
from clinic.models import Device, Room, Staff
from clinic.transactions import retried_on_deadlock
from patients.models import AuditAction
from patients.services import audit_record
from scheduling.booking.rules import screening_check
from scheduling.booking.services import appointment_book, appointment_reschedule
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    Course,
    Notification,
    NotificationChannel,
    NotificationKind,
)
from scheduling.waitlist.models import (
    OPEN_ENTRY_STATUSES,
    WaitlistEntry,
    WaitlistEntryStatus,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistSlot,
    WaitlistSlotStatus,
)
from scheduling.waitlist.selectors import (
    EXPIRED_MESSAGE,
    TAKEN_MESSAGE,
    waitlist_anchor,
    waitlist_entries_matching,
    waitlist_offer_expires_at,
    waitlist_slot_fits,
)

SLOTS_PER_BEAT = 200
logger = logging.getLogger(__name__)


@transaction.atomic
def waitlist_entry_create(*, course: Course, weekdays: list[int], earliest: time, latest: time, until: date,
                          created_by, appointment: Appointment | None = None) -> WaitlistEntry:
    """Put a course on the waitlist: move ``appointment`` earlier, or (None) book its next unbooked session.
    ``created_by`` is the desk user, or None when the patient asks through their link."""
    course = Course.objects.select_for_update().select_related("patient", "location").get(pk=course.pk)
    errors = {}
    weekdays = sorted(set(weekdays))
    if not weekdays or any(not 0 <= day <= 6 for day in weekdays):
        errors["weekdays"] = "Choose at least one weekday."
    if earliest >= latest:
        errors["latest"] = "The latest time must be after the earliest."
    if until < course.location.local(timezone.now()).date():
        errors["until"] = "That day has passed."
    if not course.is_open:
        errors["course"] = f"This course is {course.get_status_display().lower()}."
    if appointment is not None and (appointment.course_id != course.pk or appointment.status != AppointmentStatus.BOOKED
                                    or appointment.starts_at <= timezone.now()):
        errors["appointment"] = "Only an upcoming booked session of this course can be moved earlier."
    if errors:
        raise ValidationError(errors)
    screening_check(course)  # a patient whose screening blocks booking cannot join
    if waitlist_anchor(course_id=course.pk, appointment_id=appointment.pk if appointment else None) is None:
        raise ValidationError({"course": "Book the course's first session before putting it on the waitlist."})
    entry = WaitlistEntry(patient=course.patient, course=course, appointment=appointment, location=course.location,
                          weekdays=weekdays, earliest=earliest, latest=latest, until=until, created_by=created_by)
    entry.full_clean(exclude=["patient", "course", "appointment", "location", "created_by"], validate_constraints=False)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as error:
        raise ConflictError("This course is already on the waitlist.", code="waitlist_duplicate") from error
    audit_record(actor=created_by, action=AuditAction.CREATE, patient=course.patient, obj=entry)
    return entry


def _entry_back_to_waiting(entry_ids) -> None:
    """Entries whose last open offer ended wait again."""
    (WaitlistEntry.objects.filter(pk__in=list(entry_ids), status=WaitlistEntryStatus.OFFERED)
     .exclude(offers__status=WaitlistOfferStatus.OFFERED)
     .update(status=WaitlistEntryStatus.WAITING, updated_at=timezone.now()))


@transaction.atomic
def waitlist_entry_cancel(*, entry: WaitlistEntry, cancelled_by) -> WaitlistEntry:
    """Take an entry off the waitlist; its open offers are withdrawn."""
    entry = WaitlistEntry.objects.select_for_update().select_related("patient").get(pk=entry.pk)
    if not entry.is_open:
        raise ValidationError(f"This entry is {entry.get_status_display().lower()}; it cannot be cancelled.")
    entry.offers.filter(status=WaitlistOfferStatus.OFFERED).update(
        status=WaitlistOfferStatus.WITHDRAWN, answered_at=timezone.now(), updated_at=timezone.now())
    entry.status = WaitlistEntryStatus.CANCELLED
    entry.save(update_fields=["status", "updated_at"])
    audit_record(actor=cancelled_by, action=AuditAction.UPDATE, patient=entry.patient, obj=entry,
                 changes={"status": ("open", WaitlistEntryStatus.CANCELLED)})
    return entry


def _offer(slot: WaitlistSlot, entry: WaitlistEntry, expires_at: datetime, now: datetime) -> WaitlistOffer:
    """One offer and its email in the outbox (hung on the session to move, or the course's latest)."""
    anchor = waitlist_anchor(course_id=entry.course_id, appointment_id=entry.appointment_id)
    notification = Notification.objects.create(
        kind=NotificationKind.WAITLIST_OFFER, channel=NotificationChannel.EMAIL, patient_id=entry.patient_id,
        course_id=entry.course_id, appointment=anchor, appointment_version=anchor.version, due_at=now)
    offer = WaitlistOffer.objects.create(slot=slot, entry=entry, expires_at=expires_at, notification=notification)
    if entry.status == WaitlistEntryStatus.WAITING:
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntryStatus.OFFERED, updated_at=now)
    return offer


def waitlist_slot_match(*, slot: WaitlistSlot, now: datetime) -> list[WaitlistOffer]:
    """Offer a freed time to every entry it fits (the caller holds the slot's lock). A time already inside
    the late-change window, or that fits nobody, is closed."""
    expires_at = waitlist_offer_expires_at(slot=slot, now=now)
    offers = []
    if expires_at > now:
        offers = [_offer(slot, entry, expires_at, now) for entry in waitlist_entries_matching(slot=slot, now=now)]
    slot.matched_at = now
    slot.status = WaitlistSlotStatus.OPEN if offers else WaitlistSlotStatus.CLOSED
    slot.save(update_fields=["matched_at", "status", "updated_at"])
    return offers


@retried_on_deadlock
def waitlist_offers_expire(*, now: datetime) -> int:
    """Offers past their time expire (their entries wait again); entries past their last day expire; freed
    times with no open offer left close."""
    with transaction.atomic():
        expired = list(WaitlistOffer.objects.select_for_update(skip_locked=True)
                       .filter(status=WaitlistOfferStatus.OFFERED, expires_at__lte=now).values_list("pk", "entry_id"))
        WaitlistOffer.objects.filter(pk__in=[pk for pk, _ in expired]).update(
            status=WaitlistOfferStatus.EXPIRED, updated_at=now)
        _entry_back_to_waiting({entry_id for _, entry_id in expired})
        (WaitlistSlot.objects.filter(status=WaitlistSlotStatus.OPEN, matched_at__isnull=False)
         .exclude(offers__status=WaitlistOfferStatus.OFFERED).update(status=WaitlistSlotStatus.CLOSED, updated_at=now))
        past = [entry.pk for entry in WaitlistEntry.objects.filter(status__in=OPEN_ENTRY_STATUSES,
                                                                   until__lt=now.date()).select_related("location")
                if entry.until < entry.location.local(now).date()]
        WaitlistEntry.objects.filter(pk__in=past).update(status=WaitlistEntryStatus.EXPIRED, updated_at=now)
    return len(expired)


def waitlist_offers_write(*, now: datetime) -> int:
    """The beat's part: expire what is due, then offer every freed time not matched yet (each in its own
    transaction, skipping one another beat holds). Returns the number of offers written.

    Offers are dated by the clock (never before it, should a caller pass an earlier ``now``). A freed time
    whose matching fails is logged and closed, so it cannot stop the beat's reminders after it."""
    now = max(now, timezone.now())
    waitlist_offers_expire(now=now)
    written = 0
    for _ in range(SLOTS_PER_BEAT):
        slot_id = None
        try:
            with transaction.atomic():
                slot = (WaitlistSlot.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related("location", "clinician__user", "room", "device", "freed_from")
                        .filter(matched_at__isnull=True).order_by("created_at", "id").first())
                if slot is None:
                    return written
                slot_id = slot.pk
                written += len(waitlist_slot_match(slot=slot, now=now))
        except Exception:
            if slot_id is None:
                raise
            logger.exception("waitlist: the freed time %s could not be offered; it is closed", slot_id)
            WaitlistSlot.objects.filter(pk=slot_id).update(matched_at=now, status=WaitlistSlotStatus.CLOSED,
                                                           updated_at=now)
    return written


@transaction.atomic
def waitlist_offer_by_hand(*, entry: WaitlistEntry, starts_at: datetime, clinician: Staff, room: Room,
                           device: Device, offered_by) -> WaitlistOffer:
    """The desk offers a time to one entry (outside the patient's stated wishes if need be, never outside the
    course's rules); the patient accepts by the same email and page."""
    entry = (WaitlistEntry.objects.select_for_update(of=("self",))
             .select_related("course__patient", "course__location", "patient", "appointment", "location")
             .get(pk=entry.pk))
    now = timezone.now()
    slot = WaitlistSlot(location=entry.location, starts_at=starts_at,
                        ends_at=starts_at + timedelta(minutes=entry.course.session_minutes),
                        clinician=clinician, room=room, device=device, offered_by=offered_by, matched_at=now)
    if timezone.is_naive(starts_at):
        raise ValidationError({"starts_at": "Give the time with its time zone."})
    refusal = waitlist_slot_fits(slot=slot, entry=entry, now=now, by_hand=True)
    if refusal is not None:
        raise ValidationError({"starts_at": refusal})
    expires_at = waitlist_offer_expires_at(slot=slot, now=now)
    if expires_at <= now:
        raise ValidationError({"starts_at": "This time is inside the late-change window: call the patient instead."})
    slot.save()
    offer = _offer(slot, entry, expires_at, now)
    audit_record(actor=offered_by, action=AuditAction.CREATE, patient=entry.patient, obj=offer)
    return offer


@retried_on_deadlock
@transaction.atomic
def waitlist_offer_accept(*, offer: WaitlistOffer) -> WaitlistOffer:
    """The patient takes the offered time (``ConflictError`` when another patient took it first,
    ``ValidationError`` when the offer expired or the booking rules refuse it now). Simultaneous accepts of
    one time wait on its row's lock, so exactly one books."""
    slot = WaitlistSlot.objects.select_for_update().get(pk=offer.slot_id)
    offer = (WaitlistOffer.objects.select_for_update(of=("self",))
             .select_related("entry__course", "entry__appointment", "slot__location").get(pk=offer.pk))
    now = timezone.now()
    if offer.status == WaitlistOfferStatus.ACCEPTED:
        return offer
    if slot.status == WaitlistSlotStatus.TAKEN or offer.status == WaitlistOfferStatus.TAKEN:
        raise ConflictError(TAKEN_MESSAGE, code="waitlist_taken")
    if offer.status != WaitlistOfferStatus.OFFERED or offer.expires_at <= now or slot.status != WaitlistSlotStatus.OPEN:
        raise ValidationError(EXPIRED_MESSAGE, code="waitlist_expired")
    entry = WaitlistEntry.objects.select_for_update().get(pk=offer.entry_id)
    if not entry.is_open:
        raise ValidationError("You are no longer on the waitlist for this course.", code="waitlist_closed")
    try:
        if entry.appointment_id is not None:
            appointment = appointment_reschedule(appointment=offer.entry.appointment, starts_at=slot.starts_at,
                                                 rescheduled_by=None, clinician=slot.clinician, room=slot.room,
                                                 device=slot.device)
        else:
            appointment = appointment_book(course=offer.entry.course, clinician=slot.clinician, room=slot.room,
                                           device=slot.device, starts_at=slot.starts_at, booked_by=None)
    except ConflictError as error:
        if error.code in ("patient_busy", "patient_day_taken", "course_day_taken"):
            raise
        raise ConflictError(TAKEN_MESSAGE, code="waitlist_taken") from error
    offer.status, offer.answered_at, offer.appointment = WaitlistOfferStatus.ACCEPTED, now, appointment
    offer.save(update_fields=["status", "answered_at", "appointment", "updated_at"])
    # Only offers still running: those past their time are the beat's to expire (and it may hold them now).
    running = slot.offers.filter(status=WaitlistOfferStatus.OFFERED, expires_at__gt=now)
    others = list(running.values_list("entry_id", flat=True))
    running.update(status=WaitlistOfferStatus.TAKEN, answered_at=now, updated_at=now)
    entry.offers.filter(status=WaitlistOfferStatus.OFFERED).update(status=WaitlistOfferStatus.WITHDRAWN,
                                                                   answered_at=now, updated_at=now)
    entry.status = WaitlistEntryStatus.FULFILLED
    entry.save(update_fields=["status", "updated_at"])
    _entry_back_to_waiting(others)
    slot.status = WaitlistSlotStatus.TAKEN
    slot.save(update_fields=["status", "updated_at"])
    return offer
