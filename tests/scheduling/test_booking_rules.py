"""Each booking rule, broken through the service: the refusal and its words."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from clinic import services as clinic_services
from clinic.errors import ConflictError
from patients import services as patient_services
from scheduling.booking.courses import course_create, course_discontinue
from scheduling.booking.services import (
    appointment_cancel,
    appointment_cancel_by_patient,
    appointment_confirm,
    appointment_enter_past,
    appointment_mark_arrived,
    appointment_mark_entered_in_error,
    appointment_mark_noshow,
    appointment_reschedule,
)
from scheduling.models import AppointmentStatus, CancelledBy, ConfirmationChannel
from tests.conftest import made_once
from tests.factories import NO_CONTRAINDICATIONS, book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


rows_made_once, clinic = made_once(make_clinic)  # each test rolled back to the clinic


def messages(error: ValidationError) -> list[str]:
    return error.messages


def test_booking_stores_utc_and_the_local_day(clinic, monday):
    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(monday, 9))
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=30)
    assert appointment.local_date == monday
    assert clinic.location.local(appointment.starts_at).time() == time(9)
    assert appointment.version == 1


def test_second_booking_of_same_clinician_is_refused(clinic, monday):
    book(clinic, make_course(clinic), clinic.at(monday, 9))
    with pytest.raises(ConflictError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 9, 15), room=clinic.rooms[1], device=clinic.devices[1])
    clinician = clinic.clinician
    assert messages(refused.value) == [f"{clinician} is booked Mon {monday:%d %b} 09:00-09:30 by another session."]


def test_second_booking_of_same_room_is_refused_with_turnover(clinic, monday):
    book(clinic, make_course(clinic), clinic.at(monday, 9))
    with pytest.raises(ConflictError) as refused:
        # 09:30 is free for a clinician, but the room needs 5 minutes of turnover.
        book(clinic, make_course(clinic), clinic.at(monday, 9, 30), clinician=clinic.clinicians[1],
             device=clinic.devices[1])
    assert messages(refused.value) == [
        f"Room 1 is booked Mon {monday:%d %b} 09:00-09:30 by another session (plus 5 minutes turnover)."
    ]


def test_same_device_is_refused_and_another_patient_is_never_named(clinic, monday):
    first = make_course(clinic, make_patient(clinic, first_name="Harriet", last_name="Secret"))
    book(clinic, first, clinic.at(monday, 9))
    with pytest.raises(ConflictError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 9, 10), clinician=clinic.clinicians[1],
             room=clinic.rooms[1])
    text = " ".join(messages(refused.value))
    assert text == f"Hidrex DVP 50 #{clinic.device.serial_number} is booked Mon {monday:%d %b} 09:00-09:30 by " \
                   "another session (plus 5 minutes turnover)."
    assert "Harriet" not in text and "Secret" not in text


def test_back_to_back_sessions_fit_when_the_turnover_is_kept(clinic, monday):
    book(clinic, make_course(clinic), clinic.at(monday, 9))
    second = book(clinic, make_course(clinic), clinic.at(monday, 9, 35))
    assert second.starts_at == clinic.at(monday, 9, 35)
    # The clinician alone needs no turnover: back to back in other rooms and devices.
    third = book(clinic, make_course(clinic), clinic.at(monday, 10, 5), room=clinic.rooms[1],
                 device=clinic.devices[1])
    assert third.starts_at == second.ends_at


def test_patient_cannot_be_in_two_sessions_at_once(clinic, monday):
    patient = make_patient(clinic)
    book(clinic, make_course(clinic, patient), clinic.at(monday, 9))
    second_course = make_course(clinic, patient, body_sites=["soles"])
    with pytest.raises(ConflictError) as refused:
        book(clinic, second_course, clinic.at(monday, 9, 15), clinician=clinic.clinicians[1], room=clinic.rooms[1],
             device=clinic.devices[1])
    assert messages(refused.value) == [f"The patient already has a session on Mon {monday:%d %b} (09:00-09:30, "
                                       "another course); one session a day at most."]


def test_cancelled_and_noshow_sessions_free_their_slot(clinic, monday):
    course = make_course(clinic)
    first = book(clinic, course, clinic.at(monday, 9))
    appointment_cancel(appointment=first, recorded_by=clinic.front_desk.user, by=CancelledBy.PATIENT,
                       reason="Patient has a cold")
    again = book(clinic, make_course(clinic), clinic.at(monday, 9))
    assert again.status == AppointmentStatus.BOOKED
    first.refresh_from_db()
    assert (first.status, first.cancelled_by, first.version) == ("cancelled", "patient", 2)


def test_outside_opening_hours_is_refused(clinic, monday):
    with pytest.raises(ValidationError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 19, 45))
    assert refused.value.message_dict == {
        "starts_at": [f"Mon {monday:%d %b} 19:45-20:15 is outside the opening hours of {clinic.location} "
                      "(Monday 08:00-20:00)."]
    }
    with pytest.raises(ValidationError) as closed_day:
        book(clinic, make_course(clinic), clinic.at(next_weekday(6), 10))
    assert closed_day.value.message_dict == {"starts_at": [f"{clinic.location} is closed on Sundays."]}


def test_clinician_working_hours_are_honoured(clinic, monday):
    clinic_services.working_hours_add(clinician=clinic.clinician, location=clinic.location, weekday=0,
                                      starts_at=time(8), ends_at=time(12))
    book(clinic, make_course(clinic), clinic.at(monday, 11, 30))
    with pytest.raises(ValidationError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 13))
    assert refused.value.message_dict == {"clinician": [f"{clinic.clinician} does not work Mon {monday:%d %b} "
                                                        "13:00-13:30."]}
    with pytest.raises(ValidationError):
        book(clinic, make_course(clinic), clinic.at(next_weekday(1), 9))  # no hours on Tuesdays


def test_the_very_next_booking_judges_the_hours_as_changed(clinic, monday):
    """A booking reads the set-up from the cache the slot engine keeps; a change to the hours starts it anew."""
    book(clinic, make_course(clinic), clinic.at(monday, 13))  # the set-up is now in the shared cache
    clinic_services.working_hours_add(clinician=clinic.clinician, location=clinic.location, weekday=0,
                                      starts_at=time(8), ends_at=time(12))
    with pytest.raises(ValidationError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 14))
    assert refused.value.message_dict == {"clinician": [f"{clinic.clinician} does not work Mon {monday:%d %b} "
                                                        "14:00-14:30."]}
    sunday = next_weekday(6)
    clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(9), closes_at=time(13))
    clinic_services.working_hours_add(clinician=clinic.clinician, location=clinic.location, weekday=6,
                                      starts_at=time(9), ends_at=time(13))
    assert book(clinic, make_course(clinic), clinic.at(sunday, 10)).status == AppointmentStatus.BOOKED


def test_closures_of_location_room_device_and_clinician_block_booking(clinic, monday):
    start, end = clinic.at(monday, 9), clinic.at(monday, 12)
    clinic_services.closure_create(location=clinic.location, room=clinic.rooms[0], starts_at=start, ends_at=end,
                                   reason="Floor repairs")
    with pytest.raises(ValidationError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 10))
    assert refused.value.message_dict == {"starts_at": [f"Room 1 ({clinic.location}) is closed Mon {monday:%d %b} "
                                                        "09:00-12:00 (Floor repairs)."]}
    # The other room is open.
    book(clinic, make_course(clinic), clinic.at(monday, 10), room=clinic.rooms[1])
    tuesday = monday + timedelta(days=1)
    clinic_services.closure_create(location=clinic.location, starts_at=clinic.at(tuesday, 0),
                                   ends_at=clinic.at(tuesday + timedelta(days=1), 0), reason="Bank holiday")
    with pytest.raises(ValidationError) as holiday:
        book(clinic, make_course(clinic), clinic.at(tuesday, 15), room=clinic.rooms[1])
    assert "(Bank holiday)" in holiday.value.message_dict["starts_at"][0]


def test_device_out_of_service_and_resources_of_another_location_are_refused(clinic, monday):
    clinic_services.device_set_in_service(device=clinic.devices[0], in_service=False)
    with pytest.raises(ValidationError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 9))
    assert refused.value.message_dict == {"device": [f"{clinic.devices[0]} is out of service."]}
    elsewhere = make_clinic()
    with pytest.raises(ValidationError) as wrong_place:
        book(clinic, make_course(clinic), clinic.at(monday, 9), room=elsewhere.room, device=clinic.devices[1],
             clinician=elsewhere.clinician)
    assert wrong_place.value.message_dict == {
        "room": [f"Room 1 is not at {clinic.location}."],
        "clinician": [f"{elsewhere.clinician} does not work at {clinic.location}."],
    }


def test_front_desk_staff_cannot_be_booked_as_clinician(clinic, monday):
    with pytest.raises(ValidationError) as refused:
        book(clinic, make_course(clinic), clinic.at(monday, 9), clinician=clinic.front_desk)
    assert refused.value.message_dict == {"clinician": [f"{clinic.front_desk} is not an active clinician."]}


def test_a_course_has_one_session_a_day_and_at_most_five_a_week(clinic, monday):
    course = make_course(clinic, planned_sessions=10)
    book(clinic, course, clinic.at(monday, 9))
    with pytest.raises(ConflictError) as same_day:
        book(clinic, course, clinic.at(monday, 15))
    assert messages(same_day.value) == [f"This course already has a session on Mon {monday:%d %b} (Mon "
                                        f"{monday:%d %b} 09:00-09:30); one session a day at most."]
    for offset in range(1, 5):
        book(clinic, course, clinic.at(monday + timedelta(days=offset), 9))
    with pytest.raises(ValidationError) as sixth:
        book(clinic, course, clinic.at(monday + timedelta(days=5), 9))
    assert sixth.value.message_dict == {"starts_at": [f"This course already has 5 sessions in the week of "
                                                      f"{monday:%d %b}; at most 5 a week."]}
    # The next week starts afresh.
    book(clinic, course, clinic.at(monday + timedelta(days=7), 9))


def test_no_more_bookings_than_planned_sessions(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    for week in range(2):
        for weekday in (0, 2, 4):
            book(clinic, course, clinic.at(monday + timedelta(days=7 * week + weekday), 10))
    with pytest.raises(ValidationError) as refused:
        book(clinic, course, clinic.at(monday + timedelta(days=15), 10))
    assert refused.value.message_dict == {"course": ["All 6 planned sessions of this course are already booked."]}


def test_no_booking_without_a_screening(clinic, monday):
    course = make_course(clinic, make_patient(clinic, screened=False))
    with pytest.raises(ValidationError) as refused:
        book(clinic, course, clinic.at(monday, 9))
    assert refused.value.message_dict == {
        "patient": ["Record the patient's contraindication screening before booking."]
    }


def test_positive_screening_blocks_until_a_clinician_overrides(clinic, monday):
    patient = make_patient(clinic, screened=False)
    screening = patient_services.screening_record(
        patient=patient, recorded_by=clinic.clinician.user,
        answers={**NO_CONTRAINDICATIONS, "metal_implants": True},
    )
    course = make_course(clinic, patient)
    with pytest.raises(ValidationError) as refused:
        book(clinic, course, clinic.at(monday, 9))
    assert refused.value.message_dict == {"patient": [
        "The screening found a contraindication; a clinician must review the screening and record an "
        "override before booking."
    ]}
    patient_services.screening_override(screening=screening, overridden_by=clinic.clinician.user,
                                        reason="Titanium plate in left ankle, far from the palms' current path.")
    assert book(clinic, course, clinic.at(monday, 9)).status == AppointmentStatus.BOOKED


def test_medicated_course_needs_the_drug_questions(clinic, monday):
    patient = make_patient(clinic)  # screened without the drug questions
    course = make_course(clinic, patient, medicated=True)
    with pytest.raises(ValidationError) as refused:
        book(clinic, course, clinic.at(monday, 9))
    assert refused.value.message_dict == {"patient": ["A medicated course needs the screening with the drug "
                                                      "questions."]}


def test_past_times_and_naive_times_are_refused(clinic):
    from datetime import datetime

    course = make_course(clinic)
    with pytest.raises(ValidationError) as past:
        book(clinic, course, clinic.at(next_weekday(0, weeks_ahead=-2), 9))
    assert past.value.message_dict == {"starts_at": ["That time has passed."]}
    with pytest.raises(ValidationError) as naive:
        book(clinic, course, datetime.combine(next_weekday(0), time(9)))
    assert naive.value.message_dict == {"starts_at": ["Give the time with its time zone."]}


def test_completed_and_discontinued_courses_take_no_bookings(clinic, monday):
    course = make_course(clinic)
    booked = book(clinic, course, clinic.at(monday, 9))
    course_discontinue(course=course, discontinued_by=clinic.clinician.user, reason="Moved abroad")
    booked.refresh_from_db()
    assert (booked.status, booked.cancelled_by) == ("cancelled", "clinic")
    assert booked.cancellation_reason == "Course discontinued: Moved abroad"
    with pytest.raises(ValidationError) as refused:
        book(clinic, course, clinic.at(monday, 11))
    assert refused.value.message_dict == {"course": ["This course is discontinued."]}


def test_course_rules_on_creation(clinic):
    patient = make_patient(clinic)
    base = {"patient": patient, "location": clinic.location, "body_sites": ["palms"],
            "created_by": clinic.front_desk.user}
    with pytest.raises(ValidationError) as too_many:
        course_create(indication="hyperhidrosis", planned_sessions=11, **base)
    assert too_many.value.message_dict == {"planned_sessions": ["An initial course has 6 to 10 sessions."]}
    with pytest.raises(ValidationError) as no_drug:
        course_create(indication="musculoskeletal", planned_sessions=6, **base)
    assert "medication" in no_drug.value.message_dict
    with pytest.raises(ValidationError) as too_long:
        course_create(indication="hyperhidrosis", planned_sessions=8, session_minutes=50, **base)
    assert "session_minutes" in too_long.value.message_dict


def test_reschedule_moves_the_session_and_raises_the_version(clinic, monday):
    appointment = book(clinic, make_course(clinic), clinic.at(monday, 9))
    moved = appointment_reschedule(appointment=appointment, starts_at=clinic.at(monday, 14),
                                   rescheduled_by=clinic.front_desk.user, expected_version=1)
    assert (clinic.location.local(moved.starts_at).hour, moved.version) == (14, 2)
    # The old time is free again.
    book(clinic, make_course(clinic), clinic.at(monday, 9))
    with pytest.raises(ConflictError) as stale:
        appointment_reschedule(appointment=moved, starts_at=clinic.at(monday, 16),
                               rescheduled_by=clinic.front_desk.user, expected_version=1)
    assert messages(stale.value) == ["This appointment was changed by someone else; reload it and try again."]


def test_withdrawing_a_booking_against_a_stale_version_is_refused(clinic):
    with time_machine.travel(datetime(2030, 1, 9, 8, tzinfo=UTC), tick=False):
        appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
        with pytest.raises(ConflictError) as stale:
            appointment_mark_entered_in_error(appointment=appointment, marked_by=clinic.front_desk.user,
                                              reason="Wrong patient", expected_version=2)
    assert messages(stale.value) == ["This appointment was changed by someone else; reload it and try again."]
    appointment.refresh_from_db()
    assert (appointment.status, appointment.version) == (AppointmentStatus.BOOKED, 1)


def test_reschedule_onto_a_taken_slot_keeps_the_original(clinic, monday):
    book(clinic, make_course(clinic), clinic.at(monday, 14))
    appointment = book(clinic, make_course(clinic), clinic.at(monday, 9))
    with pytest.raises(ConflictError):
        appointment_reschedule(appointment=appointment, starts_at=clinic.at(monday, 14),
                               rescheduled_by=clinic.front_desk.user)
    appointment.refresh_from_db()
    assert (clinic.location.local(appointment.starts_at).hour, appointment.version) == (9, 1)


def test_arrival_is_marked_on_the_day_and_noshow_after_the_start(clinic, monday):
    import time_machine

    appointment = book(clinic, make_course(clinic), clinic.at(monday, 9))
    with pytest.raises(ValidationError) as early:
        appointment_mark_arrived(appointment=appointment, marked_by=clinic.front_desk.user)
    assert early.value.messages == [f"This session is on Mon {monday:%d %b}; arrivals are marked on the day."]
    with pytest.raises(ValidationError) as too_soon:
        appointment_mark_noshow(appointment=appointment, marked_by=clinic.front_desk.user)
    assert too_soon.value.messages == ["A session can be marked as a no-show only once its start time has passed."]
    with time_machine.travel(clinic.at(monday, 8, 50), tick=False):
        arrived = appointment_mark_arrived(appointment=appointment, marked_by=clinic.front_desk.user)
    assert (arrived.status, arrived.version) == ("arrived", 2)
    other = book(clinic, make_course(clinic), clinic.at(monday, 11))
    with time_machine.travel(clinic.at(monday, 11, 20), tick=False):
        missed = appointment_mark_noshow(appointment=other, marked_by=clinic.front_desk.user)
    assert missed.status == "noshow"
    # The no-show freed its slot.
    book(clinic, make_course(clinic), clinic.at(monday, 11))


def test_patient_confirmation_is_a_fact_apart_from_the_status(clinic, monday):
    appointment = book(clinic, make_course(clinic), clinic.at(monday, 9))
    confirmed = appointment_confirm(appointment=appointment, via="email link", confirmed_by=None)
    assert (confirmed.status, confirmed.confirmed_via, confirmed.version) == ("booked", "email link", 1)
    assert confirmed.confirmed_at is not None


def test_a_past_session_can_be_entered_afterwards_under_every_other_rule(clinic):
    past_monday = next_weekday(0, weeks_ahead=-2)
    entered = appointment_enter_past(course=make_course(clinic), clinician=clinic.clinician,
                                     room=clinic.room, device=clinic.device,
                                     starts_at=clinic.at(past_monday, 9), entered_by=clinic.front_desk.user)
    assert entered.local_date == past_monday
    with pytest.raises(ConflictError):
        appointment_enter_past(course=make_course(clinic), clinician=clinic.clinician, room=clinic.rooms[1],
                               device=clinic.devices[1], starts_at=clinic.at(past_monday, 9, 15),
                               entered_by=clinic.front_desk.user)
    with pytest.raises(ValidationError) as future:
        appointment_enter_past(course=make_course(clinic), clinician=clinic.clinician, room=clinic.room,
                               device=clinic.device, starts_at=clinic.at(next_weekday(0), 9),
                               entered_by=clinic.front_desk.user)
    assert future.value.message_dict == {"starts_at": ["Only a session that has already ended can be entered "
                                                       "afterwards."]}


def test_the_patient_cannot_cancel_online_inside_the_late_window_but_the_desk_can_record_it(clinic):
    monday = date(2031, 3, 10)
    with time_machine.travel(clinic.at(monday - timedelta(days=7), 12), tick=False):
        appointment = book(clinic, make_course(clinic), clinic.at(monday, 9))
    with time_machine.travel(appointment.starts_at - timedelta(hours=23), tick=False):
        with pytest.raises(ValidationError) as late:
            appointment_cancel_by_patient(appointment=appointment, reason="Cancelled with the email link.")
        assert late.value.messages == [
            f"Your session is less than 24 hours away, so it can no longer be cancelled online. "
            f"Please call {clinic.location.name} on +44 20 7946 0000."]
        appointment.refresh_from_db()
        assert (appointment.status, appointment.version) == (AppointmentStatus.BOOKED, 1)
        recorded = appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user,
                                      by=CancelledBy.PATIENT, reason="Phoned in ill")
    assert (recorded.status, recorded.cancelled_by) == (AppointmentStatus.CANCELLED, CancelledBy.PATIENT)


def test_the_patient_cancels_online_before_the_late_window_and_never_after_the_start(clinic):
    monday = date(2031, 3, 10)
    with time_machine.travel(clinic.at(monday - timedelta(days=7), 12), tick=False):
        early = book(clinic, make_course(clinic), clinic.at(monday, 9))
        started = book(clinic, make_course(clinic), clinic.at(monday, 11))
    with time_machine.travel(early.starts_at - timedelta(hours=24), tick=False):
        cancelled = appointment_cancel_by_patient(appointment=early, reason="Cancelled with the email link.")
    assert (cancelled.status, cancelled.cancelled_by, cancelled.status_changed_by) == (
        AppointmentStatus.CANCELLED, CancelledBy.PATIENT, None)
    with time_machine.travel(started.starts_at + timedelta(minutes=1), tick=False), \
            pytest.raises(ValidationError) as past:
        appointment_cancel_by_patient(appointment=started, reason="Cancelled with the email link.")
    assert past.value.messages == ["This session is no longer ahead, so it cannot be cancelled online."]


def test_a_confirmation_names_one_of_the_channels(clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(date(2031, 3, 10), 9))
    with pytest.raises(ValidationError) as unknown:
        appointment_confirm(appointment=appointment, via="fax", confirmed_by=None)
    assert unknown.value.message_dict == {"via": ["Say how the patient confirmed: phone, email, in_person, sms, "
                                                  "email link."]}
    confirmed = appointment_confirm(appointment=appointment, via=ConfirmationChannel.SMS, confirmed_by=None)
    assert confirmed.confirmed_via == "sms"


def test_reschedule_changes_the_length_within_25_to_45_minutes_and_refuses_others(clinic):
    monday = next_weekday(0)
    appointment = book(clinic, make_course(clinic), clinic.at(monday, 10))
    with pytest.raises(ValidationError) as refused:
        appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at, minutes=20,
                               rescheduled_by=clinic.front_desk.user)
    assert refused.value.message_dict == {"minutes": ["A session lasts 25 to 45 minutes, not 20."]}
    longer = appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at, minutes=45,
                                    rescheduled_by=clinic.front_desk.user)
    assert (longer.minutes, longer.starts_at, longer.version) == (45, appointment.starts_at, appointment.version + 1)
