"""The clinic's own resources: locations with their time zone, rooms, devices, staff, hours, closures."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def _period_after(day: date, kind: str) -> date:
    if kind == "year":
        return date(day.year + 1, 1, 1)
    if kind == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


class PeriodQuerySet(models.QuerySet):
    """The rows of a model the admin lists by date (``date_hierarchy``): which years, months and days hold
    rows is asked period by period.

    Django's date hierarchy finds the years that hold rows with a DISTINCT over every row of the list; for a
    manager that reads the whole table (215 of the 293 ms of the appointment list at 1,000,000
    appointments, bench/README.md), and more every year. Here each year (month, day) between the list's
    first and last row is asked for one row, all in one statement, which an index on the date answers
    with a row or none for each. Over more than ``PERIODS_MAX`` periods Django's own DISTINCT answers. The
    answer is a list where Django's is a queryset: the admin's date hierarchy only goes through it.

    The date hierarchy first asks the list for its first and last row itself (to start at the year or month
    they share), then asks this of the same queryset: the first and last row are kept on the queryset from
    that ``aggregate`` and not asked again. On a list filtered through another table (a search by surname)
    that query reads every matching row, 60 ms at 1,000,000 appointments.
    """

    PERIODS_MAX = 100

    def aggregate(self, *args, **kwargs):
        answer = super().aggregate(*args, **kwargs)
        first, last = kwargs.get("first"), kwargs.get("last")
        if not args and kwargs.keys() == {"first", "last"} and isinstance(first, models.Min):
            field = first.get_source_expressions()[0]
            if isinstance(field, F) and first == models.Min(field.name) and last == models.Max(field.name):
                self._period_bounds = {**getattr(self, "_period_bounds", {}), field.name: answer}
        return answer

    def _bounds(self, field_name: str) -> dict:
        """The first and last value of ``field_name`` in these rows, as ``aggregate`` answered them."""
        kept = getattr(self, "_period_bounds", {}).get(field_name)
        return kept or self.aggregate(first=models.Min(field_name), last=models.Max(field_name))

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind not in ("year", "month", "day"):
            return super().datetimes(field_name, kind, order, tzinfo)
        zone = tzinfo or timezone.get_current_timezone()
        bounds = self._bounds(field_name)
        if bounds["first"] is None:
            return []
        first, last = bounds["first"].astimezone(zone).date(), bounds["last"].astimezone(zone).date()
        days = [date(first.year, 1, 1) if kind == "year" else first.replace(day=1) if kind == "month" else first]
        while days[-1] <= last:
            days.append(_period_after(days[-1], kind))
        if len(days) > self.PERIODS_MAX + 1:
            return super().datetimes(field_name, kind, order, tzinfo)
        starts = [datetime.combine(day, time(), tzinfo=zone) for day in days]
        probes = [self.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end}).order_by(field_name)
                  .values_list(models.Value(number), flat=True)[:1]
                  for number, (start, end) in enumerate(pairwise(starts))]
        held = set(probes[0].union(*probes[1:], all=True))
        found = [start for number, start in enumerate(starts[:-1]) if number in held]
        return found if order == "ASC" else found[::-1]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/London.")


def default_time_zone() -> str:
    return settings.IONTO_DEFAULT_LOCATION_TIME_ZONE


def default_check_in_weeks() -> list[int]:
    """After a course: check-ins at 2, 4 and 8 weeks (issue 23's defaults)."""
    return [2, 4, 8]


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Location(TimeStampedModel):
    """A clinic site. Its settings are the clinic's defaults for booking and reminders."""

    name = models.CharField(max_length=120, unique=True)
    address = models.TextField()
    phone = models.CharField(max_length=40)
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    slot_minutes = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(5), MaxValueValidator(60)],
        help_text="Grid of bookable start times, in minutes.",
    )
    turnover_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(30)],
        help_text="Minutes a room and a device need between two sessions.",
    )
    booking_horizon_weeks = models.PositiveSmallIntegerField(
        default=6, validators=[MinValueValidator(1), MaxValueValidator(26)],
        help_text="How far ahead a whole course may be booked.",
    )
    reminder_hours_before = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(168)],
    )
    second_reminder_hours_before = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(72)],
        help_text="Optional second reminder, e.g. 2 hours before.",
    )
    late_cancellation_hours = models.PositiveSmallIntegerField(
        default=24, validators=[MaxValueValidator(168)],
        help_text="Inside this window patients are asked to call instead of cancelling online.",
    )
    patients_may_change_clinician = models.BooleanField(
        default=False,
        help_text="Patients choosing another time from their email may also see other clinicians, rooms and "
                  "devices of this location (otherwise only their session's own).",
    )
    waitlist_offer_minutes = models.PositiveSmallIntegerField(
        "Waitlist offer expiry (minutes)", default=120, validators=[MinValueValidator(10), MaxValueValidator(1440)],
        help_text="How long a patient on the waitlist has to take a freed time (never past the late-change window).",
    )
    max_current_ma_adult = models.DecimalField(
        max_digits=4, decimal_places=1, default=20,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text="Highest current on tap water for adults (NHS: 20 mA).",
    )
    max_current_ma_child = models.DecimalField(
        max_digits=4, decimal_places=1, default=15,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text="Highest current on tap water for patients under 18 (NHS: 15 mA).",
    )
    check_in_weeks_after_course = ArrayField(
        models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(52)]),
        size=6, default=default_check_in_weeks, blank=True,
        help_text="Weeks after a course's last session at which the patient is asked how they are (e.g. 2, 4, 8).",
    )
    check_in_every_weeks = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(26)],
        help_text="Then a check-in every this many weeks while the patient waits for maintenance.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(slot_minutes__gte=5, slot_minutes__lte=60),
                                   name="location_slot_minutes_range"),
            models.CheckConstraint(condition=Q(turnover_minutes__lte=30), name="location_turnover_range"),
            models.CheckConstraint(condition=Q(waitlist_offer_minutes__gte=10, waitlist_offer_minutes__lte=1440),
                                   name="location_waitlist_offer_minutes_range"),
            models.CheckConstraint(condition=Q(check_in_every_weeks__gte=1, check_in_every_weeks__lte=26),
                                   name="location_check_in_every_weeks_range"),
            models.CheckConstraint(condition=Q(max_current_ma_child__lte=F("max_current_ma_adult")),
                                   name="location_child_current_not_above_adult"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local(self, moment: datetime) -> datetime:
        """A stored (UTC) time as the location's wall-clock time."""
        return moment.astimezone(self.zone)

    def at(self, day: date, wall_time: time) -> datetime:
        """The instant of a wall-clock time at this location (09:00 stays 09:00 across DST)."""
        return datetime.combine(day, wall_time, tzinfo=self.zone)

    def at_typed(self, day: date, wall_time: time) -> datetime:
        """The instant of a wall-clock time a person typed, refused when the clocks skip it (it would
        silently become an hour later) or show it twice (it would be either of two instants)."""
        earlier = datetime.combine(day, wall_time, tzinfo=self.zone)
        later = earlier.replace(fold=1)
        if earlier.utcoffset() == later.utcoffset():
            return earlier
        when = f"{wall_time:%H:%M} on {day:%a %d %b %Y} in {self.time_zone}"
        if self.local(earlier.astimezone(UTC)).replace(tzinfo=None) != datetime.combine(day, wall_time):
            raise ValidationError(f"{when} does not exist: the clocks go forward then. Choose another time.",
                                  code="nonexistent_time")
        raise ValidationError(f"{when} happens twice: the clocks go back then. Choose a time outside that hour.",
                              code="ambiguous_time")


class Room(TimeStampedModel):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=60)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location__name", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="room_name_unique_per_location")]

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class Device(TimeStampedModel):
    """An iontophoresis unit (e.g. Hidrex DVP 50, Dermadry); booked like a room."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="devices")
    model = models.CharField(max_length=80)
    serial_number = models.CharField(max_length=60, unique=True)
    in_service = models.BooleanField(default=True)

    class Meta:
        ordering = ["location__name", "model", "serial_number"]

    def __str__(self) -> str:
        return f"{self.model} #{self.serial_number}"


class StaffRole(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    CLINICIAN = "clinician", "Clinician"
    MANAGER = "manager", "Manager"


class Staff(TimeStampedModel):
    """A person who works for the clinic: their role and the locations they work at."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=20, choices=StaffRole.choices)
    locations = models.ManyToManyField(Location, related_name="staff")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        verbose_name_plural = "staff"

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class ClinicianManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(role=StaffRole.CLINICIAN)


