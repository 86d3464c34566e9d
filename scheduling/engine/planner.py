"""The course planner: the sessions of a course laid on the grid, following its cadence."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from clinic.models import Device, Room, Staff
from scheduling.engine.grid import Candidate, CourseFacts, Grid, week_start
from scheduling.engine.setup import seconds_of_day
from scheduling.models import (
    SESSIONS_PER_WEEK_MAX,
    Appointment,
    Course,
)


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
        if self.earliest is not None and candidate.start_seconds < seconds_of_day(self.earliest):
            return False
        return self.latest is None or candidate.end_seconds <= seconds_of_day(self.latest)


@dataclass(frozen=True)
class Anchor:
    """The time of day and resources the sessions keep where they can."""

    seconds: float
    clinician_id: int | None = None
    room_id: int | None = None
    device_id: int | None = None


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
