"""Reminders end to end: real Celery workers over the configured broker, a real SMTP server.

The workers are subprocesses (`python -m celery -A clinic worker`) on the test database, as the
Procfile runs them: one for the dispatch (the default queue) and two senders with thread pools (the
send queue). The SMTP server is aiosmtpd in this process, so a test can make it answer 451, 550 or
hold its reply. The beat's claim runs in this process, under time-machine, so the clock can be moved
past each due time. Each test run has queues of its own on the shared broker.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from datetime import timedelta

import psutil
import pytest
import time_machine
from django.db import connections
from django.utils import timezone

from scheduling.booking.courses import course_book
from scheduling.booking.services import appointment_cancel, appointment_reschedule
from scheduling.models import CancelledBy, Notification, NotificationKind, NotificationStatus
from scheduling.reminders.outbox import SENDING_LEASE
from scheduling.reminders.sending import notifications_dispatch_due
from scheduling.tasks import notification_send_task, notifications_dispatch_due_task
from tests.delivery_support import QUEUE, SEND_QUEUE, Mail, wait_for
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

CHECK_IN_SUBJECT = "How are you doing?"


def subjects(mail: Mail) -> list[str]:
    """The subjects of the session messages the SMTP server has received, sorted. Each first booking of a
    course also plans the patient's baseline check-in, due the day before the first session: those emails are
    followed in tests/scheduling/test_check_ins_walk.py and left out here."""
    return sorted(message["Subject"] for message in mail.handler.messages()
                  if not message["Subject"].startswith(CHECK_IN_SUBJECT))


def statuses() -> Counter:
    return Counter(Notification.objects.values_list("status", flat=True))


def settled() -> bool:
    """No row is being sent any more."""
    return not Notification.objects.filter(status=NotificationStatus.SENDING).exists()


def claim_and_queue(now) -> int:
    """The beat task's own dispatch, queueing to this run's send queue."""
    return notifications_dispatch_due(
        now=now, enqueue=lambda batch, claimed_at: notification_send_task.apply_async(
            args=[batch, claimed_at.isoformat()], queue=SEND_QUEUE))


def beat(now=None) -> int:
    """One tick of the beat with the clock moved to ``now`` (time-machine): claim due rows here and
    queue their sends to the workers."""
    with time_machine.travel(now or timezone.now(), tick=False):
        return claim_and_queue(timezone.now())


def beat_and_wait(now=None) -> int:
    queued = beat(now)
    wait_for(settled, what="the queued sends to finish")
    return queued


def test_booking_a_course_gives_one_confirmation_then_one_reminder_per_session(mailbox):
    clinic = make_clinic(name="Canal Clinic")
    course = make_course(clinic, planned_sessions=6)
    plan = course_book(course=course, booked_by=clinic.front_desk.user,
                       first_date=next_weekday(0))
    sessions = sorted((planned.appointment for planned in plan.sessions), key=lambda a: a.starts_at)
    assert len(sessions) == 6
    beat_and_wait()
    assert subjects(mailbox) == ["Your sessions at Canal Clinic are booked"]
    for sent, session in enumerate(sessions, start=2):
        due = session.starts_at - timedelta(hours=24)
        beat_and_wait(due - timedelta(minutes=1))
        assert len(subjects(mailbox)) == sent - 1, "a reminder went out before its time"
        beat_and_wait(due)
        assert len(subjects(mailbox)) == sent
        beat_and_wait(due + timedelta(minutes=1))
    received = mailbox.subjects_by_message_id()
    assert len(received) == 8  # and the baseline check-in, the day before the first session
    assert set(received.values()) == {1}
    reminders = [subject for _, subject in received if subject.startswith("Reminder:")]
    assert len(reminders) == 6
    assert statuses() == Counter({NotificationStatus.SENT: 8})


def test_two_beats_and_two_workers_send_each_row_once(mailbox, workers):
    clinic = make_clinic(rooms=3, devices=3, clinicians=3)
    for weekday in range(6):
        for hour in (9, 11, 14):
            book(clinic, make_course(clinic), clinic.at(next_weekday(weekday), hour))
    rows = Notification.objects.count()
    assert rows == 54  # 18 bookings: a confirmation, a reminder and the patient's baseline check-in each
    later = timezone.now() + timedelta(days=30)
    logs_before = [len(worker.log.read_text()) for worker in workers]
    barrier = threading.Barrier(2)

    def beat_process():
        barrier.wait()
        try:
            claim_and_queue(later)
        finally:
            connections.close_all()

    # Two beats in this process and two more dispatch runs inside the workers, all at once.
    for _ in range(2):
        notifications_dispatch_due_task.apply_async(kwargs={"now": later.isoformat()}, queue=QUEUE)
    threads = [threading.Thread(target=beat_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: statuses() == Counter({NotificationStatus.SENT: rows}), timeout=60, what="every row sent")
    received = mailbox.subjects_by_message_id()
    assert len(received) == rows
    assert set(received.values()) == {1}
    for worker, before in zip(workers, logs_before, strict=True):
        assert "Task scheduling.notification_send" in worker.log.read_text()[before:], "both workers sent"


def test_worker_killed_mid_send_loses_nothing_and_sends_at_most_once_more(mailbox, workers):
    """The SMTP server stores the message, then holds its 250; the whole sending worker is killed (SIGKILL).

    Why once more and not zero: the server has the message, but the worker died before it heard 250
    and before it marked the row sent, so nothing recorded the delivery. The row stays "sending"
    until SENDING_LEASE has passed since its send began; then the beat claims it again and the other
    worker sends it. Both copies carry the same Message-ID.
    """
    clinic = make_clinic()
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    mailbox.handler.hold_seconds = 60
    claimed_at = timezone.now()
    assert beat(claimed_at) == 1
    wait_for(lambda: mailbox.handler.holding is not None, what="the server to hold its reply")
    client_port = mailbox.handler.holding[1]
    [killed] = [worker for worker in workers
                if any(conn.laddr.port == client_port
                       for conn in psutil.Process(worker.process.pid).net_connections(kind="tcp"))]
    mailbox.handler.hold_seconds = 0
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(timeout=10)
    try:
        row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
        assert row.status == NotificationStatus.SENDING
        assert beat(claimed_at + SENDING_LEASE - timedelta(minutes=1)) == 0, "claimed again inside the lease"
        assert beat(claimed_at + SENDING_LEASE + timedelta(minutes=1)) == 1
        wait_for(lambda: Notification.objects.get(pk=row.pk).status == NotificationStatus.SENT, timeout=60,
                 what="the row sent")
        received = mailbox.subjects_by_message_id()
        row.refresh_from_db()
        assert received == Counter({(row.message_id, "Your session at " + clinic.location.name + " is booked"): 2})
        assert (row.attempts, row.last_error) == (2, "")
    finally:
        killed.start()
        killed.wait_ready()


def test_smtp_answering_451_for_a_while_then_recovering_delivers_every_message(mailbox):
    clinic = make_clinic()
    for weekday in range(3):
        book(clinic, make_course(clinic), clinic.at(next_weekday(weekday), 10))
    mailbox.handler.temporary_failures = 5
    now = timezone.now()
    for _ in range(8):
        beat_and_wait(now)
        now += timedelta(hours=2)
    received = mailbox.subjects_by_message_id()
    assert len(received) == 3
    assert set(received.values()) == {1}
    confirmations = Notification.objects.filter(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert [row.status for row in confirmations] == [NotificationStatus.SENT] * 3
    assert sum(row.attempts for row in confirmations) == 3 + 5


def test_smtp_answering_550_marks_the_row_failed_after_one_attempt(mailbox):
    clinic = make_clinic()
    patient = make_patient(clinic, email="nobody@example.org")
    book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    mailbox.handler.refused_recipients = {"nobody@example.org"}
    beat_and_wait()
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 1)
    assert row.last_error == ("Recipient refused: nobody@example.org: 550 5.1.1 <nobody@example.org>: "
                              "mailbox unavailable")
    beat_and_wait(timezone.now() + timedelta(days=1))
    assert mailbox.handler.messages() == []


def test_cancelled_and_moved_sessions_old_reminders_never_arrive_and_the_moved_one_arrives_on_time(mailbox):
    """The sessions are laid out from one Monday, so whatever the weekday the suite runs on, both old
    reminders fall due before the moved session's new one."""
    clinic = make_clinic(name="Quay Clinic")
    course = make_course(clinic)
    monday = next_weekday(0)
    cancelled = book(clinic, course, clinic.at(monday, 9))
    moved = book(clinic, course, clinic.at(monday + timedelta(days=2), 9))
    beat_and_wait()
    booked = ["Your session at Quay Clinic is booked"] * 2
    assert subjects(mailbox) == booked
    appointment_cancel(appointment=cancelled, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC,
                       reason="Room closed")
    new_start = clinic.at(monday + timedelta(days=3), 16)
    appointment_reschedule(appointment=moved, starts_at=new_start, rescheduled_by=clinic.front_desk.user)
    beat_and_wait()
    was, moved_to = clinic.location.local(cancelled.starts_at), clinic.location.local(new_start)
    told = sorted([*booked, f"Your session at Quay Clinic on {was:%a} {was.day} {was:%b %H:%M} is cancelled",
                   f"Your session at Quay Clinic has moved to {moved_to:%a} {moved_to.day} {moved_to:%b %H:%M}"])
    assert subjects(mailbox) == told
    for old_due in (cancelled.starts_at - timedelta(hours=24), moved.starts_at - timedelta(hours=24)):
        beat_and_wait(old_due)
        assert subjects(mailbox) == told, "a reminder of the old time went out"
    beat_and_wait(new_start - timedelta(hours=24, minutes=1))
    assert subjects(mailbox) == told, "the moved session's reminder went out early"
    beat_and_wait(new_start - timedelta(hours=24))
    assert subjects(mailbox) == sorted(
        [*told, f"Reminder: your session at Quay Clinic on {moved_to:%a} {moved_to.day} {moved_to:%b %H:%M}"])
    assert set(mailbox.subjects_by_message_id().values()) == {1}


