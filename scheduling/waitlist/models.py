"""The waitlist: patients asking for an earlier time, the times freed by a cancellation or a move, and
the offers of those times to the patients whose wishes they fit (issue 22).

Registered by the one import at the end of ``scheduling/models.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from clinic.models import Device, Location, Room, Staff, TimeStampedModel
from patients.models import Patient


class WaitlistEntryStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Offer sent"
    FULFILLED = "fulfilled", "Took a time"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


OPEN_ENTRY_STATUSES = (WaitlistEntryStatus.WAITING, WaitlistEntryStatus.OFFERED)


class WaitlistEntry(TimeStampedModel):
    """A patient's wish for an earlier time: the booked session to move earlier, or (empty) the course's next
    unbooked session; on which weekdays, between which local times, until which day."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    course = models.ForeignKey("scheduling.Course", on_delete=models.PROTECT, related_name="waitlist_entries")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="waitlist_entries",
        help_text="The booked session to move earlier; empty: the course's next unbooked session.")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="waitlist_entries")
    weekdays = ArrayField(models.PositiveSmallIntegerField(), size=7,
                          help_text="Preferred weekdays, 0 = Monday ... 6 = Sunday.")
    earliest = models.TimeField("Earliest start (local)")
    latest = models.TimeField("Latest end (local)")
    until = models.DateField("Wait until", help_text="The last day the patient wants a time on.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", help_text="Empty when the patient joined through a link.")
    status = models.CharField(max_length=10, choices=WaitlistEntryStatus.choices, default=WaitlistEntryStatus.WAITING)

    class Meta:
        app_label = "scheduling"
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.CheckConstraint(condition=Q(earliest__lt=F("latest")), name="waitlist_entry_earliest_before_latest"),
            models.CheckConstraint(condition=Q(weekdays__len__gte=1)
                                   & Q(weekdays__contained_by=[0, 1, 2, 3, 4, 5, 6]),
                                   name="waitlist_entry_weekdays_0_to_6"),
            models.UniqueConstraint(fields=["course"], condition=Q(status__in=OPEN_ENTRY_STATUSES),
                                    name="waitlist_entry_one_open_per_course",
                                    violation_error_message="This course is already on the waitlist."),
        ]
        indexes = [models.Index(fields=["location", "status"], name="waitlist_entry_location_status")]

    def __str__(self) -> str:
        return f"{self.patient} waits until {self.until:%d %b %Y} ({self.get_status_display().lower()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ENTRY_STATUSES


class WaitlistSlotStatus(models.TextChoices):
    OPEN = "open", "Offered"
    TAKEN = "taken", "Taken"
    CLOSED = "closed", "Not taken"


class WaitlistSlot(TimeStampedModel):
    """A freed time (a session cancelled or moved away, or a time the desk offers by hand) with its
    clinician, room and device. Accepting an offer locks this row first: the first to accept takes it."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="waitlist_slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    clinician = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="+")
    freed_from = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", help_text="The session whose cancellation or move freed it.")
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", help_text="Who offered it by hand; empty: Ionto.")
    matched_at = models.DateTimeField(null=True, blank=True, help_text="When offers were written for it.")
    status = models.CharField(max_length=10, choices=WaitlistSlotStatus.choices, default=WaitlistSlotStatus.OPEN)

    class Meta:
        app_label = "scheduling"
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="waitlist_slot_ends_after_start"),
        ]
        indexes = [models.Index(fields=["created_at"], name="waitlist_slot_unmatched",
                                condition=Q(matched_at__isnull=True))]

    def __str__(self) -> str:
        local = self.location.local(self.starts_at)
        return f"{local:%a %d %b %H:%M} at {self.location} ({self.get_status_display().lower()})"


class WaitlistOfferStatus(models.TextChoices):
    OFFERED = "offered", "Sent"
    ACCEPTED = "accepted", "Accepted"
    TAKEN = "taken", "Taken by another patient"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class WaitlistOffer(TimeStampedModel):
    """One freed time offered to one waiting patient, by email, until ``expires_at``."""

    slot = models.ForeignKey(WaitlistSlot, on_delete=models.PROTECT, related_name="offers")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WaitlistOfferStatus.choices, default=WaitlistOfferStatus.OFFERED)
    answered_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", help_text="The session booked or moved by accepting.")
    notification = models.OneToOneField("scheduling.Notification", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="waitlist_offer")

    class Meta:
        app_label = "scheduling"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["slot", "entry"], name="waitlist_offer_once_per_slot_and_entry"),
            models.UniqueConstraint(fields=["slot"], condition=Q(status="accepted"),
                                    name="waitlist_offer_one_accepted_per_slot"),
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")),
                                   name="waitlist_offer_expires_after_sent"),
            models.CheckConstraint(condition=~Q(status="accepted") | Q(appointment__isnull=False),
                                   name="waitlist_offer_accepted_names_session"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="waitlist_offer_open_expiry",
                                condition=Q(status="offered"))]

    def __str__(self) -> str:
        return f"Offer of {self.slot} to {self.entry.patient} ({self.get_status_display().lower()})"
