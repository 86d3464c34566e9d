"""The booking services' one call when a session's time is freed (cancelled or moved away).

It only writes the freed time in the same transaction as its cause, so the time exists exactly when the
cancellation or the move committed; the beat (``waitlist_offers_write``) matches it against the waitlist
and writes the offers. This module imports no service, so the booking services can import it.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from scheduling.waitlist.models import OPEN_ENTRY_STATUSES, WaitlistEntry, WaitlistSlot


def someone_waits() -> Exists:
    """Whether anyone waits at an appointment's location: read with the appointment's locked row
    (``locked_appointment`` annotates it as ``someone_waits``), so a cancel or move asks no more."""
    return Exists(WaitlistEntry.objects.filter(location=OuterRef("location_id"), status__in=OPEN_ENTRY_STATUSES))


def waitlist_slot_freed(*, appointment, was: dict | None = None) -> WaitlistSlot | None:
    """Record the time ``appointment`` (read by ``locked_appointment``) held (``was``: its starts_at, minutes,
    clinician_id, room_id and device_id before a move) when it lies ahead and someone waits at its location."""
    was = was or {"starts_at": appointment.starts_at, "minutes": appointment.minutes,
                  "clinician_id": appointment.clinician_id, "room_id": appointment.room_id,
                  "device_id": appointment.device_id}
    starts_at = was["starts_at"]
    if starts_at <= timezone.now() or not appointment.someone_waits:
        return None
    return WaitlistSlot.objects.create(
        location_id=appointment.location_id, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=was["minutes"]), clinician_id=was["clinician_id"],
        room_id=was["room_id"], device_id=was["device_id"], freed_from=appointment,
    )
