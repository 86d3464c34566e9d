""""Maintenance due" is one rule: the progress flag, the recall writer and the maintenance proposal
agree on every kind of course, and on every course of the demo clinic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from scheduling import demo
from scheduling.booking.courses import course_discontinue, course_maintenance_proposal, course_start_maintenance
from scheduling.checkins.models import CheckIn, CheckInPurpose
from scheduling.models import Course, Notification, NotificationKind
from scheduling.records.progress import FlagKind, course_progress
from scheduling.reminders.outbox import RECALL_LOOKBACK, notification_write_maintenance_recalls
from tests.factories import make_course
from tests.scheduling.progress_courses import BOOKED, after, complete, scored, treat

pytestmark = pytest.mark.django_db

MONDAY = date(2027, 5, 3)
NOT_DUE = ("No maintenance session waits to be booked: maintenance follows a completed hyperhidrosis course with "
           "none running, or continues an open maintenance course with nothing booked.")


def day(offset: int) -> date:
    return MONDAY + timedelta(days=offset)


def flag_says(course: Course, today: date) -> date | None:
    """The due day the progress page shows, checking that its follow-up flag says so from that day on."""
    progress = course_progress(course=course, today=today)
    due = progress.maintenance_due_on
    said = [part for flag in progress.flags if flag.kind == FlagKind.FOLLOW_UP
            for part in flag.message.lower().rstrip(".").split("; ") if part.startswith("maintenance")]
    assert said == ([] if due is None or due > today
                    else [f"maintenance session due since {due:%a %d %b %Y} and not booked".lower()])
    return due


def proposal_says(course: Course) -> date | None:
    """The day of the proposed session, or None when the proposal is refused."""
    try:
        plan = course_maintenance_proposal(course=course)
    except ValidationError as refused:
        assert refused.messages == [NOT_DUE]
        return None
    (session,) = plan.sessions
    return course.location.local(session.starts_at).date()


def recalls_say(course: Course) -> list[datetime]:
    return [course.location.local(row.due_at) for row in
            Notification.objects.filter(course=course, kind=NotificationKind.MAINTENANCE_RECALL)]


def completed_initial(clinic, hour: int, *, medicated: bool = False) -> Course:
    course = make_course(clinic, medicated=medicated, planned_sessions=6)
    appointments = treat(clinic, course, [(day(n), scored(3)) for n in (0, 2, 4, 7, 9, 11)], hour=hour)
    return complete(clinic, course, after(appointments[-1]))


def maintenance(clinic, initial: Course, hour: int, visits, *, interval_weeks: int = 2,
                planned_sessions: int = 3) -> Course:
    with time_machine.travel(clinic.at(day(12), 9), tick=False):
        course = course_start_maintenance(course=initial, created_by=clinic.clinician.user,
                                          interval_weeks=interval_weeks, planned_sessions=planned_sessions)
        treat(clinic, course, visits, hour=hour)
    return course


@pytest.fixture
def frozen():
    with time_machine.travel(datetime(2027, 5, 2, 12, tzinfo=UTC), tick=False):
        yield


def test_flag_recall_and_proposal_agree_on_every_kind_of_course(frozen, clinic):
    alone = completed_initial(clinic, 8)
    followed_new = completed_initial(clinic, 9)
    new_maintenance = maintenance(clinic, followed_new, 9, [], interval_weeks=3)
    followed_booked = completed_initial(clinic, 10)
    booked_maintenance = maintenance(clinic, followed_booked, 10, [(day(25), BOOKED)])
    followed_running = completed_initial(clinic, 11)
    running_maintenance = maintenance(clinic, followed_running, 11, [(day(18), scored(2))])
    followed_ended = completed_initial(clinic, 12)
    ended_maintenance = maintenance(clinic, followed_ended, 12, [(day(18), scored(2))], planned_sessions=1)
    complete(clinic, ended_maintenance, clinic.at(day(18), 13))
    medicated = completed_initial(clinic, 13, medicated=True)
    discontinued = make_course(clinic, planned_sessions=6)
    started = treat(clinic, discontinued, [(day(0), scored(3)), (day(2), scored(3)), (day(4), BOOKED)], hour=14)
    with time_machine.travel(after(started[1]), tick=False):
        course_discontinue(course=discontinued, discontinued_by=clinic.clinician.user, reason="Moved away")
    open_initial = make_course(clinic, planned_sessions=6)
    treat(clinic, open_initial, [(day(n), scored(3)) for n in (0, 2, 4)] + [(day(n), BOOKED) for n in (7, 9, 11)],
          hour=15)
    followed_full = completed_initial(clinic, 16)
    full_maintenance = maintenance(clinic, followed_full, 16, [(day(18), scored(2))], planned_sessions=1)

    expected = {
        alone: day(25),  # last session (day 11) + 2 weeks
        followed_new: None, new_maintenance: day(32),  # counts from the initial course's last session, 3 weeks
        followed_booked: None, booked_maintenance: None,
        followed_running: None, running_maintenance: day(32),  # its own session (day 18) + 2 weeks
        followed_ended: day(32), ended_maintenance: None,  # the ended maintenance's last session + 2 weeks
        medicated: None, discontinued: None, open_initial: None,
        followed_full: None, full_maintenance: None,  # every planned maintenance session done
    }
    hours = {alone: 8, new_maintenance: 9, running_maintenance: 11, followed_ended: 12}

    with time_machine.travel(clinic.at(day(19), 12), tick=False):
        assert {course: flag_says(course, day(19)) for course in expected} == expected
        assert {course: proposal_says(course) for course in expected} == expected
        assert notification_write_maintenance_recalls(now=clinic.at(day(19), 12)) == 0

    with time_machine.travel(clinic.at(day(33), 12), tick=False):
        assert notification_write_maintenance_recalls(now=clinic.at(day(33), 12)) == 4
        assert {course: flag_says(course, day(33)) for course in expected} == expected
        assert {course: recalls_say(course) for course in expected} == {
            course: [] if due is None else [clinic.at(due, hours[course])] for course, due in expected.items()}
        assert {course: proposal_says(course) is None for course in expected} == {
            course: due is None for course, due in expected.items()}
        assert notification_write_maintenance_recalls(now=clinic.at(day(40), 12)) == 0


def test_flag_recall_and_proposal_agree_on_every_course_of_the_demo(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "LOGINS_FILE", tmp_path / "demo-logins.txt")
    loaded_at = datetime(2027, 5, 5, 12, tzinfo=UTC)
    with time_machine.travel(loaded_at, tick=False):
        demo.demo_load()
    courses = list(Course.objects.select_related("location").order_by("pk"))
    assert len(courses) == 62  # 48 stories (two without maintenance) and 16 patients on the day the demo loads
    # Two completed courses whose patients answered a check-in with HDSS 3: due from that answer, recalled
    # at once; every maintenance course of the demo has its next session booked: none is due, whatever the day.
    answers = CheckIn.objects.filter(hdss__gte=3, purpose=CheckInPurpose.AFTER_COURSE).select_related(
        "course__location", "appointment")
    # Due on the earlier of the calendar (the last session plus 2 weeks) and the answer.
    returned = {answer.course: min(answer.appointment.local_date + timedelta(weeks=2),
                                   answer.course.location.local(answer.answered_at).date()) for answer in answers}
    assert len(returned) == 2
    with time_machine.travel(loaded_at, tick=False):
        assert all(FlagKind.SWEATING_RETURNED in {flag.kind for flag in course_progress(course=course).flags}
                   for course in returned)
    expected = {course: returned.get(course) for course in courses}

    for now in (loaded_at, loaded_at + timedelta(weeks=10)):
        with time_machine.travel(now, tick=False):
            flags = {course: flag_says(course, course.location.local(now).date()) for course in courses}
            proposals = {course: proposal_says(course) for course in courses}
            written = notification_write_maintenance_recalls(now=now)
            recalls = {course: [moment.date() for moment in recalls_say(course)] for course in courses}
        assert flags == expected
        assert {course for course, day in proposals.items() if day is not None} == set(returned)
        assert all(proposals[course] >= day for course, day in returned.items())
        assert (written, recalls) == (0, {course: [] if day is None else [day] for course, day in expected.items()})
    assert Notification.objects.filter(kind=NotificationKind.MAINTENANCE_RECALL).count() == 2


def test_maintenance_that_fell_due_long_ago_is_flagged_but_not_recalled_by_email(frozen, clinic):
    """Recalls start for maintenance falling due from now on: patients of long ago get no email out of the blue."""
    long_ago = completed_initial(clinic, 8)  # due day 25
    late = clinic.at(day(25) + RECALL_LOOKBACK + timedelta(days=1), 12)
    with time_machine.travel(late, tick=False):
        assert notification_write_maintenance_recalls(now=late) == 0
        assert flag_says(long_ago, late.date()) == day(25)
        assert proposal_says(long_ago) is not None
    assert recalls_say(long_ago) == []
