"""The slot engine keeps a location's set-up in the shared cache (scheduling.engine.setup): each change of it
counts on the very next search, through the services, the admin's plain saves and the API."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic import services as clinic_services
from clinic.models import OpeningHours, WorkingHours
from scheduling.booking.selectors import slot_list_available
from scheduling.engine.setup import location_setup
from tests.factories import make_clinic, next_weekday

pytestmark = pytest.mark.django_db


def one_day(clinic, day, **options):
    return slot_list_available(location=clinic.location, start=day, end=day + timedelta(days=1), minutes=30,
                               **options)


def local_starts(clinic, slots) -> list[str]:
    return [f"{clinic.location.local(slot.starts_at):%H:%M}" for slot in slots]


def warm(clinic, day):
    """A first search (the set-up is read and kept), then the same search from the cache: one query."""
    first = one_day(clinic, day)
    with CaptureQueriesContext(connection) as queries:
        assert one_day(clinic, day) == first
    assert len(queries) == 1, [query["sql"] for query in queries.captured_queries]
    return first


@pytest.fixture
def clinic():
    return make_clinic(rooms=2, devices=2, clinicians=2)


@pytest.fixture
def monday():
    return next_weekday(0)


def test_a_new_closure_counts_at_once(clinic, monday):
    warm(clinic, monday)
    clinic_services.closure_create(location=clinic.location, starts_at=clinic.at(monday, 8),
                                   ends_at=clinic.at(monday, 12), reason="Staff training")
    assert local_starts(clinic, one_day(clinic, monday))[0] == "12:00"


def test_changed_and_new_opening_hours_count_at_once(clinic, monday):
    warm(clinic, monday)
    hours = OpeningHours.objects.get(location=clinic.location, weekday=0)
    hours.closes_at = time(12)
    hours.save()
    assert local_starts(clinic, one_day(clinic, monday))[-1] == "11:30"
    sunday = monday + timedelta(days=6)
    assert one_day(clinic, sunday) == []
    clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(10), closes_at=time(14))
    assert local_starts(clinic, one_day(clinic, sunday))[0] == "10:00"
    hours.delete()
    assert one_day(clinic, monday) == []


def test_a_deactivated_room_and_a_device_out_of_service_count_at_once(clinic, monday):
    first = warm(clinic, monday)
    assert first[0].rooms == tuple(clinic.rooms) and first[0].devices == tuple(clinic.devices)
    room = clinic.rooms[0]
    room.is_active = False
    room.save()
    clinic_services.device_set_in_service(device=clinic.devices[1], in_service=False)
    slot = one_day(clinic, monday)[0]
    assert slot.rooms == (clinic.rooms[1],) and slot.devices == (clinic.devices[0],)
    clinic_services.room_create(location=clinic.location, name="Room 0")
    assert [room.name for room in one_day(clinic, monday)[0].rooms] == ["Room 0", "Room 2"]


def test_a_clinicians_working_hours_count_at_once(clinic, monday):
    warm(clinic, monday)
    person = clinic.clinicians[0]
    added = clinic_services.working_hours_add(clinician=person, location=clinic.location, weekday=0,
                                              starts_at=time(14), ends_at=time(16))
    mine = one_day(clinic, monday, clinician=person)
    assert (local_starts(clinic, mine)[0], local_starts(clinic, mine)[-1]) == ("14:00", "15:30")
    WorkingHours.objects.filter(pk=added.pk).delete()
    assert local_starts(clinic, one_day(clinic, monday, clinician=person))[0] == "08:00"


def test_a_clinicians_locations_activity_and_name_count_at_once(clinic, monday):
    assert warm(clinic, monday)[0].clinicians == tuple(clinic.clinicians)
    first, second = clinic.clinicians
    second.user.last_name = "Aaa"  # the list is by name: the renamed clinician comes first
    second.user.save()
    assert one_day(clinic, monday)[0].clinicians == (second, first)
    first.locations.remove(clinic.location)
    assert one_day(clinic, monday)[0].clinicians == (second,)
    first.locations.add(clinic.location)
    assert one_day(clinic, monday)[0].clinicians == (second, first)
    second.is_active = False
    second.save()
    assert one_day(clinic, monday)[0].clinicians == (first,)


def test_each_location_keeps_its_own_set_up(clinic, monday):
    other = make_clinic(rooms=1, devices=1, clinicians=1)
    warm(clinic, monday)
    warm(other, monday)
    assert one_day(other, monday)[0].rooms == tuple(other.rooms)
    assert one_day(clinic, monday)[0].rooms == tuple(clinic.rooms)


def test_a_changed_location_row_counts_at_once(clinic, monday):
    """The API's free slots take the location's row from its set-up (api/serializers/engine.py)."""
    warm(clinic, monday)
    assert location_setup(clinic.location.pk).location.slot_minutes == clinic.location.slot_minutes
    clinic.location.slot_minutes = 30  # an admin's plain save
    clinic.location.save()
    assert location_setup(clinic.location.pk).location.slot_minutes == 30
    assert local_starts(clinic, one_day(clinic, monday))[:2] == ["08:00", "08:30"]
    assert location_setup(0) is None