def test_the_beat_task_in_a_worker_and_the_dispatch_service_here_send_the_rows_due_at_their_moment(mailbox):
    clinic = make_clinic()
    day = next_weekday(0)
    monday, wednesday = (book(clinic, make_course(clinic), clinic.at(day + timedelta(days=d), 9)) for d in (0, 2))
    first_due, second_due = (session.starts_at - timedelta(hours=24) for session in (monday, wednesday))

    def due_ids(now) -> set[int]:
        return set(Notification.objects.filter(status=NotificationStatus.PENDING, due_at__lte=now)
                   .values_list("pk", flat=True))

    def sent_ids() -> set[int]:
        return set(Notification.objects.filter(status=NotificationStatus.SENT).values_list("pk", flat=True))

    by_task = due_ids(first_due)
    assert len(by_task) == 3  # both booking confirmations and Monday's reminder (its baseline check-in is at 10:00)
    notifications_dispatch_due_task.apply_async(kwargs={"now": first_due.isoformat()}, queue=QUEUE)
    wait_for(lambda: sent_ids() == by_task, what="the task's rows sent")
    by_service = due_ids(second_due)
    assert len(by_service) == 2  # Wednesday's reminder and Monday's baseline check-in (Sunday 10:00)
    assert beat_and_wait(second_due) == 2
    assert sent_ids() == by_task | by_service
    assert len(mailbox.subjects_by_message_id()) == 5


