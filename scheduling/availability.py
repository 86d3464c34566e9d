"""The slot engine: when a clinician, a room and an in-service device are free together.

It answers with the same rules ``scheduling.services`` enforces for one booking (``_check_hours``,
``_check_course``, ``conflicting_appointments``...), but for a whole window at once: the facts of
the window are read in a fixed number of set-based queries (one each for the clinicians, rooms,
devices, the week's opening and working hours, the closures, and the active appointments that can
touch the window with the course's own), then the grid is computed in memory. The appointment
query is bounded by the window on ``starts_at`` so the indexes ``appointment_location_start``,
``appointment_clinician_start``, ``appointment_patient_start`` (and ``appointment_course_start``
for the course's own) keep its cost proportional to the window, not to years of history.

The grid: start times at whole multiples of the location's ``slot_minutes`` from local midnight,
in the location's time zone (both instants of a wall-clock time repeated at a DST change).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Q, QuerySet, Value
from django.utils import timezone

from clinic.models import Closure, Device, Location, OpeningHours, Room, Staff, StaffRole, WorkingHours
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


def _one_or_all(rows: QuerySet, chosen: Staff | Room | Device | None) -> QuerySet:
    return rows if chosen is None else rows.filter(pk=chosen.pk)


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
    # Each read in the order the grid sorts it in below (order_by() drops the models' orderings, which join).
    clinicians = list(_one_or_all(Staff.objects.filter(locations=location, role=StaffRole.CLINICIAN, is_active=True),
                                  clinician).select_related("user").order_by().only(
        "role", "is_active", "user__username", "user__first_name", "user__last_name"))
    rooms = list(_one_or_all(Room.objects.filter(location=location, is_active=True), room).order_by().only(
        "location_id", "name", "is_active"))
    devices = list(_one_or_all(Device.objects.filter(location=location, in_service=True), device).order_by().only(
        "location_id", "model", "serial_number", "in_service"))
    clinicians.sort(key=lambda c: (c.user.last_name, c.user.first_name, c.pk))
    rooms.sort(key=lambda r: (r.name, r.pk))
    devices.sort(key=lambda d: (d.model, d.serial_number, d.pk))
    working_hours = WorkingHours.objects.filter(location=location)
    if clinician is not None:
        working_hours = working_hours.filter(clinician=clinician)
    # The week's hours in one read: the location's opening hours (no clinician) and its clinicians' own.
    week_hours = OpeningHours.objects.filter(location=location).order_by().values_list(
        Value(None, output_field=BigIntegerField()), "weekday", "opens_at", "closes_at",
    ).union(working_hours.order_by().values_list("clinician_id", "weekday", "starts_at", "ends_at"), all=True)
    opening: dict[int, list[tuple[float, float]]] = defaultdict(list)
    working: dict[int, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for clinician_id, weekday, starts_at, ends_at in week_hours:
        spans = opening[weekday] if clinician_id is None else working[clinician_id][weekday]
        spans.append((_seconds(starts_at), _seconds(ends_at)))
    closures = Closure.objects.filter(location=location, starts_at__lt=window_to, ends_at__gt=window_from).order_by(
        ).values_list("clinician_id", "room_id", "device_id", "starts_at", "ends_at", "reason")
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

    location_closures = []
    for clinician_id, room_id, device_id, starts_at, ends_at, reason in closures:
        starts, ends = starts_at.timestamp(), ends_at.timestamp()
        if clinician_id is None and room_id is None and device_id is None:
            _block(usable, epochs, starts, ends, length)
            location_closures.append((starts, ends, reason))
        elif clinician_id in clinician_free:
            _block(clinician_free[clinician_id], epochs, starts, ends, length)
        elif room_id in room_free:
            _block(room_free[room_id], epochs, starts, ends, length)
        elif device_id in device_free:
            _block(device_free[device_id], epochs, starts, ends, length)

    whose = Q(location=location) | Q(clinician_id__in=clinician_ids)
    if patient_id is not None:
        whose |= Q(patient_id=patient_id)
    wanted = whose & Q(starts_at__gte=window_from - buffer - timedelta(minutes=SESSION_MINUTES_MAX),
                       starts_at__lt=window_to + buffer, ends_at__gt=window_from - buffer)
    if course is not None:
        wanted |= Q(course=course)  # all its sessions, for its rules: outside the window they block no start
    rows = Appointment.objects.filter(wanted, status__in=ACTIVE_STATUSES).exclude(
        pk__in=[appointment.pk for appointment in moving or () if appointment.pk],
    ).order_by().values_list(
        "course_id", "clinician_id", "room_id", "device_id", "patient_id", "local_date", "starts_at", "ends_at")
    course_facts = CourseFacts() if course is not None else None
    pad = buffer.total_seconds()
    for course_id, clinician_id, room_id, device_id, row_patient, local_date, starts_at, ends_at in rows:
        if course is not None and course_id == course.pk:
            course_facts.active += 1
            course_facts.days.add(local_date)
            course_facts.weeks[week_start(local_date)] += 1
        starts, ends = starts_at.timestamp(), ends_at.timestamp()
        if clinician_id in clinician_free:
            _block(clinician_free[clinician_id], epochs, starts, ends, length)
        if room_id in room_free:
            _block(room_free[room_id], epochs, starts - pad, ends + pad, length)
        if device_id in device_free:
            _block(device_free[device_id], epochs, starts - pad, ends + pad, length)
        if patient_id is not None and row_patient == patient_id:
            _block(usable, epochs, starts, ends, length)
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


# ---------------------------------------------------------------------------------------------
# Course planning: the sessions of a course laid on the grid, following its cadence


@dataclass
class PlannedSession:
    """One session of a plan: where it goes (and, once booked, the appointment)."""

    number: int
    starts_at: datetime
    ends_at: datetime
    clinician: Staff
    room: Room
    device: Device
    appointment: Appointment | None = None


@dataclass
class UnplacedSession:
    """A session of the course that found no place, and why."""

    number: int
    reason: str


@dataclass
class CoursePlan:
    """The answer of ``course_book`` (and of ``course_reschedule_from``): what goes where, what does not fit.

    ``booked`` is True once every session is in the calendar; a preview, or a plan that does
    not fit, books nothing.
    """

    course: Course
    sessions: list[PlannedSession]
    unplaced: list[UnplacedSession]
    horizon_end: date
    booked: bool = False

    @property
    def fits(self) -> bool:
        return not self.unplaced


@dataclass(frozen=True)
class Preferences:
    """The patient's wishes: weekdays (0 = Monday), the earliest start and latest end (local), a clinician."""

    weekdays: frozenset[int] | None = None
    earliest: time | None = None
    latest: time | None = None
    clinician: Staff | None = None

    def allows(self, candidate: Candidate) -> bool:
        if self.weekdays is not None and candidate.weekday not in self.weekdays:
            return False
        if self.earliest is not None and candidate.start_seconds < _seconds(self.earliest):
            return False
        return self.latest is None or candidate.end_seconds <= _seconds(self.latest)


