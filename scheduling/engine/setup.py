"""A location's set-up as the slot engine reads it: the location's row, its clinicians, rooms, in-service devices,
opening hours and its clinicians' working hours there.

These rows change rarely and every search reads them, so they are kept in Django's shared cache
(``clinic.selectors.generation_cached``) under the "setup" generation: any save or delete of a location, a
user, member of staff, their locations, a room, a device, opening or working hours starts it anew
(``clinic.services.setup_changed``, from the signals in clinic/apps.py), so the very next search reads them
again. Closures and sessions are read live by the engine, with the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, Value

from clinic.models import Device, Location, OpeningHours, Room, Staff, StaffRole, WorkingHours
from clinic.selectors import generation_cached

Spans = dict[int, list[tuple[float, float]]]  # weekday (0 = Monday) -> [(start, end) in local seconds of the day]


@dataclass
class LocationSetup:
    """Each list in the order the grid offers it: clinicians by name, rooms by name, devices by model and serial."""

    location: Location
    clinicians: list[Staff]
    rooms: list[Room]
    devices: list[Device]
    opening: Spans
    working: dict[int, Spans]  # clinician id -> their working hours at the location


def seconds_of_day(moment) -> float:
    """A wall-clock time (or the time of a local datetime) as the seconds since midnight the spans count in."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1_000_000


def _read(location_id: int) -> LocationSetup | None:
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        return None
    # order_by() drops the models' orderings, which join; the lists are sorted below.
    clinicians = list(Staff.objects.filter(locations=location, role=StaffRole.CLINICIAN, is_active=True)
                      .select_related("user").order_by()
                      .only("role", "is_active", "user__username", "user__first_name", "user__last_name"))
    rooms = list(Room.objects.filter(location=location, is_active=True).order_by().only(
        "location_id", "name", "is_active"))
    devices = list(Device.objects.filter(location=location, in_service=True).order_by().only(
        "location_id", "model", "serial_number", "in_service"))
    clinicians.sort(key=lambda c: (c.user.last_name, c.user.first_name, c.pk))
    rooms.sort(key=lambda r: (r.name, r.pk))
    devices.sort(key=lambda d: (d.model, d.serial_number, d.pk))
    # The week's hours in one read: the location's opening hours (no clinician) and its clinicians' own.
    week_hours = OpeningHours.objects.filter(location=location).order_by().values_list(
        Value(None, output_field=BigIntegerField()), "weekday", "opens_at", "closes_at",
    ).union(WorkingHours.objects.filter(location=location).order_by().values_list(
        "clinician_id", "weekday", "starts_at", "ends_at"), all=True)
    opening: Spans = {}
    working: dict[int, Spans] = {}
    for clinician_id, weekday, starts_at, ends_at in week_hours:
        spans = opening if clinician_id is None else working.setdefault(clinician_id, {})
        spans.setdefault(weekday, []).append((seconds_of_day(starts_at), seconds_of_day(ends_at)))
    return LocationSetup(location=location, clinicians=clinicians, rooms=rooms, devices=devices, opening=opening,
                         working=working)


def location_setup(location_id: int) -> LocationSetup | None:
    """The location's set-up, from the shared cache when no change came since it was read (five queries if not);
    None when there is no such location. The location's row it answers carries it (``setup_of``)."""
    setup = generation_cached("setup", f"ionto:setup:{location_id}", lambda: _read(location_id))
    if setup is not None:
        setup.location._ionto_setup = setup
    return setup


def setup_of(location: Location) -> LocationSetup:
    """``location``'s set-up: the one it came with when it came from ``location_setup`` (the API's free slots
    read it to check the query), else from the cache: it is unpickled once a search (about 0.5 ms, bench/README.md)."""
    found = getattr(location, "_ionto_setup", None)
    return found if found is not None else location_setup(location.pk)
