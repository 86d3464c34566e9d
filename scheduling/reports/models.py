"""The sessions of each week, counted once per location, so a year's utilization and attendance read a
few thousand counts instead of every session again (``scheduling/reports/usage.py`` writes them).

A week's counts hold only while none of its sessions changes: a database trigger on the appointments
(migration 0012) forgets the week of every row inserted, updated or deleted, whatever wrote it, and the
reports count a forgotten week from its sessions until the next count keeps it again. Registered by the
import at the end of ``scheduling/models.py``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from clinic.models import Location, Staff


class UsageKind(models.TextChoices):
    ROOM = "room", "Room"
    DEVICE = "device", "Device"
    CLINICIAN = "clinician", "Clinician"
    HOUR = "hour", "Weekday and hour"


class UsageWeek(models.Model):
    """A location's Monday-to-Sunday week (of local days) whose sessions are counted in ``UsageCount`` and
    ``AttendanceCount``."""

    # db_index=False: the unique (location, week) index serves every read and delete by location.
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+", db_index=False)
    week = models.DateField(help_text="The week's Monday.")
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "week"], name="usage_week_once"),
            models.CheckConstraint(condition=Q(week__iso_week_day=1), name="usage_week_starts_on_monday"),
        ]

    def __str__(self) -> str:
        return f"{self.location} week of {self.week:%d %b %Y}"


class UsageCount(models.Model):
    """The booked sessions of one counted week at one location: per room, device and clinician, their
    minutes; per weekday (``resource_id``, ISO 1-7) and local hour, how many started then."""

    # db_index=False: the (location, week) index below serves every read and delete by location.
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+", db_index=False)
    week = models.DateField()
    kind = models.CharField(max_length=10, choices=UsageKind.choices)
    resource_id = models.IntegerField(help_text="The room, device or clinician; for an hour, the ISO weekday.")
    hour = models.SmallIntegerField(null=True)
    sessions = models.IntegerField()
    booked_minutes = models.FloatField()
    fulfilled_minutes = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["location", "week"], name="usage_count_week")]
        constraints = [
            models.CheckConstraint(condition=Q(kind=UsageKind.HOUR, hour__range=(0, 23))
                                   | (~Q(kind=UsageKind.HOUR) & Q(hour__isnull=True)),
                                   name="usage_count_hour_only_for_hours"),
            models.CheckConstraint(condition=Q(sessions__gt=0, booked_minutes__gte=0, fulfilled_minutes__gte=0),
                                   name="usage_count_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.resource_id} week of {self.week:%d %b %Y}: {self.sessions} sessions"


class AttendanceCount(models.Model):
    """The sessions of one counted week at one location (entered in error left out), per clinician and
    whether the patient confirmed before the start: the attendance report's figures
    (``scheduling.reports.attendance.attendance_counts``)."""

    # db_index=False: the (location, week) index below serves every read and delete by location.
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+", db_index=False)
    week = models.DateField()
    clinician = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    confirmed = models.BooleanField()
    sessions = models.IntegerField()
    attended = models.IntegerField()
    noshows = models.IntegerField()
    cancelled = models.IntegerField()
    late_cancellations = models.IntegerField()
    by_link = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["location", "week"], name="attendance_count_week")]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions__gt=0, attended__gte=0, noshows__gte=0, cancelled__gte=0,
                            late_cancellations__gte=0, late_cancellations__lte=F("cancelled"), by_link__gte=0,
                            by_link__lte=F("sessions")),
                name="attendance_count_within_sessions"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} week of {self.week:%d %b %Y}, clinician {self.clinician_id}: {self.sessions}"
