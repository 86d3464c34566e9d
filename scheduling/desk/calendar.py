"""The front-desk calendar's read model: one location's days with their resources, sessions, opening
hours and closures, in the location's wall-clock time, in a fixed number of queries.

The admin's calendar page draws it (EventCalendar) from the API's ``calendar/`` endpoint; every change
the calendar makes goes through the API's appointment endpoints and so through the booking services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from clinic.display import location_time_range
from clinic.models import Location
from clinic.selectors import closure_list_overlapping
from scheduling.booking.selectors import (
    appointment_arrival_refusal,
    appointment_noshow_refusal,
    appointments_visible_to,
)
from scheduling.desk.selectors import (
    Column,
    appointment_list_for_days,
    card_badges,
    closure_column,
    resource_columns,
    resource_id,
)
from scheduling.models import Appointment, AppointmentStatus

CALENDAR_DAYS_MAX = 14
# Left out of the calendar: they hold no time (the day schedule and the lists still show them).
HIDDEN_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.ENTERED_IN_ERROR)


def wall(moment: datetime, location: Location) -> str:
    """A stored time as the location's wall clock without offset ('2026-12-07T14:30:00'): the calendar
    draws it as it stands, whatever the browser's own zone."""
    return location.local(moment).replace(tzinfo=None).isoformat(timespec="seconds")


@dataclass
class CalendarSession:
    appointment: Appointment
    resource: int
    start: str
    end: str
    time_text: str
    state: str
    state_label: str
    badges: list[tuple[str, str]]
    actions: list[str]


@dataclass
class ClosedSpan:
    """Time nobody can book: outside the opening hours (``resource`` None: every column) or a closure."""

    start: str
    end: str
    reason: str
    resource: int | None


@dataclass
class Calendar:
    location: Location
    by: str
    start: date
    end: date
    resources: list[Column]
    sessions: list[CalendarSession]
    closed: list[ClosedSpan]
    day_starts: time
    day_ends: time
    now: str
    utc_offset: str
    zone_text: str


def session_actions(appointment: Appointment, now: datetime) -> list[str]:
    """What the front desk can do with the session now; the services refuse the rest anyway."""
    actions = []
    if appointment_arrival_refusal(appointment=appointment, now=now) is None:
        actions.append("arrive")
    if appointment_noshow_refusal(appointment=appointment, now=now) is None:
        actions.append("noshow")
    if appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
        actions.append("cancel")
    if appointment.status == AppointmentStatus.BOOKED:
        actions.append("move")
    if appointment.course.is_open:
        actions.append("book_next")
    return actions


def _offset_text(moment: datetime) -> str:
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def calendar_build(*, user, location: Location, start: date, end: date, by: str, now: datetime) -> Calendar:
    """The local days [start, end) of one location, its columns grouped ``by`` room, clinician or device.

    Five queries whatever the number of sessions: the columns, the opening hours, the closures, the
    sessions (with their course, patient and badges) and the user's locations for the visibility check.
    """
    resources = resource_columns(location=location, by=by)
    keys = {column.key for column in resources}
    opening = list(location.opening_hours.all())
    closures = list(closure_list_overlapping(location=location, starts_at=location.at(start, time(0)),
                                             ends_at=location.at(end, time(0))))
    visible = appointments_visible_to(user=user).values("pk")
    appointments = list(appointment_list_for_days(location=location, first_day=start,
                                                  last_day=end - timedelta(days=1))
                        .filter(pk__in=visible).exclude(status__in=HIDDEN_STATUSES))

    today = location.local(now).date()
    sessions = []
    for appointment in appointments:
        key = resource_id(appointment, by)
        if key not in keys:
            continue
        sessions.append(CalendarSession(
            appointment=appointment, resource=key, start=wall(appointment.starts_at, location),
            end=wall(appointment.ends_at, location),
            time_text=location_time_range(location, appointment.starts_at, appointment.ends_at),
            state=appointment.display_state.value, state_label=appointment.display_state_label,
            badges=card_badges(appointment, today),
            actions=session_actions(appointment, now),
        ))

    day_starts = min([hours.opens_at for hours in opening], default=time(8))
    day_ends = max([hours.closes_at for hours in opening], default=time(18))
    for session in sessions:
        day_starts = min(day_starts, time(int(session.start[11:13])))
        day_ends = max(day_ends, time.fromisoformat(session.end[11:19]))
    closed = []
    day = start
    while day < end:
        spans = sorted((hours.opens_at, hours.closes_at) for hours in opening if hours.weekday == day.weekday())
        edge = day_starts
        for opens_at, closes_at in [*spans, (day_ends, day_ends)]:
            if opens_at > edge:
                closed.append(ClosedSpan(f"{day}T{edge:%H:%M:%S}", f"{day}T{opens_at:%H:%M:%S}", "closed", None))
            edge = max(edge, closes_at)
        day += timedelta(days=1)
    for closure in closures:
        column = closure_column(closure, by)
        if column == -1 or (column is not None and column not in keys):
            continue
        closed.append(ClosedSpan(wall(closure.starts_at, location), wall(closure.ends_at, location),
                                 closure.reason, column))

    here_now = location.local(now)
    return Calendar(
        location=location, by=by, start=start, end=end, resources=resources, sessions=sessions, closed=closed,
        day_starts=time(day_starts.hour), day_ends=day_ends, now=wall(now, location),
        utc_offset=_offset_text(here_now), zone_text=f"{location.time_zone} ({here_now:%Z})",
    )