@dataclass(frozen=True)
class Anchor:
    """The time of day and resources the sessions keep where they can."""

    seconds: float
    clinician_id: int | None = None
    room_id: int | None = None
    device_id: int | None = None


def _seconds(moment: time) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _day_fits_cadence(day: date, taken: set[date], weeks: dict[date, int], per_week: int, min_gap: int) -> bool:
    if weeks.get(week_start(day), 0) >= min(per_week, SESSIONS_PER_WEEK_MAX):
        return False
    return all(abs((day - other).days) >= min_gap for other in taken)


def _choose_days(options: dict[date, list[int]], count: int, course: CourseFacts, per_week: int,
                 min_gap: int) -> list[date]:
    taken = set(course.days)
    weeks = dict(course.weeks)
    chosen: list[date] = []
    for day in sorted(options):
        if len(chosen) == count:
            break
        if _day_fits_cadence(day, taken, weeks, per_week, min_gap):
            chosen.append(day)
            taken.add(day)
            weeks[week_start(day)] = weeks.get(week_start(day), 0) + 1
    return chosen


def _anchor(grid: Grid, options: dict[date, list[int]], days: list[date], preferred: Staff | None) -> Anchor:
    """The clinician (the preferred one when free at all) and the time of day free on most of the days."""
    counts: Counter[tuple[float, int]] = Counter()
    masks = [(person.pk, mask) for person, mask in grid.clinician_masks]
    for day in days:
        counts.update({(grid.candidates[index].start_seconds, pk)
                       for index in options[day] for pk, mask in masks if mask[index]})
    if preferred is not None and any(pk == preferred.pk for _, pk in counts):
        counts = {key: value for key, value in counts.items() if key[1] == preferred.pk}
    (seconds, clinician_id), _ = min(counts.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
    return Anchor(seconds=seconds, clinician_id=clinician_id)


def _pick(grid: Grid, indices: list[int], anchor: Anchor, preferred: Staff | None, room_id: int | None,
          device_id: int | None) -> tuple[int, Staff, Room, Device]:
    """On one day: the preferred or anchor clinician nearest the anchor time, the same room and device."""
    best = None
    for index in indices:
        seconds = grid.candidates[index].start_seconds
        for person in grid.free_clinicians(index):
            key = (preferred is not None and person.pk != preferred.pk, person.pk != anchor.clinician_id,
                   abs(seconds - anchor.seconds), seconds)
            if best is None or key < best[0]:
                best = (key, index, person)
    _, index, person = best
    rooms = grid.free_rooms(index)
    devices = grid.free_devices(index)
    room = next((r for r in rooms if r.pk == room_id), rooms[0])
    device = next((d for d in devices if d.pk == device_id), devices[0])
    return index, person, room, device


def _unplaced_reason(grid: Grid, course: Course, options: dict[date, list[int]], after: date | None,
                     horizon_end: date) -> str:
    """Why nothing more fits: the location's closures, full days, the patient's wishes, the cadence."""
    location = grid.location
    weeks = location.booking_horizon_weeks
    last_day = horizon_end - timedelta(days=1)
    parts = []
    since = datetime.combine(after + timedelta(days=1), time(), tzinfo=location.zone).timestamp() if after else 0
    for starts, ends, reason in sorted(grid.closures):
        if ends <= since:
            continue
        start = datetime.fromtimestamp(starts, tz=location.zone)
        end = datetime.fromtimestamp(ends, tz=location.zone)
        parts.append(f"{location} is closed {start:%a %d %b %H:%M} to {end:%a %d %b %H:%M} ({reason})")
    full = wishes = cadence = 0
    by_day: dict[date, list[int]] = defaultdict(list)
    for index, candidate in enumerate(grid.candidates):
        if after is None or candidate.local_date > after:
            by_day[candidate.local_date].append(index)
    for day, indices in by_day.items():
        usable = [i for i in indices if grid.usable[i]]
        if not usable:
            continue  # closed, passed, or the patient's own sessions: named above or plain
        bookable = [i for i in usable if grid.is_bookable(i)]
        if not bookable:
            full += 1
        elif day not in options:
            wishes += 1
        else:
            cadence += 1
    if full:
        parts.append(f"{full} day{'s have' if full != 1 else ' has'} no clinician, room and device free together")
    if wishes:
        parts.append(f"{wishes} day{'s have' if wishes != 1 else ' has'} free times only outside the patient's "
                     "preferred days or times")
    if cadence:
        parts.append(f"{cadence} more day{'s' if cadence != 1 else ''} would break the cadence of "
                     f"{course.sessions_per_week} session{'s' if course.sessions_per_week != 1 else ''} a week "
                     "on separate days")
    text = (f"does not fit by {last_day:%a %d %b %Y}, the end of the {weeks}-week booking horizon")
    return text + (": " + "; ".join(parts) if parts else "") + "."


def course_plan(
    *, grid: Grid, course: Course, count: int, first_number: int, preferences: Preferences,
    horizon_end: date, anchor: Anchor | None = None, not_before: date | None = None,
) -> CoursePlan:
    """Lay ``count`` sessions of ``course`` on the grid: its cadence (``sessions_per_week`` on separate days,
    a free day between them where that still fits), the patient's preferences, the same clinician,
    room and time of day where free. Sessions that do not fit come back with their reason."""
    options: dict[date, list[int]] = defaultdict(list)
    for index, candidate in enumerate(grid.candidates):
        if not_before is not None and candidate.local_date < not_before:
            continue
        if grid.bookable[index] and preferences.allows(candidate):
            options[candidate.local_date].append(index)
    per_week = course.sessions_per_week
    days: list[date] = []
    for min_gap in ((2, 1) if per_week * 2 <= 7 else (1,)):
        tried = _choose_days(options, count, grid.course, per_week, min_gap)
        if len(tried) > len(days):  # a free day between sessions unless that places fewer
            days = tried
        if len(days) == count:
            break
    sessions: list[PlannedSession] = []
    if days:
        anchor = anchor or _anchor(grid, options, days, preferences.clinician)
        room_id, device_id = anchor.room_id, anchor.device_id
        for number, day in enumerate(days, start=first_number):
            index, person, room, device = _pick(grid, options[day], anchor, preferences.clinician, room_id, device_id)
            room_id, device_id = room_id or room.pk, device_id or device.pk
            starts_at = grid.candidates[index].starts_at
            sessions.append(PlannedSession(number=number, starts_at=starts_at,
                                           ends_at=starts_at + timedelta(minutes=grid.minutes),
                                           clinician=person, room=room, device=device))
    unplaced = []
    if len(days) < count:
        reason = _unplaced_reason(grid, course, options, days[-1] if days else None, horizon_end)
        total = first_number + count - 1
        unplaced = [UnplacedSession(number=number, reason=f"Session {number} of {total} {reason}")
                    for number in range(first_number + len(days), first_number + count)]
    return CoursePlan(course=course, sessions=sessions, unplaced=unplaced, horizon_end=horizon_end)
