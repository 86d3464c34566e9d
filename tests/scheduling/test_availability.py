"""slot_list_available: which resources each slot names, each rule that removes a slot, and its query cost."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from clinic import services as clinic_services
from scheduling.booking.selectors import slot_list_available
from scheduling.booking.services import appointment_book, appointment_reschedule
from tests.factories import book, make_clinic, make_course, make_patient

pytestmark = pytest.mark.django_db


def local_starts(clinic, slots) -> list[str]:
    return [f"{clinic.location.local(slot.starts_at):%H:%M}" for slot in slots]


def one_day(clinic, day, **options):
    return slot_list_available(location=clinic.location, start=day, end=day + timedelta(days=1),
                               minutes=options.pop("minutes", 30), **options)


def test_slot_names_the_clinicians_rooms_and_devices_free_together(clinic, monday):
    book(clinic, make_course(clinic), clinic.at(monday, 9))
    slots = one_day(clinic, monday)
    by_start = {clinic.location.local(slot.starts_at).time(): slot for slot in slots}
    assert len(slots) == 47  # 08:00 to 19:30 every 15 minutes: the other clinician, room and device are free
    at_nine = by_start[time(9)]
    assert at_nine.clinicians == (clinic.clinicians[1],)
    assert at_nine.rooms == (clinic.rooms[1],)
    assert at_nine.devices == (clinic.devices[1],)
    assert (at_nine.clinician, at_nine.room, at_nine.device) == (clinic.clinicians[1], clinic.rooms[1],
                                                                  clinic.devices[1])
    assert at_nine.ends_at - at_nine.starts_at == timedelta(minutes=30)
    # 09:30: the clinician is free again, the room and the device need 5 minutes of turnover.
    at_half_past = by_start[time(9, 30)]
    assert at_half_past.clinicians == tuple(clinic.clinicians)
    assert at_half_past.rooms == (clinic.rooms[1],)
    assert at_half_past.devices == (clinic.devices[1],)
    assert by_start[time(9, 45)].rooms == tuple(clinic.rooms)


def test_a_time_with_no_free_room_is_not_offered(monday):
    clinic = make_clinic(rooms=1)
    book(clinic, make_course(clinic), clinic.at(monday, 9))
    assert "09:00" not in local_starts(clinic, one_day(clinic, monday))
    assert "08:30" not in local_starts(clinic, one_day(clinic, monday))  # would end 09:00, turnover to 09:05
    assert local_starts(clinic, one_day(clinic, monday))[:4] == ["08:00", "08:15", "09:45", "10:00"]


def test_a_closed_weekday_has_no_slots(clinic, monday):
    assert one_day(clinic, monday + timedelta(days=6)) == []  # Sunday


def test_a_location_closure_removes_every_slot_it_touches(clinic, monday):
    clinic_services.closure_create(location=clinic.location, starts_at=clinic.at(monday, 10),
                                   ends_at=clinic.at(monday, 11), reason="Fire drill", created_by=clinic.admin)
    starts = local_starts(clinic, one_day(clinic, monday))
    assert "09:30" in starts and "11:00" in starts
    assert not {"09:45", "10:00", "10:30", "10:45"} & set(starts)


def test_a_clinician_closure_leaves_the_other_clinician(clinic, monday):
    clinic_services.closure_create(location=clinic.location, starts_at=clinic.at(monday, 8),
                                   ends_at=clinic.at(monday, 20), reason="Training", clinician=clinic.clinician,
                                   created_by=clinic.admin)
    slots = one_day(clinic, monday)
    assert len(slots) == 47
    assert {slot.clinicians for slot in slots} == {(clinic.clinicians[1],)}


def test_working_hours_limit_a_clinicians_slots_to_those_hours(clinic, monday):
    clinic_services.working_hours_add(clinician=clinic.clinicians[1], location=clinic.location, weekday=0,
                                      starts_at=time(12), ends_at=time(14), created_by=clinic.admin)
    mine = one_day(clinic, monday, clinician=clinic.clinicians[1])
    assert local_starts(clinic, mine) == ["12:00", "12:15", "12:30", "12:45", "13:00", "13:15", "13:30"]
    assert one_day(clinic, monday + timedelta(days=1), clinician=clinic.clinicians[1]) == []


def test_an_out_of_service_device_is_never_offered(clinic, monday):
    clinic_services.device_set_in_service(device=clinic.devices[0], in_service=False)
    assert {slot.devices for slot in one_day(clinic, monday)} == {(clinic.devices[1],)}
    assert one_day(clinic, monday, device=clinic.devices[0]) == []


def test_the_patients_own_days_are_kept_clear(clinic, monday):
    patient = make_patient(clinic)
    book(clinic, make_course(clinic, patient), clinic.at(monday, 9))
    assert one_day(clinic, monday, patient=patient) == []  # one session of a patient a day (issue 20)
    assert "09:00" in local_starts(clinic, one_day(clinic, monday + timedelta(days=1), patient=patient))


def test_a_course_gets_one_session_a_day_and_five_a_week(clinic, monday):
    course = make_course(clinic, planned_sessions=10)
    for day in range(5):
        book(clinic, course, clinic.at(monday + timedelta(days=day), 9))
    saturday = monday + timedelta(days=5)
    assert one_day(clinic, monday, course=course) == []
    assert one_day(clinic, saturday, course=course) == []
    assert len(one_day(clinic, saturday, patient=course.patient)) == 47
    assert len(one_day(clinic, monday + timedelta(days=7), course=course)) == 47


def test_a_course_that_cannot_be_booked_is_refused_in_the_booking_words(clinic, monday):
    unscreened = make_course(clinic, make_patient(clinic, screened=False))
    with pytest.raises(ValidationError) as refused:
        one_day(clinic, monday, course=unscreened)
    assert refused.value.message_dict == {
        "patient": ["Record the patient's contraindication screening before booking."]
    }
    full = make_course(clinic, planned_sessions=6)
    for day in (0, 2, 4, 7, 9, 11):
        book(clinic, full, clinic.at(monday + timedelta(days=day), 9))
    with pytest.raises(ValidationError) as refused:
        one_day(clinic, monday + timedelta(days=14), course=full)
    assert refused.value.message_dict == {"course": ["All 6 planned sessions of this course are already booked."]}


def test_a_session_being_moved_does_not_block_its_own_time(clinic, monday):
    course = make_course(clinic)
    moving = book(clinic, course, clinic.at(monday, 9))
    slots = slot_list_available(location=clinic.location, start=monday, end=monday + timedelta(days=1),
                                course=course, moving=moving, clinician=clinic.clinician, room=clinic.room,
                                device=clinic.device)
    assert len(slots) == 47
    appointment_reschedule(appointment=moving, starts_at=slots[4].starts_at,
                           rescheduled_by=clinic.front_desk.user)


def test_times_already_past_are_not_offered(clinic, monday):
    with time_machine.travel(clinic.at(monday, 10, 7), tick=False):
        assert local_starts(clinic, one_day(clinic, monday))[:2] == ["10:15", "10:30"]


def test_the_grid_follows_the_wall_clock_across_the_spring_daylight_saving_change():
    clinic = make_clinic(opens=time(0), closes=time(4))
    clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(0), closes_at=time(4),
                                      created_by=clinic.admin)
    change = date(2027, 3, 28)  # Europe/London: 01:00 becomes 02:00
    slots = one_day(clinic, change)
    assert local_starts(clinic, slots) == ["00:00", "00:15", "00:30", "00:45", "02:00", "02:15", "02:30", "02:45",
                                           "03:00", "03:15", "03:30"]
    assert all(slot.ends_at - slot.starts_at == timedelta(minutes=30) for slot in slots)
    course = make_course(clinic)
    appointment_book(course=course, clinician=clinic.clinician, room=clinic.room, device=clinic.device,
                     starts_at=slots[3].starts_at, booked_by=clinic.front_desk.user)


def test_a_larger_grid_of_the_location_is_used(monday):
    clinic = make_clinic(slot_minutes=20, opens=time(8), closes=time(10))
    assert local_starts(clinic, one_day(clinic, monday)) == ["08:00", "08:20", "08:40", "09:00", "09:20"]


def test_bad_questions_are_refused_with_field_messages(clinic, monday):
    other = make_clinic()
    cases = [
        ({"start": monday, "end": monday, "minutes": 30}, {"end": ["The end date must be after the start date."]}),
        ({"start": monday, "end": monday + timedelta(days=1), "minutes": 20},
         {"minutes": ["A session lasts 25 to 45 minutes."]}),
        ({"start": monday, "end": monday + timedelta(days=400), "minutes": 30},
         {"end": ["Ask for at most 190 days at a time."]}),
        ({"start": monday, "end": monday + timedelta(days=1), "minutes": 30, "room": other.room},
         {"room": [f"{other.room} is not at {clinic.location}."]}),
    ]
    for question, messages in cases:
        with pytest.raises(ValidationError) as refused:
            slot_list_available(location=clinic.location, **question)
        assert refused.value.message_dict == messages


def test_the_query_count_is_fixed_and_does_not_grow_with_history(clinic, monday, django_assert_num_queries):
    course = make_course(clinic, planned_sessions=10)
    week = {"location": clinic.location, "start": monday, "end": monday + timedelta(days=7), "minutes": 30}
    # The location's set-up (its row, clinicians, rooms, devices, the week's hours: five reads, then kept in the
    # shared cache), then the window's sessions and closures in one.
    with django_assert_num_queries(6):
        before = slot_list_available(**week)
    for weeks_later in (1, 2, 3):
        book(clinic, make_course(clinic), clinic.at(monday + timedelta(weeks=weeks_later), 9))
    with django_assert_num_queries(1):  # bookings change no set-up: the sessions and closures only
        assert slot_list_available(**week) == before
    with django_assert_num_queries(2):  # the course adds its patient's screening
        slot_list_available(**week, course=course)
