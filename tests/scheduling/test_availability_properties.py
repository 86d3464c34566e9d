"""Property tests: over random schedules, the slot finder agrees exactly with appointment_book.

For every example a small clinic is built through the services, random sessions and closures are
booked around a day, then every grid time and every clinician, room and device combination is
tried through ``appointment_book`` (each try rolled back). The combinations that book must be
exactly the ones the slots name: nothing returned is refused, nothing bookable is missing.
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic import services as clinic_services
from scheduling.booking.selectors import slot_list_available
from scheduling.booking.services import appointment_book
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db(transaction=False)

OPENS, CLOSES = time(8), time(11)


class _RolledBack(Exception):
    pass


def _books(course, clinician, room, device, starts_at, booked_by) -> bool:
    try:
        with transaction.atomic():
            appointment_book(course=course, clinician=clinician, room=room, device=device,
                             starts_at=starts_at, booked_by=booked_by)
            raise _RolledBack
    except _RolledBack:
        return True
    except ValidationError:
        return False


def _try(action) -> None:
    """Make a piece of the random schedule; the services may refuse it (an overlap), which is fine."""
    try:
        with transaction.atomic():
            action()
    except ValidationError:
        pass


bookings = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=(3 * 60 + 30) // 5),  # start, 5-minute steps from 07:45
        st.sampled_from([25, 30, 45]),
        st.integers(0, 1), st.integers(0, 1), st.integers(0, 1),  # clinician, room, device
    ),
    max_size=6,
)
closures = st.lists(
    st.tuples(
        st.sampled_from(["location", "room", "device", "clinician"]),
        st.integers(min_value=0, max_value=36),  # start, 5-minute steps from 08:00
        st.integers(min_value=1, max_value=12),  # length in 5-minute steps
    ),
    max_size=2,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(
    slot_minutes=st.sampled_from([10, 15, 20]),
    turnover=st.sampled_from([0, 5, 10]),
    minutes=st.sampled_from([25, 30, 45]),
    existing=bookings,
    closed=closures,
    works_from=st.one_of(st.none(), st.sampled_from([time(8, 30), time(9), time(9, 40)])),
    device_out=st.booleans(),
    patient_busy=st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
)
def test_slots_are_exactly_the_bookable_grid_times(db, slot_minutes, turnover, minutes, existing, closed, works_from,
                                                    device_out, patient_busy):
    with transaction.atomic():
        clinic = make_clinic(opens=OPENS, closes=CLOSES, slot_minutes=slot_minutes, turnover_minutes=turnover)
        day = next_weekday(2)
        start_of_day = clinic.at(day, 7, 45)
        for offset, length, c, r, d in existing:
            other = make_course(clinic, session_minutes=length)
            _try(lambda other=other, offset=offset, c=c, r=r, d=d: book(
                clinic, other, start_of_day + timedelta(minutes=5 * offset), clinician=clinic.clinicians[c],
                room=clinic.rooms[r], device=clinic.devices[d]))
        for kind, offset, length in closed:
            starts_at = clinic.at(day, 8) + timedelta(minutes=5 * offset)
            clinic_services.closure_create(
                location=clinic.location, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=5 * length),
                reason="Maintenance", room=clinic.room if kind == "room" else None,
                device=clinic.device if kind == "device" else None,
                clinician=clinic.clinician if kind == "clinician" else None, created_by=clinic.admin,
            )
        if works_from is not None:
            clinic_services.working_hours_add(clinician=clinic.clinicians[1], location=clinic.location,
                                              weekday=day.weekday(), starts_at=works_from, ends_at=time(10, 30),
                                              created_by=clinic.admin)
        if device_out:
            clinic_services.device_set_in_service(device=clinic.devices[1], in_service=False)
        patient = make_patient(clinic)
        course = make_course(clinic, patient, session_minutes=minutes)
        if patient_busy is not None:
            # The same patient in another course holds a time that day.
            _try(lambda: book(clinic, make_course(clinic, patient),
                              start_of_day + timedelta(minutes=5 * patient_busy),
                              clinician=clinic.clinicians[1], room=clinic.rooms[1], device=clinic.devices[1]))

        slots = slot_list_available(location=clinic.location, start=day, end=day + timedelta(days=1),
                                    minutes=minutes, course=course)

        offered = {
            (slot.starts_at, c.pk, r.pk, d.pk)
            for slot in slots for c in slot.clinicians for r in slot.rooms for d in slot.devices
        }
        # Every grid time from one step before opening to closing: no session fits outside them (and the
        # comparison holds every slot the finder offers, whenever it falls).
        bookable = set()
        wall = clinic.at(day, OPENS.hour) - timedelta(minutes=slot_minutes)
        while wall <= clinic.at(day, CLOSES.hour):
            for clinician in clinic.clinicians:
                for room in clinic.rooms:
                    for device in clinic.devices:
                        if _books(course, clinician, room, device, wall, clinic.front_desk.user):
                            bookable.add((wall, clinician.pk, room.pk, device.pk))
            wall += timedelta(minutes=slot_minutes)
        assert offered == bookable
        for slot in slots:
            assert slot.ends_at - slot.starts_at == timedelta(minutes=minutes)
            assert (slot.clinician, slot.room, slot.device) == (slot.clinicians[0], slot.rooms[0], slot.devices[0])
        transaction.set_rollback(True)
