"""course_book, course_reschedule_from and the maintenance proposal: whole courses in one step."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import services as clinic_services
from clinic.errors import ConflictError
from scheduling.booking.courses import (
    CourseDoesNotFit,
    course_book,
    course_complete,
    course_maintenance_proposal,
    course_reschedule_from,
)
from scheduling.booking.services import (
    appointment_cancel,
    appointment_mark_noshow,
    book_sessions,
    locked_course,
    new_session,
)
from scheduling.models import Appointment, AppointmentStatus, CancelledBy
from scheduling.records.services import session_record_create
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


def days_and_times(clinic, sessions) -> list[tuple[str, str]]:
    return [(f"{clinic.location.local(s.starts_at):%a %d}", f"{clinic.location.local(s.starts_at):%H:%M}")
            for s in sessions]


def local_days(clinic, monday, offsets) -> list[str]:
    return [f"{monday + timedelta(days=offset):%a %d}" for offset in offsets]


def test_a_ten_session_course_is_booked_three_a_week_spread_at_one_time_with_one_clinician(clinic, monday):
    course = make_course(clinic, planned_sessions=10)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
    assert plan.booked and plan.fits
    assert [day for day, _ in days_and_times(clinic, plan.sessions)] == local_days(
        clinic, monday, [0, 2, 4, 7, 9, 11, 14, 16, 18, 21])
    assert {hour for _, hour in days_and_times(clinic, plan.sessions)} == {"08:00"}
    assert {(s.clinician, s.room, s.device) for s in plan.sessions} == {(clinic.clinician, clinic.room,
                                                                          clinic.device)}
    assert [s.number for s in plan.sessions] == list(range(1, 11))
    booked = list(Appointment.objects.filter(course=course).order_by("starts_at"))
    assert [a.pk for a in booked] == [s.appointment.pk for s in plan.sessions]
    assert {a.status for a in booked} == {AppointmentStatus.BOOKED}


def test_a_course_whose_seventh_session_cannot_fit_books_nothing_and_names_the_reason(clinic, monday):
    course = make_course(clinic, planned_sessions=10)
    today = timezone.localdate()
    horizon_end = today + timedelta(weeks=6)
    holiday_from, holiday_to = clinic.at(monday + timedelta(days=12), 0), clinic.at(horizon_end, 0)
    clinic_services.closure_create(location=clinic.location, starts_at=holiday_from, ends_at=holiday_to,
                                   reason="Winter holiday", created_by=clinic.admin)
    with pytest.raises(CourseDoesNotFit) as refused:
        course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
    plan = refused.value.plan
    assert not plan.booked
    assert Appointment.objects.filter(course=course).count() == 0
    assert [day for day, _ in days_and_times(clinic, plan.sessions)] == local_days(clinic, monday, [0, 2, 4, 7, 9, 11])
    assert [u.number for u in plan.unplaced] == [7, 8, 9, 10]
    last_day = horizon_end - timedelta(days=1)
    expected = (f"Session 7 of 10 does not fit by {last_day:%a %d %b %Y}, the end of the 6-week booking horizon: "
                f"{clinic.location} is closed {holiday_from:%a %d %b} 00:00 to {holiday_to:%a %d %b} 00:00 "
                "(Winter holiday).")
    assert plan.unplaced[0].reason == expected
    assert refused.value.messages == [expected]
    assert plan.unplaced[3].reason == expected.replace("Session 7 of", "Session 10 of")


def test_a_preview_returns_the_plan_and_books_nothing(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday, preview=True)
    assert plan.fits and not plan.booked
    assert len(plan.sessions) == 6
    assert all(s.appointment is None for s in plan.sessions)
    assert Appointment.objects.filter(course=course).count() == 0


def test_the_patients_days_times_and_clinician_are_followed(clinic, monday):
    course = make_course(clinic, planned_sessions=6, session_minutes=45)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday,
                       weekdays=[1, 3], earliest=time(17), latest=time(19), clinician=clinic.clinicians[1])
    assert days_and_times(clinic, plan.sessions) == [
        (day, "17:00") for day in local_days(clinic, monday, [1, 3, 8, 10, 15, 17])]
    assert {s.clinician for s in plan.sessions} == {clinic.clinicians[1]}


def test_a_busy_first_choice_keeps_one_clinician_and_time_and_changes_only_the_room(clinic, monday):
    book(clinic, make_course(clinic), clinic.at(monday + timedelta(days=2), 8))  # the first clinician, room, device
    course = make_course(clinic, planned_sessions=6)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday,
                       clinician=clinic.clinicians[0])
    # 08:30 is the first time the preferred clinician is free on all six days; on Wednesday the
    # first room and device still need their turnover (to 08:35).
    assert {hour for _, hour in days_and_times(clinic, plan.sessions)} == {"08:30"}
    assert {s.clinician for s in plan.sessions} == {clinic.clinicians[0]}
    assert [(s.room, s.device) for s in plan.sessions] == [
        (clinic.rooms[1], clinic.devices[1]) if i == 1 else (clinic.rooms[0], clinic.devices[0]) for i in range(6)]


def test_a_partly_booked_course_gets_only_its_remaining_sessions(clinic, monday):
    course = make_course(clinic, planned_sessions=8)
    book(clinic, course, clinic.at(monday, 9))
    book(clinic, course, clinic.at(monday + timedelta(days=2), 9))
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
    assert [s.number for s in plan.sessions] == [3, 4, 5, 6, 7, 8]
    assert [day for day, _ in days_and_times(clinic, plan.sessions)] == local_days(clinic, monday,
                                                                                  [4, 7, 9, 11, 14, 16])
    assert Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED).count() == 8


def test_course_book_refuses_bad_wishes_and_unbookable_courses(clinic, monday):
    course = make_course(clinic, make_patient(clinic, screened=False))
    cases = [
        ({"weekdays": [7]}, {"weekdays": ["Choose weekdays from 0 (Monday) to 6 (Sunday)."]}),
        ({"earliest": time(18), "latest": time(9)}, {"latest": ["The latest time (09:00) must be after the "
                                                                "earliest (18:00)."]}),
        ({"clinician": make_clinic().clinician}, None),
        ({}, {"patient": ["Record the patient's contraindication screening before booking."]}),
    ]
    for wishes, messages in cases:
        with pytest.raises(ValidationError) as refused:
            course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday, **wishes)
        if messages is not None:
            assert refused.value.message_dict == messages
        else:
            assert list(refused.value.message_dict) == ["clinician"]
    far = timezone.localdate() + timedelta(weeks=7)
    with pytest.raises(ValidationError) as refused:
        course_book(course=make_course(clinic), booked_by=clinic.front_desk.user, first_date=far)
    horizon_last = timezone.localdate() + timedelta(weeks=6) - timedelta(days=1)
    assert refused.value.message_dict == {"first_date": [f"{far:%a %d %b %Y} is beyond the booking horizon of 6 "
                                                         f"weeks (until {horizon_last:%a %d %b %Y})."]}


def test_moving_a_session_replans_the_later_ones_at_the_cadence(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
    second = plan.sessions[1].appointment
    thursday = monday + timedelta(days=3)
    moved = course_reschedule_from(appointment=second, starts_at=clinic.at(thursday, 10),
                                   rescheduled_by=clinic.front_desk.user)
    assert moved.booked
    assert days_and_times(clinic, moved.sessions) == [
        (day, "10:00") for day in local_days(clinic, monday, [3, 5, 7, 9, 11])]
    booked = Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED).order_by("starts_at")
    assert days_and_times(clinic, booked) == [(local_days(clinic, monday, [0])[0], "08:00"),
                                              *days_and_times(clinic, moved.sessions)]
    assert booked.count() == 6


def test_moving_from_a_stale_version_is_refused_and_moves_nothing():
    with time_machine.travel(datetime(2030, 1, 9, 8, tzinfo=UTC), tick=False):
        clinic = make_clinic()
        monday = next_weekday(0)
        course = make_course(clinic, planned_sessions=6)
        plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
        second = plan.sessions[1].appointment
        before = list(Appointment.objects.filter(course=course).order_by("pk").values_list("starts_at", "version"))
        with pytest.raises(ConflictError) as stale:
            course_reschedule_from(appointment=second, starts_at=clinic.at(monday + timedelta(days=3), 10),
                                   rescheduled_by=clinic.front_desk.user, expected_version=second.version + 1)
    assert (stale.value.messages, stale.value.code) == (
        ["This appointment was changed by someone else; reload it and try again."], "version_mismatch")
    assert list(Appointment.objects.filter(course=course).order_by("pk").values_list("starts_at", "version")) == before


def test_a_missed_session_gets_a_make_up_and_the_rest_follow(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
    first = plan.sessions[0].appointment
    with time_machine.travel(clinic.at(monday, 9), tick=False):
        appointment_mark_noshow(appointment=first, marked_by=clinic.front_desk.user)
        proposal = course_reschedule_from(appointment=first, rescheduled_by=clinic.front_desk.user,
                                          preview=True)
        assert not proposal.booked
        assert days_and_times(clinic, proposal.sessions) == [
            (day, "08:00") for day in local_days(clinic, monday, [1, 3, 5, 7, 9, 11])]
        assert Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED).count() == 5
        done = course_reschedule_from(appointment=first, rescheduled_by=clinic.front_desk.user)
    booked = Appointment.objects.filter(course=course, status=AppointmentStatus.BOOKED).order_by("starts_at")
    assert days_and_times(clinic, booked) == days_and_times(clinic, proposal.sessions)
    assert [s.appointment.pk for s in done.sessions] == [a.pk for a in booked]


def test_a_cancelled_session_can_be_neither_moved_nor_made_up(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    appointment = book(clinic, course, clinic.at(monday, 9))
    appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user,
                       by=CancelledBy.PATIENT, reason="Unwell")
    with pytest.raises(ValidationError) as refused:
        course_reschedule_from(appointment=appointment, rescheduled_by=clinic.front_desk.user,
                               starts_at=clinic.at(monday, 10))
    assert refused.value.messages == ["Only a booked session can be moved, or a missed one made up; this one is "
                                      "cancelled."]


def test_after_a_completed_course_the_first_maintenance_session_is_proposed(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
    with time_machine.travel(clinic.at(monday, 9), tick=False):
        session_record_create(appointment=plan.sessions[0].appointment, recorded_by=clinic.clinician.user,
                              minutes_of_current=20, sites=[{"site": "palms", "current_ma": 12}], hdss=3)
        for session in plan.sessions[1:]:
            appointment_cancel(appointment=session.appointment, recorded_by=clinic.front_desk.user,
                               by=CancelledBy.PATIENT, reason="Dry already")
        with pytest.raises(ValidationError) as refused:
            course_maintenance_proposal(course=course)
        assert refused.value.messages == [
            "No maintenance session waits to be booked: maintenance follows a completed hyperhidrosis course with "
            "none running, or continues an open maintenance course with nothing booked."]
        course = course_complete(course=course, completed_by=clinic.clinician.user)
        proposal = course_maintenance_proposal(course=course)
    assert proposal.fits and not proposal.booked
    (session,) = proposal.sessions
    assert session.starts_at == clinic.at(monday + timedelta(weeks=2), 8)
    assert (session.clinician, session.room, session.device) == (clinic.clinician, clinic.room, clinic.device)


def _sessions(clinic, course, days):
    return [new_session(course=course, clinician=clinic.clinician, room=clinic.room, device=clinic.device,
                        starts_at=clinic.at(day, 10), booked_by=clinic.front_desk.user) for day in days]


def test_the_sessions_of_one_call_are_judged_together_and_one_refused_books_none(clinic, monday):
    """A course's sessions are judged in one read and inserted together: each is judged with the sessions
    of the same call before it (one a day, five a week), and a refusal names its session and keeps none."""
    course = locked_course(make_course(clinic, planned_sessions=10))
    refusals = []

    def refused(index, error):
        refusals.append((index, error.messages))
        return ValidationError("refused")

    days = [monday + timedelta(days=offset) for offset in (0, 2, 2)]
    with pytest.raises(ValidationError, match="refused"):
        book_sessions(course=course, sessions=_sessions(clinic, course, days), booked_by=clinic.front_desk.user,
                      refused=refused)
    assert refusals == [(2, [f"This course already has a session on {days[1]:%a %d %b} (Wed {days[1]:%d %b} "
                                "10:00-10:30); one session a day at most."])]
    days = [monday + timedelta(days=offset) for offset in range(6)]
    with pytest.raises(ValidationError, match=f"already has 5 sessions in the week of {monday:%d %b}; at most 5"):
        book_sessions(course=course, sessions=_sessions(clinic, course, days), booked_by=clinic.front_desk.user)
    assert not Appointment.objects.filter(course=course).exists()
    booked = book_sessions(course=course, sessions=_sessions(clinic, course, days[:5]),
                           booked_by=clinic.front_desk.user)
    assert [a.pk for a in booked] == list(Appointment.objects.filter(course=course).order_by("starts_at")
                                          .values_list("pk", flat=True))
