"""The day schedule's read model: the columns, rows and cards of one location's day, in a fixed
number of queries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from clinic.display import location_time, location_time_range, location_zone
from clinic.models import Device, Location, Room, Staff, StaffRole
from clinic.selectors import closure_list_overlapping
from patients.admin import CHILD_BADGE_AGE
from patients.models import Screening
from scheduling.models import ACTIVE_STATUSES, Appointment, DisplayState

GROUPINGS = {"room": "Rooms", "clinician": "Clinicians", "device": "Devices"}

# The states of the legend, in its order: (css class, label); entered in error is drawn as cancelled.
CARD_STATES = [(state.value, state.label) for state in DisplayState if state != DisplayState.ENTERED_IN_ERROR]


SHORT_LABELS = {"confirmed": "Confirmed"}


def local_time(appointment: Appointment) -> str:
    """The session's start in its location's zone, with the zone's abbreviation (GMT, BST, CET...)."""
    return location_time(appointment.location, appointment.starts_at)


def day_schedule_url(*, location_id: int, day: date, by: str = "room") -> str:
    return reverse("admin:scheduling_appointment_day") + "?" + urlencode(
        {"location": location_id, "date": day.isoformat(), "by": by})


# ---------------------------------------------------------------------------------------------
# Reads


def appointment_list_for_day(*, location: Location, day: date):
    """One query: the day's appointments with everything a card shows (see appointment_list_for_days)."""
    return appointment_list_for_days(location=location, first_day=day, last_day=day)


def appointment_list_for_days(*, location: Location, first_day: date, last_day: date):
    """One query: the appointments of the local days [first_day, last_day] with everything a card shows.

    ``session_number`` counts the course's active sessions up to this one; ``medical_alert`` is the
    override time of the patient's current screening (an override means a contraindication a
    clinician decided to treat despite).

    The days are asked as the instants between the location's midnights: one condition on the start, which the
    index on (location, start) reads for those days only and PostgreSQL estimates right. By the local day alone it
    read every session the location ever had (no index holds the local day); by both, it multiplied their
    shares and, expecting one session for a week of 741, joined each with every room, device and member of
    staff (bench/README.md).
    """
    earliest, latest = location.at(first_day, time()), location.at(last_day + timedelta(days=1), time())
    earlier_sessions = (
        Appointment.objects.filter(course=OuterRef("course"), status__in=ACTIVE_STATUSES,
                                   starts_at__lte=OuterRef("starts_at"))
        .order_by().values("course").annotate(n=Count("pk")).values("n")
    )
    current_screening = Screening.objects.filter(patient=OuterRef("patient")).order_by("-recorded_at", "-id")
    return (
        Appointment.objects.filter(location=location, starts_at__gte=earliest, starts_at__lt=latest)
        .select_related("patient", "course", "location", "clinician__user", "room", "device")
        .annotate(
            session_number=Subquery(earlier_sessions, output_field=IntegerField()),
            medical_alert=Subquery(current_screening.values("overridden_at")[:1]),
        )
        .order_by("starts_at", "id")
    )


@dataclass
class Column:
    key: int
    label: str
    note: str = ""


@dataclass
class Cell:
    column: Column
    closed: bool
    reason: str = ""
    book_url: str = ""


@dataclass
class Row:
    index: int
    starts: datetime
    label: str
    is_hour: bool
    closed: bool
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Card:
    appointment: Appointment
    state: str
    state_label: str
    column_index: int
    row_start: int
    row_span: int
    time_text: str
    badges: list[tuple[str, str]]

    @property
    def short_label(self) -> str:
        return SHORT_LABELS.get(self.state, self.state_label)


@dataclass
class DaySchedule:
    location: Location
    day: date
    by: str
    columns: list[Column]
    rows: list[Row]
    cards: list[Card]
    appointments: list[Appointment]
    zone_text: str
    opening_text: str
    closures: list[str]


def resource_columns(*, location: Location, by: str) -> list[Column]:
    if by == "clinician":
        people = Staff.objects.filter(role=StaffRole.CLINICIAN, locations=location, is_active=True).select_related(
            "user").order_by("user__last_name", "user__first_name")
        return [Column(person.pk, str(person)) for person in people]
    if by == "device":
        return [Column(device.pk, str(device), "" if device.in_service else "out of service")
                for device in Device.objects.filter(location=location)]
    return [Column(room.pk, room.name, "" if room.is_active else "not in use")
            for room in Room.objects.filter(location=location)]


def resource_id(appointment: Appointment, by: str) -> int:
    return {"room": appointment.room_id, "clinician": appointment.clinician_id, "device": appointment.device_id}[by]