class Clinician(Staff):
    """Staff with the clinician role: the people sessions are booked with."""

    objects = ClinicianManager()

    class Meta:
        proxy = True
        ordering = ["user__last_name", "user__first_name"]


class OpeningHours(TimeStampedModel):
    """One opening interval of a location on a weekday (several for a lunch break)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["location", "weekday", "opens_at"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="opening_hours_closes_after_opens"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_hours_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class WorkingHours(TimeStampedModel):
    """When a clinician works at a location on a weekday. None recorded: the opening hours."""

    clinician = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="working_hours")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["clinician", "location", "weekday", "starts_at"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="working_hours_ends_after_starts"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="working_hours_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} {self.get_weekday_display()} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class Closure(TimeStampedModel):
    """A time nothing can be booked: a holiday (whole location), or a room, device or clinician away."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="closures")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, null=True, blank=True, related_name="closures")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, blank=True, related_name="closures")
    clinician = models.ForeignKey(Staff, on_delete=models.CASCADE, null=True, blank=True, related_name="closures")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="closure_ends_after_starts"),
            models.CheckConstraint(
                condition=(
                    Q(room__isnull=True, device__isnull=True)
                    | Q(room__isnull=True, clinician__isnull=True)
                    | Q(device__isnull=True, clinician__isnull=True)
                ),
                name="closure_at_most_one_resource",
            ),
        ]
        indexes = [models.Index(fields=["location", "starts_at", "ends_at"], name="closure_location_time")]

    def __str__(self) -> str:
        what = self.room or self.device or self.clinician or self.location
        return f"{what} closed: {self.reason}"