def test_the_dispatch_runs_at_once_while_every_sender_waits_on_a_slow_relay(mailbox):
    """Sends queue behind each other on the send queue; the beat's dispatch has a queue and a worker of
    its own, so a newly due row is claimed while every sending thread waits on the relay."""
    clinic = make_clinic(rooms=3, devices=3, clinicians=3)
    for weekday in range(3):
        for hour in (9, 11):
            book(clinic, make_course(clinic), clinic.at(next_weekday(weekday), hour))
    mailbox.handler.hold_seconds = 8
    assert beat() == 6  # the six confirmations, one a task: more than the senders have threads
    wait_for(lambda: mailbox.handler.holding is not None, what="the relay to hold a reply")
    newcomer = book(clinic, make_course(clinic), clinic.at(next_weekday(4), 9))
    confirmation = Notification.objects.get(appointment=newcomer, kind=NotificationKind.BOOKING_CONFIRMATION)
    notifications_dispatch_due_task.apply_async(kwargs={"now": timezone.now().isoformat()}, queue=QUEUE)
    wait_for(lambda: Notification.objects.get(pk=confirmation.pk).status != NotificationStatus.PENDING,
             timeout=6, what="the dispatch to claim the new row while the senders wait")
    # Claimed while the relay still holds a sender's reply: the dispatch did not queue behind the sends.
    assert mailbox.handler.holding is not None
    mailbox.handler.hold_seconds = 0
    wait_for(settled, timeout=90, what="every send to finish")
    assert set(mailbox.subjects_by_message_id().values()) == {1}


def test_a_relay_that_stores_a_message_and_answers_after_25_seconds_yields_one_copy(mailbox):
    """The worker gives up on the answer after EMAIL_TIMEOUT (20 s) with the message already stored: it
    does not send it again, neither at once nor at later beats, and the row says why."""
    clinic = make_clinic()
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    mailbox.handler.hold_seconds = 25
    now = timezone.now()
    assert beat(now) == 1
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    wait_for(lambda: Notification.objects.get(pk=row.pk).status == NotificationStatus.FAILED, timeout=40,
             what="the send to give up")
    mailbox.handler.hold_seconds = 0
    for later in (timedelta(minutes=2), timedelta(hours=1), timedelta(hours=3)):
        beat_and_wait(now + later)
    row.refresh_from_db()
    assert row.last_error.startswith("No answer from the mail server after the message was handed over")
    assert row.message_id == f"<ionto-notification-{row.pk}@clinic.example.org>"  # a bounce can still find it
    assert mailbox.subjects_by_message_id() == Counter(
        {(row.message_id, f"Your session at {clinic.location.name} is booked"): 1})
