"""A course walked to its end and through the check-ins that follow, with the clock moved: a real
Celery worker sends each email through a real SMTP server, and the patients answer on the link's page."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from scheduling.booking.courses import course_complete, course_start_maintenance
from scheduling.checkins.models import CheckIn, CheckInPurpose
from scheduling.checkins.questions import HDSS_ANSWERS, HDSS_QUESTION
from scheduling.checkins.services import ALREADY_ANSWERED, check_ins_plan_periodic
from scheduling.models import Notification, NotificationKind, NotificationStatus
from scheduling.records.progress import FlagKind, course_progress
from scheduling.tasks import check_ins_plan_periodic_task
from tests.delivery_support import QUEUE, wait_for
from tests.factories import book, make_clinic, make_course
from tests.scheduling.progress_courses import after, record
from tests.scheduling.test_tasks import beat_and_wait

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

CHECK_IN_SUBJECT = "How are you doing? A question from Lakeshore Check-in Clinic"
RECALL_SUBJECT = "Time to book your next session at Lakeshore Check-in Clinic"
# Mon/Wed/Fri over two weeks, before the clocks go forward in Toronto (14 March 2027).
DAYS = [date(2027, 2, 1) + timedelta(days=offset) for offset in (0, 2, 4, 7, 9, 11)]


def received(mail, subject: str) -> dict[str, int]:
    """How many messages with ``subject`` each address has received."""
    counts: dict[str, int] = {}
    for message in mail.handler.messages():
        if message["Subject"] == subject:
            counts[message["To"]] = counts.get(message["To"], 0) + 1
    return counts


def check_in_link(mail, address: str) -> str:
    """The path of the latest check-in link emailed to ``address``."""
    texts = [message.get_body(preferencelist=("plain",)).get_content() for message in mail.handler.messages()
             if message["To"] == address and message["Subject"] == CHECK_IN_SUBJECT]
    return re.findall(r"https?://[^/\s]+(/p/check-in/[^/\s]+/)", texts[-1])[-1]


def local(check_in: CheckIn):
    return check_in.course.location.local(check_in.due_at)


def test_check_ins_arrive_on_their_days_and_an_hdss_of_3_brings_one_invitation(mailbox, client):
    clinic = make_clinic(name="Lakeshore Check-in Clinic", time_zone="America/Toronto", booking_horizon_weeks=12,
                         check_in_weeks_after_course=[1, 4, 8])
    back, fine = make_course(clinic, planned_sessions=6), make_course(clinic, planned_sessions=6)
    sessions = {course: [book(clinic, course, clinic.at(day, hour)) for day in DAYS]
                for course, hour in ((back, 15), (fine, 17))}
    address = {back: back.patient.email, fine: fine.patient.email}

    # Baseline: due at 10:00 local the day before the first session, one per course.
    baseline = {check_in.course: check_in for check_in in CheckIn.objects.filter(purpose=CheckInPurpose.BASELINE)}
    assert {course: local(check_in).replace(tzinfo=None) for course, check_in in baseline.items()} == {
        course: datetime(2027, 1, 31, 10) for course in (back, fine)}
    due = baseline[back].due_at
    beat_and_wait(due - timedelta(minutes=1))
    assert received(mailbox, CHECK_IN_SUBJECT) == {}
    beat_and_wait(due)
    assert received(mailbox, CHECK_IN_SUBJECT) == {address[back]: 1, address[fine]: 1}
    with time_machine.travel(due + timedelta(hours=1), tick=False):
        page = client.get(check_in_link(mailbox, address[back]))
        assert page.status_code == 200
        assert HDSS_QUESTION in page.text and all(text in page.text for _, text in HDSS_ANSWERS)
        for course in (back, fine):
            assert client.post(check_in_link(mailbox, address[course]), {"score": "4"}).status_code == 200

    # The course, session by session, then completed.
    for course, appointments in sessions.items():
        for appointment, score in zip(appointments, (4, 3, 3, 2, 2, 1), strict=True):
            with time_machine.travel(after(appointment), tick=False):
                record(clinic, course, appointment, score=score, current=12, minutes=20, side_effects=[],
                       sweat=None, note="", sites=None)
        with time_machine.travel(after(appointments[-1]), tick=False):
            course_complete(course=course, completed_by=clinic.clinician.user)

    # After the course: 1, 4 and 8 weeks after the last session (the location's setting), always 10:00 local,
    # before and after the clocks change.
    planned = CheckIn.objects.filter(purpose=CheckInPurpose.AFTER_COURSE).select_related("course__location")
    assert sorted((check_in.course_id, local(check_in).replace(tzinfo=None)) for check_in in planned) == sorted(
        (course.pk, datetime.combine(DAYS[-1] + timedelta(weeks=weeks), time(10)))
        for course in (back, fine) for weeks in (1, 4, 8))
    first_due = min(check_in.due_at for check_in in planned)
    beat_and_wait(first_due - timedelta(minutes=1))
    assert received(mailbox, CHECK_IN_SUBJECT) == {address[back]: 1, address[fine]: 1}
    beat_and_wait(first_due)
    assert received(mailbox, CHECK_IN_SUBJECT) == {address[back]: 2, address[fine]: 2}

    answered_at = first_due + timedelta(minutes=30)
    with time_machine.travel(answered_at, tick=False):
        link = check_in_link(mailbox, address[back])
        assert client.post(link, {"score": "3", "skin_reaction": "blisters"}).status_code == 200
        assert client.post(check_in_link(mailbox, address[fine]), {"score": "1"}).status_code == 200
        again = client.post(link, {"score": "1"})
        assert again.status_code == 409 and ALREADY_ANSWERED in again.text
    answers = CheckIn.objects.filter(purpose=CheckInPurpose.AFTER_COURSE, answered_at__isnull=False)
    assert sorted((answer.course_id, answer.hdss, answer.skin_reaction) for answer in answers) == sorted(
        [(back.pk, 3, "blisters"), (fine.pk, 1, "")])
    assert {answer.answered_at for answer in answers} == {answered_at}

    with time_machine.travel(answered_at + timedelta(minutes=1), tick=False):
        today = back.location.local(timezone.now()).date()
        flags = {course: {flag.kind for flag in course_progress(course=course, today=today).flags}
                 for course in (back, fine)}
    assert FlagKind.SWEATING_RETURNED in flags[back] and FlagKind.SIDE_EFFECT in flags[back]
    assert FlagKind.SWEATING_RETURNED not in flags[fine] and FlagKind.SIDE_EFFECT not in flags[fine]
    beat_and_wait(answered_at + timedelta(minutes=1))
    assert received(mailbox, RECALL_SUBJECT) == {address[back]: 1}

    # The 2-week calendar rule still recalls the patient who is fine, on its own day; the other is not
    # invited twice. Maintenance is then booked for the returning sweat: its periodic check-ins stop.
    calendar_due = clinic.at(DAYS[-1] + timedelta(weeks=2), 17)
    beat_and_wait(calendar_due - timedelta(minutes=1))
    assert received(mailbox, RECALL_SUBJECT) == {address[back]: 1}
    beat_and_wait(calendar_due)
    assert received(mailbox, RECALL_SUBJECT) == {address[back]: 1, address[fine]: 1}
    with time_machine.travel(calendar_due + timedelta(hours=1), tick=False):
        maintenance = course_start_maintenance(course=back, created_by=clinic.clinician.user, planned_sessions=3)
        book(clinic, maintenance, clinic.at(DAYS[-1] + timedelta(weeks=10), 15))

    last_due = max(check_in.due_at for check_in in planned)
    for check_in in sorted(planned, key=lambda check_in: check_in.due_at)[2:]:
        beat_and_wait(check_in.due_at)
    assert received(mailbox, CHECK_IN_SUBJECT) == {address[back]: 4, address[fine]: 4}
    # The beat's hourly task, run by the worker: the patient still waiting gets the next check-in, 4 weeks on.
    check_ins_plan_periodic_task.apply_async(kwargs={"now": last_due.isoformat()}, queue=QUEUE)
    wait_for(lambda: CheckIn.objects.filter(purpose=CheckInPurpose.PERIODIC).exists(), what="the periodic check-in")
    (periodic,) = CheckIn.objects.filter(purpose=CheckInPurpose.PERIODIC).select_related("course__location")
    assert (periodic.course, periodic.weeks_after) == (fine, 12)
    assert local(periodic).replace(tzinfo=None) == datetime.combine(DAYS[-1] + timedelta(weeks=12), time(10))
    assert check_ins_plan_periodic(now=last_due + timedelta(hours=1)) == 0
    beat_and_wait(periodic.due_at)
    assert received(mailbox, CHECK_IN_SUBJECT) == {address[back]: 4, address[fine]: 5}
    assert received(mailbox, RECALL_SUBJECT) == {address[back]: 1, address[fine]: 1}
    assert not Notification.objects.filter(kind=NotificationKind.CHECK_IN).exclude(
        status=NotificationStatus.SENT).exists()
