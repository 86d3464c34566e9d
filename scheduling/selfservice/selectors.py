"""Reads of the patients' own pages: where a session may move to, and a course's remaining plan in
the patient's words.

The free times are the slot engine's (``slot_list_available`` with the course and the session being
moved), so every time offered passes the booking service's rules: opening and working hours,
closures, one session a day, at most five a week, the booking horizon. On top of them a patient's
move keeps the course's cadence (no more of its sessions in a week than it plans) and stays outside
the late-change window, where the patient calls the clinic instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from clinic.models import Device, Location, Room, Staff
from scheduling.booking.selectors import slot_list_available
from scheduling.engine.grid import week_start
from scheduling.engine.planner import CoursePlan
from scheduling.models import ACTIVE_STATUSES, Appointment, Course

MOVE_SEARCH_DAYS = 14  # the days searched, from the first day outside the late-change window
MOVE_TIMES_PER_DAY = 4  # the times of a day nearest the session's own time of day
MOVE_TIMES_MAX = 20

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class MoveOption:
    """A time the session may move to, with the clinician, room and device it would have."""

    starts_at: datetime
    ends_at: datetime
    clinician: Staff
    room: Room
    device: Device
    location: Location

    @property
    def key(self) -> str:
        """What the patient's choice posts back: the start as UTC epoch seconds."""
        return str(int(self.starts_at.timestamp()))

    @property
    def local(self) -> datetime:
        return self.location.local(self.starts_at)

    @property
    def time_text(self) -> str:
        return f"{self.local:%H:%M}"

    @property
    def when(self) -> str:
        """e.g. 'Wednesday 16 December 2026, 09:30 GMT', as the emails say it."""
        local = self.local
        return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {local.tzname()}"


@dataclass
class MoveDay:
    day: date
    options: list[MoveOption]

    @property
    def label(self) -> str:
        return f"{self.day:%A} {self.day.day} {self.day:%B}"


def _seconds(moment: datetime) -> int:
    return moment.hour * 3600 + moment.minute * 60


def _prefer(found: tuple, own_id: int):
    return next((resource for resource in found if resource.pk == own_id), found[0])


def appointment_move_options(*, appointment: Appointment, now: datetime | None = None) -> list[MoveDay]:
    """The times a patient may move ``appointment`` to, grouped by the location's day, in day order.

    Searched over ``MOVE_SEARCH_DAYS`` days from the first one outside the late-change window (and never
    past the booking horizon), with the session's own clinician, room and device, or any of the location's
    when it lets patients change clinician (``Location.patients_may_change_clinician``; the session's own
    are still preferred where free). Each day keeps the ``MOVE_TIMES_PER_DAY`` times nearest the session's
    own time of day, at most ``MOVE_TIMES_MAX`` in all. Raises ``ValidationError`` when the course cannot
    be booked at all (a screening that blocks booking, a closed course): no time is offered then.
    Three queries more than the engine's, whatever the history.
    """
    location = appointment.location
    course = appointment.course
    now = now or timezone.now()
    earliest = now + timedelta(hours=location.late_cancellation_hours)
    today = location.local(now).date()
    start = location.local(earliest).date()
    end = min(start + timedelta(days=MOVE_SEARCH_DAYS), today + timedelta(weeks=location.booking_horizon_weeks))
    if start >= end:
        return []
    anyone = location.patients_may_change_clinician
    slots = slot_list_available(
        location=location, start=start, end=end, course=course, moving=appointment,
        clinician=None if anyone else appointment.clinician, room=None if anyone else appointment.room,
        device=None if anyone else appointment.device,
    )
    # The course's cadence: a week holds no more of its sessions than it plans (the engine holds one a day).
    weeks = Counter(week_start(day) for day in Appointment.objects.filter(
        course=course, status__in=ACTIVE_STATUSES).exclude(pk=appointment.pk).values_list("local_date", flat=True))
    usual = _seconds(location.local(appointment.starts_at))
    by_day: dict[date, list[MoveOption]] = {}
    for slot in slots:
        if slot.starts_at < earliest or slot.starts_at == appointment.starts_at:
            continue
        day = location.local(slot.starts_at).date()
        if weeks[week_start(day)] >= course.sessions_per_week:
            continue
        by_day.setdefault(day, []).append(MoveOption(
            starts_at=slot.starts_at, ends_at=slot.ends_at, location=location,
            clinician=_prefer(slot.clinicians, appointment.clinician_id),
            room=_prefer(slot.rooms, appointment.room_id), device=_prefer(slot.devices, appointment.device_id)))
    days, left = [], MOVE_TIMES_MAX
    for day in sorted(by_day):
        if left <= 0:
            break
        nearest = sorted(by_day[day], key=lambda option: (abs(_seconds(option.local) - usual), option.starts_at))
        chosen = sorted(nearest[:min(MOVE_TIMES_PER_DAY, left)], key=lambda option: option.starts_at)
        days.append(MoveDay(day=day, options=chosen))
        left -= len(chosen)
    return days


def move_option_find(days: list[MoveDay], key: str) -> MoveOption | None:
    return next((option for day in days for option in day.options if option.key == key), None)


def course_plan_unplaced_text(*, plan: CoursePlan, narrowed: bool) -> list[str]:
    """Why each session of a plan found no place, in the patient's words: the desk's reasons name
    rooms, devices and other patients' days, which are not the patient's business."""
    location = plan.course.location
    last_day = plan.horizon_end - timedelta(days=1)
    total = plan.course.planned_sessions
    hint = (" Try more weekdays or a wider time window." if narrowed
            else f" Please call us on {location.phone} and we will find a time with you.")
    return [f"Session {unplaced.number} of {total}: we have no free time for it that keeps the course's rhythm "
            f"by {last_day:%A} {last_day.day} {last_day:%B}, as far ahead as we book.{hint}"
            for unplaced in plan.unplaced]


def course_for_patient_link(*, course_id: int) -> Course | None:
    return Course.objects.select_related("location", "patient").filter(pk=course_id).first()
