"""The outbox: one message to a patient, sent at most once (its state kept apart from the session's)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from clinic.models import PeriodQuerySet, TimeStampedModel
from patients.models import Patient


class NotificationKind(models.TextChoices):
    BOOKING_CONFIRMATION = "booking_confirmation", "Booking confirmation"
    REMINDER = "reminder", "Reminder"
    SECOND_REMINDER = "second_reminder", "Second reminder"
    RESCHEDULED = "rescheduled", "Change of time"
    CANCELLATION = "cancellation", "Cancellation notice"
    SESSION_FOLLOW_UP = "session_follow_up", "Follow-up: book the next sessions"
    NOSHOW_FOLLOW_UP = "noshow_follow_up", "No-show follow-up"
    MAINTENANCE_RECALL = "maintenance_recall", "Maintenance recall"
    WAITLIST_OFFER = "waitlist_offer", "Waitlist offer"  # once per offer: WaitlistOffer.notification
    CHECK_IN = "check_in", "Check-in: how are you doing?"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Notification(TimeStampedModel):
    """One message to a patient, sent at most once (FHIR Communication): the outbox row.

    Written in the same transaction as the change that causes it. Unique per appointment,
    appointment version and kind: a moved appointment (new version) gets new reminders, and
    the old ones are cancelled. Course-level messages (follow-up, recall) hang on the session
    that caused them. ``appointment_ids`` lists the sessions a booking confirmation names.
    """

    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    channel = models.CharField(max_length=5, choices=NotificationChannel.choices, default=NotificationChannel.EMAIL)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notifications")
    course = models.ForeignKey("scheduling.Course", on_delete=models.PROTECT, related_name="notifications")
    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, related_name="notifications")
    appointment_version = models.PositiveIntegerField()
    appointment_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    due_at = models.DateTimeField(help_text="When it is due, UTC.")
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True, help_text="The email's Message-ID, or the SMS "
                                                                     "provider's message id.")
    delivery_status = models.CharField(max_length=20, blank=True,
                                       help_text="What the SMS provider last reported (e.g. delivered).")

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            # A waitlist offer and a check-in each hold their own notification: once per offer, per check-in.
            models.UniqueConstraint(fields=["appointment", "appointment_version", "kind", "channel"],
                                    name="notification_once_per_appointment_version_kind_channel",
                                    condition=~Q(kind__in=("waitlist_offer", "check_in"))),
            models.CheckConstraint(condition=~Q(status=NotificationStatus.SENT) | Q(sent_at__isnull=False),
                                   name="notification_sent_has_time"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="notification_pending_due",
                         condition=Q(status=NotificationStatus.PENDING)),
            models.Index(fields=["claimed_at"], name="notification_sending_claimed",
                         condition=Q(status=NotificationStatus.SENDING)),
            models.Index(fields=["status", "-due_at"], name="notification_status_due"),
            # The messages list in its order (-due_at, -id) and its date hierarchy (clinic.models.PeriodQuerySet):
            # a page is read from here instead of joining and sorting every message (bench/README.md).
            models.Index(fields=["due_at", "id"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.patient} ({self.get_status_display().lower()})"
