"""The slot engine: when a clinician, a room and an in-service device are free together.

It answers with the same rules ``scheduling.booking.services`` enforces for one booking (``_check_hours``,
``_check_course``, ``appointments_clash``...), but for a whole window at once: the facts of
the window are read in a fixed number of set-based queries, then the grid is computed in memory. The
location's set-up (its row, clinicians, rooms, devices, the week's opening and working hours: five reads) comes
from the shared cache until it changes (``scheduling.engine.setup``); one read, a ``UNION ALL``, answers
the window's closures and the active appointments that can touch the window with the course's own.
The appointment part is bounded by the window on ``starts_at`` so the indexes ``appointment_location_start``,
``appointment_clinician_start``, ``appointment_patient_start`` (and ``appointment_course_start``
for the course's own) keep its cost proportional to the window, not to years of history.

The grid: start times at whole multiples of the location's ``slot_minutes`` from local midnight,
in the location's time zone (both instants of a wall-clock time repeated at a DST change).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, CharField, DateField, Q, Value
from django.utils import timezone

from clinic.models import Closure, Device, Location, Room, Staff
from scheduling.engine.setup import setup_of
from scheduling.models import (
    ACTIVE_STATUSES,
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
    SESSIONS_PER_WEEK_MAX,
    Appointment,
    Course,
)

WINDOW_DAYS_MAX = 190  # half a year and a bit: enough for any booking horizon (at most 26 weeks)


@dataclass(frozen=True)
class Slot:
    """A start time with the resources free for the whole session.

    ``clinician``, ``room`` and ``device`` are a suggestion (the first free of each); any
    combination of ``clinicians``, ``rooms`` and ``devices`` can be booked at that time.
    """

    starts_at: datetime
    ends_at: datetime
    clinician: Staff
    room: Room
    device: Device
    clinicians: tuple[Staff, ...]
    rooms: tuple[Room, ...]
    devices: tuple[Device, ...]


@dataclass
class Candidate:
    """One grid start time: UTC epoch seconds and its local day and wall-clock seconds."""

    epoch: float
    local_date: date
    weekday: int
    start_seconds: float  # local seconds since midnight at the start
    end_seconds: float  # local seconds since midnight at the end (same local day)

    @property
    def starts_at(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, tz=UTC)


@dataclass
class CourseFacts:
    """The course's active sessions (all of them: a course has at most 52)."""

    active: int = 0
    days: set[date] = field(default_factory=set)
    weeks: dict[date, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Grid:
    """Every grid start time of a window with what is free at each (masks indexed like ``candidates``)."""

    location: Location
    minutes: int
    candidates: list[Candidate]
    clinicians: list[Staff]
    rooms: list[Room]
    devices: list[Device]
    usable: bytearray  # open, not past, no location closure, the patient free, course day/week rules met
    clinician_free: dict[int, bytearray]
    room_free: dict[int, bytearray]
    device_free: dict[int, bytearray]
    course: CourseFacts | None
    closures: list[tuple[float, float, str]]  # location-wide: (start epoch, end epoch, reason)
    bookable: bytearray = field(init=False)  # usable, and a clinician, a room and a device free

    def __post_init__(self) -> None:
        self.clinician_masks = [(c, self.clinician_free[c.pk]) for c in self.clinicians]
        self.room_masks = [(r, self.room_free[r.pk]) for r in self.rooms]
        self.device_masks = [(d, self.device_free[d.pk]) for d in self.devices]
        size = len(self.candidates)
        together = int.from_bytes(self.usable, "big")
        for masks in (self.clinician_free, self.room_free, self.device_free):
            free = 0
            for mask in masks.values():
                free |= int.from_bytes(mask, "big")
            together &= free
        self.bookable = bytearray(together.to_bytes(size, "big")) if size else bytearray()

    def free_clinicians(self, index: int) -> list[Staff]:
        return [c for c, mask in self.clinician_masks if mask[index]]

    def free_rooms(self, index: int) -> list[Room]:
        return [r for r, mask in self.room_masks if mask[index]]

    def free_devices(self, index: int) -> list[Device]:
        return [d for d, mask in self.device_masks if mask[index]]

    def is_bookable(self, index: int) -> bool:
        return bool(self.bookable[index])

    def slot(self, index: int) -> Slot | None:
        if not self.bookable[index]:
            return None
        clinicians = self.free_clinicians(index)
        rooms = self.free_rooms(index)
        devices = self.free_devices(index)
        starts_at = self.candidates[index].starts_at
        return Slot(
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=self.minutes),
            clinician=clinicians[0], room=rooms[0], device=devices[0],
            clinicians=tuple(clinicians), rooms=tuple(rooms), devices=tuple(devices),
        )

    def slots(self) -> list[Slot]:
        return [slot for slot in map(self.slot, range(len(self.candidates))) if slot is not None]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _candidates(location: Location, start: date, end: date, minutes: int,
                opening: dict[int, list[tuple[float, float]]]) -> list[Candidate]:
    """Grid start times inside an opening interval, with the local day and times the services see."""
    zone = location.zone
    step = location.slot_minutes
    length = minutes * 60
    found: list[Candidate] = []
    day = start
    while day < end:
        intervals = opening.get(day.weekday())
        if intervals:
            first = int(min(opens for opens, _ in intervals) // 60)
            last = int(max(closes for _, closes in intervals) // 60) - minutes
            grid_minutes = range(-(-first // step) * step, last + 1, step)
            midnight = datetime.combine(day, time(), tzinfo=zone)
            if midnight.utcoffset() == datetime.combine(day, time(23, 59, 59), tzinfo=zone).utcoffset():
                # No clock change today: local seconds map straight onto UTC.
                base = midnight.timestamp()
                weekday = day.weekday()
                for grid_minute in grid_minutes:
                    start_seconds = grid_minute * 60
                    end_seconds = start_seconds + length
                    if end_seconds < 86400 and any(o <= start_seconds and end_seconds <= c for o, c in intervals):
                        found.append(Candidate(epoch=base + start_seconds, local_date=day, weekday=weekday,
                                               start_seconds=start_seconds, end_seconds=end_seconds))
            else:
                found.extend(_candidates_on_clock_change(zone, day, grid_minutes, minutes, intervals))
        day += timedelta(days=1)
    found.sort(key=lambda candidate: candidate.epoch)
    return found


def _candidates_on_clock_change(zone, day: date, grid_minutes, minutes: int,
                                intervals: list[tuple[float, float]]) -> list[Candidate]:
    """A day with a daylight-saving change: wall times it skips are no start time, both instants of
    a repeated wall time are."""
    found = []
    seen: set[float] = set()
    for grid_minute in grid_minutes:
        wall = time(grid_minute // 60, grid_minute % 60)
        for fold in (0, 1):
            epoch = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold).timestamp()
            if epoch in seen:
                continue
            local_start = datetime.fromtimestamp(epoch, tz=zone)
            if local_start.date() != day or local_start.hour * 60 + local_start.minute != grid_minute:
                continue  # a wall-clock time the change skips
            seen.add(epoch)
            local_end = datetime.fromtimestamp(epoch + minutes * 60, tz=zone)
            if local_end.date() != day:
                continue
            start_seconds = local_start.hour * 3600 + local_start.minute * 60 + local_start.second
            end_seconds = local_end.hour * 3600 + local_end.minute * 60 + local_end.second
            if any(opens <= start_seconds and end_seconds <= closes for opens, closes in intervals):
                found.append(Candidate(epoch=epoch, local_date=day, weekday=day.weekday(),
                                       start_seconds=start_seconds, end_seconds=end_seconds))
    return found


def _block(mask: bytearray, epochs: list[float], busy_from: float, busy_to: float, length: float) -> None:
    """Clear every start whose session [s, s + length) overlaps [busy_from, busy_to)."""
    low = bisect_right(epochs, busy_from - length)
    high = bisect_left(epochs, busy_to)
    if low < high:
        mask[low:high] = bytes(high - low)


def _one_or_all(rows: list, chosen: Staff | Room | Device | None) -> list:
    return rows if chosen is None else [row for row in rows if row.pk == chosen.pk]


def availability_grid(
    *, location: Location, start: date, end: date, minutes: int, clinician: Staff | None = None,
    room: Room | None = None, device: Device | None = None, patient_id: int | None = None,
    course: Course | None = None, moving: list[Appointment] | None = None, now: datetime | None = None,
) -> Grid:
    """Compute what is free on the grid of local days [start, end) for a session of ``minutes``.

    ``course`` adds its patient and its rules (one session a local day, at most 5 a week);
    ``moving`` are booked sessions about to be moved: their own times count as free.
    """
    if not SESSION_MINUTES_MIN <= minutes <= SESSION_MINUTES_MAX:
        raise ValidationError({"minutes": f"A session lasts {SESSION_MINUTES_MIN} to {SESSION_MINUTES_MAX} minutes."})
    if course is not None and minutes != course.session_minutes:
        raise ValidationError({"minutes": f"This course's sessions last {course.session_minutes} minutes."})
    if end <= start:
        raise ValidationError({"end": "The end date must be after the start date."})
    if (end - start).days > WINDOW_DAYS_MAX:
        raise ValidationError({"end": f"Ask for at most {WINDOW_DAYS_MAX} days at a time."})
    for resource, name in ((room, "room"), (device, "device")):
        if resource is not None and resource.location_id != location.pk:
            raise ValidationError({name: f"{resource} is not at {location}."})
    if course is not None:
        patient_id = course.patient_id
    now = now or timezone.now()

    zone = location.zone
    window_from = datetime.combine(start, time(), tzinfo=zone)
    window_to = datetime.combine(end, time(), tzinfo=zone)
    buffer = timedelta(minutes=location.turnover_minutes)
    setup = setup_of(location)
    clinicians = _one_or_all(setup.clinicians, clinician)
    rooms = _one_or_all(setup.rooms, room)
    devices = _one_or_all(setup.devices, device)
    opening, working = setup.opening, setup.working
    clinician_ids = [c.pk for c in clinicians]

    candidates = _candidates(location, start, end, minutes, opening)
    epochs = [candidate.epoch for candidate in candidates]
    size = len(candidates)
    length = minutes * 60.0
    now_epoch = now.timestamp()
    usable = bytearray(1 if epoch >= now_epoch else 0 for epoch in epochs)

    clinician_free: dict[int, bytearray] = {}
    by_hours: dict[frozenset, bytearray] = {}
    for person in clinicians:
        hours = working.get(person.pk)
        if not hours:
            clinician_free[person.pk] = bytearray(b"\x01" * size)
            continue
        key = frozenset((weekday, tuple(sorted(spans))) for weekday, spans in hours.items())
        if key not in by_hours:
            by_hours[key] = bytearray(
                1 if any(s <= c.start_seconds and c.end_seconds <= e for s, e in hours.get(c.weekday, ())) else 0
                for c in candidates
            )
        clinician_free[person.pk] = bytearray(by_hours[key])
    room_free = {r.pk: bytearray(b"\x01" * size) for r in rooms}
    device_free = {d.pk: bytearray(b"\x01" * size) for d in devices}

    whose = Q(location=location) | Q(clinician_id__in=clinician_ids)
    if patient_id is not None:
        whose |= Q(patient_id=patient_id)
    wanted = whose & Q(starts_at__gte=window_from - buffer - timedelta(minutes=SESSION_MINUTES_MAX),
                       starts_at__lt=window_to + buffer, ends_at__gt=window_from - buffer)
    if course is not None:
        wanted |= Q(course=course)  # all its sessions, for its rules: outside the window they block no start
    nothing = Value(None, output_field=BigIntegerField())
    # The sessions and the window's closures in one read (a closure's row has a reason, a session's none).
    rows = Appointment.objects.filter(wanted, status__in=ACTIVE_STATUSES).exclude(
        pk__in=[appointment.pk for appointment in moving or () if appointment.pk],
    ).order_by().values_list(
        "course_id", "clinician_id", "room_id", "device_id", "patient_id", "local_date", "starts_at", "ends_at",
        Value(None, output_field=CharField()),
    ).union(Closure.objects.filter(location=location, starts_at__lt=window_to, ends_at__gt=window_from).order_by(
    ).values_list(nothing, "clinician_id", "room_id", "device_id", nothing, Value(None, output_field=DateField()),
                  "starts_at", "ends_at", "reason"), all=True)
    location_closures = []
    course_facts = CourseFacts() if course is not None else None
    patient_days: set[date] = set()  # one session of a patient a day, whatever the course
    pad = buffer.total_seconds()
    for course_id, clinician_id, room_id, device_id, row_patient, local_date, starts_at, ends_at, reason in rows:
        starts, ends = starts_at.timestamp(), ends_at.timestamp()
        if reason is not None:  # a closure: of the location, or of one clinician, room or device
            if clinician_id is None and room_id is None and device_id is None:
                _block(usable, epochs, starts, ends, length)
                location_closures.append((starts, ends, reason))
            elif clinician_id in clinician_free:
                _block(clinician_free[clinician_id], epochs, starts, ends, length)
            elif room_id in room_free:
                _block(room_free[room_id], epochs, starts, ends, length)
            elif device_id in device_free:
                _block(device_free[device_id], epochs, starts, ends, length)
            continue
        if course is not None and course_id == course.pk:
            course_facts.active += 1
            course_facts.days.add(local_date)
            course_facts.weeks[week_start(local_date)] += 1
        if clinician_id in clinician_free:
            _block(clinician_free[clinician_id], epochs, starts, ends, length)
        if room_id in room_free:
            _block(room_free[room_id], epochs, starts - pad, ends + pad, length)
        if device_id in device_free:
            _block(device_free[device_id], epochs, starts - pad, ends + pad, length)
        if patient_id is not None and row_patient == patient_id:
            patient_days.add(local_date)
    if patient_days:
        for index, candidate in enumerate(candidates):
            if candidate.local_date in patient_days:
                usable[index] = 0
    if course_facts is not None:
        for index, candidate in enumerate(candidates):
            if usable[index] and (
                candidate.local_date in course_facts.days
                or course_facts.weeks.get(week_start(candidate.local_date), 0) >= SESSIONS_PER_WEEK_MAX
            ):
                usable[index] = 0
    return Grid(
        location=location, minutes=minutes, candidates=candidates, clinicians=clinicians, rooms=rooms,
        devices=devices, usable=usable, clinician_free=clinician_free, room_free=room_free,
        device_free=device_free, course=course_facts, closures=location_closures,
    )
