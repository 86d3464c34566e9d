"""Ending and extending a course in the admin: offered to whom the services let do it, refused to the rest."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from scheduling.booking.courses import course_book
from scheduling.models import Appointment, AppointmentStatus, CourseStatus
from tests.factories import book, make_course, next_weekday

pytestmark = pytest.mark.django_db

A_WEDNESDAY = datetime(2030, 1, 9, 8, tzinfo=UTC)
COURSE_ACTIONS = ('<option value="complete">', '<option value="discontinue">', '<option value="start_maintenance">')


def test_front_desk_is_not_offered_ending_a_course_and_a_posted_one_changes_nothing(client, clinic):
    with time_machine.travel(A_WEDNESDAY, tick=False):
        course = make_course(clinic)
        booked = book(clinic, course, clinic.at(next_weekday(0), 9))
        client.force_login(clinic.front_desk.user)
        page = client.get("/admin/scheduling/course/").content.decode()
        posted = client.post("/admin/scheduling/course/", {
            "action": "discontinue", "_selected_action": [course.pk], "reason": "Moved away", "index": 0},
            follow=True)
    assert [action for action in COURSE_ACTIONS if action in page] == []
    assert posted.status_code == 200
    course.refresh_from_db()
    booked.refresh_from_db()
    assert (course.status, booked.status) == (CourseStatus.PLANNED, AppointmentStatus.BOOKED)


def test_a_clinician_is_offered_ending_a_course_and_discontinues_it_with_the_reason(client, clinic):
    with time_machine.travel(A_WEDNESDAY, tick=False):
        course = make_course(clinic)
        booked = book(clinic, course, clinic.at(next_weekday(0), 9))
        client.force_login(clinic.clinician.user)
        page = client.get("/admin/scheduling/course/").content.decode()
        posted = client.post("/admin/scheduling/course/", {
            "action": "discontinue", "_selected_action": [course.pk], "reason": "Moved away", "index": 0},
            follow=True).content.decode()
    assert [action for action in COURSE_ACTIONS if action in page] == list(COURSE_ACTIONS)
    assert f"{course} is discontinued; its booked sessions are cancelled." in posted
    course.refresh_from_db()
    booked.refresh_from_db()
    assert (course.status, course.discontinued_reason, booked.status) == (
        CourseStatus.DISCONTINUED, "Moved away", AppointmentStatus.CANCELLED)


def test_keeping_the_rhythm_from_a_stale_form_is_refused_and_moves_nothing(client, clinic):
    with time_machine.travel(A_WEDNESDAY, tick=False):
        monday = next_weekday(0)
        course = make_course(clinic, planned_sessions=6)
        plan = course_book(course=course, booked_by=clinic.front_desk.user, first_date=monday)
        second = plan.sessions[1].appointment
        before = list(Appointment.objects.filter(course=course).order_by("pk").values_list("starts_at", "version"))
        client.force_login(clinic.front_desk.user)
        page = client.post(f"/admin/scheduling/appointment/{second.pk}/move/", {
            "day": (monday + timedelta(days=3)).isoformat(), "at": "10:00", "keep_cadence": "on",
            "version": second.version - 1}).content.decode()
    assert "This appointment was changed by someone else; reload it and try again." in page
    assert list(Appointment.objects.filter(course=course).order_by("pk").values_list("starts_at", "version")) == before