def day_schedule_build(*, location: Location, day: date, by: str) -> DaySchedule:
    """The grid of one location's day: a fixed number of queries whatever the number of sessions."""
    zone = location.zone
    slot = timedelta(minutes=location.slot_minutes)
    opening = list(location.opening_hours.filter(weekday=day.weekday()).order_by("opens_at"))
    columns = resource_columns(location=location, by=by)
    day_start, day_end = location.at(day, time(0)), location.at(day + timedelta(days=1), time(0))
    closures = list(closure_list_overlapping(location=location, starts_at=day_start, ends_at=day_end))
    appointments = list(appointment_list_for_day(location=location, day=day))

    first = min([hours.opens_at for hours in opening], default=time(8))
    last = max([hours.closes_at for hours in opening], default=time(18))
    # Rows step in real time (UTC), so a day with a daylight-saving change still lines up; labels are local.
    grid_start = location.at(day, time(first.hour)).astimezone(UTC)
    grid_end = location.at(day, last).astimezone(UTC)
    if appointments:
        earliest_hour = location.at(day, time(location.local(appointments[0].starts_at).hour)).astimezone(UTC)
        grid_start = min(grid_start, earliest_hour)
        grid_end = max(grid_end, max(a.ends_at for a in appointments))
    count = max(1, math.ceil((grid_end - grid_start) / slot))

    rows: list[Row] = []
    index_of_column = {column.key: i for i, column in enumerate(columns)}
    # Every free cell books at the location and day and comes back here: the same two addresses for all.
    book_url = reverse("admin:scheduling_appointment_add")
    back_url = day_schedule_url(location_id=location.pk, day=day, by=by)
    for i in range(count):
        starts = grid_start + slot * i
        ends = starts + slot
        local = starts.astimezone(zone)
        is_open = any(hours.opens_at <= local.time() and (ends.astimezone(zone).time() <= hours.closes_at
                                                          or hours.closes_at == time(23, 59))
                      for hours in opening)
        row = Row(index=i, starts=starts, label=f"{local:%H:%M}", is_hour=local.minute == 0, closed=not is_open)
        for column in columns:
            reason = "" if is_open else "closed"
            for closure in closures:
                if closure.starts_at < ends and closure.ends_at > starts and (
                        closure_column(closure, by) in (None, column.key)):
                    reason = closure.reason
            if not reason and column.note:
                reason = column.note
            cell = Cell(column=column, closed=bool(reason), reason=reason)
            if not reason and starts >= timezone.now():
                cell.book_url = book_url + "?" + urlencode({
                    "location": location.pk, "day": day.isoformat(), "at": f"{local:%H:%M}", by: column.key,
                    "next": back_url,
                })
            row.cells.append(cell)
        rows.append(row)

    today = location.local(timezone.now()).date()
    cards = []
    for appointment in appointments:
        column_index = index_of_column.get(resource_id(appointment, by))
        if column_index is None:
            continue
        start_row = int((appointment.starts_at - grid_start) / slot)
        span = max(1, math.ceil((appointment.ends_at - appointment.starts_at) / slot))
        cards.append(Card(
            appointment=appointment, state=appointment.display_state.value,
            state_label=appointment.display_state_label, column_index=column_index, row_start=start_row,
            row_span=span, time_text=location_time_range(location, appointment.starts_at, appointment.ends_at),
            badges=card_badges(appointment, today),
        ))
    opening_text = ", ".join(f"{h.opens_at:%H:%M}-{h.closes_at:%H:%M}" for h in opening) or "closed all day"
    closure_texts = [f"{closure.room or closure.device or closure.clinician or 'Whole location'}: "
                     f"{location.local(closure.starts_at):%d %b %H:%M}-"
                     f"{location_time(location, closure.ends_at, '%d %b %H:%M')} "
                     f"({closure.reason})" for closure in closures]
    return DaySchedule(location=location, day=day, by=by, columns=columns, rows=rows, cards=cards,
                       appointments=appointments, zone_text=location_zone(location, location.at(day, first)),
                       opening_text=opening_text, closures=closure_texts)


def closure_column(closure, by: str):
    """The column a closure shades: None for the whole location; a key, or -1 for another grouping."""
    if closure.room_id is None and closure.device_id is None and closure.clinician_id is None:
        return None
    key = {"room": closure.room_id, "device": closure.device_id, "clinician": closure.clinician_id}[by]
    return key if key is not None else -1


def card_badges(appointment: Appointment, today: date) -> list[tuple[str, str]]:
    badges = []
    number = appointment.session_number
    if appointment.status in ACTIVE_STATUSES and number:
        if number == 1:
            badges.append(("first", "1st session"))
        badges.append(("session", f"session {number} of {appointment.course.planned_sessions}"))
    if appointment.medical_alert is not None:
        badges.append(("alert", "medical alert"))
    if appointment.moved_by_patient_at is not None and appointment.status in ACTIVE_STATUSES:
        badges.append(("patient-moved", "moved by the patient"))
    if appointment.patient.age_on(today) < CHILD_BADGE_AGE:
        badges.append(("child", f"under {CHILD_BADGE_AGE}"))
    return badges
